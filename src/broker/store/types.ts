/**
 * The broker's storage, as an adapter interface: customers, their sessions, the signing keys and
 * the failed requests the rate limit counts. Two adapters implement the same verbs: SQLite
 * (sqlite/, one host) and PostgreSQL (postgres/, several broker instances on one database). Every
 * verb returns a Promise; each either completes what it writes or fails with nothing
 * half-written.
 */
import type { SigningKey } from '../../jwt/sign.js';

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
  /**
   * Open sessions the customer may hold at `clientId`, the new one included: the oldest beyond
   * it are ended (revoked at `now`) in the same transaction. Absent: no cap.
   */
  maxSessionsPerClient?: number;
  /** Milliseconds since the epoch. */
  now: number;
}

/** A signing key with its schedule (key-schedule.ts says what it does at a given time). */
export interface StoredSigningKey {
  key: SigningKey;
  /** Milliseconds since the epoch: when it was made, and published in the JWKS. */
  createdAt: number;
  /** Milliseconds since the epoch: from when it signs (the newest key past this signs). */
  signsFrom: number;
  /** Milliseconds since the epoch: from when it is neither published nor honoured; null: not scheduled. */
  retiresAt: number | null;
}

/** A refused request, counted against `key` by the failure rate limit (rate-limit.ts). */
export interface FailureRecord {
  key: string;
  /** Milliseconds since the epoch. */
  at: number;
}

/** Failures other instances recorded, and where to read on from next time. */
export interface FailuresPage {
  failures: FailureRecord[];
  cursor: number;
}

/** Which customers `listCustomers` gives: oldest first, after the customer `after`, at most `limit`. */
export interface CustomerQuery {
  provider?: string;
  /** A customer id: the page starts after it (keyset pagination). */
  after?: string;
  limit: number;
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

/**
 * What the broker needs from its storage. Customers are keyed by (provider, upstream subject),
 * never by email. Verbs reject with StoreUnavailableError when the database cannot be used;
 * any other rejection is a bug.
 */
export interface BrokerStore {
  /**
   * Registers the customer of `input.provider`/`input.subject` (unless `registration` is
   * `existing-only`: then `registration_required`, and nothing is written) or updates their
   * fields per `updatePolicy` (`each-login` merges: fields the upstream no longer sends are
   * kept), and opens a session of `ttl` seconds for `clientId`: all in one transaction.
   * Resolves once committed. An adapter may commit several logins together (SQLite: those of
   * one event-loop turn); they are applied in call order, so two first logins of one person
   * make one customer, and one login that fails for a reason other than an outage fails alone.
   */
  upsertCustomerAndOpenSession(input: LoginInput): Promise<LoginOutcome>;
  /** The session `sid` of customer `customerId` (a token's `sub` and `sid`), revoked or not. */
  session(customerId: string, sid: string): Promise<Session | undefined>;
  customer(id: string): Promise<Customer | undefined>;
  /** Ends one session at `now` (ms). Resolves false when it was unknown or already ended. */
  revokeSession(customerId: string, sid: string, now: number): Promise<boolean>;
  /** Ends every live (not revoked, not expired) session of a customer at `now` (ms); resolves how many. */
  revokeAllSessions(customerId: string, now: number): Promise<number>;
  /**
   * Deletes the sessions that ended (expired or revoked) before `before` (ms); customers stay.
   * Their tokens then find no session, as revoked ones do. An adapter may delete in several
   * short transactions, so logins are not held up. Resolves how many were deleted.
   */
  purgeSessions(before: number): Promise<number>;
  /**
   * Every signing key with its schedule, retired ones too, the latest `signsFrom` first. The
   * adapter makes the first one when it opens a database without a usable key, so there is always
   * one that signs. They persist across restarts and are shared by every instance on the database.
   */
  signingKeys(): Promise<readonly StoredSigningKey[]>;
  /**
   * Adds `key` (published from `createdAt`, signing from `signsFrom`) and, in the same
   * transaction, schedules the retirement at `retireOthersAt` of every other key not yet
   * scheduled: a rotation.
   */
  addSigningKey(input: { key: SigningKey; createdAt: number; signsFrom: number; retireOthersAt: number }): Promise<void>;
  /** Retires key `kid` at `at` (ms), or earlier if it was already scheduled so. Resolves false for an unknown kid. */
  retireSigningKey(kid: string, at: number): Promise<boolean>;
  /** Records refused requests, for every instance's failure rate limit. */
  recordFailures(failures: readonly FailureRecord[]): Promise<void>;
  /**
   * The failures other instances (other store objects) recorded after `cursor` (0: the oldest
   * kept), in the order recorded, with the cursor to read on from.
   */
  failuresAfter(cursor: number): Promise<FailuresPage>;
  /** Deletes the failures recorded before `before` (ms); resolves how many. */
  purgeFailures(before: number): Promise<number>;
  /** Customers in creation order (ties by id), for `broker customers list`. */
  listCustomers(query: CustomerQuery): Promise<Customer[]>;
  /** The customer of `provider`/`subject`, if registered. */
  customerBySubject(provider: string, subject: string): Promise<Customer | undefined>;
  /** Every stored session of a customer (ended ones until purged), oldest first. */
  customerSessions(customerId: string): Promise<Session[]>;
  /**
   * Deletes the customer and every session of theirs, in one transaction (`broker customers
   * delete` ends the sessions first, committed, with revokeAllSessions). Resolves how many
   * sessions were deleted, or undefined for an unknown customer.
   */
  deleteCustomer(customerId: string): Promise<number | undefined>;
  /** A cheap read, for the readiness check. */
  ping(): Promise<void>;
  /** Commits the logins already accepted, then releases the database. */
  close(): Promise<void>;
}
