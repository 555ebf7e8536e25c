/**
 * The PostgreSQL adapter of BrokerStore, for several broker instances on one database (`--db
 * postgres://…`). A pool of connections (pg); each login is one short READ COMMITTED
 * transaction. What makes it safe across instances lives in the database, not in a process:
 *
 * - one customer per person: `INSERT … ON CONFLICT (provider, subject) DO NOTHING` against the
 *   unique constraint. A concurrent first login waits for the one that inserted, then finds its row;
 * - the per-client session cap: a login locks its customer's row (`FOR UPDATE`, or the row it just
 *   inserted), so logins of one customer at several instances count and end sessions one at a time;
 * - revocation: sessions are read from the database at every introspection, never cached;
 * - signing keys and refused requests (the failure rate limit) are rows every instance reads.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { UsageError, describeError } from '../../../errors.js';
import { generateSigningKey, signingKeyFromJwk, type SigningKey } from '../../../jwt/sign.js';
import { publishedKeysAt } from '../../key-schedule.js';
import { customerOf, toSession, type CustomerRow as StoredCustomerRow, type SessionRow } from '../rows.js';
import type {
  BrokerStore,
  Customer,
  CustomerQuery,
  FailureRecord,
  FailuresPage,
  LoginInput,
  LoginOutcome,
  Session,
  StoredSigningKey,
} from '../types.js';
import { guarded } from './errors.js';
import { SCHEMA_LOCK, migrate } from './schema.js';

/** Sessions deleted per statement by purgeSessions. */
const PURGE_BATCH = 1000;
/** Failures read per failuresAfter call at most. */
const FAILURES_PAGE = 10_000;

export interface OpenPostgresOptions {
  /** Milliseconds since the epoch; used for the first signing key's creation time. */
  now: number;
  /** Milliseconds a write waits for another transaction's lock before giving up (lock_timeout). Default 2000. */
  busyTimeoutMs?: number;
  /** Connections in the pool at most. Default 10. */
  poolSize?: number;
}

type CustomerRow = StoredCustomerRow<Record<string, unknown>>;
interface KeyRow {
  private_jwk: string;
  created_at: number;
  signs_from: number;
  retired_at: number | null;
}

const toCustomer = (r: CustomerRow): Customer => customerOf(r, r.fields);
const toKey = (r: KeyRow): StoredSigningKey => ({
  key: signingKeyFromJwk(JSON.parse(r.private_jwk) as Record<string, unknown>),
  createdAt: r.created_at,
  signsFrom: r.signs_from,
  retiresAt: r.retired_at,
});

/** BIGINT columns hold milliseconds (well within 2^53): read them as numbers, not strings. */
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === pg.types.builtins.INT8 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format)) as pg.CustomTypesConfig['getTypeParser'],
};

/** The URL without its password, for messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://…';
  }
}

const KEY_COLUMNS = 'private_jwk, created_at, signs_from, retired_at';

export class PostgresBrokerStore implements BrokerStore {
  /** This store object's name in rate_failures: failuresAfter gives only the others' records. */
  private readonly instance = randomUUID();
  private closed: Promise<void> | undefined;
  /** Verbs under way: close() lets them finish (a login already accepted is committed, not dropped). */
  private readonly inFlight = new Set<Promise<unknown>>();

  private constructor(private readonly pool: pg.Pool) {}

  /**
   * Connects, migrates the schema and makes the first signing key if none signs (each under the
   * advisory lock, so instances starting together agree).
   * @throws UsageError naming the database (password hidden) when it cannot be reached or used.
   */
  static async open(url: string, options: OpenPostgresOptions): Promise<PostgresBrokerStore> {
    const pool = new pg.Pool({
      connectionString: url,
      max: options.poolSize ?? 10,
      lock_timeout: options.busyTimeoutMs ?? 2000,
      connectionTimeoutMillis: 5000,
      types,
      application_name: 'authbridge-broker',
    });
    // An idle connection the server drops must not take the process down: the next query reconnects.
    pool.on('error', () => {});
    try {
      const client = await pool.connect();
      try {
        await migrate(client);
        await client.query('BEGIN');
        await client.query('SELECT pg_advisory_xact_lock($1)', [SCHEMA_LOCK]);
        const { rows } = await client.query<KeyRow>(`SELECT ${KEY_COLUMNS} FROM signing_keys`);
        // A key another instance made a moment ago may sign from a `now` later than ours: any key
        // not retired will do (KeyRing signs with the newest published when none is due yet).
        if (publishedKeysAt(rows.map(toKey), options.now).length === 0) {
          const key = generateSigningKey();
          await client.query('INSERT INTO signing_keys (kid, alg, private_jwk, created_at, signs_from) VALUES ($1, $2, $3, $4, $4)', [
            key.kid,
            key.alg,
            JSON.stringify(key.privateJwk),
            options.now,
          ]);
        }
        await client.query(
          "INSERT INTO meta (key, value) VALUES ('last_start', $1) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
          [new Date(options.now).toISOString()],
        );
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {});
        throw err;
      } finally {
        client.release();
      }
      return new PostgresBrokerStore(pool);
    } catch (err) {
      await pool.end().catch(() => {});
      throw new UsageError(`could not open broker database ${redactUrl(url)}: ${describeError(err)}`, {
        cause: err,
        hint: 'Give --db (or AUTHBRIDGE_BROKER_DB) a postgres:// URL of a database this user may create tables in.',
      });
    }
  }

  /** Runs `fn` in a transaction on one pooled connection; rolls back on any failure. */
  private transaction<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    return this.track(async () => {
      const client = await this.pool.connect();
      let broken = false;
      try {
        await client.query('BEGIN');
        const result = await fn(client);
        await client.query('COMMIT');
        return result;
      } catch (err) {
        try {
          await client.query('ROLLBACK');
        } catch {
          broken = true;
        }
        throw err;
      } finally {
        client.release(broken);
      }
    });
  }

  private query<R extends pg.QueryResultRow>(sql: string | { name: string; text: string }, params: unknown[] = []): Promise<pg.QueryResult<R>> {
    return this.track(() => this.pool.query<R>(typeof sql === 'string' ? { text: sql, values: params } : { ...sql, values: params }));
  }

  /** Runs a verb's database work, guarded, counted in `inFlight` until it settles. */
  private track<T>(fn: () => Promise<T>): Promise<T> {
    const run = guarded(fn);
    this.inFlight.add(run);
    const done = () => this.inFlight.delete(run);
    run.then(done, done);
    return run;
  }

  /**
   * One READ COMMITTED transaction of four statements for a returning customer: the customer's
   * row locked (`FOR UPDATE`: logins of one customer take turns, at any instance), their fields
   * updated only when they change, and the session inserted together with the per-client cap.
   * A first login inserts with `ON CONFLICT (provider, subject) DO NOTHING`: a concurrent first
   * login of the same person at another instance waits for the one that inserted, then finds
   * its row.
   */
  upsertCustomerAndOpenSession(input: LoginInput): Promise<LoginOutcome> {
    // Serialized before the transaction: a value JSON cannot hold fails this login alone, as in SQLite.
    const fields = JSON.stringify(input.fields);
    return this.transaction(async (c) => {
      // Named statements: parsed and planned once a connection, not at every login.
      const lock = () =>
        c.query<CustomerRow>({ name: 'login-lock', text: 'SELECT * FROM customers WHERE provider = $1 AND subject = $2 FOR UPDATE', values: [input.provider, input.subject] });
      let row = (await lock()).rows[0];
      let status: 'created' | 'existing' = 'existing';
      if (!row) {
        if (input.registration === 'existing-only') return { status: 'registration_required' };
        row = (
          await c.query<CustomerRow>(
            `INSERT INTO customers (id, provider, subject, fields, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)
             ON CONFLICT (provider, subject) DO NOTHING RETURNING *`,
            [randomUUID(), input.provider, input.subject, fields, input.now],
          )
        ).rows[0];
        if (row) status = 'created';
        // Another instance registered them meanwhile: theirs is the customer.
        else row = (await lock()).rows[0]!;
      }
      if (status === 'existing' && input.updatePolicy === 'each-login') {
        // Fields the upstream no longer sends are kept; the same fields again change nothing.
        const merged = { ...row.fields, ...input.fields };
        if (JSON.stringify(merged) !== JSON.stringify({ ...row.fields })) {
          row = (
            await c.query<CustomerRow>('UPDATE customers SET fields = fields || $2::jsonb, updated_at = $3 WHERE id = $1 RETURNING *', [row.id, fields, input.now])
          ).rows[0]!;
        }
      }
      const customer = toCustomer(row);
      const session: Session = {
        sid: randomUUID(),
        customerId: customer.id,
        clientId: input.clientId,
        createdAt: input.now,
        expiresAt: input.now + input.ttl * 1000,
        revokedAt: null,
      };
      const insert = 'INSERT INTO sessions (customer_id, sid, client_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)';
      const values = [session.customerId, session.sid, session.clientId, session.createdAt, session.expiresAt];
      const max = input.maxSessionsPerClient;
      if (max === undefined) await c.query({ name: 'login-session', text: insert, values });
      else {
        // The cap in the same statement (exact under the row lock). The UPDATE does not see the
        // row its WITH inserts: past `max` with it, the oldest others end, down to three quarters.
        const keep = Math.max(1, Math.floor((max * 3) / 4));
        await c.query({
          name: 'login-session-capped',
          text: `WITH opened AS (${insert})
           UPDATE sessions SET revoked_at = $4 WHERE customer_id = $1 AND sid IN (
             SELECT sid FROM sessions WHERE customer_id = $1 AND client_id = $3 AND revoked_at IS NULL
             ORDER BY created_at DESC OFFSET $6)
           AND (SELECT count(*) FROM sessions WHERE customer_id = $1 AND client_id = $3 AND revoked_at IS NULL) >= $7`,
          values: [...values, keep - 1, max],
        });
      }
      return { status, customer, session };
    });
  }

  async session(customerId: string, sid: string): Promise<Session | undefined> {
    const { rows } = await this.query<SessionRow>({ name: 'session', text: 'SELECT * FROM sessions WHERE customer_id = $1 AND sid = $2' }, [customerId, sid]);
    return rows[0] && toSession(rows[0]);
  }

  async customer(id: string): Promise<Customer | undefined> {
    const { rows } = await this.query<CustomerRow>('SELECT * FROM customers WHERE id = $1', [id]);
    return rows[0] && toCustomer(rows[0]);
  }

  async revokeSession(customerId: string, sid: string, now: number): Promise<boolean> {
    const result = await this.query('UPDATE sessions SET revoked_at = $1 WHERE customer_id = $2 AND sid = $3 AND revoked_at IS NULL', [now, customerId, sid]);
    return (result.rowCount ?? 0) > 0;
  }

  async revokeAllSessions(customerId: string, now: number): Promise<number> {
    const result = await this.query('UPDATE sessions SET revoked_at = $1 WHERE customer_id = $2 AND revoked_at IS NULL AND expires_at > $1', [now, customerId]);
    return result.rowCount ?? 0;
  }

  async purgeSessions(before: number): Promise<number> {
    let total = 0;
    for (;;) {
      if (this.closed) return total;
      const result = await this.query(
        `DELETE FROM sessions WHERE (customer_id, sid) IN (
           SELECT customer_id, sid FROM sessions WHERE expires_at < $1 OR revoked_at < $1 LIMIT ${PURGE_BATCH})`,
        [before],
      );
      const deleted = result.rowCount ?? 0;
      total += deleted;
      if (deleted < PURGE_BATCH) return total;
    }
  }

  async signingKeys(): Promise<readonly StoredSigningKey[]> {
    const { rows } = await this.query<KeyRow>(`SELECT ${KEY_COLUMNS} FROM signing_keys ORDER BY signs_from DESC, created_at DESC`);
    return rows.map(toKey);
  }

  async addSigningKey(input: { key: SigningKey; createdAt: number; signsFrom: number; retireOthersAt: number }): Promise<void> {
    await this.transaction(async (c) => {
      await c.query('INSERT INTO signing_keys (kid, alg, private_jwk, created_at, signs_from) VALUES ($1, $2, $3, $4, $5)', [
        input.key.kid,
        input.key.alg,
        JSON.stringify(input.key.privateJwk),
        input.createdAt,
        input.signsFrom,
      ]);
      await c.query('UPDATE signing_keys SET retired_at = $1 WHERE retired_at IS NULL AND kid <> $2', [input.retireOthersAt, input.key.kid]);
    });
  }

  async retireSigningKey(kid: string, at: number): Promise<boolean> {
    const result = await this.query('UPDATE signing_keys SET retired_at = LEAST(COALESCE(retired_at, $1), $1) WHERE kid = $2', [at, kid]);
    return (result.rowCount ?? 0) > 0;
  }

  async recordFailures(failures: readonly FailureRecord[]): Promise<void> {
    if (failures.length === 0) return;
    // One statement: the rows commit together.
    await this.query('INSERT INTO rate_failures (key, at, instance) SELECT k, a, $3 FROM unnest($1::text[], $2::bigint[]) AS f(k, a)', [
      failures.map((f) => f.key),
      failures.map((f) => f.at),
      this.instance,
    ]);
  }

  /**
   * The others' failures after `cursor` (an id). Ids are handed out at insert and committed a
   * moment later, so a row committed out of id order within that moment may be passed over: the
   * limit then misses one refusal of another instance, never counts one twice.
   */
  async failuresAfter(cursor: number): Promise<FailuresPage> {
    const { rows } = await this.query<{ id: number; key: string; at: number; instance: string }>(
      `SELECT id, key, at, instance FROM rate_failures WHERE id > $1 ORDER BY id LIMIT ${FAILURES_PAGE}`,
      [cursor],
    );
    const last = rows.length > 0 ? rows[rows.length - 1]!.id : cursor;
    return { failures: rows.filter((r) => r.instance !== this.instance).map((r) => ({ key: r.key, at: r.at })), cursor: last };
  }

  async purgeFailures(before: number): Promise<number> {
    return (await this.query('DELETE FROM rate_failures WHERE at < $1', [before])).rowCount ?? 0;
  }

  async listCustomers(query: CustomerQuery): Promise<Customer[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (query.provider !== undefined) where.push(`provider = $${params.push(query.provider)}`);
    if (query.after !== undefined) where.push(`(created_at, id) > (SELECT created_at, id FROM customers WHERE id = $${params.push(query.after)})`);
    const sql = `SELECT * FROM customers ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at, id LIMIT $${params.push(query.limit)}`;
    return (await this.query<CustomerRow>(sql, params)).rows.map(toCustomer);
  }

  async customerBySubject(provider: string, subject: string): Promise<Customer | undefined> {
    const { rows } = await this.query<CustomerRow>('SELECT * FROM customers WHERE provider = $1 AND subject = $2', [provider, subject]);
    return rows[0] && toCustomer(rows[0]);
  }

  async customerSessions(customerId: string): Promise<Session[]> {
    return (await this.query<SessionRow>('SELECT * FROM sessions WHERE customer_id = $1 ORDER BY created_at, sid', [customerId])).rows.map(toSession);
  }

  deleteCustomer(customerId: string): Promise<number | undefined> {
    return this.transaction(async (c) => {
      const sessions = await c.query('DELETE FROM sessions WHERE customer_id = $1', [customerId]);
      const customers = await c.query('DELETE FROM customers WHERE id = $1', [customerId]);
      return (customers.rowCount ?? 0) > 0 ? (sessions.rowCount ?? 0) : undefined;
    });
  }

  async ping(): Promise<void> {
    await this.query('SELECT 1');
  }

  /** Waits for the verbs under way, then closes the pool. */
  close(): Promise<void> {
    return (this.closed ??= (async () => {
      while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
      await this.pool.end().catch(() => {});
    })());
  }
}
