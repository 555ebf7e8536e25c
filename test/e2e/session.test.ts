/**
 * After `login`: status, token, refresh, introspect and logout through the built CLI against a
 * real OpenID provider, the cache shared by parallel logins, and a corrupted cache file.
 */
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isolatedEnv, runCli } from '../helpers/cli.js';
import { driveLogin, startBrowserHook, type BrowserHook, type DriveResult } from '../helpers/http-browser.js';
import { idpEnv, startIdp, type Idp } from '../helpers/idp.js';

let idp: Idp;
let browser: BrowserHook<DriveResult>;

beforeAll(async () => {
  idp = await startIdp();
  browser = await startBrowserHook((url) => driveLogin(url, { login: new URL(url).searchParams.get('login_hint') ?? 'alice' }));
});
afterAll(async () => {
  await browser?.close();
  await idp?.close();
});

type Env = Record<string, string>;
const env = (extra: Record<string, string | undefined> = {}): Env => idpEnv(idp, isolatedEnv(), { BROWSER: browser.command, ...extra });
const cacheDir = (e: Env) => join(e.XDG_CACHE_HOME!, 'authbridge');
const cacheFile = (e: Env, profile = 'default') => join(cacheDir(e), `${profile}.json`);
const readCache = (e: Env, profile = 'default') => JSON.parse(readFileSync(cacheFile(e, profile), 'utf8')) as Record<string, unknown>;
function editCache(e: Env, edit: (entry: Record<string, unknown>) => void, profile = 'default') {
  const entry = readCache(e, profile);
  edit(entry);
  writeFileSync(cacheFile(e, profile), JSON.stringify(entry));
}

async function login(e: Env, args: string[] = []) {
  const result = await runCli(['login', ...args], { env: e });
  expect(result.code, result.stderr).toBe(0);
  return result;
}

const STATUS_KEYS = [
  'profile',
  'signed_in',
  'issuer',
  'subject',
  'email',
  'access_token_expires_at',
  'id_token_expires_at',
  'refreshable',
  'scopes',
  'broker',
];

describe('a session from login to logout', () => {
  it('status, token, refresh, introspect and logout, with the contract exit codes before and after', async () => {
    const e = env();
    // Before login: not signed in.
    const before = await runCli(['status', '--json'], { env: e });
    expect(before.code).toBe(4);
    expect(JSON.parse(before.stdout)).toEqual({
      profile: 'default',
      signed_in: false,
      issuer: null,
      subject: null,
      email: null,
      access_token_expires_at: null,
      id_token_expires_at: null,
      refreshable: false,
      scopes: [],
      broker: null,
    });
    const noToken = await runCli(['token'], { env: e });
    expect(noToken.code).toBe(4);
    expect(noToken.stderr).toContain('authbridge: could not get the access token of profile "default": not signed in');
    expect(noToken.stdout).toBe('');

    await login(e);
    const cached = readCache(e);

    const status = await runCli(['status', '--json'], { env: e });
    expect(status.code).toBe(0);
    const doc = JSON.parse(status.stdout) as Record<string, unknown>;
    expect(Object.keys(doc)).toEqual(STATUS_KEYS);
    expect(doc).toMatchObject({ profile: 'default', signed_in: true, issuer: idp.issuer, subject: 'alice', email: 'alice@example.test', refreshable: true, broker: null });
    expect(doc.access_token_expires_at).toMatch(/Z$/);
    expect(doc.scopes).toEqual(['openid', 'profile', 'email', 'offline_access']);
    const human = await runCli(['status'], { env: e });
    expect(human.stdout).toContain('default: signed in as alice@example.test (sub alice)');
    expect(human.stdout).toMatch(/access token\s+expires \d{4}-\d\d-\d\dT[\d:]+Z \(in (59m|1h)\)/);
    expect(human.stdout).toMatch(/refresh token\s+held/);
    for (const key of ['access_token', 'id_token', 'refresh_token']) expect(human.stdout + status.stdout).not.toContain(cached[key]);

    const access = await runCli(['token'], { env: e });
    expect(access.code).toBe(0);
    expect(access.stdout).toBe(`${cached.access_token}\n`);
    expect((await runCli(['token', '--type', 'id'], { env: e })).stdout).toBe(`${cached.id_token}\n`);
    expect((await runCli(['token', '--type', 'refresh'], { env: e })).stdout).toBe(`${cached.refresh_token}\n`);
    const broker = await runCli(['token', '--type', 'broker'], { env: e });
    expect(broker.code).toBe(4);
    expect(broker.stderr).toContain('no broker session');

    const introspected = await runCli(['introspect', '--json'], { env: e });
    expect(introspected.code).toBe(0);
    expect(JSON.parse(introspected.stdout)).toMatchObject({ active: true, sub: 'alice', client_id: 'cli' });
    const humanIntrospect = await runCli(['introspect', '--type', 'refresh'], { env: e });
    expect(humanIntrospect.code).toBe(0);
    expect(humanIntrospect.stdout).toMatch(/^active\n/);

    const checked = await runCli(['status', '--check', '--json'], { env: e });
    expect(checked.code).toBe(0);
    expect(JSON.parse(checked.stdout).check).toEqual({ idp: { live: true, method: 'userinfo', detail: 'the userinfo endpoint accepted the access token' } });

    const refreshed = await runCli(['refresh', '--json'], { env: e });
    expect(refreshed.code, refreshed.stderr).toBe(0);
    expect(JSON.parse(refreshed.stdout)).toMatchObject({ signed_in: true, subject: 'alice' });
    const after = readCache(e);
    expect(after.access_token).not.toBe(cached.access_token);
    // A public client's refresh token rotates; the old one is spent.
    expect(after.refresh_token).not.toBe(cached.refresh_token);
    expect((await runCli(['introspect', '--', String(cached.refresh_token)], { env: e })).code).toBe(1);
    expect(statSync(cacheFile(e)).mode & 0o777).toBe(0o600);

    const logout = await runCli(['logout', '--json'], { env: e });
    expect(logout.code, logout.stderr).toBe(0);
    expect(JSON.parse(logout.stdout)).toEqual({ profile: 'default', removed: true, revoked: { idp: true, broker: false }, warnings: [] });
    expect(logout.stderr).toContain('Signed out of profile default');
    expect(() => statSync(cacheFile(e))).toThrow();

    // After logout: not signed in, and the IdP no longer honours the refresh token.
    expect((await runCli(['status'], { env: e })).code).toBe(4);
    expect((await runCli(['token'], { env: e })).code).toBe(4);
    const inactive = await runCli(['introspect', '--json', '--', String(after.refresh_token)], { env: e });
    expect(inactive.code).toBe(1);
    expect(JSON.parse(inactive.stdout)).toEqual({ active: false });
    expect((await runCli(['introspect', '--', String(after.access_token)], { env: e })).stdout).toMatch(/^inactive/);

    const again = await runCli(['logout', '--json'], { env: e });
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ removed: false });
  });

  it('token refreshes an expired access token; a refused refresh token means exit 4 for token, 5 for refresh, and "session expired"', async () => {
    const e = env();
    await login(e);
    const first = readCache(e);
    editCache(e, (entry) => (entry.access_token_expires_at = Date.now() - 1000));
    expect((await runCli(['status', '--json'], { env: e })).code).toBe(0); // the ID token is still valid
    const token = await runCli(['token'], { env: e });
    expect(token.code, token.stderr).toBe(0);
    const second = readCache(e);
    expect(token.stdout).toBe(`${second.access_token}\n`);
    expect(second.access_token).not.toBe(first.access_token);
    expect(second.access_token_expires_at as number).toBeGreaterThan(Date.now());

    // The refresh token is refused by the IdP (revoked behind the CLI's back).
    editCache(e, (entry) => {
      entry.access_token_expires_at = Date.now() - 1000;
      entry.id_token_expires_at = Date.now() - 1000;
      entry.refresh_token = 'revoked-or-unknown';
    });
    const refused = await runCli(['token'], { env: e });
    expect(refused.code).toBe(4);
    expect(refused.stderr).toMatch(/authbridge: could not get the access token of profile "default": the session expired \(the IdP refused the refresh token: invalid_grant/);
    const status = await runCli(['status', '--json'], { env: e });
    expect(status.code).toBe(4);
    expect(JSON.parse(status.stdout)).toMatchObject({ signed_in: false, refreshable: false });
    expect((await runCli(['status'], { env: e })).stdout).toContain('default: session expired, run `authbridge login`');
    const refresh = await runCli(['refresh'], { env: e });
    expect(refresh.code).toBe(4);
    expect(readCache(e).expired).toBe(true);

    // `refresh` itself meeting invalid_grant: exit 5, and the entry is marked expired.
    await login(e);
    editCache(e, (entry) => (entry.refresh_token = 'not-a-refresh-token'));
    const direct = await runCli(['refresh'], { env: e });
    expect(direct.code).toBe(5);
    expect(direct.stderr).toMatch(/^authbridge: could not refresh the session: invalid_grant/m);
    expect(readCache(e).expired).toBe(true);
  });

  it('parallel `token` calls with an expired access token refresh once and agree (the refresh token rotates)', async () => {
    const e = env();
    await login(e);
    editCache(e, (entry) => (entry.access_token_expires_at = Date.now() - 1000));
    const results = await Promise.all([1, 2, 3].map(() => runCli(['token'], { env: e })));
    for (const r of results) expect(r.code, r.stderr).toBe(0);
    expect(new Set(results.map((r) => r.stdout)).size).toBe(1);
    expect(results[0]!.stdout).toBe(`${readCache(e).access_token}\n`);
    expect((await runCli(['refresh'], { env: e })).code).toBe(0);
  });

  it('status --check says "not live" when the IdP ended the grant', async () => {
    const e = env();
    await login(e);
    const { refresh_token: rt } = readCache(e);
    const token = await idp.provider.RefreshToken.find(String(rt));
    const grant = await idp.provider.Grant.find(token!.grantId!);
    await grant!.destroy();
    await token!.destroy();
    const checked = await runCli(['status', '--check', '--json'], { env: e });
    expect(checked.code).toBe(4);
    expect(JSON.parse(checked.stdout)).toMatchObject({ signed_in: false, check: { idp: { live: false, method: 'introspection' } } });
    // Offline status still trusts the cache.
    expect((await runCli(['status'], { env: e })).code).toBe(0);
  });

  it('logout --all --local removes every profile from the cache and revokes nothing', async () => {
    const e = env();
    await login(e);
    await login(e, ['--profile', 'work']);
    const rt = readCache(e, 'work').refresh_token as string;
    const result = await runCli(['logout', '--all', '--local', '--json'], { env: e });
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual([
      { profile: 'default', removed: true, revoked: { idp: false, broker: false }, warnings: [] },
      { profile: 'work', removed: true, revoked: { idp: false, broker: false }, warnings: [] },
    ]);
    expect((await runCli(['status', '--all', '--json'], { env: e })).code).toBe(4);
    // Opaque tokens are base64url: one in 64 begins with "-", so `--` goes before it.
    expect((await runCli(['introspect', '--', rt], { env: e })).code).toBe(0);
  });

  it('logout with the IdP failing to revoke: removed locally, a warning, exit 0', async () => {
    const e = env();
    await login(e);
    idp.faults.revocation = { status: 503 };
    try {
      const result = await runCli(['logout', '--json'], { env: e });
      expect(result.code).toBe(0);
      const doc = JSON.parse(result.stdout) as { removed: boolean; revoked: { idp: boolean }; warnings: string[] };
      expect(doc.removed).toBe(true);
      expect(doc.revoked.idp).toBe(false);
      expect(doc.warnings[0]).toMatch(/^could not revoke the refresh token: /);
      expect(result.stderr).toContain('warning: could not revoke the refresh token');
    } finally {
      delete idp.faults.revocation;
    }
    expect((await runCli(['status'], { env: e })).code).toBe(4);
  });
});

describe('the cache', () => {
  it('keeps every profile when several logins run in parallel into one cache', async () => {
    const e = env();
    const profiles = ['p1', 'p2', 'p3', 'p4'];
    const results = await Promise.all(profiles.map((p) => runCli(['login', '--profile', p], { env: e })));
    for (const r of results) expect(r.code, r.stderr).toBe(0);
    const all = await runCli(['status', '--all', '--json'], { env: e });
    expect(all.code).toBe(0);
    const docs = JSON.parse(all.stdout) as Array<{ profile: string; signed_in: boolean }>;
    expect(docs.map((d) => [d.profile, d.signed_in])).toEqual(profiles.map((p) => [p, true]));
    for (const p of profiles) {
      expect(readCache(e, p).profile).toBe(p);
      expect(statSync(cacheFile(e, p)).mode & 0o777).toBe(0o600);
    }
    expect(statSync(cacheDir(e)).mode & 0o777).toBe(0o700);
  });

  it('reports a corrupted cache file clearly, treats it as signed out, and the next login replaces it', async () => {
    const e = env();
    await login(e);
    writeFileSync(cacheFile(e), '{"version":1,"profile":"default", this is not JSON');
    const status = await runCli(['status'], { env: e });
    expect(status.code).toBe(4);
    expect(status.stderr).toMatch(/warning: .*corrupt/);
    const token = await runCli(['token'], { env: e });
    expect(token.code).toBe(4);
    expect(token.stdout).toBe('');
    await login(e);
    expect((await runCli(['status'], { env: e })).code).toBe(0);
    expect(statSync(cacheFile(e)).mode & 0o777).toBe(0o600);
  });
});
