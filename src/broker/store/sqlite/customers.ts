/**
 * Customers and their sessions in SQLite: the prepared statements, and the login's
 * read-modify-write. better-sqlite3 is synchronous, so that runs without an await in the middle;
 * the caller still wraps it in `BEGIN IMMEDIATE` (store.ts) so that two broker processes on the
 * same file cannot both register one person.
 */
import type Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import { customerOf, toSession, type CustomerRow as StoredCustomerRow, type SessionRow } from '../rows.js';
import type { Customer, LoginInput, LoginOutcome, Session } from '../types.js';

type CustomerRow = StoredCustomerRow<string>;

export const toCustomer = (row: CustomerRow): Customer => customerOf(row, JSON.parse(row.fields) as Record<string, unknown>);

/** The statements of customers and sessions, prepared once per connection. */
export interface Statements {
  customerBySubject: Database.Statement<[string, string], CustomerRow>;
  customerById: Database.Statement<[string], CustomerRow>;
  insertCustomer: Database.Statement<[string, string, string, string, number, number]>;
  updateCustomer: Database.Statement<[string, number, string]>;
  insertSession: Database.Statement<[string, string, string, number, number]>;
  ping: Database.Statement;
  session: Database.Statement<[string, string], SessionRow>;
  revokeSession: Database.Statement<[number, string, string]>;
  revokeAll: Database.Statement<[number, string, number]>;
  endOldestSessions: Database.Statement<[number, string, string, string, string, number]>;
  countOpenSessions: Database.Statement<[string, string], { n: number }>;
}

export function prepareStatements(db: Database.Database): Statements {
  return {
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
    // Every open session of the customer at the client but the newest `keep` (the new one aside).
    endOldestSessions: db.prepare<[number, string, string, string, string, number]>(
      `UPDATE sessions SET revoked_at = ? WHERE customer_id = ? AND sid IN (
         SELECT sid FROM sessions INDEXED BY sessions_open
         WHERE customer_id = ? AND client_id = ? AND revoked_at IS NULL AND sid != ?
         ORDER BY created_at DESC LIMIT -1 OFFSET ?)`,
    ),
    countOpenSessions: db.prepare<[string, string], { n: number }>(
      'SELECT count(*) AS n FROM sessions INDEXED BY sessions_open WHERE customer_id = ? AND client_id = ? AND revoked_at IS NULL',
    ),
  };
}

/**
 * How many sessions each (customer, client) has open, as this process last counted them, so that
 * a login under the per-client cap costs no query for it. A count only ever overestimates (a
 * revocation, or a rolled-back login, is not subtracted): a login that takes it past the cap
 * counts again exactly before ending anything. Another process's logins are not seen here, so
 * with several processes on one database the cap can be passed by what the others opened since
 * this one last counted. The least recently used counts are forgotten past `limit` keys.
 */
export class OpenSessionCounts {
  private readonly counts = new Map<string, number>();

  constructor(private readonly limit = 100_000) {}

  /** The count of `key` after the login just made, `count()` giving the exact one when unknown. */
  afterLogin(key: string, count: () => number): number {
    const known = this.counts.get(key);
    const open = known === undefined ? count() : known + 1;
    this.set(key, open);
    return open;
  }

  set(key: string, open: number): void {
    this.counts.delete(key);
    this.counts.set(key, open);
    if (this.counts.size > this.limit) this.counts.delete(this.counts.keys().next().value!);
  }
}

/**
 * The per-client cap: a login that takes the customer past `max` open sessions at the client ends
 * the oldest of them, down to three quarters of `max` (the new session always kept). Ending a
 * batch once rather than the one oldest at every later login costs the database a few pages every
 * quarter of `max` logins instead of a page at each.
 */
function capSessions(s: Statements, counts: OpenSessionCounts, customerId: string, clientId: string, sid: string, max: number, now: number): void {
  const key = `${customerId}\u0000${clientId}`;
  const count = () => s.countOpenSessions.get(customerId, clientId)?.n ?? 0;
  if (counts.afterLogin(key, count) <= max) return;
  const open = count();
  const keep = Math.max(1, Math.floor((max * 3) / 4));
  if (open > max) s.endOldestSessions.run(now, customerId, customerId, clientId, sid, keep - 1);
  counts.set(key, open > max ? keep : open);
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Registers or updates the customer and opens a session (BrokerStore.upsertCustomerAndOpenSession).
 * To be run inside a transaction; throws whatever SQLite throws.
 */
export function upsertCustomerAndOpenSession(s: Statements, counts: OpenSessionCounts, input: LoginInput): LoginOutcome {
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
  if (input.maxSessionsPerClient !== undefined) {
    capSessions(s, counts, customer.id, input.clientId, session.sid, input.maxSessionsPerClient, input.now);
  }
  return { status, customer, session };
}
