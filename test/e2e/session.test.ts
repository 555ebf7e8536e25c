/**
 * After `login`: status, token, refresh, introspect and logout through the built CLI against a
 * real OpenID provider, the cache shared by parallel logins, and a corrupted cache file.
 *
 * Each case stands alone: a signed-in session is made in this process (loginFlow with the
 * recording browser, into the HOME the CLI will use) rather than by an earlier case or an extra
 * spawned `login`; what the flows do with it is tested in test/flows, what is tested here is
 * what only the binary shows: exit codes, stdout and stderr, JSON documents, files and modes,
 * processes sharing the cache.
 */
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isolatedEnv, runCli } from '../helpers/cli.js';
import { driveLogin, startBrowserHook, type BrowserHook, type DriveResult } from '../helpers/http-browser.js';
import { idpProfile, liveContext, signIn, tempCache } from '../helpers/flows.js';
import { idpEnv, startIdp, type Idp } from '../helpers/idp.js';
import { logoutFlow } from '../../src/flows/logout.js';

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

/** A session signed in as `login` for `profile`, cached where the CLI run with `e` looks. */
async function signedIn(e: Env, profile = 'default', login = 'alice') {
  await signIn({ idp, cache: tempCache(cacheDir(e)).cache, profile: idpProfile(idp, { name: profile }), login });
  return readCache(e, profile);
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
  'storage',
  'accounts',
];

describe('before login', () => {
  it('status --json: exit 4 and the empty document; token: exit 4, the reason on stderr, nothing on stdout', async () => {
    const e = env();
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
      storage: null,
      accounts: [],
    });
    const noToken = await runCli(['token'], { env: e });
    expect(noToken.code).toBe(4);
    expect(noToken.stderr).toContain('authbridge: could not get the access token of profile "default": not signed in');
    expect(noToken.stdout).toBe('');
  });

  it('logout with nothing cached: exit 0, removed false', async () => {
    const again = await runCli(['logout', '--json'], { env: env() });
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ removed: false });
  });
});

describe('a signed-in session', () => {
  it('status --json prints the contract document (exit 0); the human view says who and until when; no token is printed', async () => {
    const e = env();
    const cached = await signedIn(e);
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
  });

  it.each([
    [[] as string[], 'access_token'],
    [['--type', 'id'], 'id_token'],
    [['--type', 'refresh'], 'refresh_token'],
  ])('token %j prints the cached %s and a newline, exit 0', async (args, key) => {
    const e = env();
    const cached = await signedIn(e);
    const result = await runCli(['token', ...args], { env: e });
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`${cached[key]}\n`);
  });

  it('token --type broker without a broker session: exit 4, "no broker session"', async () => {
    const e = env();
    await signedIn(e);
    const broker = await runCli(['token', '--type', 'broker'], { env: e });
    expect(broker.code).toBe(4);
    expect(broker.stderr).toContain('no broker session');
  });

  it('introspect --json: active, with sub and client; introspect --type refresh: "active"', async () => {
    const e = env();
    await signedIn(e);
    const introspected = await runCli(['introspect', '--json'], { env: e });
    expect(introspected.code).toBe(0);
    expect(JSON.parse(introspected.stdout)).toMatchObject({ active: true, sub: 'alice', client_id: 'cli' });
    const humanIntrospect = await runCli(['introspect', '--type', 'refresh'], { env: e });
    expect(humanIntrospect.code).toBe(0);
    expect(humanIntrospect.stdout).toMatch(/^active\n/);
  });

  it('status --check --json: exit 0, the userinfo endpoint took the access token', async () => {
    const e = env();
    await signedIn(e);
    const checked = await runCli(['status', '--check', '--json'], { env: e });
    expect(checked.code).toBe(0);
    expect(JSON.parse(checked.stdout).check).toEqual({ idp: { live: true, method: 'userinfo', detail: 'the userinfo endpoint accepted the access token' } });
  });

  it('refresh --json: exit 0, new tokens in the 0600 file, and the old refresh token spent (introspect exit 1)', async () => {
    const e = env();
    const cached = await signedIn(e);
    const refreshed = await runCli(['refresh', '--json'], { env: e });
    expect(refreshed.code, refreshed.stderr).toBe(0);
    expect(JSON.parse(refreshed.stdout)).toMatchObject({ signed_in: true, subject: 'alice' });
    const after = readCache(e);
    expect(after.access_token).not.toBe(cached.access_token);
    // A public client's refresh token rotates; the old one is spent.
    expect(after.refresh_token).not.toBe(cached.refresh_token);
    expect((await runCli(['introspect', '--', String(cached.refresh_token)], { env: e })).code).toBe(1);
    expect(statSync(cacheFile(e)).mode & 0o777).toBe(0o600);
  });

  it('logout --json: the contract document, "Signed out" on stderr, the file removed; then status and token exit 4', async () => {
    const e = env();
    await signedIn(e);
    const logout = await runCli(['logout', '--json'], { env: e });
    expect(logout.code, logout.stderr).toBe(0);
    expect(JSON.parse(logout.stdout)).toEqual({ profile: 'default', removed: true, revoked: { idp: true, broker: false }, signed_out: ['alice@example.test'], now_active: null, warnings: [] });
    expect(logout.stderr).toContain('Signed out of profile default');
    expect(() => statSync(cacheFile(e))).toThrow();
    expect((await runCli(['status'], { env: e })).code).toBe(4);
    expect((await runCli(['token'], { env: e })).code).toBe(4);
  });

  it('after logout the IdP honours neither token: introspect --json exit 1 {"active":false}; introspect prints "inactive"', async () => {
    const e = env();
    const after = await signedIn(e);
    const ctx = liveContext();
    await logoutFlow({ ctx, cache: tempCache(cacheDir(e)).cache, names: ['default'], local: false, loadProfile: async () => undefined });
    const inactive = await runCli(['introspect', '--json', '--', String(after.refresh_token)], { env: e });
    expect(inactive.code).toBe(1);
    expect(JSON.parse(inactive.stdout)).toEqual({ active: false });
    expect((await runCli(['introspect', '--', String(after.access_token)], { env: e })).stdout).toMatch(/^inactive/);
  });
});

describe('expiry and refresh', () => {
  it('token with an expired access token refreshes it and prints the new one; status still exit 0 on the ID token', async () => {
    const e = env();
    const first = await signedIn(e);
    editCache(e, (entry) => (entry.access_token_expires_at = Date.now() - 1000));
    expect((await runCli(['status', '--json'], { env: e })).code).toBe(0); // the ID token is still valid
    const token = await runCli(['token'], { env: e });
    expect(token.code, token.stderr).toBe(0);
    const second = readCache(e);
    expect(token.stdout).toBe(`${second.access_token}\n`);
    expect(second.access_token).not.toBe(first.access_token);
    expect(second.access_token_expires_at as number).toBeGreaterThan(Date.now());
  });

  /** The refresh token is refused by the IdP (revoked behind the CLI's back). */
  function refuseRefresh(e: Env) {
    editCache(e, (entry) => {
      entry.access_token_expires_at = Date.now() - 1000;
      entry.id_token_expires_at = Date.now() - 1000;
      entry.refresh_token = 'revoked-or-unknown';
    });
  }

  it('token meeting a refused refresh token: exit 4, "the session expired (the IdP refused …)", the entry marked expired', async () => {
    const e = env();
    await signedIn(e);
    refuseRefresh(e);
    const refused = await runCli(['token'], { env: e });
    expect(refused.code).toBe(4);
    expect(refused.stderr).toMatch(/authbridge: could not get the access token of profile "default": the session expired \(the IdP refused the refresh token: invalid_grant/);
    expect(readCache(e).expired).toBe(true);
  });

  it('a session marked expired: status exit 4 and "session expired, run `authbridge login`"; refresh exit 4', async () => {
    const e = env();
    await signedIn(e);
    refuseRefresh(e);
    editCache(e, (entry) => (entry.expired = true));
    const status = await runCli(['status', '--json'], { env: e });
    expect(status.code).toBe(4);
    expect(JSON.parse(status.stdout)).toMatchObject({ signed_in: false, refreshable: false });
    expect((await runCli(['status'], { env: e })).stdout).toContain('default: session expired, run `authbridge login`');
    const refresh = await runCli(['refresh'], { env: e });
    expect(refresh.code).toBe(4);
    expect(readCache(e).expired).toBe(true);
  });

  it('refresh meeting invalid_grant: exit 5, the IdP\'s error on stderr, and the entry marked expired', async () => {
    const e = env();
    await signedIn(e);
    editCache(e, (entry) => (entry.refresh_token = 'not-a-refresh-token'));
    const direct = await runCli(['refresh'], { env: e });
    expect(direct.code).toBe(5);
    expect(direct.stderr).toMatch(/^authbridge: could not refresh the session: invalid_grant/m);
    expect(readCache(e).expired).toBe(true);
  });

  it('parallel `token` processes with an expired access token refresh once and agree (the refresh token rotates)', async () => {
    const e = env();
    await signedIn(e);
    editCache(e, (entry) => (entry.access_token_expires_at = Date.now() - 1000));
    const results = await Promise.all([1, 2, 3].map(() => runCli(['token'], { env: e })));
    for (const r of results) expect(r.code, r.stderr).toBe(0);
    expect(new Set(results.map((r) => r.stdout)).size).toBe(1);
    expect(results[0]!.stdout).toBe(`${readCache(e).access_token}\n`);
    expect((await runCli(['refresh'], { env: e })).code).toBe(0);
  });

  it('status --check says "not live" (exit 4) when the IdP ended the grant; offline status still exit 0', async () => {
    const e = env();
    const { refresh_token: rt } = await signedIn(e);
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
});

describe('logout', () => {
  it('--all --local removes every profile from the cache and revokes nothing', async () => {
    const e = env();
    await signedIn(e);
    const rt = (await signedIn(e, 'work')).refresh_token as string;
    const result = await runCli(['logout', '--all', '--local', '--json'], { env: e });
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual([
      { profile: 'default', removed: true, revoked: { idp: false, broker: false }, signed_out: [expect.any(String)], now_active: null, warnings: [] },
      { profile: 'work', removed: true, revoked: { idp: false, broker: false }, signed_out: [expect.any(String)], now_active: null, warnings: [] },
    ]);
    expect((await runCli(['status', '--all', '--json'], { env: e })).code).toBe(4);
    // Opaque tokens are base64url: one in 64 begins with "-", so `--` goes before it.
    expect((await runCli(['introspect', '--', rt], { env: e })).code).toBe(0);
  });

  it('with the IdP failing to revoke: removed locally, a warning, exit 0', async () => {
    const e = env();
    await signedIn(e);
    idp.faults.revocation = { status: 503 };
    try {
      const result = await runCli(['logout', '--json'], { env: e });
      expect(result.code).toBe(0);
      const doc = JSON.parse(result.stdout) as { removed: boolean; revoked: { idp: boolean }; warnings: string[] };
      expect(doc.removed).toBe(true);
      expect(doc.revoked.idp).toBe(false);
      expect(doc.warnings[0]).toMatch(/^not revoked: could not revoke the refresh token: /);
      expect(result.stderr).toContain('warning: not revoked: could not revoke the refresh token');
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

  /** The default profile's file, corrupted (as a crash of another tool might leave it). */
  function corrupt(e: Env) {
    mkdirSync(cacheDir(e), { recursive: true, mode: 0o700 });
    writeFileSync(cacheFile(e), '{"version":1,"profile":"default", this is not JSON', { mode: 0o600 });
  }

  it('reports a corrupted cache file clearly and treats it as signed out', async () => {
    const e = env();
    corrupt(e);
    const status = await runCli(['status'], { env: e });
    expect(status.code).toBe(4);
    expect(status.stderr).toMatch(/warning: .*corrupt/);
    const token = await runCli(['token'], { env: e });
    expect(token.code).toBe(4);
    expect(token.stdout).toBe('');
  });

  it('the next login replaces a corrupted cache file (0600), and status is signed in again', async () => {
    const e = env();
    corrupt(e);
    await login(e);
    expect((await runCli(['status'], { env: e })).code).toBe(0);
    expect(statSync(cacheFile(e)).mode & 0o777).toBe(0o600);
  });
});
