/**
 * Key rotation in a running broker: a key added to the store (as `broker keys rotate` does) is
 * published at once, signs only from its scheduled time, and the replaced one stays honoured
 * until it retires; the JWKS's Cache-Control is the delay a rotation leaves.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseBrokerConfig } from '../../src/broker/config.js';
import { JWKS_MAX_AGE_SECONDS, ROTATION_DELAY_SECONDS } from '../../src/broker/key-ring.js';
import { planRotation } from '../../src/broker/key-schedule.js';
import { startBroker, type RunningBroker } from '../../src/broker/server.js';
import { SqliteBrokerStore } from '../../src/broker/store/sqlite/store.js';
import { generateSigningKey } from '../../src/jwt/sign.js';
import { exchange, introspect, startIdp, tempDir, type TestIdp } from './helpers.js';

let idp: TestIdp;
let broker: RunningBroker;
let clock = Date.now();
const db = join(tempDir(), 'rotation.db');
const TTL = 60;

beforeAll(async () => {
  idp = await startIdp();
  const file = parseBrokerConfig(
    {
      tokenTtl: TTL,
      clients: [{ clientId: 'cli', tokenEndpointAuthMethod: 'client_secret_basic', clientSecret: 's3cret' }],
      providers: [{ id: 'idp', type: 'jwt', issuer: idp.issuer, audience: 'cli', mapping: { email: '/email' } }],
    },
    'broker.json',
  );
  broker = await startBroker({ file, host: '127.0.0.1', port: 0, dbPath: db, deps: { fetch, now: () => clock }, log: () => {}, keyRefreshMs: 50 });
});
afterAll(async () => {
  await broker?.close();
  await idp?.close();
});

const kidOf = (token: string): string => (JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()) as { kid: string }).kid;
async function jwks(): Promise<{ kids: string[]; cacheControl: string | null }> {
  const response = await fetch(`${broker.url}/jwks.json`);
  return { kids: ((await response.json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid).sort(), cacheControl: response.headers.get('cache-control') };
}
async function issue(): Promise<string> {
  const response = await exchange(broker.url, { token: await idp.accessToken({ sub: 'rita', email: 'rita@example.test' }) });
  expect(response.status).toBe(200);
  return response.body.access_token as string;
}
const settle = () => new Promise((r) => setTimeout(r, 200));

describe('a rotation', () => {
  it('publishes the new key at once, signs with it from its time, and retires the old one a token lifetime later', async () => {
    const before = await issue();
    const oldKid = kidOf(before);
    expect(await jwks()).toEqual({ kids: [oldKid], cacheControl: `public, max-age=${JWKS_MAX_AGE_SECONDS}` });
    expect(ROTATION_DELAY_SECONDS).toBeGreaterThan(JWKS_MAX_AGE_SECONDS);

    // Another process rotates (as `broker keys rotate` does).
    const admin = SqliteBrokerStore.open(db, { now: clock });
    const next = generateSigningKey();
    const plan = planRotation(clock, ROTATION_DELAY_SECONDS, TTL);
    await admin.addSigningKey({ key: next, createdAt: clock, ...plan });
    await admin.close();
    await settle();

    // Published, not yet signing.
    expect((await jwks()).kids).toEqual([oldKid, next.kid].sort());
    expect(kidOf(await issue())).toBe(oldKid);
    clock = plan.signsFrom - 1000;
    const lastOld = await issue();
    expect(kidOf(lastOld)).toBe(oldKid);

    clock = plan.signsFrom;
    const after = await issue();
    expect(kidOf(after)).toBe(next.kid);
    // The replaced key is still honoured: the last token it signed is live.
    expect((await introspect(broker.url, lastOld)).active).toBe(true);
    expect((await introspect(broker.url, after)).active).toBe(true);

    clock = plan.retireOthersAt;
    expect((await jwks()).kids).toEqual([next.kid]);
    expect(kidOf(await issue())).toBe(next.kid);
    expect((await introspect(broker.url, before)).active).toBe(false);
  });
});
