/**
 * The SQLite adapter of BrokerStore: customers, sessions and the signing key in one file (WAL).
 * Logins go through group commit (group-commit.ts); every write is wrapped in `BEGIN IMMEDIATE`
 * so that two broker processes on the same file cannot both register one person. Every verb
 * either completes its transaction or fails: nothing is ever half-written.
 */
import Database from 'better-sqlite3';
import { closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { UsageError, describeError } from '../../../errors.js';
import { randomUUID } from 'node:crypto';
import type { SigningKey } from '../../../jwt/sign.js';
import { toSession } from '../rows.js';
import {
  StoreUnavailableError,
  type BrokerStore,
  type Customer,
  type CustomerQuery,
  type FailureRecord,
  type FailuresPage,
  type LoginInput,
  type LoginOutcome,
  type Session,
  type StoredSigningKey,
} from '../types.js';
import { Checkpoints } from './checkpoints.js';
import { OpenSessionCounts, prepareStatements, toCustomer, upsertCustomerAndOpenSession, type Statements } from './customers.js';
import { guarded, sqliteCode } from './errors.js';
import { GroupCommit } from './group-commit.js';
import { addSigningKey, ensureSigningKey, prepareKeyStatements, readSigningKeys, type KeyStatements } from './keys.js';
import { migrate, recordStart } from './schema.js';

/** Sessions deleted per transaction by purgeSessions: each holds the write lock only briefly. */
const PURGE_BATCH = 1000;

export interface OpenStoreOptions {
  /** Milliseconds since the epoch; used for the signing key's creation time. */
  now: number;
  /** Milliseconds a write waits for another process's lock before giving up. Default 2000. */
  busyTimeoutMs?: number;
}

export class SqliteBrokerStore implements BrokerStore {
  private readonly statements: Statements;
  /** Logins of one event-loop turn, committed together. */
  private readonly logins: GroupCommit<LoginInput, LoginOutcome>;
  private readonly revokeAllTx: (customerId: string, now: number) => number;
  private readonly purgeBatchTx: (before: number) => number;
  private readonly checkpoints: Checkpoints;
  private readonly keyStatements: KeyStatements;
  /** This store object's name in rate_failures: failuresAfter gives only the others' records. */
  private readonly instance = randomUUID();
  private readonly recordFailuresTx: (failures: readonly FailureRecord[]) => void;
  private readonly deleteCustomerTx: (customerId: string) => number | undefined;

  private constructor(private readonly db: Database.Database) {
    const s = (this.statements = prepareStatements(db));
    this.keyStatements = prepareKeyStatements(db);
    const insertFailure = db.prepare<[string, number, string]>('INSERT INTO rate_failures (key, at, instance) VALUES (?, ?, ?)');
    this.recordFailuresTx = db.transaction((failures: readonly FailureRecord[]) => {
      for (const f of failures) insertFailure.run(f.key, f.at, this.instance);
    }).immediate;
    const deleteSessions = db.prepare<[string]>('DELETE FROM sessions WHERE customer_id = ?');
    const deleteCustomer = db.prepare<[string]>('DELETE FROM customers WHERE id = ?');
    this.deleteCustomerTx = db.transaction((customerId: string) => {
      const sessions = deleteSessions.run(customerId).changes;
      return deleteCustomer.run(customerId).changes > 0 ? sessions : undefined;
    }).immediate;
    const counts = new OpenSessionCounts();
    const loginTx = db.transaction((input: LoginInput) => upsertCustomerAndOpenSession(s, counts, input)).immediate;
    // Logins of one event-loop turn, in input order: a later one sees what an earlier one wrote
    // (two first logins of one person in a batch make one customer).
    const loginBatchTx = db.transaction((inputs: LoginInput[]) => inputs.map((input) => upsertCustomerAndOpenSession(s, counts, input))).immediate;
    this.logins = new GroupCommit({
      commitBatch: (inputs) => guarded(() => loginBatchTx(inputs)),
      commitOne: (input) => guarded(() => loginTx(input)),
      isOutage: (err) => err instanceof StoreUnavailableError,
    });
    this.revokeAllTx = db.transaction((customerId: string, now: number) => s.revokeAll.run(now, customerId, now).changes).immediate;
    const purgeBatch = db.prepare<[number, number, number]>(
      `DELETE FROM sessions WHERE (customer_id, sid) IN (
         SELECT customer_id, sid FROM sessions WHERE expires_at < ? OR revoked_at < ? LIMIT ?)`,
    );
    this.purgeBatchTx = db.transaction((before: number) => purgeBatch.run(before, before, PURGE_BATCH).changes).immediate;
    this.checkpoints = new Checkpoints(db);
  }

  /**
   * Opens (creating if needed) the database at `path`: WAL mode, schema migrations, and the
   * signing key generated on first start.
   * @throws UsageError when the file cannot be opened or written (read-only, not a database,
   *   written by a newer version).
   */
  static open(path: string, options: OpenStoreOptions): SqliteBrokerStore {
    let db: Database.Database | undefined;
    try {
      if (path !== ':memory:') {
        mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
        // The file holds the signing key: create it private before SQLite does.
        if (!existsSync(path)) {
          try {
            closeSync(openSync(path, 'wx', 0o600));
          } catch (err) {
            // Another broker process created it in the meantime: fine.
            if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
          }
        }
      }
      db = new Database(path, { timeout: options.busyTimeoutMs ?? 2000 });
      if (db.readonly) throw Object.assign(new Error('the file is read-only'), { code: 'SQLITE_READONLY' });
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.pragma('foreign_keys = ON');
      // A large database (a million customers and sessions) keeps the pages logins touch in
      // memory: a 64 MiB page cache instead of 2 MiB.
      db.pragma('cache_size = -65536');
      // Checkpoints (the only fsyncs under synchronous=NORMAL) run on a timer, not inside a
      // login's commit: see startCheckpoints().
      db.pragma('wal_autocheckpoint = 0');
      migrate(db);
      ensureSigningKey(db, prepareKeyStatements(db), options.now);
      recordStart(db, options.now);
      return new SqliteBrokerStore(db);
    } catch (err) {
      db?.close();
      const code = sqliteCode(err) ?? (err as { code?: string }).code;
      const why = code?.startsWith('SQLITE_READONLY') || code === 'EACCES' || code === 'EROFS' || code === 'EPERM'
        ? 'the file or its directory is read-only'
        : describeError(err);
      throw new UsageError(`could not open broker database ${path}: ${why}`, {
        cause: err,
        hint: 'Give --db a writable file (default: $XDG_DATA_HOME/authbridge/broker.db).',
      });
    }
  }

  /**
   * Copies the WAL into the database every `intervalMs` (checkpoints.ts): on a thread of its
   * own when the build has one (`onThread`), else on a timer of this one.
   */
  startCheckpoints(intervalMs = 1000, onThread = true): void {
    this.checkpoints.start(intervalMs, onThread);
  }

  async signingKeys(): Promise<readonly StoredSigningKey[]> {
    return guarded(() => readSigningKeys(this.keyStatements));
  }

  async addSigningKey(input: { key: SigningKey; createdAt: number; signsFrom: number; retireOthersAt: number }): Promise<void> {
    guarded(() => addSigningKey(this.db, this.keyStatements, input));
  }

  async retireSigningKey(kid: string, at: number): Promise<boolean> {
    return guarded(() => this.keyStatements.retire.run(at, at, kid).changes > 0);
  }

  async recordFailures(failures: readonly FailureRecord[]): Promise<void> {
    if (failures.length > 0) guarded(() => this.recordFailuresTx(failures));
  }

  async failuresAfter(cursor: number): Promise<FailuresPage> {
    // One read transaction: the newest id is read from the same snapshot as the rows.
    return guarded(() => this.db.transaction(() => {
      const rows = this.db
        .prepare<[number, string], { id: number; key: string; at: number }>(
          'SELECT id, key, at FROM rate_failures WHERE id > ? AND instance != ? ORDER BY id LIMIT 10000',
        )
        .all(cursor, this.instance);
      // The cursor moves past our own records too: the newest id of all, when none of the others' is left.
      const last = rows.length === 10_000 ? rows[rows.length - 1]!.id : (this.db.prepare<[], { id: number | null }>('SELECT max(id) AS id FROM rate_failures').get()?.id ?? cursor);
      return { failures: rows.map((r) => ({ key: r.key, at: r.at })), cursor: Math.max(cursor, last) };
    })());
  }

  async purgeFailures(before: number): Promise<number> {
    return guarded(() => this.db.prepare<[number]>('DELETE FROM rate_failures WHERE at < ?').run(before).changes);
  }

  async listCustomers(query: CustomerQuery): Promise<Customer[]> {
    return guarded(() => {
      const where: string[] = [];
      const params: (string | number)[] = [];
      if (query.provider !== undefined) {
        where.push('provider = ?');
        params.push(query.provider);
      }
      if (query.after !== undefined) {
        where.push('(created_at, id) > (SELECT created_at, id FROM customers WHERE id = ?)');
        params.push(query.after);
      }
      const sql = `SELECT * FROM customers ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at, id LIMIT ?`;
      return this.db.prepare(sql).all(...params, query.limit).map((row) => toCustomer(row as Parameters<typeof toCustomer>[0]));
    });
  }

  async customerBySubject(provider: string, subject: string): Promise<Customer | undefined> {
    return guarded(() => {
      const row = this.statements.customerBySubject.get(provider, subject);
      return row ? toCustomer(row) : undefined;
    });
  }

  async customerSessions(customerId: string): Promise<Session[]> {
    return guarded(() =>
      this.db
        .prepare('SELECT * FROM sessions WHERE customer_id = ? ORDER BY created_at, sid')
        .all(customerId)
        .map((row) => toSession(row as Parameters<typeof toSession>[0])),
    );
  }

  async deleteCustomer(customerId: string): Promise<number | undefined> {
    return guarded(() => this.deleteCustomerTx(customerId));
  }

  /**
   * Committed together with the other logins of this event-loop turn (group commit), each in
   * call order. Resolves only once its own login is committed.
   * @throws StoreUnavailableError (rejects) when the database cannot be written.
   */
  upsertCustomerAndOpenSession(input: LoginInput): Promise<LoginOutcome> {
    return this.logins.submit(input);
  }

  async session(customerId: string, sid: string): Promise<Session | undefined> {
    return guarded(() => {
      const row = this.statements.session.get(customerId, sid);
      return row ? toSession(row) : undefined;
    });
  }

  async customer(id: string): Promise<Customer | undefined> {
    return guarded(() => {
      const row = this.statements.customerById.get(id);
      return row ? toCustomer(row) : undefined;
    });
  }

  async revokeSession(customerId: string, sid: string, now: number): Promise<boolean> {
    return guarded(() => this.statements.revokeSession.run(now, customerId, sid).changes > 0);
  }

  async revokeAllSessions(customerId: string, now: number): Promise<number> {
    return guarded(() => this.revokeAllTx(customerId, now));
  }

  /**
   * Deletes ended sessions in batches of PURGE_BATCH, one short transaction each, yielding to
   * the event loop in between so logins go on.
   * @throws StoreUnavailableError (rejects) when the database cannot be written.
   */
  async purgeSessions(before: number): Promise<number> {
    let total = 0;
    for (;;) {
      if (!this.db.open) return total;
      const deleted = guarded(() => this.purgeBatchTx(before));
      total += deleted;
      if (deleted < PURGE_BATCH) return total;
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  async ping(): Promise<void> {
    guarded(() => this.statements.ping.get());
  }

  /** Commits the logins still queued, stops the checkpoints and closes the database. */
  async close(): Promise<void> {
    // Logins already accepted are committed, not dropped.
    if (this.db.open) this.logins.commitAll();
    await this.checkpoints.stop();
    // Closing the last connection checkpoints and removes the WAL.
    if (this.db.open) this.db.close();
  }
}
