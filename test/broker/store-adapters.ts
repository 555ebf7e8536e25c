/**
 * The store adapters the store-verb tests run against, each with what a test needs beside the
 * interface: a fresh database, a row count as another process would read it, and writes locked
 * out by another connection.
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteBrokerStore } from '../../src/broker/store/sqlite/store.js';
import type { BrokerStore } from '../../src/broker/store/types.js';

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

export const STORE_ADAPTERS: StoreAdapter[] = [sqliteAdapter()];
