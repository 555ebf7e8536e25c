/**
 * `authbridge inspect` in the real Chromium: the CLI (in this process) serves the page and "opens"
 * it through the Context's browser, which hands the URL to a headless Chromium. Screenshots of a
 * valid and an expired token are written to test/artifacts/inspect/ (the test prints the path).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/main.js';
import { launchChromium } from '../helpers/chromium.js';
import { statusWithHost } from '../helpers/http-browser.js';
import { testContext } from '../helpers/context.js';
import { jwks, makeKey, sign, type TestKey } from '../helpers/keys.js';

const ARTIFACTS = resolve(import.meta.dirname, '../artifacts/inspect');
const ISSUER = 'https://idp.example.com';

let chromium: Browser;
let key: TestKey;
let dir: string;
beforeAll(async () => {
  chromium = await launchChromium();
  key = await makeKey('ES256');
  dir = mkdtempSync(join(tmpdir(), 'authbridge-inspect-'));
  writeFileSync(join(dir, 'jwks.json'), JSON.stringify(jwks(key)));
  mkdirSync(ARTIFACTS, { recursive: true });
}, 60_000);
afterAll(async () => {
  await chromium?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function tokenFor(offsetSeconds: number): Promise<string> {
  const now = Math.floor(Date.now() / 1000) + offsetSeconds;
  return sign(key, {
    iss: ISSUER,
    sub: 'alice',
    aud: 'my-app',
    azp: 'my-app',
    acr: 'urn:mace:incommon:iap:silver',
    amr: ['pwd', 'otp'],
    at_hash: 'x4Qp1gG3N6mZ7A0c2b8q1w',
    email: 'alice@example.com',
    auth_time: now - 7200,
    iat: now - 600,
    exp: now + 3030,
  });
}

/** `inspect` started in this process; `url` resolves when it "opens the browser". */
function startInspect(args: string[]) {
  let opened!: (url: string) => void;
  const url = new Promise<string>((resolveUrl) => (opened = resolveUrl));
  const ctx = testContext({ now: () => Date.now(), env: { NO_COLOR: '1' }, browser: async (u) => opened(u) });
  const code = main(['node', 'authbridge', 'inspect', ...args], ctx);
  return { ctx, url, code };
}

describe('authbridge inspect', () => {
  it('shows a valid token, then a pasted expired one, in Chromium; nothing is loaded from elsewhere; Ctrl-C stops it (130)', async () => {
    const valid = await tokenFor(0);
    const expired = await tokenFor(-6660);
    const run = startInspect([valid, '--issuer', ISSUER, '--audience', 'my-app', '--jwks', join(dir, 'jwks.json')]);
    const url = await run.url;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/[A-Za-z0-9_-]{32}\/$/);
    expect(run.ctx.err()).toContain(`Inspecting at ${url}`);

    const context = await chromium.newContext({ viewport: { width: 1100, height: 900 } });
    try {
      const page = await context.newPage();
      const requested: string[] = [];
      const violations: string[] = [];
      page.on('request', (r) => requested.push(r.url()));
      page.on('console', (m) => {
        if (/Content Security Policy/i.test(m.text())) violations.push(m.text());
      });

      const response = await page.goto(url);
      expect(response?.status()).toBe(200);
      const csp = response?.headers()['content-security-policy'] ?? '';
      expect(csp).toMatch(/default-src 'none'/);
      expect(csp).toMatch(/style-src 'nonce-[^']+'/);
      expect(csp).toMatch(/form-action 'self'/);
      expect(response?.headers()['cache-control']).toBe('no-store');

      expect(await page.textContent('#verdict')).toMatch(/^Not expired: expires in 5\dm \(/);
      const checks = await page.locator('ul.checks li').allTextContents();
      expect(checks.find((c) => c.includes('signature'))).toMatch(/^✓ signature/);
      expect(await page.textContent('.verdict-line')).toBe('Token is valid');
      // Claims with what they mean.
      const azp = page.locator('tr', { has: page.locator('code', { hasText: /^azp$/ }) });
      expect(await azp.locator('td.meaning').textContent()).toMatch(/^Authorized party/);
      expect(await page.locator('tr', { has: page.locator('code', { hasText: /^at_hash$/ }) }).locator('td.meaning').textContent()).toMatch(/^Access token hash/);
      // The timeline marks each time claim and now.
      expect(await page.locator('svg.timeline text:not(.when)').allTextContents()).toEqual(['auth_time', 'iat', 'now', 'exp']);
      // Our own style applies (its nonce matches the CSP).
      expect(await page.locator('#verdict').evaluate((el) => getComputedStyle(el).borderTopStyle)).toBe('solid');
      const validShot = join(ARTIFACTS, 'inspect-valid.png');
      await page.screenshot({ path: validShot, fullPage: true });

      // Pasted as a header line, as people do.
      await page.fill('textarea[name="token"]', `Authorization: Bearer ${expired}`);
      await Promise.all([page.waitForNavigation(), page.click('button[type="submit"]')]);
      expect(await page.textContent('#verdict')).toMatch(/^Expired 1h (\d+m )?ago \(/);
      expect(await page.locator('#verdict').evaluate((el) => el.className)).toBe('banner bad');
      const expiry = (await page.locator('ul.checks li').allTextContents()).find((c) => c.includes('expiry'));
      expect(expiry).toMatch(/^✗ expiry/);
      expect(await page.textContent('.verdict-line')).toMatch(/^Token is NOT valid \(expired\)/);
      const expiredShot = join(ARTIFACTS, 'inspect-expired.png');
      await page.screenshot({ path: expiredShot, fullPage: true });

      // Not a token at all: said on the page.
      await page.fill('textarea[name="token"]', '{"sub":"alice"}');
      await Promise.all([page.waitForNavigation(), page.click('button[type="submit"]')]);
      expect(await page.textContent('.error')).toBe('could not decode token: not a JWT (opaque token?): a JSON object');

      const origin = new URL(url).origin;
      expect(requested.every((r) => r.startsWith(`${origin}/`)), requested.join('\n')).toBe(true);
      expect(violations).toEqual([]);
      console.log(`inspect screenshots: ${validShot} ${expiredShot}`);
    } finally {
      await context.close();
    }

    // Only the secret path, only its own Host.
    expect((await fetch(new URL('/', url))).status).toBe(404);
    expect((await fetch(new URL('/favicon.ico', url))).status).toBe(404);
    expect(await statusWithHost(url, `attacker.example:${new URL(url).port}`)).toBe(421);
    const foreign = await fetch(url, { method: 'POST', headers: { origin: 'https://attacker.example', 'content-type': 'application/x-www-form-urlencoded' }, body: 'token=x' });
    expect(foreign.status).toBe(403);

    run.ctx.interrupt('SIGINT');
    expect(await run.code).toBe(130);
    await expect(fetch(url)).rejects.toThrow();
  }, 60_000);

  it('stops by itself after --idle seconds without a request (exit 0)', async () => {
    const run = startInspect(['--no-browser', '--idle', '0.3']);
    expect(await run.code).toBe(0);
    expect(run.ctx.opened).toEqual([]);
    const url = /Inspecting at (\S+)/.exec(run.ctx.err())![1]!;
    expect(run.ctx.err()).toMatch(/Stopped after 0\.3 s without a request\./);
    await expect(fetch(url)).rejects.toThrow();
  });
});
