/** Properties of decode and verify over arbitrary input and over single-character edits of real tokens. */
import { beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { AuthbridgeError, REASON_CODES, decodeToken, verifyToken } from '../../src/index.js';
import { localKeySet, type KeySet } from '../../src/jwt/keys.js';
import { verifyJwt, type VerifyOptions } from '../../src/jwt/verify.js';
import { verifySignatureSync } from '../../src/jwt/jws.js';
import { jwks, makeKey, sign, type Alg, type TestKey } from '../helpers/keys.js';
import { b64u } from './fixtures.js';

const NOW = 1_800_000_000;
const ISS = 'https://idp.test';
const ALGS: Alg[] = ['RS256', 'PS256', 'ES256', 'ES384', 'EdDSA'];
const BASE64URL_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

interface Signed {
  key: TestKey;
  keySet: KeySet;
  token: string;
}
const signed: Signed[] = [];
let allKeys: KeySet;

beforeAll(async () => {
  const keys = await Promise.all(ALGS.map((alg) => makeKey(alg)));
  for (const key of keys) {
    const token = await sign(key, { nonce: 'n-1', tenant: 'acme' }, { now: NOW, header: { typ: 'JWT' } });
    signed.push({ key, keySet: localKeySet(jwks(key)), token });
  }
  allKeys = localKeySet(jwks(...keys));
});

function options(keys: KeySet): VerifyOptions {
  return {
    issuer: ISS,
    audience: ['cli'],
    keys,
    now: NOW * 1000,
    maxAge: 3600,
    nonce: 'n-1',
    claims: [{ name: 'tenant', value: 'acme' }],
    type: 'id',
  };
}

/** Strings that look more or less like tokens: segments of base64url, of encoded JSON, of junk. */
const segment = fc.oneof(
  fc.string(),
  fc.stringMatching(/^[A-Za-z0-9_-]{0,40}$/),
  fc.jsonValue().map((v) => b64u(JSON.stringify(v) ?? 'null')),
  fc
    .record(
      {
        alg: fc.constantFrom('none', 'HS256', 'RS256', 'ES256', 'EdDSA', 'ES512', 'nOnE'),
        kid: fc.jsonValue(),
        typ: fc.oneof(fc.constantFrom('JWT', 'at+jwt'), fc.jsonValue()),
        crit: fc.jsonValue(),
        jku: fc.webUrl(),
      },
      { requiredKeys: [] },
    )
    .map((h) => b64u(h)),
  fc
    .record(
      {
        iss: fc.oneof(fc.constant(ISS), fc.jsonValue()),
        aud: fc.oneof(fc.constant('cli'), fc.jsonValue()),
        exp: fc.oneof(fc.integer(), fc.double(), fc.jsonValue()),
        nbf: fc.oneof(fc.integer(), fc.jsonValue()),
        iat: fc.oneof(fc.integer(), fc.jsonValue()),
        auth_time: fc.oneof(fc.integer(), fc.jsonValue()),
        nonce: fc.jsonValue(),
        tenant: fc.jsonValue(),
      },
      { requiredKeys: [] },
    )
    .map((p) => b64u(p)),
);
const tokenLike = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.array(segment, { minLength: 1, maxLength: 6 }).map((parts) => parts.join('.')),
  fc.tuple(fc.constantFrom('', 'Bearer ', ' bearer\t', '\n'), fc.array(segment, { minLength: 3, maxLength: 3 })).map(
    ([prefix, parts]) => `${prefix}${parts.join('.')}`,
  ),
);

describe('arbitrary input', () => {
  it('decodeToken returns a decoded token or throws an AuthbridgeError (exit 1), nothing else', () => {
    fc.assert(
      fc.property(tokenLike, (input) => {
        try {
          const decoded = decodeToken(input);
          expect(['jws', 'jwe']).toContain(decoded.format);
          expect(typeof decoded.header).toBe('object');
        } catch (err) {
          expect(err).toBeInstanceOf(AuthbridgeError);
          expect((err as AuthbridgeError).exitCode).toBe(1);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('verifyJwt resolves to a result (never throws) and never calls such input valid', async () => {
    await fc.assert(
      fc.asyncProperty(tokenLike, async (input) => {
        const result = await verifyJwt(input, options(allKeys));
        expect(result.valid).toBe(false);
        expect(REASON_CODES).toContain(result.reason);
        expect(result.checks.length).toBeGreaterThan(0);
        expect(result.checks.some((c) => !c.ok)).toBe(true);
        // What --json prints must serialise.
        expect(() => JSON.stringify(result)).not.toThrow();
      }),
      { numRuns: 300 },
    );
  });

  it('verifyToken (the library) resolves to a result for arbitrary strings', async () => {
    const jwksDoc = jwks(signed[2]!.key);
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 120 }), async (input) => {
        const result = await verifyToken(input, { issuer: ISS, audience: 'cli', jwks: jwksDoc, currentDate: new Date(NOW * 1000) });
        expect(result.valid).toBe(false);
        expect(result.reason).not.toBeNull();
      }),
      { numRuns: 100 },
    );
  });
});

/** True when `b` is not a base64url segment or decodes to other bytes than `a`. */
function decodedDiffers(a: string, b: string): boolean {
  if (!/^[A-Za-z0-9_-]*$/.test(b)) return true;
  return !Buffer.from(a, 'base64url').equals(Buffer.from(b, 'base64url'));
}

describe('tokens signed with key K', () => {
  it('verify with K\'s JWKS whatever else they claim, and not with another key\'s', async () => {
    const extra = fc.dictionary(fc.string({ minLength: 1, maxLength: 12 }).map((k) => `x_${k}`), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 });
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: ALGS.length - 1 }), extra, fc.string(), async (which, claims, sub) => {
        const { key, keySet } = signed[which]!;
        const token = await sign(key, { ...claims, sub, nonce: 'n-1', tenant: 'acme' }, { now: NOW });
        const result = await verifyJwt(token, options(keySet));
        expect(result).toMatchObject({ valid: true, reason: null });
        expect(result.payload).toMatchObject({ sub });
        // A batch worker checks signatures on its own thread: the same answer.
        expect(await verifyJwt(token, { ...options(keySet), checkSignature: verifySignatureSync })).toEqual(result);
        const other = signed[(which + 1) % signed.length]!;
        expect((await verifyJwt(token, options(other.keySet))).valid).toBe(false);
      }),
      { numRuns: 100 },
    );
  });

  it('fail after any single-character change to header, payload or signature', async () => {
    const edit = fc.record({
      which: fc.integer({ min: 0, max: ALGS.length - 1 }),
      part: fc.constantFrom(0, 1, 2),
      at: fc.nat(),
      char: fc.oneof(
        { weight: 8, arbitrary: fc.constantFrom(...BASE64URL_CHARS) },
        { weight: 1, arbitrary: fc.constantFrom('.', '=', '+', '/', ' ', '\0', 'é', '\n') },
      ),
    });
    let counted = 0;
    await fc.assert(
      fc.asyncProperty(edit, async ({ which, part, at, char }) => {
        const { token, keySet } = signed[which]!;
        const parts = token.split('.');
        const original = parts[part]!;
        const i = at % original.length;
        fc.pre(original[i] !== char);
        const changed = original.slice(0, i) + char + original.slice(i + 1);
        // The signature covers the header and payload text, so any edit there must fail; an edit
        // to the signature's last character can leave its bytes unchanged (unused low bits).
        fc.pre(part !== 2 || decodedDiffers(original, changed));
        parts[part] = changed;
        const result = await verifyJwt(parts.join('.'), options(keySet));
        expect(result.valid).toBe(false);
        expect(result.reason).not.toBeNull();
        expect(await verifyJwt(parts.join('.'), { ...options(keySet), checkSignature: verifySignatureSync })).toEqual(result);
        counted++;
      }),
      { numRuns: 200 },
    );
    expect(counted).toBeGreaterThan(150);
  });
});
