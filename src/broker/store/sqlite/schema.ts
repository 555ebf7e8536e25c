/** The SQLite schema: versions applied in order, `PRAGMA user_version` recording how many have run. */
import type Database from 'better-sqlite3';

/** Schema versions, applied in order; `PRAGMA user_version` records how many have run. */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE customers (
     id TEXT PRIMARY KEY,
     provider TEXT NOT NULL,
     subject TEXT NOT NULL,
     fields TEXT NOT NULL DEFAULT '{}',
     created_at INTEGER NOT NULL,
     updated_at INTEGER NOT NULL,
     UNIQUE (provider, subject)
   ) STRICT;
   -- One b-tree: a session is always looked up with its customer (the token's sub), and
   -- "every session of a customer" is a prefix scan. Keeps a login's insert to one index.
   CREATE TABLE sessions (
     customer_id TEXT NOT NULL REFERENCES customers(id),
     sid TEXT NOT NULL,
     client_id TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     expires_at INTEGER NOT NULL,
     revoked_at INTEGER,
     PRIMARY KEY (customer_id, sid)
   ) STRICT, WITHOUT ROWID;
   CREATE TABLE signing_keys (
     kid TEXT PRIMARY KEY,
     alg TEXT NOT NULL,
     private_jwk TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     retired_at INTEGER
   ) STRICT;
   CREATE TABLE meta (
     key TEXT PRIMARY KEY,
     value TEXT NOT NULL
   ) STRICT;`,
  // The open sessions of a customer at a client, newest last: the per-client cap reads only
  // these (at most the cap and one), however many ended sessions the customer has.
  `CREATE INDEX sessions_open ON sessions (customer_id, client_id, created_at) WHERE revoked_at IS NULL;`,
  // Key rotation: a key signs from `signs_from` (published from `created_at`), and `retired_at`
  // may lie ahead (scheduled). Customers listed in creation order. Refused requests, read by
  // every broker process on the file for the shared failure rate limit.
  `ALTER TABLE signing_keys ADD COLUMN signs_from INTEGER;
   UPDATE signing_keys SET signs_from = created_at;
   CREATE INDEX customers_created ON customers (created_at, id);
   CREATE TABLE rate_failures (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     key TEXT NOT NULL,
     at INTEGER NOT NULL,
     instance TEXT NOT NULL
   ) STRICT;
   CREATE INDEX rate_failures_at ON rate_failures (at);`,
];

/**
 * Brings the schema of `db` up to this version.
 * @throws Error when the file was written by a newer version (its schema is ahead of this one).
 */
export function migrate(db: Database.Database): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > MIGRATIONS.length) {
    throw new Error(`it was written by a newer authbridge (schema version ${current}, this one knows ${MIGRATIONS.length})`);
  }
  if (current === MIGRATIONS.length) return;
  db.transaction(() => {
    // Re-read inside the lock: another process may have migrated in the meantime.
    const version = db.pragma('user_version', { simple: true }) as number;
    for (let v = version; v < MIGRATIONS.length; v++) db.exec(MIGRATIONS[v]!);
    db.pragma(`user_version = ${MIGRATIONS.length}`);
  }).immediate();
}

/** A start is a write: a file that became read-only is reported now, not at the first login. */
export function recordStart(db: Database.Database, now: number): void {
  db.prepare("INSERT INTO meta (key, value) VALUES ('last_start', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value").run(
    new Date(now).toISOString(),
  );
}
