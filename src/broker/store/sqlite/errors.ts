/** SQLite's run-time failures, as the store interface reports them. */
import { StoreUnavailableError } from '../types.js';

/** The `SQLITE_*` code of a better-sqlite3 error, if it is one. */
export function sqliteCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_') ? code : undefined;
}

/** Runs `fn`, turning SQLite's run-time failures into StoreUnavailableError. */
export function guarded<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    const code = sqliteCode(err);
    // A constraint failure is a bug in this adapter, not an outage: let it surface as one.
    if (code && !code.startsWith('SQLITE_CONSTRAINT')) throw new StoreUnavailableError(code, { cause: err });
    throw err;
  }
}
