/** Client authentication at the broker: client_secret_basic, client_secret_post, or public by client_id. */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { ClientConfig } from './config.js';
import { invalidClient, invalidRequest } from './oauth-error.js';

const digest = (value: string): Buffer => createHash('sha256').update(value).digest();

/**
 * Compares a secret with the digest of the expected one in time that depends on neither
 * (hashing first equalises the lengths).
 */
export function secretMatches(given: string, expectedDigest: Buffer): boolean {
  return timingSafeEqual(digest(given), expectedDigest);
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

export class ClientRegistry {
  private readonly byId: Map<string, { client: ClientConfig; secret: Buffer | undefined }>;
  private readonly withApiKey: Array<{ client: ClientConfig; apiKey: Buffer }>;
  private readonly decoy = digest('unknown client');

  constructor(clients: readonly ClientConfig[]) {
    // Digests of the secrets are computed once: a request then costs one hash.
    this.byId = new Map(clients.map((c) => [c.clientId, { client: c, secret: c.clientSecret === undefined ? undefined : digest(c.clientSecret) }]));
    this.withApiKey = clients.flatMap((c) => (c.apiKey === undefined ? [] : [{ client: c, apiKey: digest(c.apiKey) }]));
  }

  /**
   * Authenticates the client of a form request.
   * @throws OAuthError `invalid_client` (401) for an unknown client or a wrong or missing secret,
   *   `invalid_request` when two methods are used at once.
   */
  authenticate(credentials: ClientCredentials): ClientConfig {
    let clientId = credentials.clientId;
    let secret = credentials.clientSecret;
    let method: 'basic' | 'post' | 'none' = secret !== undefined ? 'post' : 'none';
    const header = credentials.authorization;
    if (header !== undefined && /^basic\s/i.test(header)) {
      if (secret !== undefined) throw invalidRequest('use one client authentication method, not both Basic and client_secret');
      const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon < 0) throw invalidClient('malformed Basic credentials');
      const basicId = formDecode(decoded.slice(0, colon));
      if (clientId !== undefined && clientId !== basicId) throw invalidRequest('client_id does not match the Basic credentials');
      clientId = basicId;
      secret = formDecode(decoded.slice(colon + 1));
      method = 'basic';
    }
    if (!clientId) throw invalidClient('client authentication is required');
    const entry = this.byId.get(clientId);
    if (!entry) {
      // Same work as a known client, so timing does not tell which ids exist.
      secretMatches(secret ?? '', this.decoy);
      throw invalidClient('unknown client or bad credentials');
    }
    if (entry.secret === undefined) {
      if (method !== 'none') throw invalidClient('this client is public and has no secret');
      return entry.client;
    }
    if (secret === undefined || !secretMatches(secret, entry.secret)) throw invalidClient('unknown client or bad credentials');
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
