/**
 * Two `authbridge broker serve` processes on one PostgreSQL database (a real server, started by
 * the test): one customer under concurrent first logins split across both, revocation and key
 * rotation seen by the other instance, the failure rate limit shared, and a SIGKILL mid-load
 * losing no answered session.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSigningKey } from '../../src/jwt/sign.js';
import { planRotation } from '../../src/broker/key-schedule.js';
import { PostgresBrokerStore } from '../../src/broker/store/postgres/store.js';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { basic, claimsOf, exchange, introspect, postForm, startBroker, startIdp, type BrokerProcess, type TestIdp } from './helpers.js';

let pgs: TestPostgres;
let idp: TestIdp;

beforeAll(async () => {
  [pgs, idp] = await Promise.all([startPostgres(), startIdp()]);
}, 60_000);
afterAll(async () => {
  await Promise.all([pgs?.stop(), idp?.close()]);
});

function config(extra: Record<string, unknown> = {}) {
  return {
    clients: [{ clientId: 'cli', tokenEndpointAuthMethod: 'client_secret_basic', clientSecret: 's3cret' }],
    providers: [{ id: 'idp', type: 'jwt', issuer: idp.issuer, audience: 'cli', mapping: { email: '/email' } }],
    // One issuer for both instances, as behind a load balancer.
    issuer: 'https://broker.example.test',
    keys: { refreshSeconds: 1 },
    ...extra,
  };
}

async function twoBrokers(name: string, extra: Record<string, unknown> = {}): Promise<{ url: string; a: BrokerProcess; b: BrokerProcess }> {
  const url = await pgs.createDatabase(name);
  // The first one migrates and makes the key; the second starts alongside (they agree either way).
  const [a, b] = await Promise.all([startBroker(config(extra), url), startBroker(config(extra), url)]);
  return { url, a, b };
}

const kidOf = (token: string): string => (JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()) as { kid: string }).kid;
const count = async (db: string, sql: string): Promise<number> => Number((await pgs.query<{ n: string }>(db, sql))[0]!.n);

describe('two broker instances on one PostgreSQL database', () => {
  it('40 concurrent first logins of one person, split across both, make one customer; a revocation at one is seen at the other', async () => {
    const { a, b } = await twoBrokers('split');
    try {
      expect(await (await fetch(`${a.url}/jwks.json`)).json()).toEqual(await (await fetch(`${b.url}/jwks.json`)).json());
      const subjectToken = await idp.accessToken({ sub: 'wendy', email: 'wendy@example.test' });
      const responses = await Promise.all(Array.from({ length: 40 }, (_, i) => exchange(i % 2 ? a.url : b.url, { token: subjectToken })));
      expect(responses.map((r) => r.status)).toEqual(Array(40).fill(200));
      expect(responses.filter((r) => r.body.account_status === 'created')).toHaveLength(1);
      expect(new Set(responses.map((r) => claimsOf(r.body.access_token as string).sub)).size).toBe(1);
      expect(await count('split', "SELECT count(*) AS n FROM customers WHERE subject = 'wendy'")).toBe(1);
      expect(await count('split', 'SELECT count(*) AS n FROM sessions')).toBe(40);

      const token = responses[0]!.body.access_token as string;
      expect((await introspect(b.url, token)).active).toBe(true);
      expect((await postForm(`${a.url}/oauth/revoke`, { token })).status).toBe(200);
      expect((await introspect(b.url, token)).active).toBe(false);
      expect((await introspect(a.url, responses[1]!.body.access_token as string)).active).toBe(true);
    } finally {
      expect(await Promise.all([a.stop(), b.stop()])).toEqual([0, 0]);
    }
  });

  it('a key rotated in is published by both, signs at both from its time, and a token of either verifies at the other', async () => {
    const { url, a, b } = await twoBrokers('rotation');
    try {
      const before = (await exchange(a.url, { token: await idp.accessToken({ sub: 'rita', email: 'r@example.test' }) })).body.access_token as string;
      const store = await PostgresBrokerStore.open(url, { now: Date.now() });
      const next = generateSigningKey();
      try {
        // As `broker keys rotate --delay 2` does.
        await store.addSigningKey({ key: next, createdAt: Date.now(), ...planRotation(Date.now(), 2, 3600) });
      } finally {
        await store.close();
      }
      // Each instance re-reads its keys every second (keys.refreshSeconds); the new key signs 2 s after the rotation.
      const signedWithNext = async (broker: BrokerProcess): Promise<string> => {
        for (;;) {
          const response = await exchange(broker.url, { token: await idp.accessToken({ sub: 'rita', email: 'r@example.test' }) });
          const token = response.body.access_token as string;
          if (kidOf(token) === next.kid) return token;
          await new Promise((r) => setTimeout(r, 200));
        }
      };
      const [fromA, fromB] = await Promise.all([signedWithNext(a), signedWithNext(b)]);
      for (const broker of [a, b]) {
        const kids = ((await (await fetch(`${broker.url}/jwks.json`)).json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid);
        expect(kids.sort()).toEqual([kidOf(before), next.kid].sort());
      }
      expect((await introspect(b.url, fromA)).active).toBe(true);
      expect((await introspect(a.url, fromB)).active).toBe(true);
      expect((await introspect(b.url, before)).active).toBe(true);
    } finally {
      expect(await Promise.all([a.stop(), b.stop()])).toEqual([0, 0]);
    }
  }, 30_000);

  it('refusals at one instance count at the other (the failure rate limit is shared)', async () => {
    const { a, b } = await twoBrokers('ratelimit', { rateLimit: { maxFailures: 6, windowSeconds: 60 } });
    try {
      const subjectToken = await idp.accessToken({ sub: 'mallory', email: 'm@example.test' });
      const wrong = { authorization: basic('cli', 'wrong') };
      // Three at each: under the limit at either alone.
      for (const broker of [a, b, a, b, a, b]) expect((await exchange(broker.url, { token: subjectToken, auth: wrong })).status).toBe(401);
      // Once each has counted the other's (a sync every second), the client is locked at this
      // address at both: even its correct requests (which never count as failures) get 429.
      const lockedAt = async (broker: BrokerProcess): Promise<number> => {
        for (let attempt = 0; attempt < 100; attempt++) {
          const { status } = await exchange(broker.url, { token: subjectToken });
          if (status !== 200) return status;
          await new Promise((r) => setTimeout(r, 100));
        }
        return 200;
      };
      expect(await Promise.all([lockedAt(a), lockedAt(b)])).toEqual([429, 429]);
    } finally {
      expect(await Promise.all([a.stop(), b.stop()])).toEqual([0, 0]);
    }
  }, 30_000);

  it('SIGKILL of one instance mid-load loses no answered session', async () => {
    const { a, b } = await twoBrokers('sigkill');
    const answered: string[] = [];
    let killed = false;
    try {
      const tokens = await Promise.all(Array.from({ length: 20 }, (_, i) => idp.accessToken({ sub: `load-${i}`, email: `load-${i}@example.test` })));
      const worker = async (w: number) => {
        for (let i = 0; i < 30; i++) {
          const target = (w + i) % 2 ? a : b;
          try {
            const response = await exchange(target.url, { token: tokens[(w * 7 + i) % tokens.length]! });
            if (response.status === 200) answered.push(response.body.access_token as string);
          } catch {
            // The killed instance's connections fail: those requests were never answered.
          }
          if (!killed && answered.length >= 100) {
            killed = true;
            a.child.kill('SIGKILL');
          }
        }
      };
      await Promise.all(Array.from({ length: 8 }, (_, w) => worker(w)));
      expect(killed).toBe(true);
      expect(answered.length).toBeGreaterThan(100);
      // Every answered token's session is stored, and live at the surviving instance.
      for (let i = 0; i < answered.length; i += 25) {
        const results = await Promise.all(answered.slice(i, i + 25).map((token) => introspect(b.url, token)));
        for (const r of results) expect(r.active).toBe(true);
      }
    } finally {
      await a.stop();
      expect(await b.stop()).toBe(0);
    }
  }, 60_000);
});
