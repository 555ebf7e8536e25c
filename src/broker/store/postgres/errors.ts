/** PostgreSQL's run-time failures, as the store interface reports them. */
import { StoreUnavailableError } from '../types.js';

/**
 * Whether `err` means the database cannot be used now (the server is down, unreachable, out of
 * connections, shutting down, or a lock was not granted in time) rather than a bug in this
 * adapter (a constraint, a syntax or data error: SQLSTATE classes 22, 23, 42).
 */
function isOutage(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return !/^(22|23|42)/.test(code);
  // No SQLSTATE: a connection-level failure (ECONNREFUSED, "Connection terminated", a pool timeout).
  return err instanceof Error && !(err instanceof TypeError) && !(err instanceof RangeError) && !(err instanceof SyntaxError);
}

/** Runs `fn`, turning PostgreSQL's run-time failures into StoreUnavailableError. */
export async function guarded<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof StoreUnavailableError || !isOutage(err)) throw err;
    const code = (err as { code?: unknown }).code;
    throw new StoreUnavailableError(typeof code === 'string' ? code : 'connection', { cause: err });
  }
}
