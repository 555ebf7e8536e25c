/**
 * The BrokerStore verbs, used only through the interface: what a second adapter (PostgreSQL)
 * must do too. Run here against the SQLite adapter on a temp file.
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteBrokerStore } from '../../src/broker/store/sqlite/store.js';
import { StoreUnavailableError, type BrokerStore, type LoginInput, type LoginOutcome } from '../../src/broker/store/types.js';

const NOW = Date.UTC(2026, 10, 22, 12);
const HOUR = 3600_000;

let dir: string;
let dbPath: string;
let store: BrokerStore;

const open = async (options: { busyTimeoutMs?: number } = {}): Promise<BrokerStore> => SqliteBrokerStore.open(dbPath, { now: NOW, ...options });

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'authbridge-store-verbs-'));
  dbPath = join(dir, 'broker.db');
  store = await open();
});
afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

function login(subject: string, overrides: Partial<LoginInput> = {}): LoginInput {
  return {
    provider: 'idp',
    subject,
    fields: { email: `${subject}@example.com` },
    updatePolicy: 'each-login',
    registration: 'auto',
    clientId: 'app',
    ttl: 3600,
    now: NOW,
    ...overrides,
  };
}

type Signed = Extract<LoginOutcome, { customer: unknown }>;
async function signIn(input: LoginInput): Promise<Signed> {
  const outcome = await store.upsertCustomerAndOpenSession(input);
  if (outcome.status === 'registration_required') throw new Error('expected a session');
  return outcome;
}

describe('upsertCustomerAndOpenSession', () => {
  it('registers a new customer and opens a session of ttl seconds', async () => {
    const outcome = await signIn(login('alice'));
    expect(outcome.status).toBe('created');
    expect(outcome.customer).toMatchObject({ provider: 'idp', subject: 'alice', fields: { email: 'alice@example.com' }, createdAt: NOW, updatedAt: NOW });
    expect(outcome.session).toEqual({
      sid: expect.any(String),
      customerId: outcome.customer.id,
      clientId: 'app',
      createdAt: NOW,
      expiresAt: NOW + HOUR,
      revokedAt: null,
    });
    expect(await store.customer(outcome.customer.id)).toEqual(outcome.customer);
    expect(await store.session(outcome.customer.id, outcome.session.sid)).toEqual(outcome.session);
  });

  it('finds the customer again by provider and subject, never by email; each login a new session', async () => {
    const first = await signIn(login('alice'));
    const again = await signIn(login('alice', { now: NOW + 1000 }));
    expect(again.status).toBe('existing');
    expect(again.customer.id).toBe(first.customer.id);
    expect(again.session.sid).not.toBe(first.session.sid);
    // Same email, another subject or provider: another customer.
    const other = await signIn(login('alice-2', { fields: { email: 'alice@example.com' } }));
    const elsewhere = await signIn(login('alice', { provider: 'backend' }));
    expect(new Set([first.customer.id, other.customer.id, elsewhere.customer.id]).size).toBe(3);
  });

  it('each-login merges the fields (keeping what the upstream no longer sends); first-login leaves them', async () => {
    const first = await signIn(login('bob', { fields: { email: 'bob@example.com', firstName: 'Bob' } }));
    const merged = await signIn(login('bob', { fields: { email: 'bob@new.example' }, now: NOW + 1000 }));
    expect(merged.customer.fields).toEqual({ email: 'bob@new.example', firstName: 'Bob' });
    expect(merged.customer.updatedAt).toBe(NOW + 1000);
    const kept = await signIn(login('bob', { fields: { email: 'other@example.com' }, updatePolicy: 'first-login', now: NOW + 2000 }));
    expect(kept.customer.fields).toEqual({ email: 'bob@new.example', firstName: 'Bob' });
    expect(kept.customer.updatedAt).toBe(NOW + 1000);
    // The same fields again change nothing, not even updatedAt.
    const same = await signIn(login('bob', { fields: { email: 'bob@new.example' }, now: NOW + 3000 }));
    expect(same.customer.updatedAt).toBe(NOW + 1000);
    expect(await store.customer(first.customer.id)).toEqual(same.customer);
  });

  it('existing-only refuses an unknown person and writes nothing; a known one signs in', async () => {
    expect(await store.upsertCustomerAndOpenSession(login('carol', { registration: 'existing-only' }))).toEqual({ status: 'registration_required' });
    await store.close();
    const db = new Database(dbPath, { readonly: true });
    try {
      expect(db.prepare('SELECT count(*) AS n FROM customers').get()).toEqual({ n: 0 });
      expect(db.prepare('SELECT count(*) AS n FROM sessions').get()).toEqual({ n: 0 });
    } finally {
      db.close();
    }
    store = await open();
    await signIn(login('carol'));
    expect((await signIn(login('carol', { registration: 'existing-only' }))).status).toBe('existing');
  });
});

describe('session and customer', () => {
  it('resolve undefined for what is not there', async () => {
    const { customer } = await signIn(login('dave'));
    expect(await store.customer('no-such-id')).toBeUndefined();
    expect(await store.session(customer.id, 'no-such-sid')).toBeUndefined();
    expect(await store.session('no-such-id', 'no-such-sid')).toBeUndefined();
  });

  it('a session is found only with its own customer', async () => {
    const dave = await signIn(login('dave'));
    const erin = await signIn(login('erin'));
    expect(await store.session(erin.customer.id, dave.session.sid)).toBeUndefined();
  });
});

describe('revokeSession and revokeAllSessions', () => {
  it('revokeSession ends one session at `now`, once', async () => {
    const a = await signIn(login('frank'));
    const b = await signIn(login('frank'));
    expect(await store.revokeSession(a.customer.id, a.session.sid, NOW + 5)).toBe(true);
    expect(await store.revokeSession(a.customer.id, a.session.sid, NOW + 9)).toBe(false);
    expect(await store.revokeSession(a.customer.id, 'no-such-sid', NOW + 9)).toBe(false);
    expect((await store.session(a.customer.id, a.session.sid))?.revokedAt).toBe(NOW + 5);
    expect((await store.session(b.customer.id, b.session.sid))?.revokedAt).toBeNull();
  });

  it('revokeAllSessions ends the live sessions of one customer and counts them', async () => {
    const live = [await signIn(login('grace')), await signIn(login('grace'))];
    const ended = await signIn(login('grace'));
    const expired = await signIn(login('grace', { now: NOW - 2 * HOUR }));
    const neighbour = await signIn(login('heidi'));
    await store.revokeSession(ended.customer.id, ended.session.sid, NOW);
    expect(await store.revokeAllSessions(live[0]!.customer.id, NOW + 7)).toBe(2);
    for (const s of live) expect((await store.session(s.customer.id, s.session.sid))?.revokedAt).toBe(NOW + 7);
    expect((await store.session(ended.customer.id, ended.session.sid))?.revokedAt).toBe(NOW);
    expect((await store.session(expired.customer.id, expired.session.sid))?.revokedAt).toBeNull();
    expect((await store.session(neighbour.customer.id, neighbour.session.sid))?.revokedAt).toBeNull();
    expect(await store.revokeAllSessions(live[0]!.customer.id, NOW + 8)).toBe(0);
  });
});

describe('the per-client session cap and purgeSessions', () => {
  it('maxSessionsPerClient: the login past the cap ends the oldest open sessions of the customer at that client, down to three quarters of it', async () => {
    const capped = (now: number, clientId = 'app', max = 4) => signIn(login('kate', { now, clientId, maxSessionsPerClient: max }));
    const [a, b, c, d] = [await capped(NOW), await capped(NOW + 1), await capped(NOW + 2), await capped(NOW + 3)];
    const elsewhere = await capped(NOW + 4, 'other-app');
    for (const s of [a, b, c, d, elsewhere]) expect((await store.session(s.customer.id, s.session.sid))?.revokedAt).toBeNull();
    // The fifth at `app`: 5 > 4, so the oldest two end and three (4 × 3/4) stay, the new one among them.
    const e = await capped(NOW + 5);
    for (const s of [a, b]) expect((await store.session(s.customer.id, s.session.sid))?.revokedAt).toBe(NOW + 5);
    for (const s of [c, d, e, elsewhere]) expect((await store.session(s.customer.id, s.session.sid))?.revokedAt).toBeNull();
    // Without a cap, nothing is ended.
    await signIn(login('kate', { now: NOW + 6 }));
    expect((await store.session(c.customer.id, c.session.sid))?.revokedAt).toBeNull();
  });

  it('purgeSessions deletes the sessions that ended before `before`, and only those', async () => {
    const expired = await signIn(login('liam', { now: NOW - 3 * HOUR }));
    const revoked = await signIn(login('liam'));
    const revokedLater = await signIn(login('liam'));
    const live = await signIn(login('liam'));
    await store.revokeSession(revoked.customer.id, revoked.session.sid, NOW);
    await store.revokeSession(revokedLater.customer.id, revokedLater.session.sid, NOW + 2 * HOUR);
    expect(await store.purgeSessions(NOW + HOUR)).toBe(2);
    expect(await store.session(expired.customer.id, expired.session.sid)).toBeUndefined();
    expect(await store.session(revoked.customer.id, revoked.session.sid)).toBeUndefined();
    expect(await store.session(revokedLater.customer.id, revokedLater.session.sid)).toBeDefined();
    expect(await store.session(live.customer.id, live.session.sid)).toBeDefined();
    expect(await store.customer(live.customer.id)).toBeDefined();
    expect(await store.purgeSessions(NOW + HOUR)).toBe(0);
  });

  it('purgeSessions deletes any number of sessions, in batches', async () => {
    for (let i = 0; i < 2500; i++) await store.upsertCustomerAndOpenSession(login(`m-${i % 7}`, { now: NOW - 2 * HOUR }));
    expect(await store.purgeSessions(NOW)).toBe(2500);
  });
});

describe('signingKeys, ping and close', () => {
  it('the signing key is made once and is the same after a restart', async () => {
    const keys = await store.signingKeys();
    expect(keys).toHaveLength(1);
    expect(keys[0]!.publicJwk).toMatchObject({ kid: keys[0]!.kid });
    await store.close();
    store = await open();
    expect((await store.signingKeys()).map((k) => k.kid)).toEqual([keys[0]!.kid]);
  });

  it('ping resolves while the database answers', async () => {
    await expect(store.ping()).resolves.toBeUndefined();
  });

  it('close() commits a login already accepted, and may be called twice', async () => {
    const pending = store.upsertCustomerAndOpenSession(login('ivan'));
    await store.close();
    await store.close();
    const outcome = await pending;
    expect(outcome.status).toBe('created');
    store = await open();
    const { customer } = outcome as Signed;
    expect(await store.customer(customer.id)).toEqual(customer);
  });
});

describe('an outage', () => {
  it('every verb that writes rejects with StoreUnavailableError, and nothing is half-written', async () => {
    const known = await signIn(login('judy'));
    await store.close();
    store = await open({ busyTimeoutMs: 50 });
    const other = new Database(dbPath);
    other.exec('BEGIN IMMEDIATE');
    try {
      await expect(store.upsertCustomerAndOpenSession(login('mallory'))).rejects.toBeInstanceOf(StoreUnavailableError);
      await expect(store.revokeSession(known.customer.id, known.session.sid, NOW)).rejects.toBeInstanceOf(StoreUnavailableError);
      await expect(store.revokeAllSessions(known.customer.id, NOW)).rejects.toBeInstanceOf(StoreUnavailableError);
      await expect(store.purgeSessions(NOW + 2 * HOUR)).rejects.toBeInstanceOf(StoreUnavailableError);
      // Reads go on under WAL while another connection writes.
      expect(await store.customer(known.customer.id)).toEqual(known.customer);
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
    expect((await store.session(known.customer.id, known.session.sid))?.revokedAt).toBeNull();
    expect((await store.upsertCustomerAndOpenSession(login('mallory'))).status).toBe('created');
  });
});
