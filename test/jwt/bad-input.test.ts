/** Bad input for decode and verify: a one-line rejection, never a crash, never a key from the token. */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignJWT, UnsecuredJWT, exportJWK, exportSPKI, generateKeyPair } from 'jose';
import { AuthbridgeError, RemoteError, TokenRejectedError, UsageError, decodeToken, verifyToken } from '../../src/index.js';
import { localKeySet } from '../../src/jwt/keys.js';
import { verifyJwt, type VerifyOptions } from '../../src/jwt/verify.js';
import { jwks, makeKey, sign, type TestKey } from '../helpers/keys.js';
import { b64u, sendJson, startServer, type TestServer } from './fixtures.js';

const NOW = 1_800_000_000;
const ISS = 'https://idp.test';

let rsa: TestKey;
let es: TestKey;
let good: string;

beforeAll(async () => {
  [rsa, es] = await Promise.all([makeKey('RS256'), makeKey('ES256')]);
  good = await sign(es, {}, { now: NOW });
});

function opts(...keys: TestKey[]): VerifyOptions {
  return { issuer: ISS, audience: ['cli'], keys: localKeySet(jwks(...keys)), now: NOW * 1000 };
}

const goodParts = () => good.split('.') as [string, string, string];

interface BadRow {
  name: string;
  input: () => string;
  /** What decode's message says after "could not decode token: ". */
  why: RegExp;
}

const bad: BadRow[] = [
  { name: 'empty input', input: () => '', why: /^empty input$/ },
  { name: 'only whitespace', input: () => ' \n\t ', why: /^empty input$/ },
  { name: 'only "Bearer "', input: () => 'Bearer   ', why: /not a JWT/ },
  { name: 'an opaque token (no dots)', input: () => 'ya29.a0AfH6SMB'.replace('.', ''), why: /^not a JWT \(opaque token\?\)$/ },
  { name: 'one dot', input: () => goodParts().slice(0, 2).join('.'), why: /^not a JWT \(opaque token\?\)$/ },
  { name: 'three dots', input: () => `${good}.extra`, why: /^not a JWT \(opaque token\?\)$/ },
  { name: 'four dots of junk', input: () => 'a.b.c.d.e', why: /not a JWT/ },
  { name: 'four dots, JWE header, a segment not base64url', input: () => `${b64u({ alg: 'dir', enc: 'A256GCM' })}..iv.ct!.tag`, why: /not a JWT.*not base64url/ },
  { name: 'two dots, empty segments', input: () => '..', why: /not a JWT/ },
  { name: 'a header segment that is not base64url', input: () => { const [, p, s] = goodParts(); return `eyJ!bGc.${p}.${s}`; }, why: /header/ },
  { name: 'a payload segment that is not base64url', input: () => { const [h, , s] = goodParts(); return `${h}.pay+load/.${s}`; }, why: /payload/ },
  { name: 'a signature segment that is not base64url', input: () => { const [h, p] = goodParts(); return `${h}.${p}.sig=`; }, why: /signature/ },
  { name: 'a segment of length 1 mod 4', input: () => { const [h, p] = goodParts(); return `${h}.${p}.abcde`; }, why: /signature/ },
  { name: 'a header that is not JSON', input: () => { const [, p, s] = goodParts(); return `${b64u('{alg: RS256}')}.${p}.${s}`; }, why: /header/ },
  { name: 'a header that is a JSON array', input: () => { const [, p, s] = goodParts(); return `${b64u('["alg"]')}.${p}.${s}`; }, why: /header/ },
  { name: 'a header that is not UTF-8', input: () => { const [, p, s] = goodParts(); return `${b64u(new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]))}.${p}.${s}`; }, why: /header/ },
  { name: 'a payload that is not JSON', input: () => { const [h, , s] = goodParts(); return `${h}.${b64u('hello world')}.${s}`; }, why: /payload/ },
  { name: 'a payload that is a JSON array', input: () => { const [h, , s] = goodParts(); return `${h}.${b64u('[1,2,3]')}.${s}`; }, why: /payload is not a base64url-encoded JSON object/ },
  { name: 'a payload that is a JSON string', input: () => { const [h, , s] = goodParts(); return `${h}.${b64u('"sub"')}.${s}`; }, why: /payload/ },
  { name: 'a payload that is a JSON number', input: () => { const [h, , s] = goodParts(); return `${h}.${b64u('42')}.${s}`; }, why: /payload/ },
  { name: 'a payload that is JSON null', input: () => { const [h, , s] = goodParts(); return `${h}.${b64u('null')}.${s}`; }, why: /payload/ },
  { name: 'an empty payload', input: () => { const [h, , s] = goodParts(); return `${h}..${s}`; }, why: /payload/ },
  { name: 'NUL bytes inside a segment', input: () => { const [h, p, s] = goodParts(); return `${h}.${p.slice(0, 5)}\0${p.slice(5)}.${s}`; }, why: /payload/ },
  { name: 'only NUL bytes and dots', input: () => '\0.\0.\0', why: /header/ },
  { name: '1 MB of random base64url with two dots', input: () => `${randomBytes(400_000).toString('base64url')}.${randomBytes(300_000).toString('base64url')}.x`, why: /not a JWT/ },
  { name: '1 MB of binary garbage', input: () => randomBytes(1 << 20).toString('latin1'), why: /not a JWT/ },
];

describe('decode rejects what is not a JWT', () => {
  it.each(bad)('$name', (row) => {
    let thrown: unknown;
    try {
      decodeToken(row.input());
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(TokenRejectedError);
    const err = thrown as TokenRejectedError;
    expect(err.exitCode).toBe(1);
    expect(err.message).toMatch(/^could not decode token: /);
    expect(err.message.replace(/^could not decode token: /, '')).toMatch(row.why);
    expect(err.message).not.toContain('\n');
  });

  it('reports a JWE (four dots, JSON header) as encrypted with its header', () => {
    const header = { alg: 'RSA-OAEP-256', enc: 'A256GCM', kid: 'enc-1' };
    const token = [b64u(header), b64u(randomBytes(256)), b64u(randomBytes(12)), b64u(randomBytes(40)), b64u(randomBytes(16))].join('.');
    expect(decodeToken(token)).toEqual({ format: 'jwe', header, payload: null, signature_present: false });
  });

  it('accepts "Bearer " (any case) and surrounding whitespace', () => {
    const expected = decodeToken(good);
    expect(decodeToken(`  Bearer ${good}\n`)).toEqual(expected);
    expect(decodeToken(`bearer\t${good}`)).toEqual(expected);
    expect(expected.payload).toMatchObject({ iss: ISS, aud: 'cli', sub: 'alice' });
  });
});

describe('verify reports what is not a JWT as malformed', () => {
  it.each(bad)('$name', async (row) => {
    const result = await verifyJwt(row.input(), opts(es));
    expect(result.valid).toBe(false);
    expect(result.reason).toBe('malformed');
    expect(result.checks).toHaveLength(1);
    expect(result.checks[0]).toMatchObject({ name: 'format', ok: false });
    expect(result.checks[0]!.detail).toMatch(row.why);
    expect(result.payload).toBeNull();
  });

  it('a JWE is malformed for verify ("decrypt it first"), with its header', async () => {
    const token = [b64u({ alg: 'dir', enc: 'A128GCM' }), '', b64u('iv'), b64u('ct'), b64u('tag')].join('.');
    const result = await verifyJwt(token, opts(es));
    expect(result).toMatchObject({ valid: false, reason: 'malformed', header: { alg: 'dir', enc: 'A128GCM' }, payload: null });
    expect(result.checks[0]!.detail).toMatch(/encrypted/);
  });
});

describe('alg none', () => {
  it('an unsecured JWT (alg none, empty signature) is never accepted: algorithm_not_allowed', async () => {
    const token = new UnsecuredJWT({ iss: ISS, aud: 'cli', exp: NOW + 60 }).encode();
    expect(token.endsWith('.')).toBe(true);
    const result = await verifyJwt(token, opts(es));
    expect(result.valid).toBe(false);
    expect(result.reason).toBe('algorithm_not_allowed');
    expect(result.checks.find((c) => c.name === 'algorithm')).toMatchObject({ ok: false, detail: expect.stringMatching(/none/) });
    expect(result.checks.find((c) => c.name === 'signature')?.ok).toBe(false);
  });

  it('a signing alg with an empty signature is malformed', async () => {
    const [h, p] = goodParts();
    const result = await verifyJwt(`${h}.${p}.`, opts(es));
    expect(result.reason).toBe('malformed');
    expect(result.checks[0]).toMatchObject({ name: 'format', ok: false, detail: 'the token has no signature' });
  });

  it('alg none with a signature copied from a real token is still refused', async () => {
    const [, p, s] = goodParts();
    const result = await verifyJwt(`${b64u({ alg: 'none', kid: es.kid })}.${p}.${s}`, opts(es));
    expect(result.reason).toBe('algorithm_not_allowed');
  });

  it.each(['none', 'None', 'NONE'])('"%s" in --algorithms is a usage error', async (alg) => {
    await expect(verifyToken(good, { issuer: ISS, audience: 'cli', jwks: jwks(es), algorithms: [alg] })).rejects.toBeInstanceOf(UsageError);
  });

  it('decode shows an unsecured JWT with signature_present false', () => {
    const token = new UnsecuredJWT({ sub: 'x' }).encode();
    expect(decodeToken(token)).toEqual({ format: 'jws', header: { alg: 'none' }, payload: { sub: 'x' }, signature_present: false });
  });
});

describe('HS256 signed with the RSA public key as the HMAC secret (key confusion)', () => {
  let forged: string;
  beforeAll(async () => {
    const pem = await exportSPKI((await import('node:crypto')).createPublicKey({ key: rsa.publicJwk as never, format: 'jwk' }));
    forged = await new SignJWT({ iss: ISS, aud: 'cli', exp: NOW + 600 })
      .setProtectedHeader({ alg: 'HS256', kid: rsa.kid })
      .sign(new TextEncoder().encode(pem));
  });

  it('is algorithm_not_allowed with the default allow-list', async () => {
    const result = await verifyJwt(forged, opts(rsa));
    expect(result).toMatchObject({ valid: false, reason: 'algorithm_not_allowed' });
    expect(result.checks.filter((c) => !c.ok).map((c) => c.name)).toEqual(['algorithm', 'key', 'signature']);
  });

  it('is algorithm_not_allowed even with HS256 in --algorithms, without --secret', async () => {
    const result = await verifyJwt(forged, { ...opts(rsa), algorithms: ['HS256', 'RS256'] });
    expect(result).toMatchObject({ valid: false, reason: 'algorithm_not_allowed' });
  });

  it('the same holds through verifyToken with the JWK', async () => {
    const result = await verifyToken(forged, { issuer: ISS, audience: 'cli', jwks: jwks(rsa), currentDate: new Date(NOW * 1000) });
    expect(result.reason).toBe('algorithm_not_allowed');
  });
});

describe('crit', () => {
  it.each([
    ['an unknown extension', ['urn:example:must-understand']],
    ['b64 (RFC 7797), not supported', ['b64']],
    ['an empty list', []],
    ['not a list', 'exp'],
  ])('a crit header with %s is malformed', async (_name, crit) => {
    const [, p, s] = goodParts();
    const header = { alg: 'ES256', kid: es.kid, crit, 'urn:example:must-understand': true, b64: true };
    const result = await verifyJwt(`${b64u(header)}.${p}.${s}`, opts(es));
    expect(result.reason).toBe('malformed');
    expect(result.checks[0]).toMatchObject({ name: 'format', ok: false, detail: expect.stringMatching(/critical/) });
  });
});

describe('jku, x5u, jwk and x5c headers are never used', () => {
  let server: TestServer;
  let attacker: TestKey;
  beforeAll(async () => {
    attacker = await makeKey('ES256', 'attacker');
    server = await startServer((_req, res) => sendJson(res, jwks(attacker)));
  });
  afterAll(() => server.close());

  it('a token signed by the attacker, naming the attacker\'s JWKS in jku and x5u: no_matching_key, no request', async () => {
    const token = await sign(attacker, {}, { now: NOW, header: { jku: `${server.url}/jku.json`, x5u: `${server.url}/x5u.pem` } });
    const result = await verifyJwt(token, opts(es));
    expect(result).toMatchObject({ valid: false, reason: 'no_matching_key' });
    expect(server.hits.size).toBe(0);
  });

  it('a token signed by the attacker with kid of the real key and an embedded jwk: bad_signature, no request', async () => {
    const token = await sign(attacker, {}, {
      now: NOW,
      header: { kid: es.kid, jku: `${server.url}/jku.json`, jwk: attacker.publicJwk },
    });
    const result = await verifyJwt(token, opts(es));
    expect(result).toMatchObject({ valid: false, reason: 'bad_signature' });
    expect(server.hits.size).toBe(0);
  });

  it('a genuine token that carries jku/x5u verifies with the configured keys and says the headers were ignored', async () => {
    const token = await sign(es, {}, { now: NOW, header: { jku: `${server.url}/jku.json`, x5u: `${server.url}/x5u.pem` } });
    const result = await verifyJwt(token, opts(es));
    expect(result).toMatchObject({ valid: true, reason: null });
    expect(result.checks[0]!.detail).toMatch(/jku, x5u ignored/);
    expect(server.hits.size).toBe(0);
  });

  it('keys are not discovered from the token\'s own iss either', async () => {
    const token = await sign(attacker, { iss: server.url }, { now: NOW });
    const result = await verifyJwt(token, { ...opts(es), issuer: server.url });
    expect(result.reason).toBe('no_matching_key');
    expect(server.hits.size).toBe(0);
  });
});

describe('a JWKS with no usable key', () => {
  it.each([
    ['no keys', { keys: [] }],
    ['only a symmetric key', { keys: [{ kty: 'oct', k: 'c2VjcmV0' }] }],
    ['only an encryption key', { keys: [{ kty: 'RSA', use: 'enc', n: 'AQAB', e: 'AQAB' }] }],
    ['only a key whose key_ops exclude verify', { keys: [{ kty: 'EC', crv: 'P-256', x: 'x', y: 'y', key_ops: ['encrypt'] }] }],
    ['only a key for an unknown alg', { keys: [{ kty: 'RSA', alg: 'RSA-OAEP', n: 'AQAB', e: 'AQAB' }] }],
    ['only an unknown key type', { keys: [{ kty: 'XYZ' }] }],
    ['entries that are not keys', { keys: [null, 1, 'k', []] }],
    ['not a JWKS at all', { kty: 'RSA' }],
  ])('%s: a usage error naming the problem', async (_name, doc) => {
    await expect(verifyToken(good, { issuer: ISS, audience: 'cli', jwks: doc as never })).rejects.toThrow(UsageError);
    await expect(verifyToken(good, { issuer: ISS, audience: 'cli', jwks: doc as never })).rejects.toThrow(
      /no usable signature verification key|not a JWKS/,
    );
  });

  it('a private key in the set is never used', async () => {
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    const priv = { ...(await exportJWK(privateKey)), kid: 'p' };
    await expect(verifyToken(good, { issuer: ISS, audience: 'cli', jwks: { keys: [priv] } })).rejects.toThrow(UsageError);
  });

  it('a malformed key next to a good one: the good one is used', async () => {
    const set = { keys: [{ kty: 'EC', crv: 'P-256', x: 'AA', y: 'AA', kid: es.kid }, es.publicJwk] };
    const result = await verifyToken(good, { issuer: ISS, audience: 'cli', jwks: set, currentDate: new Date(NOW * 1000) });
    expect(result).toMatchObject({ valid: true, reason: null });
  });

  it('a remote JWKS with no usable key is a remote error', async () => {
    const server = await startServer((_req, res) => sendJson(res, { keys: [{ kty: 'oct', k: 'c2VjcmV0' }] }));
    try {
      const err = await verifyToken(good, { issuer: ISS, audience: 'cli', jwksUri: `${server.url}/jwks` }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RemoteError);
      expect((err as AuthbridgeError).message).toMatch(/^could not use JWKS from .*: the key set has no usable signature verification key$/);
    } finally {
      await server.close();
    }
  });
});
