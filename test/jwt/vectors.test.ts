/** Published vectors: RFC 7515 §A.2/§A.3, RFC 8037 §A.4, RFC 7519 §3.1. */
import { describe, expect, it } from 'vitest';
import { compactVerify } from 'jose';
import { decodeToken, verifyToken, TokenRejectedError } from '../../src/index.js';
import { localKeySet, secretKeySet } from '../../src/jwt/keys.js';
import { verifyJwt, type VerifyResult } from '../../src/jwt/verify.js';
import {
  AFTER_RFC_EXPIRY,
  BEFORE_RFC_EXPIRY,
  RFC7515_A2,
  RFC7515_A3,
  RFC7515_PAYLOAD,
  RFC7519_3_1,
  RFC8037_A4,
} from './fixtures.js';

const failing = (r: VerifyResult) => r.checks.filter((c) => !c.ok).map((c) => c.name);
const ok = (r: VerifyResult, name: string) => r.checks.find((c) => c.name === name)?.ok;

describe.each([
  { rfc: 'RFC 7515 §A.2', alg: 'RS256', vector: RFC7515_A2 },
  { rfc: 'RFC 7515 §A.3', alg: 'ES256', vector: RFC7515_A3 },
])('$rfc ($alg) with the RFC public key', ({ alg, vector }) => {
  const jwks = { keys: [vector.jwk] };

  it('verifies the signature; only the missing aud fails before expiry (2011-03-22)', async () => {
    const result = await verifyToken(vector.token, {
      issuer: 'joe',
      audience: 'anyone',
      jwks,
      currentDate: new Date(BEFORE_RFC_EXPIRY),
    });
    expect(result.header).toEqual({ alg });
    expect(result.payload).toEqual(RFC7515_PAYLOAD);
    expect(ok(result, 'signature')).toBe(true);
    expect(result.checks.find((c) => c.name === 'signature')?.detail).toContain(alg);
    expect(failing(result)).toEqual(['audience']);
    expect(result).toMatchObject({ valid: false, reason: 'wrong_audience' });
  });

  it('after 2011-03-22T18:43:00Z it is also expired, and wrong_audience stays the reason', async () => {
    const result = await verifyToken(vector.token, { issuer: 'joe', audience: 'anyone', jwks, currentDate: new Date(AFTER_RFC_EXPIRY) });
    expect(ok(result, 'signature')).toBe(true);
    expect(failing(result)).toEqual(['audience', 'expiry']);
    expect(result.reason).toBe('wrong_audience');
  });

  it('with another issuer expected: wrong_issuer first', async () => {
    const result = await verifyToken(vector.token, { issuer: 'https://joe.example', audience: 'a', jwks, currentDate: new Date(AFTER_RFC_EXPIRY) });
    expect(ok(result, 'signature')).toBe(true);
    expect(failing(result)).toEqual(['issuer', 'audience', 'expiry']);
    expect(result.reason).toBe('wrong_issuer');
  });

  it('a changed payload byte breaks the signature', async () => {
    const [h, , s] = vector.token.split('.');
    const payload = Buffer.from(JSON.stringify({ ...RFC7515_PAYLOAD, iss: 'eve' })).toString('base64url');
    const result = await verifyToken(`${h}.${payload}.${s}`, { issuer: 'eve', audience: 'a', jwks, currentDate: new Date(BEFORE_RFC_EXPIRY) });
    expect(result.reason).toBe('bad_signature');
    expect(ok(result, 'signature')).toBe(false);
  });

  it('decode shows the RFC claims and no verification', () => {
    expect(decodeToken(vector.token)).toEqual({ format: 'jws', header: { alg }, payload: RFC7515_PAYLOAD, signature_present: true });
  });
});

describe('RFC 8037 §A.4 (Ed25519, payload "Example of Ed25519 signing")', () => {
  it('the verifier\'s key set finds the RFC key for alg EdDSA and the signature verifies with it', async () => {
    const keys = localKeySet({ keys: [RFC8037_A4.jwk] });
    expect(await keys.algorithms()).toContain('EdDSA');
    const candidates = await keys.candidates({ alg: 'EdDSA' });
    expect(candidates).toHaveLength(1);
    const { payload } = await compactVerify(RFC8037_A4.token, candidates[0]!.key, { algorithms: ['EdDSA'] });
    expect(new TextDecoder().decode(payload)).toBe(RFC8037_A4.payload);
  });

  it('decode says not a JWT: the payload is not a JSON object', () => {
    expect(() => decodeToken(RFC8037_A4.token)).toThrow(TokenRejectedError);
    expect(() => decodeToken(RFC8037_A4.token)).toThrow(/not a JWT/);
  });

  it('verify reports it malformed (a JWS, but not a JWT) rather than throwing', async () => {
    const result = await verifyToken(RFC8037_A4.token, { issuer: 'x', audience: 'y', jwks: { keys: [RFC8037_A4.jwk] } });
    expect(result).toMatchObject({ valid: false, reason: 'malformed', header: null, payload: null });
    expect(result.checks[0]).toMatchObject({ name: 'format', ok: false });
    expect(result.checks[0]!.detail).toMatch(/not a JWT/);
  });

  it('a JWT signed with the same RFC 8037 key shape (Ed25519 JWK) verifies through verifyToken', async () => {
    // The RFC private key d (§A.1) re-signs a JWT payload: deterministic, so the key import path is the RFC's.
    const { importJWK, SignJWT } = await import('jose');
    const priv = await importJWK({ ...RFC8037_A4.jwk, d: 'nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A' }, 'EdDSA');
    const token = await new SignJWT({ iss: 'joe', aud: 'a', exp: 2_000_000_000 }).setProtectedHeader({ alg: 'EdDSA' }).sign(priv);
    const result = await verifyToken(token, { issuer: 'joe', audience: 'a', jwks: { keys: [RFC8037_A4.jwk] }, currentDate: new Date(BEFORE_RFC_EXPIRY) });
    expect(result).toMatchObject({ valid: true, reason: null });
  });

  it('the fully-specified alg "Ed25519" (RFC 9864) works with the same key', async () => {
    const { importJWK, SignJWT } = await import('jose');
    const priv = await importJWK({ ...RFC8037_A4.jwk, d: 'nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A' }, 'Ed25519');
    const token = await new SignJWT({ iss: 'joe', aud: 'a', exp: 2_000_000_000 }).setProtectedHeader({ alg: 'Ed25519' }).sign(priv);
    const result = await verifyToken(token, { issuer: 'joe', audience: 'a', jwks: { keys: [RFC8037_A4.jwk] }, currentDate: new Date(BEFORE_RFC_EXPIRY) });
    expect(result).toMatchObject({ valid: true, reason: null });
  });
});

describe('RFC 7519 §3.1 (HS256 with the RFC 7515 §A.1 key)', () => {
  const keyBytes = Buffer.from(RFC7519_3_1.k, 'base64url');

  it('decode shows the header and claims', () => {
    expect(decodeToken(RFC7519_3_1.token)).toEqual({
      format: 'jws',
      header: RFC7519_3_1.header,
      payload: RFC7515_PAYLOAD,
      signature_present: true,
    });
  });

  it('verifies with the shared secret (the key bytes from the JWK k); only aud is missing', async () => {
    expect(keyBytes).toHaveLength(64);
    const result = await verifyJwt(RFC7519_3_1.token, {
      issuer: 'joe',
      audience: ['anyone'],
      keys: secretKeySet(new Uint8Array(keyBytes)),
      now: BEFORE_RFC_EXPIRY,
    });
    expect(ok(result, 'algorithm')).toBe(true);
    expect(ok(result, 'signature')).toBe(true);
    expect(failing(result)).toEqual(['audience']);
    expect(result.reason).toBe('wrong_audience');
  });

  it('the library verifies it with the key bytes as `secret`', async () => {
    const result = await verifyToken(RFC7519_3_1.token, { issuer: 'joe', audience: 'a', secret: new Uint8Array(keyBytes), currentDate: new Date(BEFORE_RFC_EXPIRY) });
    expect(ok(result, 'signature')).toBe(true);
    expect(failing(result)).toEqual(['audience']);
  });

  it('a wrong secret is a bad signature', async () => {
    const result = await verifyToken(RFC7519_3_1.token, { issuer: 'joe', audience: 'a', secret: 'not the key', currentDate: new Date(BEFORE_RFC_EXPIRY) });
    expect(ok(result, 'signature')).toBe(false);
    expect(result.reason).toBe('bad_signature');
  });

  it('without a secret (a public key set) HS256 is never accepted', async () => {
    const result = await verifyToken(RFC7519_3_1.token, { issuer: 'joe', audience: 'a', jwks: { keys: [RFC7515_A2.jwk] }, currentDate: new Date(BEFORE_RFC_EXPIRY) });
    expect(result.reason).toBe('algorithm_not_allowed');
    expect(ok(result, 'algorithm')).toBe(false);
    expect(ok(result, 'signature')).toBe(false);
  });

  it('even when HS256 is put in the allow-list next to a public key set', async () => {
    const result = await verifyToken(RFC7519_3_1.token, {
      issuer: 'joe',
      audience: 'a',
      jwks: { keys: [RFC7515_A2.jwk] },
      algorithms: ['HS256', 'RS256'],
      currentDate: new Date(BEFORE_RFC_EXPIRY),
    });
    expect(result.reason).toBe('algorithm_not_allowed');
  });
});
