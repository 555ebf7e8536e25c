/**
 * The built CLI with its tokens in a real gnome-keyring (a private D-Bus session bus,
 * test/helpers/keyring.ts): login, status, token, refresh, a second account and switch, logout;
 * and without a session bus: `auto` falls back to the file once with a note, `keychain` exits 2.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openKeychain, type Keychain } from '../../src/cache/keychain.js';
import { isolatedEnv, runCli } from '../helpers/cli.js';
import { driveLogin, startBrowserHook, type BrowserHook, type DriveResult } from '../helpers/http-browser.js';
import { idpEnv, startIdp, type Idp } from '../helpers/idp.js';
import { startKeyring, type TestKeyring } from '../helpers/keyring.js';

let idp: Idp;
let browser: BrowserHook<DriveResult>;
let keyring: TestKeyring;
let keychain: Keychain;

beforeAll(async () => {
  idp = await startIdp();
  browser = await startBrowserHook((url) => driveLogin(url, { login: new URL(url).searchParams.get('login_hint') ?? 'alice' }));
  keyring = await startKeyring();
  // This process reads the keychain back through the library, which reads process.env.
  process.env.DBUS_SESSION_BUS_ADDRESS = keyring.env.DBUS_SESSION_BUS_ADDRESS;
  keychain = await openKeychain(keyring.env);
}, 60_000);

afterAll(async () => {
  delete process.env.DBUS_SESSION_BUS_ADDRESS;
  await keyring?.stop();
  await browser?.close();
  await idp?.close();
});

type Env = Record<string, string>;
const withBus = (): Env =>
  idpEnv(idp, isolatedEnv(), { BROWSER: browser.command, DBUS_SESSION_BUS_ADDRESS: keyring.env.DBUS_SESSION_BUS_ADDRESS, XDG_RUNTIME_DIR: keyring.env.XDG_RUNTIME_DIR });
const cacheDir = (e: Env) => join(e.XDG_CACHE_HOME!, 'authbridge');
const cacheText = (e: Env) =>
  readdirSync(cacheDir(e))
    .filter((f) => f.endsWith('.json'))
    .map((f) => readFileSync(join(cacheDir(e), f), 'utf8'))
    .join('\n');
/** The secrets of the keychain items of `profile` (joined chunks of every generation). */
const keychainText = (profile: string) =>
  [...keychain.items().keys()]
    .filter((a) => a.startsWith(`${profile}/`))
    .map((a) => keychain.read(a))
    .join('');

describe('tokens in the keychain (built CLI, real gnome-keyring)', () => {
  it('login, status, token, refresh, a second account, switch and logout: no token text in the cache directory', async () => {
    const e = withBus();
    const profile = `kc${process.pid}`;
    const p = ['--profile', profile];
    const login = await runCli(['login', ...p, '--json'], { env: e });
    expect(login.code, login.stderr).toBe(0);
    expect(login.stderr).not.toContain('note:');
    const status = await runCli(['status', ...p, '--json'], { env: e });
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ signed_in: true, subject: 'alice', storage: 'keychain' });

    const token = await runCli(['token', ...p], { env: e });
    expect(token.code, token.stderr).toBe(0);
    const accessToken = token.stdout.trim();
    expect(accessToken.length).toBeGreaterThan(20);
    expect(keychainText(profile)).toContain(accessToken);
    expect(cacheText(e)).not.toContain(accessToken);
    expect(cacheText(e)).not.toMatch(/"(access|refresh|id)_token"/);

    const refresh = await runCli(['refresh', ...p], { env: e });
    expect(refresh.code, refresh.stderr).toBe(0);
    const refreshed = (await runCli(['token', ...p], { env: e })).stdout.trim();
    expect(refreshed).not.toBe(accessToken);
    expect(keychainText(profile)).toContain(refreshed);
    expect(keychainText(profile)).not.toContain(accessToken);

    const bob = await runCli(['login', ...p, '--auth-param', 'login_hint=bob'], { env: e });
    expect(bob.code, bob.stderr).toBe(0);
    const switched = await runCli(['switch', ...p, 'alice'], { env: e });
    expect(switched.code, switched.stderr).toBe(0);
    expect((await runCli(['token', ...p], { env: e })).stdout.trim()).toBe(refreshed);

    const logout = await runCli(['logout', ...p, '--all-accounts', '--json'], { env: e });
    expect(logout.code, logout.stderr).toBe(0);
    expect(JSON.parse(logout.stdout)).toMatchObject({ signed_out: ['alice@example.test', 'bob@example.test'], now_active: null });
    expect(keychainText(profile)).toBe('');
  });

  it('no session bus: auto logs in to the file silently (a --verbose note names why); keychain exits 2 naming the bus and the fix', async () => {
    const e = idpEnv(idp, isolatedEnv(), { BROWSER: browser.command });
    const login = await runCli(['login'], { env: e });
    expect(login.code, login.stderr).toBe(0);
    expect(login.stderr).not.toContain('note: tokens are kept in the file cache');
    const verbose = await runCli(['login', '--verbose'], { env: e });
    expect(verbose.code, verbose.stderr).toBe(0);
    expect(verbose.stderr).toContain('note: tokens are kept in the file cache');
    expect(verbose.stderr).toContain('no D-Bus session bus');
    expect(cacheText(e)).toMatch(/"access_token"/);
    const token = await runCli(['token'], { env: e });
    expect(token.code).toBe(0);
    expect(token.stderr).toBe('');
    const strict = await runCli(['token', '--token-storage', 'keychain'], { env: e });
    expect(strict.code).toBe(2);
    expect(strict.stderr).toContain('authbridge: could not use the keychain (--token-storage keychain): no D-Bus session bus');
    expect(strict.stderr).toMatch(/dbus-run-session.*--token-storage file/);
    const bad = await runCli(['token'], { env: { ...e, AUTHBRIDGE_TOKEN_STORAGE: 'vault' } });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('authbridge: AUTHBRIDGE_TOKEN_STORAGE must be keychain, file or auto, got "vault"');
  });
});
