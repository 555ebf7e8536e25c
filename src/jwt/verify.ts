import type { KeyObject } from 'node:crypto';
import { UsageError } from '../errors.js';
import { verifySignature } from './jws.js';
import { type KeySet, SUPPORTED_ALGORITHMS, SYMMETRIC_ALGORITHMS } from './keys.js';
import { parseToken, type JsonObject, type ParsedJws } from './parse.js';
import { formatTime } from '../util/time.js';

/** Why a token was rejected: the first failing check, in this order. */
export const REASON_CODES = [
  'malformed',
  'algorithm_not_allowed',
  'no_matching_key',
  'bad_signature',
  'wrong_issuer',
  'wrong_audience',
  'expired',
  'not_yet_valid',
  'too_old',
  'missing_claim',
  'claim_mismatch',
  'wrong_type',
] as const;

export type ReasonCode = (typeof REASON_CODES)[number];

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

/** What `verify --json` prints, and what the library's `verifyToken` returns. */
export interface VerifyResult {
  valid: boolean;
  reason: ReasonCode | null;
  checks: Check[];
  header: JsonObject | null;
  payload: JsonObject | null;
}

export interface ClaimExpectation {
  name: string;
  value: string;
}

export interface VerifyOptions {
  /** The exact `iss` expected. Required. */
  issuer: string;
  /** Accepted audiences; `aud` must contain at least one. Required, non-empty. */
  audience: string | readonly string[];
  /** Where the keys come from. */
  keys: KeySet;
  /** Allowed `alg` values. Default: the asymmetric algorithms the key set allows. `none` never. */
  algorithms?: readonly string[];
  /** Seconds of leeway for `exp`, `nbf`, `iat` and `--max-age`. Default 0. */
  clockTolerance?: number;
  /** Milliseconds since the epoch: the moment the token is judged at. */
  now: number;
  /** Seconds since `auth_time` (else `iat`) after which the token is too old. */
  maxAge?: number;
  /** The `nonce` the ID token must carry. */
  nonce?: string;
  /** Exact claim values (arrays match when they contain the value). */
  claims?: readonly ClaimExpectation[];
  /** `id`: `typ` must not be `at+jwt`; `access`: `typ` must be `at+jwt` (RFC 9068). */
  type?: 'id' | 'access';
  /** When set, an `azp` claim must equal it (OpenID Connect Core §3.1.3.7). */
  authorizedParty?: string;
  /**
   * Where each signature is checked. Default: `verifySignature`, on libuv's pool, so the calling
   * thread goes on meanwhile. `verifySignatureSync` checks on the calling thread (a thread that
   * verifies nothing but tokens); a server may hand them to a thread of its own. Gets keys the key
   * set resolved for `alg`; false for a signature that does not match.
   */
  checkSignature?: SignatureChecker;
}

export type SignatureChecker = (alg: string, key: KeyObject, signingInput: string, signature: Uint8Array) => boolean | Promise<boolean>;

interface Outcome extends Check {
  code?: ReasonCode;
}

const pass = (name: string, detail: string): Outcome => ({ name, ok: true, detail });
const fail = (name: string, code: ReasonCode, detail: string): Outcome => ({ name, ok: false, detail, code });

function show(value: unknown): string {
  return typeof value === 'string' ? `"${value}"` : JSON.stringify(value);
}

function finish(outcomes: Outcome[], header: JsonObject | null, payload: JsonObject | null): VerifyResult {
  let reason: ReasonCode | null = null;
  for (const o of outcomes) {
    if (o.code && (reason === null || REASON_CODES.indexOf(o.code) < REASON_CODES.indexOf(reason))) reason = o.code;
  }
  return {
    valid: reason === null,
    reason,
    checks: outcomes.map(({ name, ok, detail }) => ({ name, ok, detail })),
    header,
    payload,
  };
}

/** The result for input that is no token at all: one failed `format` check saying what it is. */
export function malformedResult(detail: string): VerifyResult {
  return finish([fail('format', 'malformed', detail)], null, null);
}

/** `expired (expiry: expired 2026-… (1h ago))`: why a result is not valid, for one-line errors. */
export function failureSummary(result: VerifyResult): string {
  const failed = result.checks.find((c) => !c.ok);
  return `${result.reason}${failed ? ` (${failed.name}: ${failed.detail})` : ''}`;
}

/** Checks the options once, before any token is looked at (a batch verifies thousands). */
export function validateVerifyOptions(options: Omit<VerifyOptions, 'keys'>): void {
  if (!options.issuer) throw new UsageError('missing issuer: give --issuer URL or set the profile\'s issuer');
  const audiences = typeof options.audience === 'string' ? [options.audience] : options.audience;
  if (!audiences || audiences.length === 0 || audiences.some((a) => !a)) {
    throw new UsageError('missing audience: give --audience AUD or set the profile\'s clientId');
  }
  for (const alg of options.algorithms ?? []) {
    if (alg.toLowerCase() === 'none') throw new UsageError('--algorithms: "none" is never accepted');
    if (!SUPPORTED_ALGORITHMS.includes(alg)) {
      throw new UsageError(`--algorithms: unknown algorithm "${alg}" (supported: ${SUPPORTED_ALGORITHMS.join(', ')})`);
    }
  }
  for (const n of [options.clockTolerance, options.maxAge]) {
    if (n !== undefined && (!Number.isFinite(n) || n < 0)) throw new UsageError('durations must be non-negative numbers of seconds');
  }
}

function checkFormat(token: ParsedJws): Outcome {
  const { header } = token;
  if (header.crit !== undefined) {
    // RFC 7515 §4.1.11: a recipient must reject a token with critical extensions it does not understand.
    return fail('format', 'malformed', `critical header parameter(s) not understood: ${show(header.crit)}`);
  }
  if (typeof header.alg !== 'string') return fail('format', 'malformed', 'the header has no "alg"');
  // An unsecured JWT (RFC 7519 §6) is well-formed; the algorithm check refuses "none".
  if (!token.signaturePresent && header.alg.toLowerCase() !== 'none') {
    return fail('format', 'malformed', 'the token has no signature');
  }
  const ignored = ['jku', 'x5u', 'jwk', 'x5c'].filter((h) => header[h] !== undefined);
  const note = ignored.length ? `; header ${ignored.join(', ')} ignored (keys never come from the token)` : '';
  const kid = typeof header.kid === 'string' ? `, kid "${header.kid}"` : '';
  return pass('format', `JWS, alg ${header.alg}${kid}${note}`);
}

function checkTime(payload: JsonObject, claim: string): number | string | undefined {
  const value = payload[claim];
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value)) return `${claim} is not a NumericDate: ${show(value)}`;
  return value;
}

function claimChecks(payload: JsonObject, options: VerifyOptions): Outcome[] {
  const out: Outcome[] = [];
  const now = options.now;
  const tolerance = options.clockTolerance ?? 0;
  const nowS = now / 1000;
  const at = (seconds: number) => formatTime(seconds * 1000, now);

  // Issuer: exact string comparison, no normalisation.
  if (payload.iss === undefined) out.push(fail('issuer', 'wrong_issuer', `iss is missing, expected "${options.issuer}"`));
  else if (payload.iss !== options.issuer)
    out.push(fail('issuer', 'wrong_issuer', `iss is ${show(payload.iss)}, expected "${options.issuer}"`));
  else out.push(pass('issuer', `iss is "${options.issuer}"`));

  const expected = typeof options.audience === 'string' ? [options.audience] : [...options.audience];
  const aud = payload.aud;
  const audList = typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud : undefined;
  if (aud === undefined) out.push(fail('audience', 'wrong_audience', `aud is missing, expected ${expected.map(show).join(' or ')}`));
  else if (!audList || !audList.some((a) => expected.includes(a as string)))
    out.push(fail('audience', 'wrong_audience', `aud is ${show(aud)}, expected ${expected.map(show).join(' or ')}`));
  else out.push(pass('audience', `aud contains "${audList.find((a) => expected.includes(a as string))}"`));

  if (options.authorizedParty !== undefined && payload.azp !== undefined) {
    if (payload.azp !== options.authorizedParty)
      out.push(fail('azp', 'wrong_audience', `azp is ${show(payload.azp)}, expected "${options.authorizedParty}"`));
    else out.push(pass('azp', `azp is "${options.authorizedParty}"`));
  }

  const exp = checkTime(payload, 'exp');
  if (exp === undefined) out.push(fail('expiry', 'missing_claim', 'exp is missing (required)'));
  else if (typeof exp === 'string') out.push(fail('expiry', 'missing_claim', exp));
  else if (exp <= nowS - tolerance) out.push(fail('expiry', 'expired', `expired ${at(exp)}`));
  else out.push(pass('expiry', `expires ${at(exp)}`));

  const nbf = checkTime(payload, 'nbf');
  const iat = checkTime(payload, 'iat');
  if (typeof nbf === 'string') out.push(fail('not_before', 'missing_claim', nbf));
  else if (typeof iat === 'string') out.push(fail('not_before', 'missing_claim', iat));
  else if (nbf !== undefined && nbf > nowS + tolerance) out.push(fail('not_before', 'not_yet_valid', `not valid before ${at(nbf)}`));
  else if (iat !== undefined && iat > nowS + tolerance) out.push(fail('not_before', 'not_yet_valid', `issued in the future, ${at(iat)}`));
  else out.push(pass('not_before', nbf !== undefined ? `valid since ${at(nbf)}` : iat !== undefined ? `issued ${at(iat)}` : 'no nbf or iat'));

  if (options.maxAge !== undefined) {
    const authTime = checkTime(payload, 'auth_time');
    const base = authTime ?? iat;
    const claim = authTime !== undefined ? 'auth_time' : 'iat';
    if (base === undefined) out.push(fail('max_age', 'missing_claim', 'neither auth_time nor iat is present'));
    else if (typeof base === 'string') out.push(fail('max_age', 'missing_claim', base));
    else if (base + options.maxAge < nowS - tolerance)
      out.push(fail('max_age', 'too_old', `${claim} ${at(base)} is older than ${options.maxAge}s`));
    else out.push(pass('max_age', `${claim} ${at(base)} is within ${options.maxAge}s`));
  }

  if (options.nonce !== undefined) {
    if (payload.nonce === undefined) out.push(fail('nonce', 'missing_claim', 'nonce is missing'));
    else if (payload.nonce !== options.nonce) out.push(fail('nonce', 'claim_mismatch', 'nonce does not match'));
    else out.push(pass('nonce', 'nonce matches'));
  }

  for (const { name, value } of options.claims ?? []) {
    const actual = payload[name];
    const label = `claim ${name}`;
    if (actual === undefined) out.push(fail(label, 'missing_claim', `${name} is missing, expected "${value}"`));
    else if (Array.isArray(actual) ? actual.some((v) => String(v) === value) : String(actual) === value && typeof actual !== 'object')
      out.push(pass(label, `${name} ${Array.isArray(actual) ? 'contains' : 'is'} "${value}"`));
    else out.push(fail(label, 'claim_mismatch', `${name} is ${show(actual)}, expected "${value}"`));
  }
  return out;
}

function checkType(header: JsonObject, type: 'id' | 'access'): Outcome {
  const typ = typeof header.typ === 'string' ? header.typ.toLowerCase().replace(/^application\//, '') : undefined;
  if (type === 'access') {
    // RFC 9068 §2.1: JWT access tokens carry typ "at+jwt".
    return typ === 'at+jwt'
      ? pass('type', 'typ is at+jwt (access token)')
      : fail(
          'type',
          'wrong_type',
          `typ is ${show(header.typ ?? null)}, expected "at+jwt" for an access token (RFC 9068)${
            typeof header.typ === 'string' && header.typ.toLowerCase() === 'jwt'
              ? '; Keycloak, Okta, Entra ID, Auth0 and LemonLDAP::NG type theirs "JWT": leave out --type to check the rest (the broker takes them by their scope/client claims)'
              : ''
          }`,
        );
  }
  return typ === undefined || typ === 'jwt'
    ? pass('type', `typ is ${typ === undefined ? 'absent' : '"JWT"'} (ID token)`)
    : fail('type', 'wrong_type', `typ is ${show(header.typ)}, not an ID token`);
}

/**
 * Verifies a JWS and reports every check (format, algorithm, key, signature, issuer, audience,
 * expiry, not-before, max age, nonce, claims, type), not only the first failure. Keys are
 * never taken from `jku`, `x5u`, `jwk`, `x5c` or the token's own `iss`.
 *
 * A token problem is a result with `valid: false`; it throws only when the options are wrong
 * (UsageError) or the key set cannot be had (RemoteError, UsageError for a local file).
 */
export async function verifyJwt(token: string, options: VerifyOptions): Promise<VerifyResult> {
  let parsed;
  try {
    parsed = parseToken(token);
  } catch (err) {
    return finish([fail('format', 'malformed', (err as Error).message.replace(/^could not decode token: /, ''))], null, null);
  }
  if (parsed.format === 'jwe') {
    return finish([fail('format', 'malformed', 'the token is encrypted (JWE); decrypt it first')], parsed.header, null);
  }
  const { header, payload } = parsed;
  const outcomes: Outcome[] = [checkFormat(parsed)];
  const alg = header.alg;

  const allowed = options.algorithms?.length ? options.algorithms : await options.keys.algorithms();
  let algorithmOk = false;
  if (typeof alg !== 'string') outcomes.push(fail('algorithm', 'malformed', 'no alg'));
  else if (alg.toLowerCase() === 'none') outcomes.push(fail('algorithm', 'algorithm_not_allowed', 'alg "none" is never accepted'));
  else if (!allowed.includes(alg) || !SUPPORTED_ALGORITHMS.includes(alg))
    outcomes.push(fail('algorithm', 'algorithm_not_allowed', `${alg} is not in the allow-list (${allowed.join(', ')})`));
  else if ((SYMMETRIC_ALGORITHMS as readonly string[]).includes(alg) !== options.keys.symmetric)
    outcomes.push(fail('algorithm', 'algorithm_not_allowed', `${alg} cannot be used with ${options.keys.source}`));
  else {
    algorithmOk = true;
    outcomes.push(pass('algorithm', `${alg} is allowed`));
  }

  const formatOk = outcomes[0]!.ok;
  if (!algorithmOk || !formatOk) {
    outcomes.push(fail('key', 'no_matching_key', 'not looked up: the algorithm or format is not acceptable'));
    outcomes.push(fail('signature', 'bad_signature', 'not checked'));
  } else {
    const candidates = await options.keys.candidates(header);
    if (candidates.length === 0) {
      const kid = typeof header.kid === 'string' ? `kid "${header.kid}"` : `alg ${alg}`;
      outcomes.push(fail('key', 'no_matching_key', `no key for ${kid} in ${options.keys.source}`));
      outcomes.push(fail('signature', 'bad_signature', 'not checked: no key'));
    } else {
      let verifiedWith: string | undefined;
      for (const candidate of candidates) {
        // Without a kid several keys may fit the algorithm: the first that verifies wins.
        const check = options.checkSignature ?? verifySignature;
        if (await check(alg as string, candidate.key, parsed.signingInput, parsed.signature)) {
          verifiedWith = candidate.label;
          break;
        }
      }
      const label = verifiedWith ?? candidates[0]!.label;
      outcomes.push(pass('key', `${label} from ${options.keys.source}`));
      outcomes.push(
        verifiedWith
          ? pass('signature', `valid ${alg} signature`)
          : fail('signature', 'bad_signature', `the ${alg} signature does not match ${candidates.length > 1 ? 'any candidate key' : 'the key'}`),
      );
    }
  }

  outcomes.push(...claimChecks(payload, options));
  if (options.type) outcomes.push(checkType(header, options.type));
  return finish(outcomes, header, payload);
}
