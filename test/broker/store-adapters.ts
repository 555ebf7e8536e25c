/**
 * The store adapters the store-verb tests run against, each with what a test needs beside the
 * interface: a fresh database, a row count as another process would read it, and writes locked
 * out by another connection.
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PostgresBrokerStore } from '../../src/broker/store/postgres/store.js';
import { SqliteBrokerStore } from '../../src/broker/store/sqlite/store.js';
import type { BrokerStore } from '../../src/broker/store/types.js';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';

export interface StoreAdapter {
  name: string;
  /** Starts the next test on an empty database. */
  fresh(): Promise<void>;
  open(options: { now: number; busyTimeoutMs?: number }): Promise<BrokerStore>;
  count(table: 'customers' | 'sessions'): Promise<number>;
  /** Runs `fn` while another connection holds the write lock (reads still go on). */
  whileWritesLocked(fn: () => Promise<void>): Promise<void>;
  dispose(): Promise<void>;
}

function sqliteAdapter(): StoreAdapter {
  let dir: string | undefined;
  let path = '';
  return {
    name: 'sqlite',
    async fresh() {
      if (dir) rmSync(dir, { recursive: true, force: true });
      dir = mkdtempSync(join(tmpdir(), 'authbridge-store-verbs-'));
      path = join(dir, 'broker.db');
    },
    async open(options) {
      return SqliteBrokerStore.open(path, options);
    },
    async count(table) {
      const db = new Database(path, { readonly: true });
      try {
        return (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
      } finally {
        db.close();
      }
    },
    async whileWritesLocked(fn) {
      const other = new Database(path);
      other.exec('BEGIN IMMEDIATE');
      try {
        await fn();
      } finally {
        other.exec('ROLLBACK');
        other.close();
      }
    },
    async dispose() {
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A server started on first use (one for the test file), a new database for each test. */
function postgresAdapter(): StoreAdapter {
  let server: Promise<TestPostgres> | undefined;
  let n = 0;
  let url = '';
  let name = '';
  const db = () => (server ??= startPostgres());
  return {
    name: 'postgres',
    async fresh() {
      name = `verbs_${process.pid}_${n++}`;
      url = await (await db()).createDatabase(name);
    },
    async open(options) {
      return PostgresBrokerStore.open(url, { ...options, poolSize: 4 });
    },
    async count(table) {
      const rows = await (await db()).query<{ n: string }>(name, `SELECT count(*) AS n FROM ${table}`);
      return Number(rows[0]!.n);
    },
    async whileWritesLocked(fn) {
      const { default: pg } = await import('pg');
      const other = new pg.Client({ connectionString: url });
      await other.connect();
      try {
        await other.query('BEGIN');
        // Writes wait for it (and give up after the store's lock_timeout); reads go on.
        await other.query('LOCK TABLE customers, sessions IN EXCLUSIVE MODE');
        await fn();
      } finally {
        await other.query('ROLLBACK').catch(() => {});
        await other.end();
      }
    },
    async dispose() {
      await (await server)?.stop();
    },
  };
}

export const STORE_ADAPTERS: StoreAdapter[] = [sqliteAdapter(), postgresAdapter()];
