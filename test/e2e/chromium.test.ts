/** The whole login in a real headless Chromium: the CLI opens it through BROWSER. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumLogin, launchChromium, type ChromiumLoginResult } from '../helpers/chromium.js';
import { isolatedEnv, runCli } from '../helpers/cli.js';
import { startBrowserHook, type BrowserHook } from '../helpers/http-browser.js';
import { idpEnv, startIdp, type Idp } from '../helpers/idp.js';

let idp: Idp;
let chromium: Browser;
let hook: BrowserHook<ChromiumLoginResult>;

beforeAll(async () => {
  idp = await startIdp();
  chromium = await launchChromium();
  hook = await startBrowserHook((url) => chromiumLogin(chromium, url, 'dora'));
});
afterAll(async () => {
  await hook?.close();
  await chromium?.close();
  await idp?.close();
});

describe('login in headless Chromium', () => {
  it('signs in through the IdP\'s pages and shows the success page at the loopback callback', async () => {
    const e = idpEnv(idp, isolatedEnv(), { BROWSER: hook.command });
    const result = await runCli(['login', '--json'], { env: e, timeoutMs: 60_000 });
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ subject: 'dora', email: 'dora@example.test', issuer: idp.issuer });
    const visit = await hook.visit(0);
    expect(visit.finalUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/callback\?code=/);
    expect(visit.status).toBe(200);
    expect(visit.heading).toBe('Signed in');
    const cached = JSON.parse(readFileSync(join(e.XDG_CACHE_HOME!, 'authbridge', 'default.json'), 'utf8')) as Record<string, unknown>;
    expect(cached.subject).toBe('dora');
    expect((await runCli(['status'], { env: e })).code).toBe(0);
  });
});
