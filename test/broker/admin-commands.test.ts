/**
 * `authbridge broker keys …` and `broker customers …`, run in process through main() against
 * both stores: a SQLite file and a PostgreSQL database (a real server, test/helpers/postgres.ts).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { main } from '../../src/main.js';
import { openStore } from '../../src/broker/store/open.js';
import type { LoginInput } from '../../src/broker/store/types.js';
import { testContext } from '../helpers/context.js';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { tempDir } from './helpers.js';

const NOW = Date.UTC(2026, 10, 22, 12);
const dir = tempDir();
const configFile = join(dir, 'broker.json');
writeFileSync(
  configFile,
  JSON.stringify({
    tokenTtl: 600,
    clients: [{ clientId: 'cli', tokenEndpointAuthMethod: 'client_secret_basic', clientSecret: 's3cret' }],
    providers: [{ id: 'idp', type: 'jwt', issuer: 'https://idp.example.test', audience: 'cli' }],
  }),
);

let pgs: TestPostgres | undefined;
let n = 0;
const STORES: { name: string; db: () => Promise<string> }[] = [
  { name: 'sqlite', db: async () => join(dir, `admin-${n++}.db`) },
  { name: 'postgres', db: async () => (pgs ??= await startPostgres()).createDatabase(`admin_${n++}`) },
];
afterAll(async () => pgs?.stop());

async function cli(args: string[], now = NOW): Promise<{ code: number; out: string; err: string }> {
  const ctx = testContext({ now });
  const code = await main(['node', 'authbridge', ...args], ctx);
  return { code, out: ctx.out(), err: ctx.err() };
}

const login = (subject: string, provider = 'idp'): LoginInput => ({
  provider,
  subject,
  fields: { email: `${subject}@example.test` },
  updatePolicy: 'each-login',
  registration: 'auto',
  clientId: 'cli',
  ttl: 3600,
  now: NOW,
});

describe.each(STORES)('$name', ({ db: makeDb }) => {
  let db: string;
  beforeEach(async () => {
    db = await makeDb();
  });

  it('keys rotate adds a key that signs after --delay; list shows the states; retire refuses the only signing key, retires a replaced one', async () => {
    const first = await cli(['broker', 'keys', 'list', '--db', db, '--json']);
    expect(first.code, first.err).toBe(0);
    const [old] = JSON.parse(first.out) as { kid: string; state: string }[];
    expect(old).toMatchObject({ state: 'signing', signs_from: new Date(NOW).toISOString(), retires_at: null });

    // The only key cannot be retired: nothing would sign.
    const refused = await cli(['broker', 'keys', 'retire', '--db', db, '--', old!.kid]);
    expect(refused.code).toBe(2);
    expect(refused.err).toMatch(new RegExp(`^authbridge: ${old!.kid} is the key that signs: no other key would sign`, 'm'));

    const LATER = NOW + 1000;
    const rotated = await cli(['--config', configFile, 'broker', 'keys', 'rotate', '--db', db, '--delay', '0'], LATER);
    expect(rotated.code, rotated.err).toBe(0);
    const kid = rotated.out.trim();
    expect(rotated.err).toMatch(/warning: --delay 0 is shorter than the JWKS max-age/);
    // The old key retires a token lifetime (600 s) and a minute after the new one signs.
    const retireAt = new Date(LATER + 660_000).toISOString();
    expect(rotated.err).toContain(`the keys it replaces retire at ${retireAt}`);
    const listed = JSON.parse((await cli(['broker', 'keys', 'list', '--db', db, '--json'], LATER)).out) as { kid: string; state: string; retires_at: string | null }[];
    expect(listed.map((k) => [k.kid, k.state, k.retires_at])).toEqual([
      [kid, 'signing', null],
      [old!.kid, 'verifying', retireAt],
    ]);

    expect((await cli(['broker', 'keys', 'retire', 'no-such-kid', '--db', db])).code).toBe(2);
    const retired = await cli(['broker', 'keys', 'retire', '--db', db, '--', old!.kid], LATER);
    expect(retired.code, retired.err).toBe(0);
    expect((await cli(['broker', 'keys', 'list', '--db', db], LATER)).out).toMatch(new RegExp(`^${old!.kid}  retired `, 'm'));
  });

  it('customers list, show, export and delete (revoking the sessions first)', async () => {
    const { store } = await openStore(db, { now: NOW });
    try {
      await store.upsertCustomerAndOpenSession(login('alice'));
      await store.upsertCustomerAndOpenSession({ ...login('alice'), now: NOW + 1 });
      await store.upsertCustomerAndOpenSession({ ...login('bob'), now: NOW + 2 });
      await store.upsertCustomerAndOpenSession({ ...login('carol', 'backend'), now: NOW + 3 });
    } finally {
      await store.close();
    }
    const list = await cli(['broker', 'customers', 'list', '--db', db]);
    expect(list.code, list.err).toBe(0);
    expect(list.out.trim().split('\n').map((line) => line.split('  ').slice(1, 3))).toEqual([['idp', 'alice'], ['idp', 'bob'], ['backend', 'carol']]);
    const ids = list.out.trim().split('\n').map((line) => line.split('  ')[0]!);
    expect(JSON.parse((await cli(['broker', 'customers', 'list', '--db', db, '--provider', 'backend', '--json'])).out)).toEqual([
      { id: ids[2], provider: 'backend', subject: 'carol', created_at: new Date(NOW + 3).toISOString() },
    ]);
    expect((await cli(['broker', 'customers', 'list', '--db', db, '--after', ids[0]!, '--limit', '1'])).out).toMatch(/^\S+  idp  bob  /);

    const shown = JSON.parse((await cli(['broker', 'customers', 'show', '--provider', 'idp', '--subject', 'alice', '--db', db, '--json'])).out);
    expect(shown).toMatchObject({ id: ids[0], fields: { email: 'alice@example.test' }, sessions: { live: 2, ended: 0 } });
    const exported = await cli(['broker', 'customers', 'export', ids[0]!, '--db', db]);
    expect(exported.code).toBe(0);
    const doc = JSON.parse(exported.out) as { sessions: { client_id: string; revoked_at: string | null }[] };
    expect(doc).toMatchObject({ id: ids[0], provider: 'idp', subject: 'alice', fields: { email: 'alice@example.test' } });
    expect(doc.sessions.map((s) => [s.client_id, s.revoked_at])).toEqual([['cli', null], ['cli', null]]);

    const deleted = await cli(['broker', 'customers', 'delete', ids[0]!, '--db', db, '--json']);
    expect(deleted.code, deleted.err).toBe(0);
    expect(JSON.parse(deleted.out)).toEqual({ id: ids[0], sessions_revoked: 2, sessions_deleted: 2 });
    const gone = await cli(['broker', 'customers', 'show', ids[0]!, '--db', db]);
    expect(gone.code).toBe(2);
    expect(gone.err).toMatch(new RegExp(`^authbridge: no customer ${ids[0]} in the broker database`, 'm'));
    expect((await cli(['broker', 'customers', 'list', '--db', db])).out.trim().split('\n')).toHaveLength(2);
  });
});

describe('bad input', () => {
  it.each([
    [['broker', 'customers', 'show', 'x', '--provider', 'idp', '--subject', 's'], /needs a customer id, or --provider and --subject/],
    [['broker', 'customers', 'delete'], /needs a customer id, or --provider and --subject/],
    [['broker', 'customers', 'list', '--limit', '0'], /--limit must be a whole number from 1 to 10000/],
    [['broker', 'keys', 'rotate', '--delay', 'soon'], /--delay must be whole seconds/],
    [['broker', 'keys', 'retire', 'k', '--at', 'tomorrow'], /--at must be an ISO-8601 time/],
    // A key id is base64url: one in 64 begins with "-", and is then taken for an option.
    [['broker', 'keys', 'retire', '-a_2rcTYo_48sGhRXDZjy9qo'], /^A token or key id that begins with "-" goes after "--": authbridge broker keys retire -- -a_2rcTY…$/m],
  ])('%j: exit 2 with one line naming what to fix', async (args, message) => {
    const result = await cli([...args, '--db', join(dir, 'bad-input.db')]);
    expect(result.code).toBe(2);
    expect(result.err).toMatch(message);
    expect(result.err).not.toMatch(/\n\s+at /);
  });

  it('a PostgreSQL server that is not there: exit 2 naming the database, the password hidden', async () => {
    const result = await cli(['broker', 'customers', 'list', '--db', 'postgres://broker:hunter2@127.0.0.1:1/authbridge']);
    expect(result.code).toBe(2);
    expect(result.err).toMatch(/^authbridge: could not open broker database postgres:\/\/broker:\*\*\*@127\.0\.0\.1:1\/authbridge: /m);
    expect(result.err).not.toContain('hunter2');
  });
});
