/**
 * Opens the store a `--db` value names: a `postgres://` (or `postgresql://`) URL is the
 * PostgreSQL adapter, anything else a SQLite file. Each adapter (and its driver: pg,
 * better-sqlite3) is imported only when named.
 */
import type { BrokerStore } from './types.js';

export const isPostgresUrl = (db: string): boolean => /^postgres(ql)?:\/\//i.test(db);

export interface OpenedStore {
  store: BrokerStore;
  kind: 'sqlite' | 'postgres';
}

/**
 * @param background whether the store runs its own upkeep (SQLite's WAL checkpoints): the
 *   broker's, not a one-shot admin command's.
 * @throws UsageError when the database cannot be opened.
 */
export async function openStore(db: string, options: { now: number; background?: boolean }): Promise<OpenedStore> {
  if (isPostgresUrl(db)) {
    const { PostgresBrokerStore } = await import('./postgres/store.js');
    return { store: await PostgresBrokerStore.open(db, { now: options.now }), kind: 'postgres' };
  }
  const { SqliteBrokerStore } = await import('./sqlite/store.js');
  const store = SqliteBrokerStore.open(db, { now: options.now });
  if (options.background) store.startCheckpoints();
  return { store, kind: 'sqlite' };
}
