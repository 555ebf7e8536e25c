/**
 * The built CLI against Glewlwyd (a second, independent real IdP, test/helpers/glewlwyd.ts):
 * login with a confidential client whose id and secret hold `-` and `.` on the exact redirect URI
 * registered, then status, token, refresh, introspect and logout, as a user would run them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isolatedEnv, runCli } from '../helpers/cli.js';
import { GLEWLWYD_CONFIDENTIAL_CLIENT, GLEWLWYD_USER, freePort, startGlewlwyd, type Glewlwyd } from '../helpers/glewlwyd.js';
import { startBrowserHook, type BrowserHook } from '../helpers/http-browser.js';

let glewlwyd: Glewlwyd;
let browser: BrowserHook<unknown>;
let port: number;
beforeAll(async () => {
  port = await freePort();
  glewlwyd = await startGlewlwyd({ redirectUris: [`http://127.0.0.1:${port}/callback`] });
  browser = await startBrowserHook((url) => glewlwyd.drive(url));
}, 30_000);
afterAll(async () => {
  await browser?.close();
  await glewlwyd?.close();
});

describe('authbridge against Glewlwyd', () => {
  it('login, status, token, refresh, introspect and logout through the binary', async () => {
    const env = {
      ...isolatedEnv(),
      BROWSER: browser.command,
      AUTHBRIDGE_ISSUER: glewlwyd.issuer,
      AUTHBRIDGE_CLIENT_ID: GLEWLWYD_CONFIDENTIAL_CLIENT.clientId,
      AUTHBRIDGE_CLIENT_SECRET: GLEWLWYD_CONFIDENTIAL_CLIENT.clientSecret,
      AUTHBRIDGE_REDIRECT_PORT: String(port),
    };
    const login = await runCli(['login', '--json'], { env });
    expect(login.code, login.stderr).toBe(0);
    expect(JSON.parse(login.stdout)).toMatchObject({ issuer: glewlwyd.issuer, email: GLEWLWYD_USER.email, scopes: ['openid', 'profile', 'email'] });

    expect((await runCli(['status'], { env })).code).toBe(0);
    const token = await runCli(['token'], { env });
    expect(token.code).toBe(0);
    expect(token.stdout).toMatch(/^ey[\w-]+\.[\w-]+\.[\w-]+\n$/);
    const refresh = await runCli(['refresh', '--verbose'], { env });
    expect(refresh.code, refresh.stderr).toBe(0);
    expect(refresh.stderr).toContain('client authentication at the IdP: client_secret_basic');
    const introspect = await runCli(['introspect', '--json', '--type', 'refresh'], { env });
    expect(introspect.code, introspect.stderr).toBe(0);
    expect(JSON.parse(introspect.stdout)).toMatchObject({ active: true });

    const logout = await runCli(['logout', '--json'], { env });
    expect(logout.code).toBe(0);
    expect(JSON.parse(logout.stdout)).toEqual({ profile: 'default', removed: true, revoked: { idp: true, broker: false }, signed_out: [expect.any(String)], now_active: null, warnings: [] });
    expect((await runCli(['status'], { env })).code).toBe(4);
  });
});
