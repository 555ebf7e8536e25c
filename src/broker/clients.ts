/**
 * Client authentication at the broker: each client by the one method it is configured with
 * (client_secret_basic, client_secret_post, or none: public by client_id), or by its API key at
 * the Synerise-compatible endpoint.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { CLIENT_AUTH_METHODS, type ClientAuthMethod, type ClientConfig } from './config.js';
import { invalidClient, invalidRequest } from './oauth-error.js';

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
  return client.tokenEndpointAuthMethod === 'client_secret_basic' || client.tokenEndpointAuthMethod === 'client_secret_post';
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
}

/** How a request presented its client: the id it names and the method it used. */
interface Presented {
  clientId: string | undefined;
  secret: string | undefined;
  method: ClientAuthMethod;
}

interface Entry {
  client: ClientConfig;
  /** Digest of the secret; absent for a public or API-key-only client. */
  secret: Buffer | undefined;
}

export class ClientRegistry {
  private readonly byId: Map<string, Entry>;
  private readonly withApiKey: Array<{ client: ClientConfig; apiKey: Buffer }>;
  private readonly decoy = digest('unknown client');

  constructor(clients: readonly ClientConfig[]) {
    // Digests of the secrets are computed once: a request then costs one hash.
    this.byId = new Map(clients.map((c) => [c.clientId, { client: c, secret: c.clientSecret === undefined ? undefined : digest(c.clientSecret) }]));
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
