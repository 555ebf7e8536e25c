/**
 * The PostgreSQL schema: versions applied in order under a transaction-scoped advisory lock, so
 * that instances starting together migrate once; `authbridge_schema` records how many have run.
 */
import type { PoolClient } from 'pg';

/** The advisory lock key of the broker's schema changes and first key (any fixed 64-bit number). */
export const SCHEMA_LOCK = 0x61757468627267; // "authbrg"

const MIGRATIONS: readonly string[] = [
  `CREATE TABLE customers (
     id TEXT PRIMARY KEY,
     provider TEXT NOT NULL,
     subject TEXT NOT NULL,
     fields JSONB NOT NULL DEFAULT '{}',
     created_at BIGINT NOT NULL,
     updated_at BIGINT NOT NULL,
     -- One person, one customer, whichever instance sees the first login: the upsert's arbiter.
     UNIQUE (provider, subject)
   );
   CREATE INDEX customers_created ON customers (created_at, id);
   CREATE TABLE sessions (
     customer_id TEXT NOT NULL REFERENCES customers(id),
     sid TEXT NOT NULL,
     client_id TEXT NOT NULL,
     created_at BIGINT NOT NULL,
     expires_at BIGINT NOT NULL,
     revoked_at BIGINT,
     PRIMARY KEY (customer_id, sid)
   );
   CREATE INDEX sessions_open ON sessions (customer_id, client_id, created_at) WHERE revoked_at IS NULL;
   CREATE TABLE signing_keys (
     kid TEXT PRIMARY KEY,
     alg TEXT NOT NULL,
     private_jwk TEXT NOT NULL,
     created_at BIGINT NOT NULL,
     signs_from BIGINT NOT NULL,
     retired_at BIGINT
   );
   CREATE TABLE rate_failures (
     id BIGSERIAL PRIMARY KEY,
     key TEXT NOT NULL,
     at BIGINT NOT NULL,
     instance TEXT NOT NULL
   );
   CREATE INDEX rate_failures_at ON rate_failures (at);
   CREATE TABLE meta (
     key TEXT PRIMARY KEY,
     value TEXT NOT NULL
   );`,
];

/**
 * Brings the schema up to this version, in one transaction under the advisory lock.
 * @throws Error when the database was written by a newer version.
 */
export async function migrate(client: PoolClient): Promise<void> {
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [SCHEMA_LOCK]);
    await client.query('CREATE TABLE IF NOT EXISTS authbridge_schema (version INTEGER NOT NULL)');
    const { rows } = await client.query<{ version: number }>('SELECT version FROM authbridge_schema');
    const current = rows[0]?.version ?? 0;
    if (current > MIGRATIONS.length) {
      throw new Error(`it was written by a newer authbridge (schema version ${current}, this one knows ${MIGRATIONS.length})`);
    }
    for (let v = current; v < MIGRATIONS.length; v++) await client.query(MIGRATIONS[v]!);
    if (rows.length === 0) await client.query('INSERT INTO authbridge_schema (version) VALUES ($1)', [MIGRATIONS.length]);
    else if (current < MIGRATIONS.length) await client.query('UPDATE authbridge_schema SET version = $1', [MIGRATIONS.length]);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  }
}
