/**
 * Client authentication at the broker: each client by the one method it is configured with
 * (client_secret_basic, client_secret_post, private_key_jwt with its registered keys, or none:
 * public by client_id), or by its API key at the Synerise-compatible endpoint.
 *
 * A private_key_jwt client assertion (RFC 7523 §3) is accepted once: its `jti` is remembered
 * until its `exp` in memory, per broker instance (instances sharing a database do not share it;
 * the assertion's lifetime is capped at {@link MAX_ASSERTION_LIFETIME_S} to bound that window).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { decodeToken } from '../jwt/decode.js';
import { localKeySet, remoteKeySet, type JsonWebKeySet, type KeySet } from '../jwt/keys.js';
import { failureSummary, verifyJwt } from '../jwt/verify.js';
import { CLIENT_AUTH_METHODS, type ClientAuthMethod, type ClientConfig } from './config.js';
import { invalidClient, invalidRequest } from './oauth-error.js';

/** RFC 7523 §2.2's `client_assertion_type`. */
export const JWT_BEARER_ASSERTION = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
/** Seconds an assertion may live (exp − now): longer ones are refused, so the replay cache stays small. */
export const MAX_ASSERTION_LIFETIME_S = 300;
/** Seconds of clock leeway for an assertion's exp, nbf and iat. */
const ASSERTION_LEEWAY_S = 30;
/** The most assertions remembered at once; past it, new ones are refused until old ones expire. */
const MAX_REMEMBERED = 100_000;

const digest = (value: string): Buffer => createHash('sha256').update(value).digest();

/**
 * Compares a secret with the digest of the expected one in time that depends on neither
 * (hashing first equalises the lengths).
 */
export function secretMatches(given: string, expectedDigest: Buffer): boolean {
  return timingSafeEqual(digest(given), expectedDigest);
}

/** A client that authenticates with a secret (client_secret_basic or client_secret_post), not a public or API-key-only one. */
export function isConfidential(client: ClientConfig): boolean {
  const method = client.tokenEndpointAuthMethod;
  return method === 'client_secret_basic' || method === 'client_secret_post' || method === 'private_key_jwt';
}

/** RFC 6749 §2.3.1: the id and secret are form-encoded before being put in the Basic header. */
function formDecode(value: string): string {
  try {
    return decodeURIComponent(value.replace(/\+/g, ' '));
  } catch {
    return value;
  }
}

export interface ClientCredentials {
  /** From the `Authorization` header (client_secret_basic). */
  authorization?: string | undefined;
  /** From the form body (client_secret_post, or a public client). */
  clientId?: string | undefined;
  clientSecret?: string | undefined;
  /** RFC 7523 §2.2 (private_key_jwt). */
  clientAssertionType?: string | undefined;
  clientAssertion?: string | undefined;
}

export interface ClientRegistryOptions {
  /** For a client's `jwksUri`. Default: the global fetch. */
  fetch?: typeof fetch;
  /** Milliseconds since the epoch. Default `Date.now`. */
  now?: () => number;
}

/** How a request presented its client: the id it names and the method it used. */
interface Presented {
  clientId: string | undefined;
  secret: string | undefined;
  method: ClientAuthMethod;
  /** The client assertion (private_key_jwt). */
  assertion?: string;
}

interface Entry {
  client: ClientConfig;
  /** Digest of the secret; absent for a public or API-key-only client. */
  secret: Buffer | undefined;
  /** The public keys of a private_key_jwt client. */
  keys?: KeySet;
}

export class ClientRegistry {
  private readonly byId: Map<string, Entry>;
  private readonly withApiKey: Array<{ client: ClientConfig; apiKey: Buffer }>;
  private readonly decoy = digest('unknown client');
  private readonly now: () => number;
  /** The audiences an assertion may name: the broker's issuer and token endpoint (see {@link trustAudience}). */
  private audiences: string[] = [];
  /** `client_id\0jti` of the assertions accepted, until their `exp` (ms). */
  private readonly used = new Map<string, number>();

  constructor(clients: readonly ClientConfig[], options: ClientRegistryOptions = {}) {
    this.now = options.now ?? Date.now;
    const fetcher = options.fetch ?? ((...args: Parameters<typeof fetch>) => globalThis.fetch(...args));
    const keysOf = (c: ClientConfig): KeySet | undefined =>
      c.jwks ? localKeySet(c.jwks as unknown as JsonWebKeySet, `the keys of client ${c.clientId}`) : c.jwksUri ? remoteKeySet(c.jwksUri, { fetch: fetcher, now: this.now, timeoutMs: 5000 }) : undefined;
    // Digests of the secrets are computed once: a request then costs one hash.
    this.byId = new Map(clients.map((c) => [c.clientId, { client: c, secret: c.clientSecret === undefined ? undefined : digest(c.clientSecret), keys: keysOf(c) }]));
    this.withApiKey = clients.flatMap((c) => (c.apiKey === undefined ? [] : [{ client: c, apiKey: digest(c.apiKey) }]));
  }

  /** The RFC 6749 methods the configured clients use, in RFC 7591's order (for the metadata). */
  authMethods(): ClientAuthMethod[] {
    const used = new Set([...this.byId.values()].map((e) => e.client.tokenEndpointAuthMethod));
    return CLIENT_AUTH_METHODS.filter((m) => used.has(m));
  }

  /**
   * The configured client a request names (Basic user or `client_id`), before it is
   * authenticated: the failure limit counts against it. Undefined for an unknown id.
   */
  claimedId(credentials: ClientCredentials): string | undefined {
    let presented: Presented;
    try {
      presented = present(credentials);
    } catch {
      return undefined;
    }
    return presented.clientId !== undefined && this.byId.has(presented.clientId) ? presented.clientId : undefined;
  }

  /**
   * Authenticates the client of a form request (the RFC 6749 endpoints), by the one method the
   * client is configured with. A client with only an API key has none here.
   * @throws OAuthError `invalid_client` (401) for an unknown client, a wrong or missing secret, a
   *   secret sent in another method than the configured one, or a secret sent by a public
   *   client; `invalid_request` when two methods are used at once.
   */
  authenticate(credentials: ClientCredentials): ClientConfig {
    const { clientId, secret, method } = present(credentials);
    if (!clientId) throw invalidClient('client authentication is required');
    const entry = this.byId.get(clientId);
    const configured = entry?.client.tokenEndpointAuthMethod;
    if (entry && configured === 'none') {
      if (method !== 'none') throw invalidClient('this client is public and has no secret');
      return entry.client;
    }
    // Same work whatever went wrong, so timing does not tell which ids exist or how they authenticate.
    const matches = secretMatches(secret ?? '', entry?.secret ?? this.decoy);
    if (!entry || configured === undefined || method !== configured || secret === undefined || !matches) {
      throw invalidClient('unknown client or bad credentials');
    }
    return entry.client;
  }

  /**
   * The broker's issuer, once known (it may be chosen at listen time): a client assertion's `aud`
   * must be it or its token endpoint (RFC 7523 §3).
   */
  trustAudience(issuer: string): void {
    const base = issuer.replace(/\/$/, '');
    this.audiences = [...new Set([issuer, base, `${base}/oauth/token`])];
  }

  /**
   * Authenticates the client of a form request as {@link authenticate} does, and a
   * private_key_jwt client by its assertion: signed by one of its registered keys, `iss` and
   * `sub` its id, `aud` the broker, unexpired (at most {@link MAX_ASSERTION_LIFETIME_S} ahead),
   * and a `jti` not seen before.
   * @throws OAuthError `invalid_client` (401) for a bad, replayed or unexpected assertion;
   *   `invalid_request` for a malformed one or two methods at once.
   */
  async authenticateRequest(credentials: ClientCredentials): Promise<ClientConfig> {
    const { clientId, assertion, method } = present(credentials);
    if (method !== 'private_key_jwt') return this.authenticate(credentials);
    const entry = clientId === undefined ? undefined : this.byId.get(clientId);
    if (!entry?.keys || entry.client.tokenEndpointAuthMethod !== 'private_key_jwt' || this.audiences.length === 0) {
      throw invalidClient('unknown client or bad credentials');
    }
    const now = this.now();
    const result = await verifyJwt(assertion!, {
      issuer: clientId!,
      audience: this.audiences,
      keys: entry.keys,
      now,
      clockTolerance: ASSERTION_LEEWAY_S,
      claims: [{ name: 'sub', value: clientId! }],
    }).catch(() => undefined);
    if (!result?.valid) throw invalidClient(`client assertion rejected${result ? `: ${failureSummary(result)}` : ''}`);
    const { exp, jti } = result.payload as { exp?: unknown; jti?: unknown };
    if (typeof jti !== 'string' || jti === '') throw invalidClient('client assertion rejected: jti is missing (RFC 7523 §3)');
    if (typeof exp !== 'number' || exp * 1000 > now + (MAX_ASSERTION_LIFETIME_S + ASSERTION_LEEWAY_S) * 1000) {
      throw invalidClient(`client assertion rejected: exp is more than ${MAX_ASSERTION_LIFETIME_S} s ahead`);
    }
    this.remember(`${clientId}\0${jti}`, (exp + ASSERTION_LEEWAY_S) * 1000, now);
    return entry.client;
  }

  /** Records an assertion's jti until `until` (ms), or refuses it when it was seen already. */
  private remember(key: string, until: number, now: number): void {
    const seen = this.used.get(key);
    if (seen !== undefined && seen > now) throw invalidClient('client assertion rejected: it was used already (jti)');
    if (this.used.size >= MAX_REMEMBERED) {
      for (const [k, expiry] of this.used) if (expiry <= now) this.used.delete(k);
      if (this.used.size >= MAX_REMEMBERED) throw invalidClient('client assertion rejected: too many assertions in flight, retry shortly');
    }
    this.used.set(key, until);
  }

  /** The client holding this API key (Synerise-compatible login), compared in constant time. */
  byApiKey(apiKey: string): ClientConfig | undefined {
    let found: ClientConfig | undefined;
    const given = digest(apiKey);
    // No early exit: every key is compared, so timing does not reveal which one matched.
    for (const entry of this.withApiKey) {
      if (timingSafeEqual(given, entry.apiKey) && !found) found = entry.client;
    }
    return found;
  }
}

/**
 * The id, secret and method a request used (RFC 6749 §2.3.1).
 * @throws OAuthError invalid_request when two methods are used at once or the ids differ;
 *   invalid_client for malformed Basic credentials.
 */
function present(credentials: ClientCredentials): Presented {
  const header = credentials.authorization;
  if (credentials.clientAssertion !== undefined || credentials.clientAssertionType !== undefined) {
    if ((header !== undefined && /^basic\s/i.test(header)) || credentials.clientSecret !== undefined) {
      throw invalidRequest('use one client authentication method, not both a client assertion and a secret');
    }
    if (credentials.clientAssertionType !== JWT_BEARER_ASSERTION) throw invalidRequest(`client_assertion_type must be ${JWT_BEARER_ASSERTION}`);
    if (!credentials.clientAssertion) throw invalidRequest('client_assertion is missing');
    let sub: unknown;
    try {
      sub = (decodeToken(credentials.clientAssertion).payload as Record<string, unknown> | null)?.sub;
    } catch {
      throw invalidRequest('client_assertion is not a JWT');
    }
    const clientId = credentials.clientId ?? (typeof sub === 'string' ? sub : undefined);
    if (credentials.clientId !== undefined && sub !== credentials.clientId) throw invalidRequest('client_id does not match the client assertion\'s sub');
    return { clientId, secret: undefined, method: 'private_key_jwt', assertion: credentials.clientAssertion };
  }
  if (header !== undefined && /^basic\s/i.test(header)) {
    if (credentials.clientSecret !== undefined) throw invalidRequest('use one client authentication method, not both Basic and client_secret');
    const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) throw invalidClient('malformed Basic credentials');
    const basicId = formDecode(decoded.slice(0, colon));
    if (credentials.clientId !== undefined && credentials.clientId !== basicId) throw invalidRequest('client_id does not match the Basic credentials');
    return { clientId: basicId, secret: formDecode(decoded.slice(colon + 1)), method: 'client_secret_basic' };
  }
  const secret = credentials.clientSecret;
  return { clientId: credentials.clientId, secret, method: secret !== undefined ? 'client_secret_post' : 'none' };
}
