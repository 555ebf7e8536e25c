/**
 * Several accounts per profile against the real IdP (oidc-provider): a login as another user
 * stashes the previous account; `switch` makes a stashed one active; `status` lists them;
 * `logout` signs out the active one (the next becomes active) or, with --all-accounts, every one.
 * The commands run in process through main(), with the file storage.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/main.js';
import { testContext } from '../helpers/context.js';
import { activeAtIdp, realClock, signIn, tempCache, type TempCache } from '../helpers/flows.js';
import { startIdp, type Idp } from '../helpers/idp.js';

let idp: Idp;

beforeAll(async () => {
  idp = await startIdp();
});

afterAll(async () => {
  await idp?.close();
});

async function cli(cached: TempCache, ...args: string[]) {
  const home = mkdtempSync(join(tmpdir(), 'ab-switch-'));
  const ctx = testContext({
    now: realClock,
    env: { HOME: home, XDG_CONFIG_HOME: join(home, '.config'), AUTHBRIDGE_CACHE_DIR: cached.dir, AUTHBRIDGE_ISSUER: idp.issuer, AUTHBRIDGE_CLIENT_ID: 'cli' },
  });
  const code = await main(['node', 'authbridge', '--token-storage', 'file', ...args], ctx);
  return { code, stdout: ctx.out(), stderr: ctx.err() };
}

/** A cache with alice, then bob signed in to the default profile (bob active). */
async function twoAccounts() {
  const cached = tempCache();
  const alice = await signIn({ idp, cache: cached.cache, login: 'alice' });
  const bob = await signIn({ idp, cache: cached.cache, login: 'bob' });
  return { cached, alice, bob };
}

describe('several accounts in one profile', () => {
  it('a login as another user keeps the first one stashed; status lists both, the active one first', async () => {
    const { cached, bob } = await twoAccounts();
    expect((await cached.cache.get('default'))?.access_token).toBe(bob.access_token);
    const status = await cli(cached, 'status', '--json');
    expect(status.code).toBe(0);
    const doc = JSON.parse(status.stdout) as { subject: string; storage: string; accounts: unknown[] };
    expect(doc.subject).toBe('bob');
    expect(doc.storage).toBe('file');
    expect(doc.accounts).toEqual([
      { account: 'bob@example.test', issuer: idp.issuer, subject: 'bob', email: 'bob@example.test', active: true },
      { account: 'alice@example.test', issuer: idp.issuer, subject: 'alice', email: 'alice@example.test', active: false },
    ]);
    const human = await cli(cached, 'status');
    expect(human.stdout).toContain('default: signed in as bob@example.test (sub bob)');
    expect(human.stdout).toMatch(/other accounts\s+alice@example.test \(`authbridge switch` to use one\)/);
    expect(human.stdout).toMatch(/stored in\s+the cache file \(mode 0600\)/);
    expect(cached.mode()).toBe(0o600);
  });

  it('switch without ACCOUNT swaps the two; by unique prefix back; token prints the active one', async () => {
    const { cached, alice, bob } = await twoAccounts();
    const swapped = await cli(cached, 'switch');
    expect(swapped.code).toBe(0);
    expect(swapped.stderr).toContain('Profile default now uses alice@example.test (was bob@example.test).');
    expect((await cli(cached, 'token')).stdout).toBe(`${alice.access_token}\n`);
    const back = await cli(cached, 'switch', 'bo', '--json');
    expect(back.code).toBe(0);
    expect(JSON.parse(back.stdout)).toMatchObject({ profile: 'default', switched: true, active: { subject: 'bob', active: true }, previous: { subject: 'alice', active: false } });
    expect((await cli(cached, 'token')).stdout).toBe(`${bob.access_token}\n`);
    const same = await cli(cached, 'switch', 'bob@example.test');
    expect(same.code).toBe(0);
    expect(same.stderr).toContain('bob@example.test is already the active account of profile default.');
  });

  it('logging in again as a stashed account makes it active and unstashes it (no duplicate)', async () => {
    const { cached } = await twoAccounts();
    const again = await signIn({ idp, cache: cached.cache, login: 'alice' });
    const stored = await cached.cache.accounts('default');
    expect(stored?.active.access_token).toBe(again.access_token);
    expect(stored?.stashed.map((s) => s.subject)).toEqual(['bob']);
  });

  it('bad input: an unknown account exits 2 with the list and a suggestion; several accounts and no ACCOUNT exit 2 listing them', async () => {
    const { cached } = await twoAccounts();
    const unknown = await cli(cached, 'switch', 'bobb');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('authbridge: no account "bobb" is signed in to profile \'default\' (accounts: bob@example.test, alice@example.test)');
    expect(unknown.stderr).toContain("Did you mean 'bob'?");
    await signIn({ idp, cache: cached.cache, login: 'carol' });
    const many = await cli(cached, 'switch');
    expect(many.code).toBe(2);
    expect(many.stderr).toContain("profile 'default' has 3 accounts; name the one to switch to: carol@example.test, bob@example.test, alice@example.test");
    expect(many.stdout).toBe('');
  });

  it('switch with no account exits 4; with a single account exits 2', async () => {
    const cached = tempCache();
    const none = await cli(cached, 'switch');
    expect(none.code).toBe(4);
    expect(none.stderr).toContain("profile 'default' has no signed-in account to switch to");
    await signIn({ idp, cache: cached.cache, login: 'alice' });
    const one = await cli(cached, 'switch');
    expect(one.code).toBe(2);
    expect(one.stderr).toContain("only one account (alice@example.test) is signed in to profile 'default': nothing to switch to");
  });

  it('logout signs out the active account and revokes its tokens; the stashed one becomes active; --all-accounts signs out every one', async () => {
    const { cached, alice, bob } = await twoAccounts();
    const out = await cli(cached, 'logout', '--json');
    expect(out.code).toBe(0);
    expect(JSON.parse(out.stdout)).toMatchObject({ removed: true, signed_out: ['bob@example.test'], now_active: 'alice@example.test', revoked: { idp: true } });
    expect(out.stderr).toContain('Now active: alice@example.test');
    expect(await activeAtIdp(idp, bob.refresh_token!)).toBe(false);
    expect(await activeAtIdp(idp, alice.refresh_token!)).toBe(true);
    expect((await cached.cache.get('default'))?.subject).toBe('alice');

    await signIn({ idp, cache: cached.cache, login: 'carol' });
    const all = await cli(cached, 'logout', '--all-accounts', '--json');
    expect(JSON.parse(all.stdout)).toMatchObject({ removed: true, signed_out: ['carol@example.test', 'alice@example.test'], now_active: null });
    expect(await activeAtIdp(idp, alice.refresh_token!)).toBe(false);
    expect(cached.exists()).toBe(false);
    expect((await cli(cached, 'status')).code).toBe(4);
  });

  it('a corrupt stashed account is warned about and ignored, never a crash', async () => {
    const { cached } = await twoAccounts();
    const entry = JSON.parse(readFileSync(cached.file(), 'utf8')) as { accounts: unknown[] };
    entry.accounts.push({ version: 1, profile: 'default', issuer: 42 }, 'garbage');
    writeFileSync(cached.file(), JSON.stringify(entry), { mode: 0o600 });
    const status = await cli(cached, 'status', '--json');
    expect(status.code).toBe(0);
    expect((JSON.parse(status.stdout) as { accounts: unknown[] }).accounts).toHaveLength(2);
    expect(status.stderr).toMatch(/warning: ignored stashed account 2 of profile "default" .*: it is corrupt/);
    expect(status.stderr).toMatch(/warning: ignored stashed account 3 of profile "default"/);
    const swapped = await cli(cached, 'switch', 'alice');
    expect(swapped.code).toBe(0);
    // The next write leaves the corrupt ones out.
    expect((JSON.parse(readFileSync(cached.file(), 'utf8')) as { accounts: unknown[] }).accounts).toHaveLength(1);
  });
});
