/**
 * The broker's storage: customers, sessions and the signing key, in one SQLite file (WAL).
 *
 * better-sqlite3 is synchronous, so a login's read-modify-write runs without an await in the
 * middle; it is still wrapped in `BEGIN IMMEDIATE` so that two broker processes on the same
 * file cannot both register one person. Every public method either completes its transaction
 * or throws: nothing is ever half-written.
 */
import Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import type { Worker } from 'node:worker_threads';
import { closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { UsageError, describeError } from '../errors.js';
import { startWorker } from '../runtime/worker.js';
import { generateSigningKey, signingKeyFromJwk, type SigningKey } from '../jwt/sign.js';

export interface Customer {
  /** The broker's own id for the customer: the `sub` of its tokens. */
  id: string;
  /** The provider id the customer signed in with. */
  provider: string;
  /** The subject at that provider. */
  subject: string;
  /** The mapped fields (email, firstName…). */
  fields: Record<string, unknown>;
  /** Milliseconds since the epoch. */
  createdAt: number;
  updatedAt: number;
}

export interface Session {
  sid: string;
  customerId: string;
  clientId: string;
  /** Milliseconds since the epoch. */
  createdAt: number;
  expiresAt: number;
  revokedAt: number | null;
}

export interface LoginInput {
  provider: string;
  subject: string;
  fields: Record<string, unknown>;
  updatePolicy: 'each-login' | 'first-login';
  registration: 'auto' | 'existing-only';
  clientId: string;
  /** Session lifetime in seconds. */
  ttl: number;
  /** Milliseconds since the epoch. */
  now: number;
}

export type LoginOutcome =
  | { status: 'created' | 'existing'; customer: Customer; session: Session }
  | { status: 'registration_required' };

/**
 * The database cannot be written or read right now (read-only, locked, disk full, I/O error).
 * The broker answers 503 `temporarily_unavailable`.
 */
export class StoreUnavailableError extends Error {
  constructor(
    readonly code: string,
    options?: { cause?: unknown },
  ) {
    super(`the database is unavailable (${code})`, options);
    this.name = 'StoreUnavailableError';
  }
}

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
];

interface CustomerRow {
  id: string;
  provider: string;
  subject: string;
  fields: string;
  created_at: number;
  updated_at: number;
}

interface SessionRow {
  sid: string;
  customer_id: string;
  client_id: string;
  created_at: number;
  expires_at: number;
  revoked_at: number | null;
}

const toCustomer = (row: CustomerRow): Customer => ({
  id: row.id,
  provider: row.provider,
  subject: row.subject,
  fields: JSON.parse(row.fields) as Record<string, unknown>,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

const toSession = (row: SessionRow): Session => ({
  sid: row.sid,
  customerId: row.customer_id,
  clientId: row.client_id,
  createdAt: row.created_at,
  expiresAt: row.expires_at,
  revokedAt: row.revoked_at,
});

function sqliteCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_') ? code : undefined;
}

/** Runs `fn`, turning SQLite's run-time failures into StoreUnavailableError. */
function guarded<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    const code = sqliteCode(err);
    // A constraint failure is a bug in this file, not an outage: let it surface as one.
    if (code && !code.startsWith('SQLITE_CONSTRAINT')) throw new StoreUnavailableError(code, { cause: err });
    throw err;
  }
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

export interface OpenStoreOptions {
  /** Milliseconds since the epoch; used for the signing key's creation time. */
  now: number;
  /** Milliseconds a write waits for another process's lock before giving up. Default 2000. */
  busyTimeoutMs?: number;
}

interface QueuedLogin {
  input: LoginInput;
  resolve: (outcome: LoginOutcome) => void;
  reject: (err: unknown) => void;
}

/** Milliseconds close() waits for the checkpoint thread to stop before it is terminated. */
const CLOSE_WAIT_MS = 5000;

/** Logins committed together at most; more wait for the next turn. */
const GROUP_COMMIT_MAX = 256;

export class BrokerStore {
  private readonly statements;
  private readonly loginTx: (input: LoginInput) => LoginOutcome;
  private readonly loginBatchTx: (inputs: LoginInput[]) => LoginOutcome[];
  /** Logins waiting for this turn's group commit. */
  private queued: QueuedLogin[] = [];
  private readonly revokeAllTx: (customerId: string, now: number) => number;
  private keys: SigningKey[] = [];
  private checkpointTimer: NodeJS.Timeout | undefined;
  private checkpointer: Worker | undefined;

  private constructor(private readonly db: Database.Database) {
    this.statements = {
      customerBySubject: db.prepare<[string, string], CustomerRow>('SELECT * FROM customers WHERE provider = ? AND subject = ?'),
      customerById: db.prepare<[string], CustomerRow>('SELECT * FROM customers WHERE id = ?'),
      insertCustomer: db.prepare<[string, string, string, string, number, number]>(
        'INSERT INTO customers (id, provider, subject, fields, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)',
      ),
      updateCustomer: db.prepare<[string, number, string]>('UPDATE customers SET fields = ?, updated_at = ? WHERE id = ?'),
      insertSession: db.prepare<[string, string, string, number, number]>(
        'INSERT INTO sessions (customer_id, sid, client_id, created_at, expires_at) VALUES (?, ?, ?, ?, ?)',
      ),
      ping: db.prepare('SELECT 1'),
      session: db.prepare<[string, string], SessionRow>('SELECT * FROM sessions WHERE customer_id = ? AND sid = ?'),
      revokeSession: db.prepare<[number, string, string]>(
        'UPDATE sessions SET revoked_at = ? WHERE customer_id = ? AND sid = ? AND revoked_at IS NULL',
      ),
      revokeAll: db.prepare<[number, string, number]>(
        'UPDATE sessions SET revoked_at = ? WHERE customer_id = ? AND revoked_at IS NULL AND expires_at > ?',
      ),
    };
    const s = this.statements;

    const loginOne = (input: LoginInput): LoginOutcome => {
      const row = s.customerBySubject.get(input.provider, input.subject);
      let customer: Customer;
      let status: 'created' | 'existing';
      if (!row) {
        if (input.registration === 'existing-only') return { status: 'registration_required' };
        customer = {
          id: randomUUID(),
          provider: input.provider,
          subject: input.subject,
          fields: input.fields,
          createdAt: input.now,
          updatedAt: input.now,
        };
        s.insertCustomer.run(customer.id, customer.provider, customer.subject, JSON.stringify(customer.fields), input.now, input.now);
        status = 'created';
      } else {
        customer = toCustomer(row);
        status = 'existing';
        if (input.updatePolicy === 'each-login') {
          // Fields the upstream no longer sends are kept: a login updates, it does not erase.
          const merged = { ...customer.fields, ...input.fields };
          if (!sameJson(merged, customer.fields)) {
            s.updateCustomer.run(JSON.stringify(merged), input.now, customer.id);
            customer = { ...customer, fields: merged, updatedAt: input.now };
          }
        }
      }
      const session: Session = {
        sid: randomUUID(),
        customerId: customer.id,
        clientId: input.clientId,
        createdAt: input.now,
        expiresAt: input.now + input.ttl * 1000,
        revokedAt: null,
      };
      s.insertSession.run(session.customerId, session.sid, session.clientId, session.createdAt, session.expiresAt);
      return { status, customer, session };
    };
    this.loginTx = db.transaction(loginOne).immediate;
    // Logins of one event-loop turn, in input order: a later one sees what an earlier one wrote
    // (two first logins of one person in a batch make one customer).
    this.loginBatchTx = db.transaction((inputs: LoginInput[]) => inputs.map(loginOne)).immediate;

    this.revokeAllTx = db.transaction((customerId: string, now: number) => s.revokeAll.run(now, customerId, now).changes).immediate;
  }

  /**
   * Opens (creating if needed) the database at `path`: WAL mode, schema migrations, and the
   * signing key generated on first start.
   * @throws UsageError when the file cannot be opened or written (read-only, not a database,
   *   written by a newer version).
   */
  static open(path: string, options: OpenStoreOptions): BrokerStore {
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
      // Checkpoints (the only fsyncs under synchronous=NORMAL) run on a timer, not inside a
      // login's commit: see startCheckpoints().
      db.pragma('wal_autocheckpoint = 0');
      migrate(db);
      const store = new BrokerStore(db);
      store.loadKeys(options.now);
      return store;
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

  private loadKeys(now: number): void {
    const tx = this.db.transaction(() => {
      const rows = this.db
        .prepare<[], { kid: string; private_jwk: string }>('SELECT kid, private_jwk FROM signing_keys WHERE retired_at IS NULL ORDER BY created_at DESC')
        .all();
      if (rows.length === 0) {
        const key = generateSigningKey();
        this.db
          .prepare('INSERT INTO signing_keys (kid, alg, private_jwk, created_at) VALUES (?, ?, ?, ?)')
          .run(key.kid, key.alg, JSON.stringify(key.privateJwk), now);
        return [key];
      }
      return rows.map((row) => signingKeyFromJwk(JSON.parse(row.private_jwk) as Record<string, unknown>));
    });
    this.keys = tx.immediate();
    // A start is a write: a file that became read-only is reported now, not at the first login.
    this.db
      .prepare("INSERT INTO meta (key, value) VALUES ('last_start', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
      .run(new Date(now).toISOString());
  }

  /** The signing keys, the one to sign with first. */
  signingKeys(): readonly SigningKey[] {
    return this.keys;
  }

  /**
   * Registers or updates the customer and opens a session, in one transaction.
   * @throws StoreUnavailableError when the database cannot be written.
   */
  login(input: LoginInput): LoginOutcome {
    return guarded(() => this.loginTx(input));
  }

  /**
   * The same as `login`, committed together with the other logins of this event-loop turn
   * (group commit): under load, one lock and one WAL append serve many requests instead of one
   * each. Resolves only once its own login is committed.
   * @throws StoreUnavailableError (rejects) when the database cannot be written.
   */
  loginSoon(input: LoginInput): Promise<LoginOutcome> {
    return new Promise((resolve, reject) => {
      if (this.queued.push({ input, resolve, reject }) === 1) setImmediate(() => this.commitQueued());
    });
  }

  private commitQueued(): void {
    const batch = this.queued.splice(0, GROUP_COMMIT_MAX);
    if (this.queued.length > 0) setImmediate(() => this.commitQueued());
    if (batch.length === 0) return;
    let outcomes: LoginOutcome[];
    try {
      outcomes = guarded(() => this.loginBatchTx(batch.map((q) => q.input)));
    } catch (err) {
      // The whole transaction was rolled back. An outage fails every login in it; anything else
      // (one login's bug) must not fail its neighbours: each is tried again on its own.
      if (err instanceof StoreUnavailableError || batch.length === 1) {
        for (const q of batch) q.reject(err);
        return;
      }
      for (const q of batch) {
        try {
          q.resolve(this.login(q.input));
        } catch (one) {
          q.reject(one);
        }
      }
      return;
    }
    batch.forEach((q, i) => q.resolve(outcomes[i]!));
  }

  /** The session `sid` of customer `customerId` (a token's `sub` and `sid`). */
  session(customerId: string, sid: string): Session | undefined {
    return guarded(() => {
      const row = this.statements.session.get(customerId, sid);
      return row ? toSession(row) : undefined;
    });
  }

  customer(id: string): Customer | undefined {
    return guarded(() => {
      const row = this.statements.customerById.get(id);
      return row ? toCustomer(row) : undefined;
    });
  }

  /** Ends one session. Returns false when it was unknown or already ended. */
  revokeSession(customerId: string, sid: string, now: number): boolean {
    return guarded(() => this.statements.revokeSession.run(now, customerId, sid).changes > 0);
  }

  /** Ends every live session of a customer; returns how many. */
  revokeAllSessions(customerId: string, now: number): number {
    return guarded(() => this.revokeAllTx(customerId, now));
  }

  /**
   * Copies the WAL into the database every `intervalMs` (one fsync a period however many
   * logins there were), instead of SQLite's default of a checkpoint inside whichever commit
   * crosses 1000 pages. On a thread of their own when the build has one (`onThread`), else on a
   * timer of this one.
   */
  startCheckpoints(intervalMs = 1000, onThread = true): void {
    if (this.checkpointer || this.checkpointTimer) return;
    // On its own thread and connection (checkpoint-worker.ts), so the fsync never holds up a request.
    const worker =
      onThread && this.db.name !== ':memory:'
        ? startWorker('checkpoint-worker', {
            workerData: { path: this.db.name, intervalMs },
            unref: true,
            // A thread that cannot start, or dies, leaves the job to this one (close() stops it on purpose).
            onLost: () => {
              if (this.checkpointer !== worker) return;
              this.checkpointer = undefined;
              this.startCheckpoints(intervalMs, false);
            },
          })
        : undefined;
    if (worker) {
      this.checkpointer = worker;
      return;
    }
    this.checkpointTimer = setInterval(() => {
      try {
        this.db.pragma('wal_checkpoint(PASSIVE)');
      } catch {
        // Busy or read-only: the next period tries again; the WAL keeps the data meanwhile.
      }
    }, intervalMs);
    this.checkpointTimer.unref();
  }

  /** A cheap read, for /healthz. */
  ping(): void {
    guarded(() => this.statements.ping.get());
  }

  /** Commits the logins still queued, stops the checkpoints and closes the database. */
  async close(): Promise<void> {
    clearInterval(this.checkpointTimer);
    // Logins already accepted are committed, not dropped.
    while (this.queued.length > 0 && this.db.open) this.commitQueued();
    const checkpointer = this.checkpointer;
    this.checkpointer = undefined;
    if (checkpointer) {
      const gone = once(checkpointer, 'exit').catch(() => {});
      // Unreferenced while it ran; this wait must keep the process alive until it has gone.
      checkpointer.ref();
      checkpointer.postMessage('stop');
      // A thread that does not stop when asked is stopped: a broker's exit never hangs on it.
      const deadline = setTimeout(() => void checkpointer.terminate(), CLOSE_WAIT_MS);
      await gone;
      clearTimeout(deadline);
    }
    // Closing the last connection checkpoints and removes the WAL.
    if (this.db.open) this.db.close();
  }
}

function migrate(db: Database.Database): void {
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
