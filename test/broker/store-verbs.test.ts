/**
 * The BrokerStore verbs, used only through the interface: every adapter must pass them. Run
 * against SQLite (a temp file) and PostgreSQL (a real server the helper starts; test/helpers/postgres.ts).
 */
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { generateSigningKey } from '../../src/jwt/sign.js';
import { StoreUnavailableError, type BrokerStore, type LoginInput, type LoginOutcome } from '../../src/broker/store/types.js';
import { STORE_ADAPTERS, type StoreAdapter } from './store-adapters.js';

const NOW = Date.UTC(2026, 10, 22, 12);
const HOUR = 3600_000;

describe.each(STORE_ADAPTERS)('$name', (adapter: StoreAdapter) => {
let store: BrokerStore;

const open = (options: { busyTimeoutMs?: number } = {}): Promise<BrokerStore> => adapter.open({ now: NOW, ...options });

beforeEach(async () => {
  await adapter.fresh();
  store = await open();
});
afterEach(async () => {
  await store.close();
});
afterAll(() => adapter.dispose());

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
    expect(await adapter.count('customers')).toBe(0);
    expect(await adapter.count('sessions')).toBe(0);
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
  it('the signing key is made once, signs from its creation, and is the same after a restart', async () => {
    const keys = await store.signingKeys();
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatchObject({ createdAt: NOW, signsFrom: NOW, retiresAt: null });
    expect(keys[0]!.key.publicJwk).toMatchObject({ kid: keys[0]!.key.kid });
    await store.close();
    store = await adapter.open({ now: NOW + HOUR });
    expect((await store.signingKeys()).map((k) => k.key.kid)).toEqual([keys[0]!.key.kid]);
  });

  it('addSigningKey adds a key and schedules the retirement of the others not yet scheduled; retireSigningKey only brings it forward', async () => {
    const [first] = await store.signingKeys();
    const second = generateSigningKey();
    await store.addSigningKey({ key: second, createdAt: NOW + 1, signsFrom: NOW + 10, retireOthersAt: NOW + 100 });
    const third = generateSigningKey();
    await store.addSigningKey({ key: third, createdAt: NOW + 2, signsFrom: NOW + 20, retireOthersAt: NOW + 200 });
    const keys = await store.signingKeys();
    expect(keys.map((k) => [k.key.kid, k.signsFrom, k.retiresAt])).toEqual([
      [third.kid, NOW + 20, null],
      [second.kid, NOW + 10, NOW + 200],
      [first!.key.kid, NOW, NOW + 100],
    ]);
    // The private key survives the round trip: what one instance signs, another verifies.
    expect(keys[0]!.key.privateJwk).toEqual(third.privateJwk);
    expect(await store.retireSigningKey(second.kid, NOW + 300)).toBe(true);
    expect(await store.retireSigningKey(first!.key.kid, NOW + 50)).toBe(true);
    expect(await store.retireSigningKey('no-such-kid', NOW)).toBe(false);
    expect((await store.signingKeys()).map((k) => k.retiresAt)).toEqual([null, NOW + 200, NOW + 50]);
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

describe('the shared failure record', () => {
  it('failuresAfter gives what other store objects recorded, in order, once; purgeFailures drops the old', async () => {
    const other = await open();
    try {
      await store.recordFailures([{ key: 'mine', at: NOW }]);
      await other.recordFailures([{ key: 'a', at: NOW + 1 }, { key: 'b', at: NOW + 2 }]);
      const page = await store.failuresAfter(0);
      expect(page.failures).toEqual([{ key: 'a', at: NOW + 1 }, { key: 'b', at: NOW + 2 }]);
      expect((await other.failuresAfter(0)).failures).toEqual([{ key: 'mine', at: NOW }]);
      expect((await store.failuresAfter(page.cursor)).failures).toEqual([]);
      await other.recordFailures([{ key: 'c', at: NOW + 3 }]);
      expect((await store.failuresAfter(page.cursor)).failures).toEqual([{ key: 'c', at: NOW + 3 }]);
      expect(await store.purgeFailures(NOW + 2)).toBe(2);
      expect((await store.failuresAfter(0)).failures).toEqual([{ key: 'b', at: NOW + 2 }, { key: 'c', at: NOW + 3 }]);
    } finally {
      await other.close();
    }
  });
});

describe('customer administration verbs', () => {
  it('listCustomers pages in creation order, optionally by provider; customerBySubject and customerSessions find them', async () => {
    const made = [];
    for (const [i, subject] of ['p', 'q', 'r', 's', 't'].entries()) made.push(await signIn(login(subject, { now: NOW + i, provider: i === 2 ? 'backend' : 'idp' })));
    const ids = made.map((m) => m.customer.id);
    expect((await store.listCustomers({ limit: 2 })).map((c) => c.id)).toEqual(ids.slice(0, 2));
    expect((await store.listCustomers({ limit: 10, after: ids[1] })).map((c) => c.id)).toEqual(ids.slice(2));
    expect((await store.listCustomers({ limit: 10, provider: 'backend' })).map((c) => c.id)).toEqual([ids[2]]);
    expect(await store.customerBySubject('idp', 'q')).toEqual(made[1]!.customer);
    expect(await store.customerBySubject('backend', 'q')).toBeUndefined();
    const again = await signIn(login('p', { now: NOW + 10 }));
    expect((await store.customerSessions(ids[0]!)).map((x) => x.sid)).toEqual([made[0]!.session.sid, again.session.sid]);
    expect(await store.customerSessions('no-such-id')).toEqual([]);
  });

  it('deleteCustomer deletes the customer and every session of theirs, nobody else', async () => {
    const a = await signIn(login('uma'));
    await signIn(login('uma'));
    const b = await signIn(login('vic'));
    expect(await store.deleteCustomer(a.customer.id)).toBe(2);
    expect(await store.customer(a.customer.id)).toBeUndefined();
    expect(await store.session(a.customer.id, a.session.sid)).toBeUndefined();
    expect(await store.customerBySubject('idp', 'uma')).toBeUndefined();
    expect(await store.deleteCustomer(a.customer.id)).toBeUndefined();
    expect(await store.session(b.customer.id, b.session.sid)).toBeDefined();
    // The same person signing in again is a new customer.
    expect((await signIn(login('uma'))).status).toBe('created');
  });
});

describe('an outage', () => {
  it('every verb that writes rejects with StoreUnavailableError, and nothing is half-written', async () => {
    const known = await signIn(login('judy'));
    await store.close();
    store = await open({ busyTimeoutMs: 50 });
    await adapter.whileWritesLocked(async () => {
      await expect(store.upsertCustomerAndOpenSession(login('mallory'))).rejects.toBeInstanceOf(StoreUnavailableError);
      await expect(store.revokeSession(known.customer.id, known.session.sid, NOW)).rejects.toBeInstanceOf(StoreUnavailableError);
      await expect(store.revokeAllSessions(known.customer.id, NOW)).rejects.toBeInstanceOf(StoreUnavailableError);
      await expect(store.purgeSessions(NOW + 2 * HOUR)).rejects.toBeInstanceOf(StoreUnavailableError);
      await expect(store.deleteCustomer(known.customer.id)).rejects.toBeInstanceOf(StoreUnavailableError);
      // Reads go on while another connection writes.
      expect(await store.customer(known.customer.id)).toEqual(known.customer);
    });
    expect((await store.session(known.customer.id, known.session.sid))?.revokedAt).toBeNull();
    expect((await store.upsertCustomerAndOpenSession(login('mallory'))).status).toBe('created');
  });

  it('concurrent first logins of one person from two store objects make one customer', async () => {
    const other = await open();
    try {
      const outcomes = await Promise.all(Array.from({ length: 20 }, (_, i) => ((i % 2 ? other : store) as BrokerStore).upsertCustomerAndOpenSession(login('zoe'))));
      const ids = new Set(outcomes.map((o) => (o as Signed).customer.id));
      expect(ids.size).toBe(1);
      expect(outcomes.filter((o) => o.status === 'created')).toHaveLength(1);
      expect(await adapter.count('customers')).toBe(1);
      expect(await adapter.count('sessions')).toBe(20);
    } finally {
      await other.close();
    }
  });
});
});
