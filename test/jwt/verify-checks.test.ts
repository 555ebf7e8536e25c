/** Every check of `verify`, one pass and one or more fail rows each, for every accepted key type. */
import { beforeAll, describe, expect, it } from 'vitest';
import { SignJWT, type JWTPayload } from 'jose';
import { localKeySet } from '../../src/jwt/keys.js';
import { verifyJwt, type VerifyOptions, type VerifyResult } from '../../src/jwt/verify.js';
import { jwks, makeKey, sign, type Alg, type TestKey } from '../helpers/keys.js';
import { b64u } from './fixtures.js';

const NOW = 1_800_000_000; // 2027-01-15T08:00:00Z, seconds
const ISS = 'https://idp.test';
const AUD = 'cli';
const ALGS: Alg[] = ['RS256', 'PS256', 'ES256', 'ES384', 'EdDSA'];

const keys = new Map<Alg, TestKey>();
/** Same kid and algorithm as the real key, another key pair: a forger. */
const impostors = new Map<Alg, TestKey>();

beforeAll(async () => {
  await Promise.all(
    ALGS.map(async (alg) => {
      keys.set(alg, await makeKey(alg));
      impostors.set(alg, await makeKey(alg));
    }),
  );
});

function options(key: TestKey, extra: Partial<VerifyOptions> = {}): VerifyOptions {
  return { issuer: ISS, audience: [AUD], keys: localKeySet(jwks(key)), now: NOW * 1000, ...extra };
}

function check(result: VerifyResult, name: string) {
  const found = result.checks.find((c) => c.name === name);
  if (!found) throw new Error(`no "${name}" check in ${JSON.stringify(result.checks.map((c) => c.name))}`);
  return found;
}

interface Row {
  name: string;
  /** The check that must be reported with `ok`. */
  check: string;
  claims?: JWTPayload;
  header?: Record<string, unknown>;
  options?: Partial<VerifyOptions>;
  /** Sign with the impostor key (same kid) instead. */
  forged?: boolean;
  /** Remove these claims from the defaults (iss, aud, sub, iat, exp). */
  without?: string[];
  /** Checks that fail as a consequence (a key not looked up, a signature not checked). */
  cascade?: string[];
  ok: boolean;
  reason: string | null;
}

/**
 * Signs the defaults (iss, aud, sub, iat NOW, exp NOW+1h) plus `claims`, minus `without`.
 * Extension parameters named in `crit` are declared understood to jose, so it will sign them.
 */
async function token(key: TestKey, row: Pick<Row, 'claims' | 'header' | 'without'>): Promise<string> {
  const claims: JWTPayload = { iss: ISS, aud: AUD, sub: 'alice', iat: NOW, exp: NOW + 3600, ...row.claims };
  for (const name of row.without ?? []) delete claims[name];
  const crit = Array.isArray(row.header?.crit) ? Object.fromEntries((row.header.crit as string[]).map((c) => [c, true])) : undefined;
  return new SignJWT(claims).setProtectedHeader({ alg: key.alg, kid: key.kid, ...row.header }).sign(key.privateKey, { crit });
}

const rows: Row[] = [
  // format
  { name: 'a well-formed JWS', check: 'format', ok: true, reason: null },
  { name: 'an unknown crit header', check: 'format', header: { crit: ['urn:example:unknown'], 'urn:example:unknown': 1 }, cascade: ['key', 'signature'], ok: false, reason: 'malformed' },
  // algorithm
  { name: 'alg in the default allow-list', check: 'algorithm', ok: true, reason: null },
  { name: 'alg outside --algorithms', check: 'algorithm', options: { algorithms: ['RS512'] }, cascade: ['key', 'signature'], ok: false, reason: 'algorithm_not_allowed' },
  // key
  { name: 'kid found in the JWKS', check: 'key', ok: true, reason: null },
  { name: 'kid not in the JWKS', check: 'key', header: { kid: 'rotated-away' }, cascade: ['signature'], ok: false, reason: 'no_matching_key' },
  // signature
  { name: 'signed by the key', check: 'signature', ok: true, reason: null },
  { name: 'signed by another key with the same kid', check: 'signature', forged: true, ok: false, reason: 'bad_signature' },
  // issuer
  { name: 'iss as expected', check: 'issuer', ok: true, reason: null },
  { name: 'another iss', check: 'issuer', claims: { iss: 'https://evil.test' }, ok: false, reason: 'wrong_issuer' },
  { name: 'iss with a trailing slash (exact match)', check: 'issuer', claims: { iss: `${ISS}/` }, ok: false, reason: 'wrong_issuer' },
  { name: 'no iss', check: 'issuer', without: ['iss'], ok: false, reason: 'wrong_issuer' },
  // audience
  { name: 'aud string as expected', check: 'audience', ok: true, reason: null },
  { name: 'aud array containing it', check: 'audience', claims: { aud: ['other', AUD] }, ok: true, reason: null },
  { name: 'aud matching the second accepted audience', check: 'audience', claims: { aud: 'api' }, options: { audience: [AUD, 'api'] }, ok: true, reason: null },
  { name: 'another aud', check: 'audience', claims: { aud: 'other' }, ok: false, reason: 'wrong_audience' },
  { name: 'aud array without it', check: 'audience', claims: { aud: ['a', 'b'] }, ok: false, reason: 'wrong_audience' },
  { name: 'no aud', check: 'audience', without: ['aud'], ok: false, reason: 'wrong_audience' },
  // expiry
  { name: 'exp in the future', check: 'expiry', ok: true, reason: null },
  { name: 'exp in the past', check: 'expiry', claims: { exp: NOW - 60 }, ok: false, reason: 'expired' },
  { name: 'exp exactly now', check: 'expiry', claims: { exp: NOW }, ok: false, reason: 'expired' },
  { name: 'exp in the past within the clock tolerance', check: 'expiry', claims: { exp: NOW - 60 }, options: { clockTolerance: 120 }, ok: true, reason: null },
  { name: 'no exp', check: 'expiry', without: ['exp'], ok: false, reason: 'missing_claim' },
  { name: 'exp not a number', check: 'expiry', claims: { exp: 'tomorrow' as unknown as number }, ok: false, reason: 'missing_claim' },
  // not_before
  { name: 'nbf in the past', check: 'not_before', claims: { nbf: NOW - 10 }, ok: true, reason: null },
  { name: 'nbf in the future', check: 'not_before', claims: { nbf: NOW + 600 }, ok: false, reason: 'not_yet_valid' },
  { name: 'nbf in the future within the clock tolerance', check: 'not_before', claims: { nbf: NOW + 60 }, options: { clockTolerance: 120 }, ok: true, reason: null },
  { name: 'iat in the future', check: 'not_before', claims: { iat: NOW + 600 }, ok: false, reason: 'not_yet_valid' },
  // max_age
  { name: 'auth_time within max-age', check: 'max_age', claims: { auth_time: NOW - 100 }, options: { maxAge: 300 }, ok: true, reason: null },
  { name: 'auth_time older than max-age', check: 'max_age', claims: { auth_time: NOW - 1000 }, options: { maxAge: 300 }, ok: false, reason: 'too_old' },
  { name: 'no auth_time: iat older than max-age', check: 'max_age', claims: { iat: NOW - 1000 }, options: { maxAge: 300 }, ok: false, reason: 'too_old' },
  { name: 'neither auth_time nor iat', check: 'max_age', without: ['iat'], options: { maxAge: 300 }, ok: false, reason: 'missing_claim' },
  // nonce
  { name: 'nonce matches', check: 'nonce', claims: { nonce: 'n-0S6' }, options: { nonce: 'n-0S6' }, ok: true, reason: null },
  { name: 'nonce differs', check: 'nonce', claims: { nonce: 'other' }, options: { nonce: 'n-0S6' }, ok: false, reason: 'claim_mismatch' },
  { name: 'nonce missing', check: 'nonce', options: { nonce: 'n-0S6' }, ok: false, reason: 'missing_claim' },
  // claim
  { name: 'claim string equal', check: 'claim tenant', claims: { tenant: 'acme' }, options: { claims: [{ name: 'tenant', value: 'acme' }] }, ok: true, reason: null },
  { name: 'claim array containing the value', check: 'claim groups', claims: { groups: ['dev', 'ops'] }, options: { claims: [{ name: 'groups', value: 'ops' }] }, ok: true, reason: null },
  { name: 'claim number equal to its text', check: 'claim level', claims: { level: 5 }, options: { claims: [{ name: 'level', value: '5' }] }, ok: true, reason: null },
  { name: 'claim different', check: 'claim tenant', claims: { tenant: 'umbrella' }, options: { claims: [{ name: 'tenant', value: 'acme' }] }, ok: false, reason: 'claim_mismatch' },
  { name: 'claim array without the value', check: 'claim groups', claims: { groups: ['dev'] }, options: { claims: [{ name: 'groups', value: 'ops' }] }, ok: false, reason: 'claim_mismatch' },
  { name: 'claim an object', check: 'claim tenant', claims: { tenant: { id: 'acme' } }, options: { claims: [{ name: 'tenant', value: '[object Object]' }] }, ok: false, reason: 'claim_mismatch' },
  { name: 'claim missing', check: 'claim tenant', options: { claims: [{ name: 'tenant', value: 'acme' }] }, ok: false, reason: 'missing_claim' },
  // type
  { name: 'access token with typ at+jwt', check: 'type', header: { typ: 'at+jwt' }, options: { type: 'access' }, ok: true, reason: null },
  { name: 'access token with typ application/at+jwt', check: 'type', header: { typ: 'application/at+jwt' }, options: { type: 'access' }, ok: true, reason: null },
  { name: 'access token with typ JWT', check: 'type', header: { typ: 'JWT' }, options: { type: 'access' }, ok: false, reason: 'wrong_type' },
  { name: 'access token without typ', check: 'type', options: { type: 'access' }, ok: false, reason: 'wrong_type' },
  { name: 'ID token with typ JWT', check: 'type', header: { typ: 'JWT' }, options: { type: 'id' }, ok: true, reason: null },
  { name: 'ID token without typ', check: 'type', options: { type: 'id' }, ok: true, reason: null },
  { name: 'ID token with typ at+jwt', check: 'type', header: { typ: 'at+jwt' }, options: { type: 'id' }, ok: false, reason: 'wrong_type' },
  // azp
  { name: 'azp equal to the authorized party', check: 'azp', claims: { azp: AUD }, options: { authorizedParty: AUD }, ok: true, reason: null },
  { name: 'azp naming another client', check: 'azp', claims: { azp: 'other-app' }, options: { authorizedParty: AUD }, ok: false, reason: 'wrong_audience' },
];

describe.each(ALGS)('verify with %s keys', (alg) => {
  it.each(rows)('$check: $name', async (row) => {
    const key = keys.get(alg)!;
    const signer = row.forged ? impostors.get(alg)! : key;
    const result = await verifyJwt(await token(signer, row), options(key, row.options));
    expect(check(result, row.check).ok).toBe(row.ok);
    expect(result.reason).toBe(row.reason);
    expect(result.valid).toBe(row.reason === null);
    // Every check is reported; only the row's own check fails (and what cannot be done without it).
    const failing = result.checks.filter((c) => !c.ok).map((c) => c.name);
    expect(failing.sort()).toEqual(row.ok ? [] : [row.check, ...(row.cascade ?? [])].sort());
  });
});

describe('checks reported', () => {
  it('reports format, algorithm, key, signature, issuer, audience, expiry, not_before for a plain token, in that order', async () => {
    const key = keys.get('ES256')!;
    const result = await verifyJwt(await sign(key, {}, { now: NOW }), options(key));
    expect(result.checks.map((c) => c.name)).toEqual(['format', 'algorithm', 'key', 'signature', 'issuer', 'audience', 'expiry', 'not_before']);
    expect(result.payload).toMatchObject({ iss: ISS, aud: AUD, sub: 'alice' });
    expect(result.header).toEqual({ alg: 'ES256', kid: key.kid });
  });

  it('adds max_age, nonce, claim, azp and type checks only when asked', async () => {
    const key = keys.get('EdDSA')!;
    const t = await sign(key, { nonce: 'n', auth_time: NOW, azp: AUD, role: 'admin' }, { now: NOW, header: { typ: 'JWT' } });
    const result = await verifyJwt(
      t,
      options(key, { maxAge: 60, nonce: 'n', claims: [{ name: 'role', value: 'admin' }], authorizedParty: AUD, type: 'id' }),
    );
    expect(result).toMatchObject({ valid: true, reason: null });
    expect(result.checks.map((c) => c.name)).toEqual(
      expect.arrayContaining(['max_age', 'nonce', 'claim role', 'azp', 'type']),
    );
  });

  it('reports the key that verified and the algorithm in the details', async () => {
    const key = keys.get('PS256')!;
    const result = await verifyJwt(await sign(key, {}, { now: NOW }), options(key));
    expect(check(result, 'key').detail).toContain(`kid "${key.kid}"`);
    expect(check(result, 'signature').detail).toContain('PS256');
  });

  it('--type access on a typ "JWT" access token explains who types them so', async () => {
    const key = keys.get('PS256')!;
    const result = await verifyJwt(await sign(key, {}, { now: NOW, header: { typ: 'JWT' } }), options(key, { type: 'access' }));
    expect(check(result, 'type').detail).toBe(
      'typ is "JWT", expected "at+jwt" for an access token (RFC 9068); Keycloak, Okta, Entra ID, Auth0 and LemonLDAP::NG type theirs "JWT": leave out --type to check the rest (the broker takes them by their scope/client claims)',
    );
  });

  it('verifies a token without kid against the one key that fits its algorithm', async () => {
    const es = keys.get('ES256')!;
    const rs = keys.get('RS256')!;
    const t = await new SignJWT({ iss: ISS, aud: AUD, exp: NOW + 60 }).setProtectedHeader({ alg: 'ES256' }).sign(es.privateKey);
    const result = await verifyJwt(t, { ...options(es), keys: localKeySet(jwks(rs, impostors.get('ES256')!, es)) });
    expect(result).toMatchObject({ valid: true, reason: null });
  });

  it('refuses an algorithm the token names but the key type cannot do (ES256 token, only RSA keys)', async () => {
    const result = await verifyJwt(await sign(keys.get('ES256')!, {}, { now: NOW }), options(keys.get('RS256')!));
    expect(result.reason).toBe('algorithm_not_allowed');
    expect(check(result, 'algorithm').ok).toBe(false);
  });
});

interface OrderRow {
  name: string;
  claims?: JWTPayload;
  header?: Record<string, unknown>;
  options?: Partial<VerifyOptions>;
  forged?: boolean;
  failing: string[];
  reason: string;
}

// The contract's order: malformed, algorithm_not_allowed, no_matching_key, bad_signature,
// wrong_issuer, wrong_audience, expired, not_yet_valid, too_old, missing_claim, claim_mismatch, wrong_type.
const orderRows: OrderRow[] = [
  { name: 'bad signature before expired', forged: true, claims: { exp: NOW - 1 }, failing: ['signature', 'expiry'], reason: 'bad_signature' },
  { name: 'wrong issuer before wrong audience and expired', claims: { iss: 'x', aud: 'y', exp: NOW - 1 }, failing: ['issuer', 'audience', 'expiry'], reason: 'wrong_issuer' },
  { name: 'wrong audience before wrong type', claims: { aud: 'y' }, header: { typ: 'JWT' }, options: { type: 'access' }, failing: ['audience', 'type'], reason: 'wrong_audience' },
  { name: 'expired before not yet valid', claims: { exp: NOW - 1, nbf: NOW + 100 }, failing: ['expiry', 'not_before'], reason: 'expired' },
  { name: 'not yet valid before too old', claims: { nbf: NOW + 100, auth_time: NOW - 1000 }, options: { maxAge: 10 }, failing: ['not_before', 'max_age'], reason: 'not_yet_valid' },
  { name: 'too old before missing claim', claims: { auth_time: NOW - 1000 }, options: { maxAge: 10, nonce: 'n' }, failing: ['max_age', 'nonce'], reason: 'too_old' },
  { name: 'missing claim before claim mismatch', claims: { nonce: 'other' }, options: { nonce: 'n', claims: [{ name: 'tenant', value: 'acme' }] }, failing: ['nonce', 'claim tenant'], reason: 'missing_claim' },
  { name: 'claim mismatch before wrong type', claims: { tenant: 'x' }, header: { typ: 'at+jwt' }, options: { type: 'id', claims: [{ name: 'tenant', value: 'acme' }] }, failing: ['claim tenant', 'type'], reason: 'claim_mismatch' },
  { name: 'no matching key before wrong issuer', header: { kid: 'unknown' }, claims: { iss: 'x' }, failing: ['key', 'signature', 'issuer'], reason: 'no_matching_key' },
  { name: 'algorithm not allowed before everything after it', options: { algorithms: ['ES512'] }, claims: { exp: NOW - 1 }, failing: ['algorithm', 'key', 'signature', 'expiry'], reason: 'algorithm_not_allowed' },
  { name: 'malformed (crit) before everything after it', header: { crit: ['x'], x: 1 }, claims: { aud: 'y' }, failing: ['format', 'key', 'signature', 'audience'], reason: 'malformed' },
];

describe('reason is the first failing check in the contract order', () => {
  it.each(orderRows)('$name', async (row) => {
    const key = keys.get('ES384')!;
    const signer = row.forged ? impostors.get('ES384')! : key;
    const result = await verifyJwt(await token(signer, row), options(key, row.options));
    expect(result.valid).toBe(false);
    expect(result.reason).toBe(row.reason);
    expect(result.checks.filter((c) => !c.ok).map((c) => c.name)).toEqual(row.failing);
  });
});

describe('hand-made headers', () => {
  it('a token whose header lacks alg is malformed', async () => {
    const key = keys.get('ES256')!;
    const good = await sign(key, {}, { now: NOW });
    const [, payload, signature] = good.split('.');
    const result = await verifyJwt(`${b64u({ kid: key.kid })}.${payload}.${signature}`, options(key));
    expect(result).toMatchObject({ valid: false, reason: 'malformed' });
    expect(check(result, 'format').ok).toBe(false);
  });
});
