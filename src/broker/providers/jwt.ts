/**
 * The `jwt` provider: a subject token is a JWT from a trusted IdP, verified against that IdP's
 * JWKS with the same checks `authbridge verify` makes (signature, exact iss, aud, exp/nbf with
 * the configured leeway, algorithm allow-list, typ).
 */
import { RemoteError } from '../../errors.js';
import { fetchJson } from '../../http/fetch-json.js';
import { isSecureOrLoopback } from '../../http/loopback.js';
import { fetchMetadata } from '../../oidc/metadata.js';
import { discoveryUrl } from '../../oidc/urls.js';
import { remoteKeySet, type KeySet } from '../../jwt/keys.js';
import { verifyJwt, type ReasonCode, type SignatureChecker } from '../../jwt/verify.js';
import { verifySignatureSync } from '../../jwt/jws.js';
import { parseToken } from '../../jwt/parse.js';
import { DEFAULT_ACCEPTED_TYPES, ID_TOKEN_ONLY_CLAIMS, JWT_ACCESS_TOKEN_CLAIMS, NEVER_ACCEPTED_TYPES, normalizeType, type JwtProviderConfig } from '../config.js';
import { invalidRequest, temporarilyUnavailable } from '../oauth-error.js';
import { compileMapping, readFields, readSubject, type CompiledMapping } from './mapping.js';
import type { Provider, TokenExpectation, ValidatedSubject } from './types.js';

/** Short reasons for error_description: enough to act on, no validation detail. */
const REASONS: Record<ReasonCode, string> = {
  malformed: 'it is not a well-formed signed JWT',
  algorithm_not_allowed: 'its algorithm is not allowed',
  no_matching_key: 'it is not signed by a key of the trusted issuer',
  bad_signature: 'it is not signed by a key of the trusted issuer',
  wrong_issuer: 'its issuer is not trusted',
  wrong_audience: 'it is not meant for this broker (aud)',
  expired: 'it has expired',
  not_yet_valid: 'it is not valid yet',
  too_old: 'it is too old',
  missing_claim: 'a required claim is missing',
  claim_mismatch: 'a claim does not match',
  wrong_type: 'it is not a token of the given subject_token_type',
};

interface Discovery {
  jwksUri?: string;
  userinfoEndpoint?: string;
}

export interface ProviderDeps {
  fetch: typeof fetch;
  /** Milliseconds since the epoch. */
  now: () => number;
  /** Where subject tokens' signatures are checked (the broker's crypto thread); default: this thread. */
  checkSignature?: SignatureChecker;
  /** The config's development switch: plain HTTP to hosts off loopback. Default false. */
  allowInsecureHttp?: boolean;
  /** The broker's log (one JSON line), for why a provider cannot be used. */
  log?: (line: string) => void;
}

/**
 * A discovery document named an endpoint on plain HTTP off loopback (without the config's
 * `allowInsecureHttp`): the provider is unusable, the broker answers 503 and logs why.
 */
export class InsecureEndpointError extends RemoteError {
  constructor(readonly reason: string) {
    super(`could not use the discovery document: ${reason}`);
    this.name = 'InsecureEndpointError';
  }
}

/** How long a failed discovery (for userinfo only) is remembered before it is tried again. */
const DISCOVERY_RETRY_MS = 60_000;
/**
 * A token that verified is remembered this long (at most until it expires), so an app that
 * exchanges the same token again costs no signature check. Short, so a key the IdP withdraws
 * stops being honoured soon.
 */
const VERIFIED_CACHE_MS = 60_000;
const VERIFIED_CACHE_SIZE = 10_000;

interface CachedSubject {
  /** Milliseconds since the epoch after which the entry is not used. */
  until: number;
  subject: ValidatedSubject;
}

/** A header `typ` as compared (normalizeType), null when absent. */
type TypeKey = string | null;

export class JwtProvider implements Provider {
  readonly id: string;
  private readonly keys: KeySet;
  /** The `typ` values accepted for each expectation (`any`: access or ID token). */
  private readonly types: Record<TokenExpectation, ReadonlySet<TypeKey>>;
  /** The default access token types: a "JWT"-typed one must carry access token claims. */
  private readonly defaultAccessTypes: boolean;
  private readonly mapping: CompiledMapping;
  private discovery: Promise<Discovery> | undefined;
  private discoveryFailedAt = -Infinity;
  /** A discovery document refused for an insecure endpoint, and when. */
  private refusedDiscovery: { error: InsecureEndpointError; at: number } | undefined;
  private readonly verified = new Map<string, CachedSubject>();

  constructor(
    readonly config: JwtProviderConfig,
    private readonly deps: ProviderDeps,
  ) {
    this.id = config.id;
    this.mapping = compileMapping(config.subjectPointer, config.mapping);
    const normalized = (list: readonly (string | null)[]) => new Set(list.map((t) => (t === null ? null : normalizeType(t))));
    this.defaultAccessTypes = config.acceptedTypes.accessToken === undefined;
    const access = normalized(config.acceptedTypes.accessToken ?? DEFAULT_ACCEPTED_TYPES.accessToken);
    const id = normalized(config.acceptedTypes.idToken);
    this.types = { access, id, any: new Set([...access, ...id]) };
    const options = { fetch: deps.fetch, now: deps.now, timeoutMs: config.timeoutMs };
    if (config.jwksUri) {
      this.keys = remoteKeySet(config.jwksUri, options);
    } else {
      let inner: KeySet | undefined;
      const get = async (): Promise<KeySet> => {
        if (inner) return inner;
        const { jwksUri } = await this.discover();
        if (!jwksUri) throw new RemoteError(`could not use the discovery document of ${config.issuer}: it has no jwks_uri`);
        return (inner = remoteKeySet(jwksUri, options));
      };
      this.keys = {
        symmetric: false,
        source: `the JWKS of ${config.issuer}`,
        algorithms: async () => (await get()).algorithms(),
        candidates: async (header) => (await get()).candidates(header),
      };
    }
  }

  /**
   * OIDC discovery at the issuer, shared by all requests; a failure is retried by the next one.
   * A document naming an endpoint on plain HTTP off loopback is refused (InsecureEndpointError,
   * logged), and that refusal stands for DISCOVERY_RETRY_MS before the document is read again.
   */
  private discover(): Promise<Discovery> {
    const refused = this.refusedDiscovery;
    if (refused && this.deps.now() - refused.at < DISCOVERY_RETRY_MS) return Promise.reject(refused.error);
    this.discovery ??= (async () => {
      const issuer = this.config.issuer;
      // OpenID Connect Discovery §4.3: the document must name exactly this issuer.
      const doc = await fetchMetadata(this.deps.fetch, discoveryUrl(issuer), {
        issuer,
        what: 'the discovery document',
        optional: ['jwks_uri', 'userinfo_endpoint'],
        timeoutMs: this.config.timeoutMs,
      });
      const discovery = {
        jwksUri: typeof doc.jwks_uri === 'string' ? doc.jwks_uri : undefined,
        userinfoEndpoint: typeof doc.userinfo_endpoint === 'string' ? doc.userinfo_endpoint : undefined,
      };
      for (const [field, value] of [['jwks_uri', discovery.jwksUri], ['userinfo_endpoint', discovery.userinfoEndpoint]] as const) {
        if (value === undefined || this.acceptable(value)) continue;
        const error = new InsecureEndpointError(`${field} ${value} is not https (plain HTTP only on loopback, or "allowInsecureHttp": true)`);
        this.refusedDiscovery = { error, at: this.deps.now() };
        this.deps.log?.(JSON.stringify({ level: 'error', msg: 'provider unavailable: its discovery names an insecure endpoint', provider: this.id, reason: error.reason }));
        throw error;
      }
      return discovery;
    })().catch((err: unknown) => {
      this.discovery = undefined;
      if (!(err instanceof InsecureEndpointError)) this.discoveryFailedAt = this.deps.now();
      throw err;
    });
    return this.discovery;
  }

  /** The project's transport rule (https, or http on loopback), unless the config's development switch is on. */
  private acceptable(value: string): boolean {
    if (!URL.canParse(value)) return false;
    const url = new URL(value);
    return isSecureOrLoopback(url) || (this.deps.allowInsecureHttp === true && url.protocol === 'http:');
  }

  /** True when this token was verified recently (for this expectation) and is still remembered. */
  remembers(token: string, expectation: TokenExpectation): boolean {
    const cached = this.verified.get(`${expectation}:${token}`);
    return cached !== undefined && this.deps.now() < cached.until;
  }

  async validate(token: string, expectation: TokenExpectation): Promise<ValidatedSubject> {
    const cacheKey = `${expectation}:${token}`;
    const cached = this.verified.get(cacheKey);
    if (cached) {
      if (this.deps.now() < cached.until) return { subject: cached.subject.subject, fields: { ...cached.subject.fields } };
      this.verified.delete(cacheKey);
    }
    const { validated, exp } = await this.verify(token, expectation);
    // Oldest first out: Map keeps insertion order.
    if (this.verified.size >= VERIFIED_CACHE_SIZE) this.verified.delete(this.verified.keys().next().value!);
    const until = Math.min((exp + this.config.leeway) * 1000, this.deps.now() + VERIFIED_CACHE_MS);
    this.verified.set(cacheKey, { until, subject: { subject: validated.subject, fields: { ...validated.fields } } });
    return validated;
  }

  /**
   * RFC 8725 §3.11: the header `typ` must be one this provider accepts for the expected kind of
   * token (`any` — a `jwt` subject_token_type, the Synerise call, the provider's own type —
   * takes an access or an ID token, nothing else): a logout token, a security event token or a
   * DPoP proof of the same issuer is not a login. Why not, or undefined when it is acceptable
   * (or not a JWS at all: the verification reports that).
   */
  private typeProblem(token: string, expectation: TokenExpectation): string | undefined {
    let typ: unknown;
    let payload: Record<string, unknown> | null = null;
    try {
      const parsed = parseToken(token);
      if (parsed.format !== 'jws') return undefined;
      typ = parsed.header.typ;
      payload = parsed.payload as Record<string, unknown> | null;
    } catch {
      return undefined;
    }
    if (typ !== undefined && typeof typ !== 'string') return REASONS.malformed;
    const key = typ === undefined ? null : normalizeType(typ);
    if (key !== null && NEVER_ACCEPTED_TYPES.includes(key)) return 'it is not a token to sign in with';
    if (expectation === 'access' && this.defaultAccessTypes && key === 'jwt') {
      // typ "JWT" names no kind (ID tokens use it too): the claims decide. An ID token presented
      // as an access token is refused (SECURITY.md finding 6).
      const has = (names: readonly string[]) => names.some((n) => payload?.[n] !== undefined);
      if (has(ID_TOKEN_ONLY_CLAIMS) || payload?.typ === 'ID' || !has(JWT_ACCESS_TOKEN_CLAIMS)) {
        return `it is not an access token (typ "JWT" without ${JWT_ACCESS_TOKEN_CLAIMS.join(', ')}, or with ${ID_TOKEN_ONLY_CLAIMS.join(', ')}: an ID token?)`;
      }
      return undefined;
    }
    if (this.types[expectation].has(key)) return undefined;
    if (expectation === 'access') {
      const listed = [...this.types.access].map((t) => (t === null ? 'absent' : `"${t}"`)).join(' or ');
      return listed === '"at+jwt"' ? 'it is not an access token (RFC 9068 typ "at+jwt")' : `it is not an access token (typ ${listed})`;
    }
    return expectation === 'id' ? 'it is not an ID token' : 'its typ is not that of an access or ID token';
  }

  /** The full verification; `exp` is the token's (verified, so a number). */
  private async verify(token: string, expectation: TokenExpectation): Promise<{ validated: ValidatedSubject; exp: number }> {
    const config = this.config;
    const typeProblem = this.typeProblem(token, expectation);
    if (typeProblem) throw invalidRequest(`subject_token rejected: ${typeProblem}`);
    let result;
    try {
      result = await verifyJwt(token, {
        issuer: config.issuer,
        audience: config.audience,
        keys: this.keys,
        algorithms: config.algorithms,
        clockTolerance: config.leeway,
        now: this.deps.now(),
        // The typ was judged above, against this provider's acceptedTypes.
        type: undefined,
        // Not on libuv's pool: a hop there and back for each token cost a busy server more than
        // the check itself (bench/broker.mjs). The broker batches them to its crypto thread.
        checkSignature: this.deps.checkSignature ?? verifySignatureSync,
      });
    } catch (err) {
      if (err instanceof RemoteError) {
        throw temporarilyUnavailable(`could not fetch the signing keys of the issuer ${config.issuer}`);
      }
      throw err;
    }
    if (!result.valid) {
      throw invalidRequest(`subject_token rejected: ${REASONS[result.reason ?? 'malformed']}`);
    }
    const claims = result.payload!;
    // RFC 8417 §2.2 / OpenID Back-Channel Logout §2.4: a SET or logout token carries `events`,
    // typed or not; it is never a login.
    if (claims.events !== undefined) throw invalidRequest('subject_token rejected: it is a security event or logout token, not a token to sign in with');
    const subject = readSubject(this.mapping, claims, 'the token');
    const missing: string[] = [];
    const fields = readFields(this.mapping, claims, missing);
    // Claims an access token leaves out may be at the IdP's userinfo (best effort: never fails the login).
    if (missing.length > 0 && expectation !== 'id') Object.assign(fields, await this.fromUserinfo(token, claims.sub, missing));
    return { validated: { subject, fields }, exp: claims.exp as number };
  }

  private async fromUserinfo(token: string, tokenSub: unknown, names: string[]): Promise<Record<string, unknown>> {
    if (this.deps.now() - this.discoveryFailedAt < DISCOVERY_RETRY_MS) return {};
    try {
      const { userinfoEndpoint } = await this.discover();
      if (!userinfoEndpoint) return {};
      const doc = await fetchJson(this.deps.fetch, userinfoEndpoint, {
        what: 'userinfo',
        timeoutMs: this.config.timeoutMs,
        maxBytes: 64 * 1024,
        init: { headers: { authorization: `Bearer ${token}`, accept: 'application/json' } },
      });
      // OpenID Connect Core §5.3.2: a userinfo answer for another subject must not be used.
      if (typeof tokenSub !== 'string' || doc.sub !== tokenSub) return {};
      const wanted = compileMapping(this.mapping.subject.pointer, {});
      wanted.fields = this.mapping.fields.filter((f) => names.includes(f.name));
      return readFields(wanted, doc);
    } catch (err) {
      // An insecure endpoint is the provider's misconfiguration: no login without the claims it should give.
      if (err instanceof InsecureEndpointError) throw temporarilyUnavailable(`could not use the discovery document of the issuer ${this.config.issuer}`);
      return {};
    }
  }
}
