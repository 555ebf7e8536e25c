/**
 * Cache durability through the CLI, beyond test/cache (SIGKILL mid-write, in-process and
 * separate-process writers, 0644 tightened and symlinks refused at the TokenCache level):
 * 20 parallel logins and 20 parallel `config set` on different profiles lose nothing, and the
 * commands themselves tighten loose modes and refuse symlinks — of files and, since the second
 * review (finding 3), of the cache directory, which must also be the user's; a FIFO planted as an
 * entry no longer hangs `status`.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, lstatSync, mkdirSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isolatedEnv, runCli } from '../helpers/cli.js';
import { driveLogin, startBrowserHook, type BrowserHook, type DriveResult } from '../helpers/http-browser.js';
import { idpEnv, startIdp, type Idp } from '../helpers/idp.js';
import { FOREIGN_UID, foreignDir } from '../helpers/owners.js';

let idp: Idp;
let browser: BrowserHook<DriveResult>;

beforeAll(async () => {
  idp = await startIdp();
  browser = await startBrowserHook((url) => driveLogin(url, { login: 'carla' }));
});
afterAll(async () => {
  await browser?.close();
  await idp?.close();
});

const cacheDir = (env: Record<string, string>) => join(env.XDG_CACHE_HOME!, 'authbridge');

describe('the token cache through the CLI', () => {
  it('20 parallel logins and 20 parallel `config set`, each on its own profile, lose nothing', async () => {
    const env = idpEnv(idp, isolatedEnv(), { BROWSER: browser.command });
    const n = 20;
    const results = await Promise.all([
      ...Array.from({ length: n }, (_, i) => runCli(['login', '--profile', `login-${i}`], { env, timeoutMs: 60_000 })),
      ...Array.from({ length: n }, (_, i) => runCli(['config', 'set', 'clientId', `client-${i}`, '--profile', `set-${i}`, '--create'], { env, timeoutMs: 60_000 })),
    ]);
    for (const r of results) expect(r.code, r.stderr).toBe(0);

    const status = await runCli(['status', '--all', '--json'], { env });
    const docs = JSON.parse(status.stdout) as Array<{ profile: string; signed_in: boolean; subject: string | null }>;
    const signedIn = docs.filter((d) => d.signed_in).map((d) => d.profile).sort();
    expect(signedIn).toEqual(Array.from({ length: n }, (_, i) => `login-${i}`).sort());
    expect(docs.every((d) => !d.signed_in || d.subject === 'carla')).toBe(true);
    for (let i = 0; i < n; i++) expect(statSync(join(cacheDir(env), `login-${i}.json`)).mode & 0o777).toBe(0o600);

    const config = JSON.parse(readFileSync(join(env.XDG_CONFIG_HOME!, 'authbridge', 'config.json'), 'utf8')) as {
      profiles: Record<string, { clientId?: string }>;
    };
    for (let i = 0; i < n; i++) expect(config.profiles[`set-${i}`]?.clientId).toBe(`client-${i}`);
  }, 90_000);

  it('a cache file left 0644 and a directory left 0755 are tightened, with a warning', async () => {
    const env = idpEnv(idp, isolatedEnv(), { BROWSER: browser.command });
    expect((await runCli(['login'], { env })).code).toBe(0);
    const file = join(cacheDir(env), 'default.json');
    chmodSync(file, 0o644);
    const status = await runCli(['status'], { env });
    expect(status.code).toBe(0);
    expect(status.stderr).toMatch(/^warning: .*default\.json was readable by others; tightened to 0600$/m);
    expect(statSync(file).mode & 0o777).toBe(0o600);

    chmodSync(cacheDir(env), 0o755);
    const refresh = await runCli(['refresh'], { env });
    expect(refresh.code, refresh.stderr).toBe(0);
    expect(refresh.stderr).toMatch(/^warning: tightened the permissions of .* to 0700$/m);
    expect(statSync(cacheDir(env)).mode & 0o777).toBe(0o700);
  });

  it('a symlinked cache file is neither read nor written through', async () => {
    const env = idpEnv(idp, isolatedEnv(), { BROWSER: browser.command });
    mkdirSync(cacheDir(env), { recursive: true, mode: 0o700 });
    const elsewhere = join(env.HOME!, 'planted.json');
    const planted = JSON.stringify({
      version: 1,
      profile: 'default',
      issuer: idp.issuer,
      client_id: 'cli',
      access_token: 'planted-token',
      scopes: ['openid'],
      obtained_at: Date.now(),
      access_token_expires_at: Date.now() + 3600_000,
    });
    writeFileSync(elsewhere, planted, { mode: 0o600 });
    symlinkSync(elsewhere, join(cacheDir(env), 'default.json'));

    const token = await runCli(['token'], { env });
    expect(token.code).toBe(4);
    expect(token.stdout).toBe('');
    expect(token.stderr).toMatch(/^warning: ignored the cached session .*symlink/m);

    expect((await runCli(['login'], { env })).code).toBe(0);
    expect(lstatSync(join(cacheDir(env), 'default.json')).isSymbolicLink()).toBe(false);
    expect(readFileSync(elsewhere, 'utf8')).toBe(planted);
  });

  describe('the cache directory (finding 3 of the second review)', () => {
    it('a symlinked cache directory is refused: login cannot chmod what it points to', async () => {
      const env = idpEnv(idp, isolatedEnv(), { BROWSER: browser.command });
      const target = join(env.HOME!, 'shared');
      mkdirSync(target);
      chmodSync(target, 0o755);
      mkdirSync(env.XDG_CACHE_HOME!, { recursive: true });
      symlinkSync(target, cacheDir(env));
      const login = await runCli(['login'], { env });
      expect(login.code, login.stderr).toBe(2);
      expect(login.stderr).toMatch(/^authbridge: could not use the token cache .*authbridge: it is a symlink, which is never followed$/m);
      expect(statSync(target).mode & 0o777).toBe(0o755);
      expect(readdirSync(target)).toEqual([]);
      const status = await runCli(['status'], { env });
      expect(status.code).toBe(2);
    });

    it('a cache directory owned by another user is refused (AUTHBRIDGE_CACHE_DIR)', async () => {
      const env = { ...isolatedEnv(), AUTHBRIDGE_CACHE_DIR: foreignDir() };
      const status = await runCli(['status'], { env });
      expect(status.code).toBe(2);
      expect(status.stderr).toMatch(new RegExp(`^authbridge: could not use the token cache .*: it is owned by uid ${FOREIGN_UID}, not by you`, 'm'));
    });

    // The bound is the test's own timeout: today's `status` waits for a writer forever.
    it('a FIFO planted at <cache>/default.json: status answers promptly with a warning and exit 4', { timeout: 15_000 }, async () => {
      const env = isolatedEnv();
      mkdirSync(cacheDir(env), { recursive: true, mode: 0o700 });
      execFileSync('mkfifo', ['-m', '600', join(cacheDir(env), 'default.json')]);
      const status = await runCli(['status'], { env, timeoutMs: 60_000 });
      expect(status.code, status.stderr).toBe(4);
      expect(status.stderr).toMatch(/^warning: ignored the cached session of profile "default" .*default\.json\): it is not a regular file/m);
    });
  });
});
