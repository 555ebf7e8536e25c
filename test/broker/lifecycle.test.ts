/**
 * The broker process over its life: restarts on the same database, signals, a database that
 * is read-only at start or locked while running, and an RFC 7662 backend as the only provider
 * for opaque tokens.
 */
import Database from 'better-sqlite3';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import {
  claimsOf,
  exchange,
  introspect,
  startBackend,
  startBroker,
  startIdp,
  tempDir,
  userinfo,
  type TestBackend,
  type TestIdp,
} from './helpers.js';

let idp: TestIdp;
let backend: TestBackend;
const immutable: string[] = [];

beforeAll(async () => {
  [idp, backend] = await Promise.all([startIdp(), startBackend()]);
});

afterAll(async () => {
  for (const file of immutable) execFileSync('chattr', ['-i', file]);
  await Promise.all([idp?.close(), backend?.close()]);
});

function config(registration: 'auto' | 'existing-only' = 'auto') {
  return {
    clients: [
      { clientId: 'cli', tokenEndpointAuthMethod: 'client_secret_basic', clientSecret: 's3cret' },
      { clientId: 'sdk', apiKey: 'sdk-api-key' },
    ],
    providers: [
      { id: 'idp', type: 'jwt', issuer: idp.issuer, audience: 'cli', mapping: { email: '/email' }, registration },
      {
        id: 'app',
        type: 'callback',
        url: `${backend.url}/introspect`,
        method: 'POST',
        subjectPointer: '/id',
        mapping: { email: '/email' },
        timeoutMs: 2000,
      },
    ],
  };
}

/** Makes a file read-only even for root (chattr +i), else by its mode. */
function makeReadOnly(file: string): void {
  if (process.getuid?.() === 0) {
    execFileSync('chattr', ['+i', file]);
    immutable.push(file);
  } else {
    chmodSync(file, 0o444);
  }
}

describe('an RFC 7662 backend as the only callback provider', () => {
  it('receives opaque access tokens; active:false refuses them', async () => {
    const broker = await startBroker(config(), join(tempDir(), 'b.db'));
    try {
      backend.users.set('opaque-rita', { id: 'rita', email: 'rita@example.test' });
      const ok = await exchange(broker.url, { token: 'opaque-rita' });
      expect(ok.status).toBe(200);
      expect(ok.body.account_status).toBe('created');
      expect(claimsOf(ok.body.access_token as string).idp).toBe('app');
      expect(backend.seen.at(-1)).toMatchObject({ method: 'POST', path: '/introspect' });

      const inactive = await exchange(broker.url, { token: 'revoked-upstream' });
      expect({ status: inactive.status, error: inactive.body.error }).toEqual({ status: 400, error: 'invalid_request' });

      const synerise = await fetch(`${broker.url}/sauth/v3/auth/login/client`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ apiKey: 'sdk-api-key', identityProvider: 'OAUTH', identityProviderToken: 'opaque-rita', uuid: 'u-1' }),
      });
      expect(synerise.status).toBe(200);
      const body = (await synerise.json()) as Record<string, unknown>;
      expect(body).toMatchObject({ customId: 'rita', origin: 'OAUTH', realm: 'client' });
      expect(claimsOf(body.token as string).sub).toBe(claimsOf(ok.body.access_token as string).sub);
    } finally {
      expect(await broker.stop()).toBe(0);
    }
  });
});

describe('restarts', () => {
  it('keeps the signing key, customers and sessions; a config change applies', async () => {
    const db = join(tempDir(), 'restart.db');
    const first = await startBroker(config('auto'), db);
    const jwks1 = await (await fetch(`${first.url}/jwks.json`)).json();
    const login = await exchange(first.url, { token: await idp.accessToken({ sub: 'sam', email: 'sam@example.test' }) });
    expect(login.body.account_status).toBe('created');
    const token = login.body.access_token as string;
    // Ctrl-C: a clean stop with the contract's exit code for an interrupt.
    expect(await first.stop('SIGINT')).toBe(130);
    expect(first.stderr()).toMatch(/broker stopped/);
    // The checkpoint thread closed its connection first: the broker's, the last, folded the WAL in.
    expect(existsSync(`${db}-wal`)).toBe(false);

    const second = await startBroker(config('existing-only'), db);
    try {
      expect(await (await fetch(`${second.url}/jwks.json`)).json()).toEqual(jwks1);
      // Without a configured issuer it is the new address; the next test keeps one fixed.
      const again = await exchange(second.url, { token: await idp.accessToken({ sub: 'sam' }) });
      expect(again.status).toBe(200);
      expect(again.body.account_status).toBe('existing');
      expect(claimsOf(again.body.access_token as string).sub).toBe(claimsOf(token).sub);
      const stranger = await exchange(second.url, { token: await idp.accessToken({ sub: 'newcomer' }) });
      expect({ status: stranger.status, error: stranger.body.error }).toEqual({ status: 400, error: 'registration_required' });
    } finally {
      expect(await second.stop()).toBe(0);
    }
  });

  it('an old token still introspects active after a restart with a fixed issuer', async () => {
    const db = join(tempDir(), 'issuer.db');
    const fixed = { ...config(), issuer: 'https://broker.example.test', audience: 'my-app' };
    const first = await startBroker(fixed, db);
    const token = (await exchange(first.url, { token: await idp.accessToken({ sub: 'tess', email: 'tess@example.test' }) })).body
      .access_token as string;
    const revoked = (await exchange(first.url, { token: await idp.accessToken({ sub: 'tess' }) })).body.access_token as string;
    expect((await fetch(`${first.url}/oauth/revoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from('cli:s3cret').toString('base64')}` },
      body: new URLSearchParams({ token: revoked }),
    })).status).toBe(200);
    expect(await first.stop()).toBe(0);

    const second = await startBroker(fixed, db);
    try {
      expect(await introspect(second.url, token)).toMatchObject({ active: true, iss: 'https://broker.example.test', aud: 'my-app' });
      expect((await userinfo(second.url, token)).body).toMatchObject({ email: 'tess@example.test', sub: claimsOf(token).sub });
      expect((await introspect(second.url, revoked)).active).toBe(false);
    } finally {
      expect(await second.stop()).toBe(0);
    }
  });

  it('SIGTERM lets a request in flight finish, then exits 0', async () => {
    const broker = await startBroker(config(), join(tempDir(), 'drain.db'));
    const pending = exchange(broker.url, { token: 'slowish' });
    // The backend holds this request for 400 ms; stop the broker while it waits.
    await new Promise((r) => setTimeout(r, 150));
    const exit = broker.stop('SIGTERM');
    const response = await pending;
    expect(response.status).toBe(200);
    expect(await exit).toBe(0);
    expect(broker.stderr()).toMatch(/broker stopping \(SIGTERM\)/);
  });
});

describe('the database', () => {
  it('two broker processes on one file register a new person once', async () => {
    const db = join(tempDir(), 'shared.db');
    const [a, b] = await Promise.all([startBroker(config(), db), startBroker(config(), db)]);
    try {
      expect(await (await fetch(`${a.url}/jwks.json`)).json()).toEqual(await (await fetch(`${b.url}/jwks.json`)).json());
      const subjectToken = await idp.accessToken({ sub: 'wendy', email: 'wendy@example.test' });
      const responses = await Promise.all(
        Array.from({ length: 40 }, (_, i) => exchange(i % 2 ? a.url : b.url, { token: subjectToken })),
      );
      expect(responses.map((r) => r.status)).toEqual(Array(40).fill(200));
      expect(responses.filter((r) => r.body.account_status === 'created')).toHaveLength(1);
      expect(new Set(responses.map((r) => claimsOf(r.body.access_token as string).sub)).size).toBe(1);
    } finally {
      expect(await Promise.all([a.stop(), b.stop()])).toEqual([0, 0]);
    }
    const check = new Database(db, { readonly: true });
    try {
      expect(check.prepare("SELECT count(*) AS n FROM customers WHERE subject = 'wendy'").get()).toEqual({ n: 1 });
      expect(check.prepare('SELECT count(*) AS n FROM signing_keys').get()).toEqual({ n: 1 });
    } finally {
      check.close();
    }
  });

  it('read-only at start: exit 2 with one line naming the file', async () => {
    const dir = tempDir();
    const db = join(dir, 'ro.db');
    const broker = await startBroker(config(), db);
    expect(await broker.stop()).toBe(0);
    makeReadOnly(db);
    const configFile = join(dir, 'ro.json');
    writeFileSync(configFile, JSON.stringify(config()));
    const result = await runCli(['broker', 'serve', '--config', configFile, '--port', '0', '--db', db]);
    expect(result.code).toBe(2);
    const lines = result.stderr.trim().split('\n');
    expect(lines[0]).toBe(`authbridge: could not open broker database ${db}: the file or its directory is read-only`);
    expect(lines.length).toBeLessThanOrEqual(2);
  });

  it('locked by another writer at run time: 503 temporarily_unavailable, nothing half-written, then recovers', async () => {
    const dbFile = join(tempDir(), 'locked.db');
    const broker = await startBroker(config(), dbFile);
    try {
      const token = (await exchange(broker.url, { token: await idp.accessToken({ sub: 'uma' }) })).body.access_token as string;
      const other = new Database(dbFile);
      other.exec('BEGIN IMMEDIATE');
      try {
        const refused = await exchange(broker.url, { token: await idp.accessToken({ sub: 'victor' }) });
        expect({ status: refused.status, error: refused.body.error }).toEqual({ status: 503, error: 'temporarily_unavailable' });
        // Reads still work while another process writes (WAL).
        expect((await introspect(broker.url, token)).active).toBe(true);
      } finally {
        other.exec('ROLLBACK');
      }
      expect(other.prepare("SELECT count(*) AS n FROM customers WHERE subject = 'victor'").get()).toEqual({ n: 0 });
      other.close();
      const retried = await exchange(broker.url, { token: await idp.accessToken({ sub: 'victor' }) });
      expect(retried.status).toBe(200);
      expect(retried.body.account_status).toBe('created');
    } finally {
      expect(await broker.stop()).toBe(0);
    }
  });
});
