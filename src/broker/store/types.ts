/**
 * The broker's storage, as an adapter interface: customers, their sessions, and the signing
 * keys. SQLite (sqlite/) is the one adapter today; a second one (PostgreSQL) implements the same
 * verbs. Every verb a request uses returns a Promise, so an adapter may be asynchronous; each
 * either completes what it writes or fails with nothing half-written.
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
  /** The signing keys, the one to sign with first. They persist across restarts. */
  signingKeys(): Promise<readonly SigningKey[]>;
  /** A cheap read, for /healthz. */
  ping(): Promise<void>;
  /** Commits the logins already accepted, then releases the database. */
  close(): Promise<void>;
}
