/** Remote key sets: fetched once and cached, refetched once when a token names an unknown kid. */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RemoteError, createKeySet, verifyToken, type KeySet } from '../../src/index.js';
import { remoteKeySet } from '../../src/jwt/keys.js';
import { jwks, makeKey, sign, type TestKey } from '../helpers/keys.js';
import { sendJson, startServer, type TestServer } from './fixtures.js';

const NOW = 1_800_000_000;
const ISS = 'https://idp.test';

let server: TestServer;
/** What the JWKS endpoint serves right now. */
let served: TestKey[] = [];
let keyA: TestKey;
let keyB: TestKey;

beforeAll(async () => {
  [keyA, keyB] = await Promise.all([makeKey('ES256', 'key-a'), makeKey('ES256', 'key-b')]);
  server = await startServer((req, res) => {
    if (req.url === '/.well-known/openid-configuration') sendJson(res, { issuer: server.url, jwks_uri: `${server.url}/jwks` });
    else if (req.url === '/jwks') sendJson(res, jwks(...served));
    else sendJson(res, { error: 'not_found' }, 404);
  });
});
afterAll(() => server.close());
afterEach(() => server.hits.clear());

async function verifyWith(keySet: KeySet, key: TestKey, kid = key.kid, issuer = ISS) {
  const token = await sign(key, { iss: issuer }, { now: NOW, header: { kid } });
  return verifyToken(token, { issuer, audience: 'cli', keySet, currentDate: new Date(NOW * 1000) });
}

describe('a remote JWKS shared across verifications', () => {
  it('is fetched once, lazily, and cached', async () => {
    served = [keyA];
    const keySet = await createKeySet({ issuer: ISS, jwksUri: `${server.url}/jwks` });
    expect(server.hitsOf('/jwks')).toBe(0);
    for (let i = 0; i < 3; i++) expect(await verifyWith(keySet, keyA)).toMatchObject({ valid: true });
    expect(server.hitsOf('/jwks')).toBe(1);
  });

  it('concurrent first verifications share one fetch', async () => {
    served = [keyA];
    const keySet = await createKeySet({ issuer: ISS, jwksUri: `${server.url}/jwks` });
    const results = await Promise.all(Array.from({ length: 10 }, () => verifyWith(keySet, keyA)));
    expect(results.every((r) => r.valid)).toBe(true);
    expect(server.hitsOf('/jwks')).toBe(1);
  });

  it('after a rotation that adds a key, a token with the new kid refetches once and verifies', async () => {
    served = [keyA];
    const keySet = await createKeySet({ issuer: ISS, jwksUri: `${server.url}/jwks` });
    expect((await verifyWith(keySet, keyA)).valid).toBe(true);
    served = [keyB, keyA];
    expect(await verifyWith(keySet, keyB)).toMatchObject({ valid: true, reason: null });
    expect(server.hitsOf('/jwks')).toBe(2);
    expect((await verifyWith(keySet, keyB)).valid).toBe(true);
    expect((await verifyWith(keySet, keyA)).valid).toBe(true);
    expect(server.hitsOf('/jwks')).toBe(2);
  });

  it('after a rotation that replaces the key, the new key is used, not the old one cached in its place', async () => {
    served = [keyA];
    const keySet = await createKeySet({ issuer: ISS, jwksUri: `${server.url}/jwks` });
    expect((await verifyWith(keySet, keyA)).valid).toBe(true);
    served = [keyB];
    expect(await verifyWith(keySet, keyB)).toMatchObject({ valid: true, reason: null });
    expect(server.hitsOf('/jwks')).toBe(2);
    // The old key is gone from the refetched set.
    expect(await verifyWith(keySet, keyA)).toMatchObject({ valid: false, reason: 'no_matching_key' });
  });

  it('an unknown kid refetches once, then is no_matching_key; more unknown kids do not refetch again', async () => {
    served = [keyA];
    const keySet = await createKeySet({ issuer: ISS, jwksUri: `${server.url}/jwks` });
    expect(await verifyWith(keySet, keyB, 'nobody-1')).toMatchObject({ valid: false, reason: 'no_matching_key' });
    expect(server.hitsOf('/jwks')).toBe(2);
    expect(await verifyWith(keySet, keyB, 'nobody-2')).toMatchObject({ valid: false, reason: 'no_matching_key' });
    expect(await verifyWith(keySet, keyB, 'nobody-3')).toMatchObject({ valid: false, reason: 'no_matching_key' });
    expect(server.hitsOf('/jwks')).toBe(2);
    expect((await verifyWith(keySet, keyA)).valid).toBe(true);
    expect(server.hitsOf('/jwks')).toBe(2);
  });

  it('many concurrent tokens with an unknown kid cause one refetch, and all see its keys', async () => {
    served = [keyA];
    const keySet = await createKeySet({ issuer: ISS, jwksUri: `${server.url}/jwks` });
    expect((await verifyWith(keySet, keyA)).valid).toBe(true);
    served = [keyA, keyB];
    const results = await Promise.all(Array.from({ length: 8 }, () => verifyWith(keySet, keyB)));
    expect(results.map((r) => r.reason)).toEqual(Array(8).fill(null));
    expect(server.hitsOf('/jwks')).toBe(2);
  });

  it('keys found by discovery: the discovery document is fetched once as well', async () => {
    served = [keyA];
    const keySet = await createKeySet({ issuer: server.url });
    expect((await verifyWith(keySet, keyA, keyA.kid, server.url)).valid).toBe(true);
    served = [keyA, keyB];
    expect((await verifyWith(keySet, keyB, keyB.kid, server.url)).valid).toBe(true);
    expect((await verifyWith(keySet, keyA, keyA.kid, server.url)).valid).toBe(true);
    expect(server.hitsOf('/.well-known/openid-configuration')).toBe(1);
    expect(server.hitsOf('/jwks')).toBe(2);
  });

  it('a refetch that fails is a remote error', async () => {
    served = [keyA];
    const keySet = await createKeySet({ issuer: ISS, jwksUri: `${server.url}/jwks` });
    expect((await verifyWith(keySet, keyA)).valid).toBe(true);
    served = [];
    await expect(verifyWith(keySet, keyB)).rejects.toBeInstanceOf(RemoteError);
  });
});

describe('separate verifyToken calls without a shared key set', () => {
  it('each fetches the JWKS itself', async () => {
    served = [keyA];
    const token = await sign(keyA, {}, { now: NOW });
    for (let i = 0; i < 2; i++) {
      const result = await verifyToken(token, { issuer: ISS, audience: 'cli', jwksUri: `${server.url}/jwks`, currentDate: new Date(NOW * 1000) });
      expect(result.valid).toBe(true);
    }
    expect(server.hitsOf('/jwks')).toBe(2);
  });
});

describe('the refetch cooldown (30 s between refetches caused by unknown kids)', () => {
  it('a second unknown kid refetches again only once the cooldown has passed', async () => {
    served = [keyA];
    let clock = 0;
    const keySet = remoteKeySet(`${server.url}/jwks`, { fetch: globalThis.fetch, now: () => clock });
    expect(await keySet.candidates({ alg: 'ES256', kid: 'nobody' })).toEqual([]);
    expect(server.hitsOf('/jwks')).toBe(2);
    clock = 29_999;
    served = [keyA, keyB];
    expect(await keySet.candidates({ alg: 'ES256', kid: keyB.kid })).toEqual([]);
    expect(server.hitsOf('/jwks')).toBe(2);
    clock = 30_000;
    expect(await keySet.candidates({ alg: 'ES256', kid: keyB.kid })).toHaveLength(1);
    expect(server.hitsOf('/jwks')).toBe(3);
  });
});
