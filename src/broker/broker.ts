/**
 * What the broker does, apart from HTTP: pick the provider for a subject token, validate it,
 * register or update the customer, open a session and sign the broker's own token; and judge
 * the broker's tokens for introspection, userinfo and revocation.
 */
import { randomUUID, type KeyObject } from 'node:crypto';
import { RemoteError } from '../errors.js';
import { parseToken } from '../jwt/parse.js';
import { verifyOwnJwt, type SigningKey } from '../jwt/sign.js';
import type { BrokerConfig } from './config.js';
import { OAuthError, invalidRequest } from './oauth-error.js';
import { CallbackProvider } from './providers/callback.js';
import { JwtProvider, type ProviderDeps } from './providers/jwt.js';
import type { Provider, TokenExpectation } from './providers/types.js';
import { PROVIDER_TOKEN_TYPE_PREFIX, TOKEN_TYPE } from '../oidc/urls.js';
import type { BrokerStore, Customer, Session } from './store/types.js';

/** Largest mapped customer field, as JSON, in bytes. */
export const MAX_FIELD_BYTES = 4 * 1024;
/** Largest set of mapped fields of one login, as JSON, in bytes. */
export const MAX_FIELDS_BYTES = 16 * 1024;

/**
 * A login's mapped fields must fit: each at most MAX_FIELD_BYTES as JSON, all together at most
 * MAX_FIELDS_BYTES. Refused rather than truncated: a cut e-mail address or half a JSON object
 * would be stored as if it were the customer's, while a refusal names the field to the operator
 * and stores nothing; the limits are far above any real profile claim.
 * @throws OAuthError invalid_request naming the field (a name from the config, never its value).
 */
function checkFieldSizes(fields: Record<string, unknown>): void {
  for (const [name, value] of Object.entries(fields)) {
    if (Buffer.byteLength(JSON.stringify(value) ?? '') > MAX_FIELD_BYTES) {
      throw invalidRequest(`subject_token rejected: the mapped field "${name}" is larger than ${MAX_FIELD_BYTES} bytes`);
    }
  }
  if (Buffer.byteLength(JSON.stringify(fields)) > MAX_FIELDS_BYTES) {
    throw invalidRequest(`subject_token rejected: the mapped fields are larger than ${MAX_FIELDS_BYTES} bytes in all`);
  }
}

/** How the subject token arrived: an RFC 8693 `subject_token_type`, or the Synerise call (any JWT or opaque). */
export type SubjectTokenKind = string | { synerise: true };

export interface ExchangeInput {
  subjectToken: string;
  kind: SubjectTokenKind;
  clientId: string;
}

export interface ExchangeResult {
  accessToken: string;
  /** Seconds since the epoch. */
  issuedAt: number;
  expiresAt: number;
  expiresIn: number;
  accountStatus: 'created' | 'existing';
  customer: Customer;
  session: Session;
}

/**
 * Where the broker's public-key work is done (crypto-thread.ts: on a thread of its own, else on
 * this one). Given to the Broker, which neither starts nor stops it.
 */
export interface BrokerCrypto {
  /** A compact JWS of `payload` with the broker's signing key (the header gets `alg`, `kid` and `header`). */
  sign(payload: Record<string, unknown>, header?: Record<string, unknown>): Promise<string>;
  /** Checks a signature of another issuer's token (as verifyJwt's `checkSignature`). */
  verify(alg: string, key: KeyObject, input: string, signature: Uint8Array): Promise<boolean>;
  /** Stops it once what it owes is answered. */
  close(): Promise<void>;
}

/** What a Broker is built from; the caller (startBroker) closes `crypto` and `store` after its last request. */
export interface BrokerParts {
  store: BrokerStore;
  /** The signing keys published and honoured (key-ring.ts); `crypto` signs with the scheduled one. */
  keys: BrokerKeys;
  crypto: BrokerCrypto;
  deps: ProviderDeps;
  /** Hears an upstream failure while validating a subject token (for /metrics). */
  onUpstreamError?: (upstream: 'jwks' | 'backend') => void;
}

/** The broker's published keys, as a KeyRing (key-ring.ts) gives them. */
export interface BrokerKeys {
  keys(): ReadonlyMap<string, SigningKey>;
  /** Re-reads the keys for a token naming an unknown one (rate-limited); resolves whether anything changed. */
  refreshForUnknownKid(): Promise<boolean>;
}

/** The claims of a broker token that checked out, with its live session. */
export interface LiveToken {
  claims: Record<string, unknown>;
  session: Session;
}

export class Broker {
  private readonly providers: Provider[];
  private readonly byIssuer = new Map<string, JwtProvider>();
  private readonly byId = new Map<string, Provider>();
  private readonly callbacks: CallbackProvider[] = [];
  private readonly keys: BrokerKeys;
  private readonly store: BrokerStore;
  private readonly crypto: BrokerCrypto;
  private readonly deps: ProviderDeps;
  private readonly onUpstreamError: BrokerParts['onUpstreamError'];

  constructor(
    readonly config: BrokerConfig,
    { store, keys, crypto, deps, onUpstreamError }: BrokerParts,
  ) {
    this.onUpstreamError = onUpstreamError;
    this.store = store;
    this.crypto = crypto;
    this.deps = deps;
    const providerDeps: ProviderDeps = { ...deps, checkSignature: (...check) => this.crypto.verify(...check) };
    this.providers = config.providers.map((p) => (p.type === 'jwt' ? new JwtProvider(p, providerDeps) : new CallbackProvider(p, deps)));
    for (const provider of this.providers) {
      this.byId.set(provider.id, provider);
      if (provider instanceof JwtProvider) this.byIssuer.set(provider.config.issuer, provider);
      else if (provider instanceof CallbackProvider) this.callbacks.push(provider);
    }
    this.keys = keys;
  }

  /**
   * The `subject_token_type`s this broker accepts (RFC 8693 §3, and one
   * `urn:authbridge:token-type:<id>` a provider), for its metadata.
   */
  subjectTokenTypes(): string[] {
    return [TOKEN_TYPE.accessToken, TOKEN_TYPE.idToken, TOKEN_TYPE.jwt, ...this.providers.map((p) => `${PROVIDER_TOKEN_TYPE_PREFIX}${p.id}`)];
  }

  jwks(): { keys: unknown[] } {
    return { keys: [...this.keys.keys().values()].map((k) => k.publicJwk) };
  }

  /** Picks the provider for a subject token (RFC 8693 §2.1 `subject_token_type`). */
  private select(token: string, kind: SubjectTokenKind): { provider: Provider; expectation: TokenExpectation } {
    if (typeof kind === 'string' && kind.startsWith(PROVIDER_TOKEN_TYPE_PREFIX)) {
      const provider = this.byId.get(kind.slice(PROVIDER_TOKEN_TYPE_PREFIX.length));
      if (!provider) throw invalidRequest('subject_token_type names no configured provider');
      // The caller chooses the type: a JWT of an IdP this broker trusts must not be shown to an
      // app's backend, which would then hold a token it was never meant to see.
      if (provider instanceof CallbackProvider && this.trustedIssuerOf(token)) {
        throw invalidRequest('subject_token is a JWT of a trusted issuer: send it as an access_token, id_token or jwt');
      }
      return { provider, expectation: 'any' };
    }
    let expectation: TokenExpectation;
    if (typeof kind !== 'string') expectation = 'any';
    else if (kind === TOKEN_TYPE.accessToken) expectation = 'access';
    else if (kind === TOKEN_TYPE.idToken) expectation = 'id';
    else if (kind === TOKEN_TYPE.jwt) expectation = 'any';
    else throw invalidRequest('unsupported subject_token_type');

    // A token verified moments ago needs no parsing to find its provider.
    for (const provider of this.byIssuer.values()) {
      if (provider.remembers(token, expectation)) return { provider, expectation };
    }
    let issuer: unknown;
    let isJwt = false;
    try {
      const parsed = parseToken(token);
      if (parsed.format === 'jwe') throw invalidRequest('encrypted subject tokens are not supported');
      isJwt = true;
      issuer = parsed.payload.iss;
    } catch (err) {
      if (err instanceof OAuthError) throw err;
    }
    if (isJwt) {
      const provider = typeof issuer === 'string' ? this.byIssuer.get(issuer) : undefined;
      if (!provider) throw invalidRequest('subject_token rejected: its issuer is not trusted');
      return { provider, expectation };
    }
    // Not a JWT: an opaque access token, for the app's backend to judge.
    if (expectation === 'id' || kind === TOKEN_TYPE.jwt) throw invalidRequest('subject_token is not a JWT');
    if (this.callbacks.length === 1) return { provider: this.callbacks[0]!, expectation: 'any' };
    if (this.callbacks.length === 0) throw invalidRequest('subject_token is not a JWT, and no backend is configured for opaque tokens');
    throw invalidRequest(`several backends are configured: name one with subject_token_type ${PROVIDER_TOKEN_TYPE_PREFIX}<id>`);
  }

  /** True when `token` is a JWS whose `iss` names one of the jwt providers (unverified: this only routes). */
  private trustedIssuerOf(token: string): boolean {
    try {
      const parsed = parseToken(token);
      return parsed.format === 'jws' && typeof parsed.payload.iss === 'string' && this.byIssuer.has(parsed.payload.iss);
    } catch {
      return false;
    }
  }

  /**
   * Validates the subject token and signs a broker token for its customer (registering or
   * updating them first, per the provider's policies).
   * @throws OAuthError (invalid_request, registration_required, temporarily_unavailable);
   *   StoreUnavailableError when the database cannot be written.
   */
  async exchange(input: ExchangeInput): Promise<ExchangeResult> {
    if (input.subjectToken.length > 16 * 1024) throw invalidRequest('subject_token is too long');
    const { provider, expectation } = this.select(input.subjectToken, input.kind);
    let validated: Awaited<ReturnType<Provider['validate']>>;
    try {
      validated = await provider.validate(input.subjectToken, expectation);
    } catch (err) {
      // An IdP's discovery/JWKS or a backend that did not answer: a 503 to the client, counted.
      if ((err instanceof OAuthError && err.status === 503) || err instanceof RemoteError) {
        this.onUpstreamError?.(provider instanceof JwtProvider ? 'jwks' : 'backend');
      }
      throw err;
    }
    checkFieldSizes(validated.fields);
    const now = this.deps.now();
    const issuedAt = Math.floor(now / 1000);
    const ttl = this.config.tokenTtl;
    const outcome = await this.store.upsertCustomerAndOpenSession({
      provider: provider.id,
      subject: validated.subject,
      fields: validated.fields,
      updatePolicy: provider.config.updatePolicy,
      registration: provider.config.registration,
      clientId: input.clientId,
      ttl,
      maxSessionsPerClient: this.config.sessions.maxPerClient,
      // In milliseconds, so that logins within a second keep their order (the per-client cap
      // ends the oldest). The session then ends under a second after the token's `exp`, which
      // liveToken checks first.
      now,
    });
    if (outcome.status === 'registration_required') {
      throw new OAuthError('registration_required', 'no customer is registered for this account, and this broker does not register new ones');
    }
    const expiresAt = issuedAt + ttl;
    const accessToken = await this.crypto.sign(
      {
        iss: this.config.issuer,
        sub: outcome.customer.id,
        aud: this.config.audience,
        client_id: input.clientId,
        iat: issuedAt,
        exp: expiresAt,
        jti: randomUUID(),
        sid: outcome.session.sid,
        idp: provider.id,
      },
      { typ: 'at+jwt' },
    );
    return {
      accessToken,
      issuedAt,
      expiresAt,
      expiresIn: ttl,
      accountStatus: outcome.status,
      customer: outcome.customer,
      session: outcome.session,
    };
  }

  /**
   * The claims of a token this broker signed (signature and `iss` only; not expiry). Only the
   * low-S form of the signature, the one the broker issues, is honoured (jwt/sign.ts).
   */
  signedClaims(token: string): Record<string, unknown> | undefined {
    const result = verifyOwnJwt(token, this.keys.keys(), 'at+jwt');
    if (!result.ok || result.payload.iss !== this.config.issuer) return undefined;
    return result.payload;
  }

  /**
   * signedClaims, re-reading the keys first when the token names a key this instance does not
   * know (one rotated in at another instance), at most once a second.
   */
  private async claimsOf(token: string): Promise<Record<string, unknown> | undefined> {
    const result = verifyOwnJwt(token, this.keys.keys(), 'at+jwt');
    if (!result.ok && result.problem === 'unknown_key' && (await this.keys.refreshForUnknownKid())) return this.signedClaims(token);
    return result.ok && result.payload.iss === this.config.issuer ? result.payload : undefined;
  }

  /**
   * A broker token that is live: our signature, our issuer, not expired, and its session
   * neither revoked nor expired. `undefined` otherwise.
   */
  async liveToken(token: string): Promise<LiveToken | undefined> {
    const claims = await this.claimsOf(token);
    if (!claims) return undefined;
    const now = this.deps.now();
    if (typeof claims.exp !== 'number' || claims.exp * 1000 <= now) return undefined;
    if (typeof claims.sid !== 'string' || typeof claims.sub !== 'string') return undefined;
    const session = await this.store.session(claims.sub, claims.sid);
    if (!session || session.revokedAt !== null || session.expiresAt <= now) return undefined;
    return { claims, session };
  }

  customer(id: string): Promise<Customer | undefined> {
    return this.store.customer(id);
  }

  /**
   * RFC 7009: ends the session of a token issued to `client` (any client, public ones too). A
   * token that is not ours, or not that client's, is ignored.
   *
   * `allSessions` ("sign out everywhere") ends every session of the customer, at every client,
   * only for a live token (unexpired, its session not ended) presented by the confidential client
   * it was issued to: a leaked, expired or already revoked token, or a public client's, ends its
   * own session and nothing more.
   */
  async revoke(token: string, client: { clientId: string; confidential: boolean }, allSessions: boolean): Promise<void> {
    const claims = await this.claimsOf(token);
    if (!claims || claims.client_id !== client.clientId || typeof claims.sid !== 'string' || typeof claims.sub !== 'string') return;
    if (allSessions && client.confidential && (await this.liveToken(token))) {
      await this.store.revokeAllSessions(claims.sub, this.deps.now());
      return;
    }
    await this.store.revokeSession(claims.sub, claims.sid, this.deps.now());
  }
}
