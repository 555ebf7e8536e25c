/**
 * What the broker's administration commands (`broker keys …`, `broker customers …`) share: the
 * `--db` option, opening the store the way `broker serve` does (imported only when one runs),
 * and an unusable database as exit 3.
 */
import { join } from 'node:path';
import type { Command } from 'commander';
import { resolvePaths, type Env } from '../../context.js';
import { RemoteError } from '../../errors.js';
import type { BrokerStore } from '../../broker/store/types.js';
import type { Invocation } from '../invocation.js';

/** The database a broker command uses: `--db`, else AUTHBRIDGE_BROKER_DB, else the data dir's broker.db. */
export function brokerDb(flag: string | undefined, env: Env): string {
  return flag ?? (env.AUTHBRIDGE_BROKER_DB || undefined) ?? join(resolvePaths(env).dataDir, 'broker.db');
}

/** Adds the `--db` option every broker command has. */
export function withDbOption(cmd: Command): Command {
  return cmd.option('--db <file|url>', 'SQLite database file, or a postgres:// URL (default $AUTHBRIDGE_BROKER_DB, else $XDG_DATA_HOME/authbridge/broker.db)');
}

/**
 * Opens the broker's store (as `broker serve` does: migrating it if needed), runs `fn`, closes it.
 * @throws UsageError when it cannot be opened; RemoteError (exit 3) when it stops answering.
 */
export async function withStore<T>(inv: Invocation, db: string | undefined, fn: (store: BrokerStore, now: number) => Promise<T>): Promise<T> {
  const [{ openStore }, { StoreUnavailableError }] = await Promise.all([import('../../broker/store/open.js'), import('../../broker/store/types.js')]);
  const now = inv.ctx.now();
  const { store } = await openStore(brokerDb(db, inv.ctx.env), { now });
  try {
    return await fn(store, now);
  } catch (err) {
    if (err instanceof StoreUnavailableError) throw new RemoteError(`the broker database is unavailable: ${err.message}`, { cause: err });
    throw err;
  } finally {
    await store.close();
  }
}

/** Milliseconds since the epoch → ISO-8601 UTC (null stays null). */
export const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());
