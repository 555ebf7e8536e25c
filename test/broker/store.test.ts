/** The broker's SQLite store: group commit of the logins of one event-loop turn. */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteBrokerStore } from '../../src/broker/store/sqlite/store.js';
import { StoreUnavailableError, type LoginInput } from '../../src/broker/store/types.js';

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
