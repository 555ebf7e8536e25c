/**
 * authbridge as a library: the same verification and decoding the CLI uses, returning the
 * same result objects its `--json` prints.
 *
 * @example
 * import { verifyToken } from 'authbridge';
 * const result = await verifyToken(idToken, { issuer: 'https://idp.example.com', audience: 'my-app' });
 * if (!result.valid) console.error(result.reason, result.checks.filter((c) => !c.ok));
 */
import { resolveKeySet } from './jwt/key-source.js';
import { localKeySet, type JsonWebKeySet, type KeySet } from './jwt/keys.js';
import { validateVerifyOptions, verifyJwt, type ClaimExpectation, type VerifyResult } from './jwt/verify.js';

export { decodeToken, type DecodedToken } from './jwt/decode.js';
export type { Check, ReasonCode, VerifyResult, ClaimExpectation } from './jwt/verify.js';
export { REASON_CODES } from './jwt/verify.js';
export type { JsonWebKeySet, KeySet } from './jwt/keys.js';
export {
  AuthbridgeError,
  TokenRejectedError,
  UsageError,
  RemoteError,
  NotSignedInError,
  AuthorizationRefusedError,
  InterruptedError,
  type ExitClass,
} from './errors.js';

export interface VerifyTokenOptions {
  /** The exact `iss` expected. */
  issuer: string;
  /** Accepted audience(s); `aud` must contain one. */
  audience: string | string[];
  /** A key set in memory. */
  jwks?: JsonWebKeySet;
  /** A JWKS URL. Without `jwks`, `jwksUri` or `secret`, keys come from OIDC discovery at `issuer`. */
  jwksUri?: string;
  /**
   * A shared secret: the only way HS256/384/512 are accepted. A string is used as its UTF-8
   * bytes; binary keys (an `oct` JWK's `k`, decoded) are given as bytes.
   */
  secret?: string | Uint8Array;
  /** A key set reused across calls (from `createKeySet`): remote keys are fetched once. */
  keySet?: KeySet;
  /** Allowed algorithms. Default: the asymmetric algorithms the key set allows. */
  algorithms?: string[];
  /** Seconds of leeway for time checks. Default 0. */
  clockTolerance?: number;
  /** The moment to judge the token at. Default: now. */
  currentDate?: Date;
  /** Seconds since `auth_time` (else `iat`). */
  maxAge?: number;
  nonce?: string;
  /** Exact claim values; arrays match when they contain the value. */
  claims?: Record<string, string> | ClaimExpectation[];
  type?: 'id' | 'access';
  /** When set, an `azp` claim must equal it. */
  authorizedParty?: string;
  /** The fetch used for discovery and JWKS. Default: the global fetch. */
  fetch?: typeof fetch;
  /** Milliseconds for each HTTP request. Default 10 000. */
  timeoutMs?: number;
  /**
   * Accept keys over plain http from a host other than this machine (`jwksUri`, the issuer's
   * discovery, the `jwks_uri` it names). For development only; default false: https, or http on
   * loopback.
   */
  allowInsecureHttp?: boolean;
}

/**
 * A key set to share across many `verifyToken` calls (remote keys fetched once, refetched on an
 * unknown `kid`).
 */
export async function createKeySet(
  options: Pick<VerifyTokenOptions, 'jwks' | 'jwksUri' | 'secret' | 'issuer' | 'fetch' | 'timeoutMs' | 'allowInsecureHttp'>,
): Promise<KeySet> {
  if (options.jwks) return localKeySet(options.jwks);
  return resolveKeySet({
    jwksUri: options.jwksUri,
    secret: options.secret,
    issuer: options.issuer,
    fetch: options.fetch ?? globalThis.fetch,
    now: () => Date.now(),
    timeoutMs: options.timeoutMs,
    allowInsecureHttp: options.allowInsecureHttp,
  });
}

/**
 * Verifies a JWT and reports every check.
 * Resolves to `{ valid, reason, checks, header, payload }` for any token, valid or not.
 * @throws UsageError for bad options; RemoteError when keys cannot be fetched.
 */
export async function verifyToken(token: string, options: VerifyTokenOptions): Promise<VerifyResult> {
  const claims = Array.isArray(options.claims)
    ? options.claims
    : Object.entries(options.claims ?? {}).map(([name, value]) => ({ name, value }));
  const base = {
    issuer: options.issuer,
    audience: options.audience,
    algorithms: options.algorithms,
    clockTolerance: options.clockTolerance,
    now: (options.currentDate ?? new Date()).getTime(),
    maxAge: options.maxAge,
    nonce: options.nonce,
    claims,
    type: options.type,
    authorizedParty: options.authorizedParty,
  };
  validateVerifyOptions(base);
  const keys = options.keySet ?? (await createKeySet(options));
  return verifyJwt(token, { ...base, keys });
}
