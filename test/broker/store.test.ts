/** The broker's SQLite store: group commit of the logins of one event-loop turn. */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteBrokerStore } from '../../src/broker/store/sqlite/store.js';
import { StoreUnavailableError, type LoginInput } from '../../src/broker/store/types.js';
import { generateSigningKey } from '../../src/jwt/sign.js';

const NOW = Date.UTC(2026, 10, 22, 12);
let dir: string;
let dbPath: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'authbridge-store-'));
  dbPath = join(dir, 'broker.db');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function input(subject: string, fields: Record<string, unknown> = { email: `${subject}@example.com` }): LoginInput {
  return { provider: 'idp', subject, fields, updatePolicy: 'each-login', registration: 'auto', clientId: 'app', ttl: 3600, now: NOW };
}

/** What another process would read from the file. */
function rows(sql: string): unknown[] {
  const db = new Database(dbPath, { readonly: true });
  try {
    return db.prepare(sql).all();
  } finally {
    db.close();
  }
}

describe('logins of one turn', () => {
  it('are committed together, in order: one person logging in twice in a batch is one customer', async () => {
    const store = SqliteBrokerStore.open(dbPath, { now: NOW });
    const outcomes = await Promise.all([
      store.upsertCustomerAndOpenSession(input('alice')),
      store.upsertCustomerAndOpenSession(input('bob')),
      store.upsertCustomerAndOpenSession(input('alice', { email: 'alice@new.example' })),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(['created', 'created', 'existing']);
    const [first, , again] = outcomes as Extract<(typeof outcomes)[number], { customer: unknown }>[];
    expect(again!.customer.id).toBe(first!.customer.id);
    expect(again!.customer.fields).toEqual({ email: 'alice@new.example' });
    await store.close();
    expect(rows('SELECT subject, fields FROM customers ORDER BY subject')).toEqual([
      { subject: 'alice', fields: '{"email":"alice@new.example"}' },
      { subject: 'bob', fields: '{"email":"bob@example.com"}' },
    ]);
    expect(rows('SELECT count(*) AS n FROM sessions')).toEqual([{ n: 3 }]);
  });

  it('a login that cannot be stored fails alone; its neighbours are committed', async () => {
    const store = SqliteBrokerStore.open(dbPath, { now: NOW });
    // A value JSON cannot hold makes that login throw inside the shared transaction.
    const results = await Promise.allSettled([
      store.upsertCustomerAndOpenSession(input('carol')),
      store.upsertCustomerAndOpenSession(input('mallory', { n: 1n })),
      store.upsertCustomerAndOpenSession(input('dave')),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(((results[1] as PromiseRejectedResult).reason as Error).name).toBe('TypeError');
    await store.close();
    expect(rows('SELECT subject FROM customers ORDER BY subject')).toEqual([{ subject: 'carol' }, { subject: 'dave' }]);
    expect(rows('SELECT count(*) AS n FROM sessions')).toEqual([{ n: 2 }]);
  });

  it('a database another process holds locked fails every login of the batch with StoreUnavailableError', async () => {
    const store = SqliteBrokerStore.open(dbPath, { now: NOW, busyTimeoutMs: 50 });
    const other = new Database(dbPath);
    other.exec('BEGIN IMMEDIATE');
    try {
      const results = await Promise.allSettled([store.upsertCustomerAndOpenSession(input('erin')), store.upsertCustomerAndOpenSession(input('frank'))]);
      for (const r of results) {
        expect(r.status).toBe('rejected');
        expect((r as PromiseRejectedResult).reason).toBeInstanceOf(StoreUnavailableError);
      }
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
    // Nothing half-written, and the next turn works again.
    expect(rows('SELECT count(*) AS n FROM customers')).toEqual([{ n: 0 }]);
    expect((await store.upsertCustomerAndOpenSession(input('erin'))).status).toBe('created');
    await store.close();
  });

  it('close() commits the logins still waiting for their turn', async () => {
    const store = SqliteBrokerStore.open(dbPath, { now: NOW });
    const pending = store.upsertCustomerAndOpenSession(input('grace'));
    await store.close();
    expect((await pending).status).toBe('created');
    expect(rows('SELECT subject FROM customers')).toEqual([{ subject: 'grace' }]);
  });
});

describe('a database written by the previous version (schema 2)', () => {
  it('is migrated in place: its key signs from its creation, its customers and sessions stay', async () => {
    const old = new Database(dbPath);
    old.exec(`CREATE TABLE customers (id TEXT PRIMARY KEY, provider TEXT NOT NULL, subject TEXT NOT NULL, fields TEXT NOT NULL DEFAULT '{}',
                created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, UNIQUE (provider, subject)) STRICT;
              CREATE TABLE sessions (customer_id TEXT NOT NULL REFERENCES customers(id), sid TEXT NOT NULL, client_id TEXT NOT NULL,
                created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, revoked_at INTEGER, PRIMARY KEY (customer_id, sid)) STRICT, WITHOUT ROWID;
              CREATE TABLE signing_keys (kid TEXT PRIMARY KEY, alg TEXT NOT NULL, private_jwk TEXT NOT NULL, created_at INTEGER NOT NULL, retired_at INTEGER) STRICT;
              CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
              CREATE INDEX sessions_open ON sessions (customer_id, client_id, created_at) WHERE revoked_at IS NULL;
              PRAGMA user_version = 2;`);
    const key = generateSigningKey();
    old.prepare('INSERT INTO signing_keys (kid, alg, private_jwk, created_at) VALUES (?, ?, ?, ?)').run(key.kid, key.alg, JSON.stringify(key.privateJwk), NOW - 1000);
    old.prepare("INSERT INTO customers VALUES ('c1', 'idp', 'olga', '{}', ?, ?)").run(NOW - 1000, NOW - 1000);
    old.prepare("INSERT INTO sessions VALUES ('c1', 's1', 'app', ?, ?, NULL)").run(NOW - 1000, NOW + 3600_000);
    old.close();

    const store = SqliteBrokerStore.open(dbPath, { now: NOW });
    try {
      expect((await store.signingKeys()).map((k) => [k.key.kid, k.createdAt, k.signsFrom, k.retiresAt])).toEqual([[key.kid, NOW - 1000, NOW - 1000, null]]);
      expect((await store.customerBySubject('idp', 'olga'))?.id).toBe('c1');
      expect((await store.session('c1', 's1'))?.revokedAt).toBeNull();
      expect((await store.upsertCustomerAndOpenSession(input('olga'))).status).toBe('existing');
    } finally {
      await store.close();
    }
  });
});
