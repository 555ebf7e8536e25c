/**
 * `authbridge demo` through the built CLI, from a fresh HOME: the whole mission against the
 * embedded IdP and broker, nothing left behind; `--keep` with the printed env vars driving other
 * commands; Ctrl-C; and the demo IdP's own pages (wrong password, deny).
 */
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { headlessLogin } from '../../src/demo/headless.js';
import { DEMO_CLIENT_ID, startDemoIdp, type DemoIdp } from '../../src/demo/idp.js';
import { main } from '../../src/main.js';
import { isolatedEnv, runCli } from '../helpers/cli.js';
import { testContext } from '../helpers/context.js';
import { launchChromium } from '../helpers/chromium.js';
import { startBrowserHook, startCli } from '../helpers/http-browser.js';

/** A fresh HOME plus a private TMPDIR (where the demo keeps its files), so both can be inspected. */
function demoEnv(extra: Record<string, string> = {}) {
  const env = isolatedEnv();
  const tmp = mkdtempSync(join(tmpdir(), 'authbridge-demo-tmp-'));
  return { env: { ...env, TMPDIR: tmp, ...extra }, home: env.HOME!, tmp };
}

/** Every file under `dir`, relative. */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => !e.isDirectory())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1));
}

function parseExports(stderr: string): Record<string, string> {
  return Object.fromEntries([...stderr.matchAll(/^ {2}export (AUTHBRIDGE_\w+)=(\S+)$/gm)].map((m) => [m[1]!, m[2]!.replace(/^'|'$/g, '')]));
}

// Each demo process is killed after 45 s, before its test's 90 s run out: a demo that hangs then fails
// its test with the demo's own output (how far it got), not with a bare timeout.
describe('demo --headless', () => {
  it('runs every step from a fresh HOME, exits 0, and leaves nothing behind', async () => {
    const { env, home, tmp } = demoEnv({
      // The user's own settings must not leak into the demo, nor the demo into them.
      AUTHBRIDGE_ISSUER: 'http://127.0.0.1:9',
      AUTHBRIDGE_CLIENT_ID: 'someone-elses',
      AUTHBRIDGE_BROKER_URL: 'http://127.0.0.1:9',
    });
    const result = await runCli(['demo', '--headless'], { env, timeoutMs: 45_000 });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe('');
    const err = result.stderr;
    for (const line of [
      /✓ Started both servers on 127\.0\.0\.1/,
      /\[1\/5\] Sign in with Authorization Code \+ PKCE/,
      /✓ Signed in to http:\/\/127\.0\.0\.1:\d+ as demo@example\.com \(sub demo-user-1\)/,
      /\[2\/5\] Verify the ID token/,
      /✓ signature +valid RS256 signature/,
      /Token is valid \(sub "demo-user-1"\)/,
      /\[3\/5\] Exchange the access token with the broker/,
      /✓ Exchanged the IdP token with the broker \(new customer registered\)/,
      /\[4\/5\] Status/,
      /default: signed in as demo@example\.com/,
      /broker +signed in at http:\/\/127\.0\.0\.1:\d+/,
      /\[5\/5\] Sign out/,
      /✓ Signed out of profile default: tokens removed from the cache, revoked at the IdP/,
      /✓ Ended the broker session/,
      /✓ Every step worked\. Stopped both servers and removed /,
    ]) {
      expect(err).toMatch(line);
    }
    // Steps come in order.
    const order = ['[1/5]', '[2/5]', '[3/5]', '[4/5]', '[5/5]'].map((s) => err.indexOf(s));
    expect(order).toEqual([...order].sort((a, b) => a - b));
    expect(err).not.toMatch(/warning|oidc-provider (WARNING|NOTICE)|\n\s+at /);
    expect(err).not.toMatch(/eyJ[\w-]+\.eyJ/);
    expect(filesUnder(home)).toEqual([]);
    expect(filesUnder(tmp)).toEqual([]);
  }, 90_000);

  it('prints one summary document with --json', async () => {
    const { env, tmp } = demoEnv();
    const result = await runCli(['demo', '--headless', '--json'], { env, timeoutMs: 45_000 });
    expect(result.code, result.stderr).toBe(0);
    const doc = JSON.parse(result.stdout);
    expect(doc).toMatchObject({
      ok: true,
      idp: { client_id: DEMO_CLIENT_ID, user: 'demo' },
      steps: ['login', 'id_token', 'exchange', 'status', 'logout'].map((name) => ({ name, ok: true })),
      login: { subject: 'demo-user-1', email: 'demo@example.com' },
      id_token: { valid: true, reason: null },
      exchange: { account_status: 'created', issued_token_type: 'urn:ietf:params:oauth:token-type:access_token' },
      status: { signed_in: true, broker: { signed_in: true } },
      logout: { removed: true, revoked: { idp: true, broker: true }, warnings: [] },
      keep: null,
    });
    expect(doc.idp.issuer).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(filesUnder(tmp)).toEqual([]);
  }, 90_000);
});

describe('demo --headless --keep', () => {
  it('prints env vars that point the other commands at the running servers, until Ctrl-C (130), then the line that unsets them', async () => {
    const { env, home, tmp } = demoEnv();
    const demo = startCli(['demo', '--headless', '--keep'], env, 45_000);
    let exported: string[] = [];
    try {
      await demo.waitForStderr(/Waiting for Ctrl-C/);
      const exports = parseExports(await demo.waitForStderr(/[\s\S]*/).then((m) => m[0]));
      expect(Object.keys(exports)).toEqual(
        expect.arrayContaining(['AUTHBRIDGE_CONFIG', 'AUTHBRIDGE_CACHE_DIR', 'AUTHBRIDGE_ISSUER', 'AUTHBRIDGE_CLIENT_ID', 'AUTHBRIDGE_BROKER_URL']),
      );
      expect(exports.AUTHBRIDGE_CACHE_DIR!.startsWith(tmp)).toBe(true);
      exported = Object.keys(exports);
      const stderr = (await demo.waitForStderr(/[\s\S]*/))[0];
      expect(stderr).toMatch(/^ {2}authbridge status --check$/m);
      expect(stderr).toMatch(/^ {2}authbridge token --type broker \| authbridge decode$/m);
      expect(stderr).not.toMatch(/\[5\/5\]|Signed out/);

      // As a user would, in another terminal: a fresh HOME plus the printed exports.
      const other = { ...isolatedEnv(), ...exports };
      const status = await runCli(['status', '--check', '--json'], { env: other });
      expect(status.code, status.stderr).toBe(0);
      expect(JSON.parse(status.stdout)).toMatchObject({
        profile: 'default',
        signed_in: true,
        subject: 'demo-user-1',
        broker: { signed_in: true },
        check: { idp: { live: true }, broker: { live: true } },
      });
      const token = await runCli(['token', '--type', 'broker'], { env: other });
      expect(token.code, token.stderr).toBe(0);
      expect(token.stdout.trim().split('.')).toHaveLength(3);
      const doctor = await runCli(['doctor'], { env: other });
      expect(doctor.code, doctor.stdout).toBe(0);
    } finally {
      demo.child.kill('SIGINT');
    }
    const done = await demo.done;
    expect(done.code, done.stderr).toBe(130);
    expect(done.stderr).toMatch(/Stopped both servers and removed /);
    // At the end, after the servers stopped: every exported variable unset in one line to copy.
    const unset = /^ {2}unset (.+)$/m.exec(done.stderr);
    expect(unset?.[1]?.split(' ').sort()).toEqual([...exported].sort());
    expect(done.stderr.indexOf(unset![0])).toBeGreaterThan(done.stderr.indexOf('Stopped both servers'));
    expect(done.stderr.slice(done.stderr.indexOf(unset![0]))).not.toMatch(/export /);
    expect(done.stderr).not.toMatch(/\n\s+at /);
    expect(filesUnder(home)).toEqual([]);
    expect(filesUnder(tmp)).toEqual([]);
  }, 90_000);
});

describe('demo in a browser', () => {
  it('opens $BROWSER at the demo IdP, whose own pages sign the demo user in', async () => {
    const browser = await startBrowserHook((url) => headlessLogin(url, { fetch }));
    try {
      const { env, tmp } = demoEnv({ BROWSER: browser.command });
      const result = await runCli(['demo'], { env, timeoutMs: 45_000 });
      expect(result.code, result.stderr).toBe(0);
      expect(result.stderr).toMatch(/in your browser: user demo, password demo/);
      expect(result.stderr).toMatch(/Opening the browser to sign in at http:\/\/127\.0\.0\.1:\d+/);
      expect((await browser.visit(0)).callbackStatus).toBe(200);
      expect(filesUnder(tmp)).toEqual([]);
    } finally {
      await browser.close();
    }
  }, 90_000);

  it('signs in through its pages in a real Chromium', async () => {
    const chromium = await launchChromium();
    const browser = await startBrowserHook(async (url) => {
      const redirectUri = new URL(url).searchParams.get('redirect_uri')!;
      const context = await chromium.newContext();
      try {
        const page = await context.newPage();
        await page.goto(url);
        const banner = (await page.textContent('.banner')) ?? '';
        await page.fill('input[name="password"]', 'demo');
        await Promise.all([page.waitForURL((u) => u.pathname.startsWith('/interaction/') && !u.pathname.endsWith('/login')), page.click('button[type="submit"]')]);
        const consent = (await page.textContent('h1')) ?? '';
        await Promise.all([page.waitForURL((u) => u.href.startsWith(`${redirectUri}?`)), page.click('button[type="submit"]')]);
        await page.waitForSelector('h1');
        return { banner, consent, final: (await page.textContent('h1')) ?? '' };
      } finally {
        await context.close();
      }
    });
    try {
      const { env } = demoEnv({ BROWSER: browser.command });
      const result = await runCli(['demo'], { env, timeoutMs: 45_000 });
      expect(result.code, result.stderr).toBe(0);
      const visit = await browser.visit(0);
      expect(visit.banner).toMatch(/local authbridge demo/);
      expect(visit.consent).toBe('Allow access');
      expect(visit.final).toMatch(/signed in/i);
    } finally {
      await browser.close();
      await chromium.close();
    }
  }, 90_000);

  it('stops cleanly on Ctrl-C while waiting for the browser: exit 130, servers closed, files removed', async () => {
    const { env, home, tmp } = demoEnv({ BROWSER: `${process.execPath} -e ""` });
    const demo = startCli(['demo'], env, 45_000);
    const issuer = (await demo.waitForStderr(/IdP +(http:\/\/127\.0\.0\.1:\d+)/))[1]!;
    await demo.waitForStderr(/Opening the browser/);
    demo.child.kill('SIGINT');
    const done = await demo.done;
    expect(done.code, done.stderr).toBe(130);
    expect(done.stderr).toMatch(/^authbridge: demo interrupted \(SIGINT\)$/m);
    expect(done.stderr).not.toMatch(/\n\s+at /);
    await expect(fetch(`${issuer}/.well-known/openid-configuration`)).rejects.toThrow();
    expect(filesUnder(home)).toEqual([]);
    expect(filesUnder(tmp)).toEqual([]);
  }, 90_000);
});

describe('a step that fails', () => {
  it('stops the demo with that step\'s exit code, its reason at the step, then closes the servers and removes the files', async () => {
    const ctx = testContext({ now: Date.now() });
    const brokerDown: typeof fetch = async (input, init) =>
      String(input instanceof Request ? input.url : input).endsWith('/oauth/token')
        ? new Response(JSON.stringify({ error: 'temporarily_unavailable', error_description: 'down for the test' }), {
            status: 503,
            headers: { 'content-type': 'application/json' },
          })
        : fetch(input, init);
    const code = await Promise.race([
      main(['node', 'authbridge', 'demo', '--headless', '--verbose'], { ...ctx, fetch: brokerDown }),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`demo hung:\n${ctx.err()}`)), 45_000).unref()),
    ]);
    const err = ctx.err();
    expect(code, err).toBe(3);
    expect(err).toMatch(/✓ Signed in to/);
    expect(err).toMatch(/Token is valid/);
    expect(err).toMatch(/^authbridge: could not exchange the token with the broker at http:\/\/127\.0\.0\.1:\d+: .*503/m);
    expect(err).not.toMatch(/\[4\/5\]/);
    const dir = /files +(\S+)/.exec(err)![1]!;
    const issuer = /IdP +(http:\/\/\S+)/.exec(err)![1]!;
    // In order: the step, why it failed (right there), the clean-up, the contract's error line last.
    const lines = err.split('\n').filter((line) => !line.startsWith('broker ') && !/^\s*(GET|POST) /.test(line));
    const at = (pattern: RegExp) => lines.findIndex((line) => pattern.test(line));
    const order = [
      at(/^\[3\/5\] Exchange/),
      at(/^ {2}✗ The demo stopped at the exchange with the broker: could not exchange the token with the broker at .*503/),
      lines.indexOf(`Stopped both servers and removed ${dir}.`),
      at(/^authbridge: could not exchange/),
    ];
    expect(order.every((i) => i >= 0), err).toBe(true);
    expect(order, err).toEqual([...order].sort((a, b) => a - b));
    expect(lines.slice(order[3]! + 1).filter(Boolean).length, err).toBeLessThanOrEqual(2);
    expect(existsSync(dir)).toBe(false);
    await expect(fetch(`${issuer}/.well-known/openid-configuration`)).rejects.toThrow();
  }, 90_000);
});

describe('the demo IdP pages', () => {
  let idp: DemoIdp;
  beforeAll(async () => {
    idp = await startDemoIdp();
  });
  afterAll(async () => {
    await idp?.close();
  });

  async function authorizeUrl(): Promise<string> {
    const url = new URL(`${idp.issuer}/auth`);
    url.search = new URLSearchParams({
      client_id: DEMO_CLIENT_ID,
      response_type: 'code',
      scope: 'openid email',
      redirect_uri: 'http://127.0.0.1:9/callback',
      code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
      code_challenge_method: 'S256',
      state: 'some-state',
    }).toString();
    return url.href;
  }

  it('say they are the local authbridge demo, and refuse a wrong password', async () => {
    const first = await fetch(await authorizeUrl(), { redirect: 'manual' });
    const cookie = first.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
    const page = await fetch(new URL(first.headers.get('location')!, idp.issuer), { headers: { cookie } });
    const html = await page.text();
    expect(page.status).toBe(200);
    expect(html).toMatch(/local authbridge demo/);
    expect(html).toMatch(/<form method="post" action="\/interaction\/[\w-]+\/login"/);
    await expect(headlessLogin(await authorizeUrl(), { fetch, password: 'wrong' })).rejects.toThrow(/answered 401 at \/interaction\/[\w-]+\/login/);
  });
});
