/**
 * The broker, seen from the CLI: RFC 8414 metadata, RFC 8693 token exchange, RFC 7009 revocation
 * and RFC 7662 introspection through openid-client. (The Synerise-compatible login call is
 * `synerise.ts`.)
 */
import * as oidc from 'openid-client';
import { RemoteError, UsageError } from '../errors.js';
import { secureUrl } from '../http/loopback.js';
import { loadClientKey, type ClientKeySettings } from './client-key.js';
import { Connection } from './connection.js';
import { BROKER_ENDPOINTS, fetchMetadata } from './metadata.js';
import { tracingFetch } from './trace.js';
import { DEFAULT_TIMEOUT_SECONDS } from './transport.js';
import { TOKEN_EXCHANGE_GRANT, TOKEN_TYPE, authorizationServerMetadataUrl, tokenTypeUrn } from './urls.js';

export interface BrokerConnectOptions {
  /** The broker's base URL; its metadata must name it (or it without a trailing slash) as issuer. */
  url: string;
  clientId?: string;
  clientSecret?: string;
  /** The profile's `broker.clientKey` (`private_key_jwt`, RFC 7523), used when there is no secret. */
  clientKey?: ClientKeySettings;
  fetch: typeof fetch;
  now: () => number;
  /** Seconds for each request. Default 30. */
  timeoutSeconds?: number;
  trace?: (line: string) => void;
}

export interface BrokerMetadata {
  issuer: string;
  token_endpoint: string;
  jwks_uri: string;
  introspection_endpoint?: string;
  revocation_endpoint?: string;
  userinfo_endpoint?: string;
}

export interface ExchangeInput {
  subjectToken: string;
  /** `access_token`, `id_token` or `jwt`, or a full token-type URN. */
  subjectTokenType: string;
  audience?: string;
  scope?: string;
  resource?: string;
}

export interface ExchangeResult {
  access_token: string;
  issued_token_type: string;
  token_type: string;
  expires_in?: number;
  account_status?: string;
}

/** A broker whose metadata has been read. Build one with {@link connectBroker}. */
export class BrokerClient {
  /** @internal Use {@link connectBroker}. */
  constructor(
    private readonly connection: Connection,
    readonly metadata: BrokerMetadata,
  ) {}

  get issuer(): string {
    return this.metadata.issuer;
  }

  /**
   * RFC 8693 token exchange.
   * @throws OAuthRefusedError when the broker answers an OAuth error (invalid_request,
   *   invalid_client — also in a 401's body behind a `WWW-Authenticate: Basic` challenge —,
   *   registration_required…); RemoteError when unreachable or 5xx/503.
   */
  async exchange(input: ExchangeInput): Promise<ExchangeResult> {
    const params: Record<string, string> = {
      subject_token: input.subjectToken,
      subject_token_type: tokenTypeUrn(input.subjectTokenType),
      requested_token_type: TOKEN_TYPE.accessToken,
    };
    if (input.audience) params.audience = input.audience;
    if (input.scope) params.scope = input.scope;
    if (input.resource) params.resource = input.resource;
    const response = await this.connection.run(`exchange the token with the broker at ${this.issuer}`, (config) =>
      oidc.genericGrantRequest(config, TOKEN_EXCHANGE_GRANT, params),
    );
    return {
      access_token: response.access_token,
      issued_token_type: String(response.issued_token_type ?? TOKEN_TYPE.accessToken),
      token_type: response.token_type,
      expires_in: typeof response.expires_in === 'number' ? response.expires_in : undefined,
      account_status: typeof response.account_status === 'string' ? response.account_status : undefined,
    };
  }

  /** RFC 7009: ends the broker session the token belongs to. */
  async revoke(token: string): Promise<void> {
    if (!this.metadata.revocation_endpoint) throw new RemoteError(`could not end the broker session: ${this.issuer} has no revocation_endpoint`);
    await this.connection.run(
      'end the broker session',
      (config) => oidc.tokenRevocation(config, token, { token_type_hint: 'access_token' }),
      'revocation',
    );
  }

  /**
   * The broker's `/userinfo` with a broker token: the customer as stored, while the session is
   * live. What a public client can ask, as the broker introspects only for confidential ones.
   * @param expectedSubject The token's `sub`; the answer must name it (OpenID Connect Core §5.3.2).
   * @throws UsageError when the broker has no userinfo_endpoint; AuthorizationRefusedError (an
   *   OAuthRefusedError `invalid_token`) when the token is refused (401: revoked or expired);
   *   RemoteError otherwise.
   */
  async userinfo(token: string, expectedSubject?: string): Promise<Record<string, unknown>> {
    if (!this.metadata.userinfo_endpoint) throw new UsageError(`could not ask the broker: ${this.issuer} has no userinfo_endpoint`);
    const info = await this.connection.run(
      'fetch the broker userinfo',
      (config) => oidc.fetchUserInfo(config, token, expectedSubject ?? oidc.skipSubjectCheck),
      'userinfo',
    );
    return info as Record<string, unknown>;
  }

  /** RFC 7662 at the broker: is the broker session still live? (The broker answers confidential clients only.) */
  async introspect(token: string): Promise<Record<string, unknown> & { active: boolean }> {
    if (!this.metadata.introspection_endpoint) {
      throw new UsageError(`could not introspect at the broker: ${this.issuer} has no introspection_endpoint`);
    }
    const result = await this.connection.run('introspect the broker token', (config) => oidc.tokenIntrospection(config, token), 'introspection');
    return result as Record<string, unknown> & { active: boolean };
  }
}

/**
 * Reads the broker's RFC 8414 metadata and configures the client: client_secret_basic with a
 * secret (client_secret_post when that is all the broker lists), else a public client identified
 * by `client_id`. The metadata must name the broker's URL as its issuer, a trailing slash aside.
 *
 * @example
 * const broker = await connectBroker({ url: 'https://broker.example.com', clientId: 'cli', fetch, now: Date.now });
 * const { access_token } = await broker.exchange({ subjectToken, subjectTokenType: 'access_token' });
 *
 * @throws UsageError for a URL that is not https (http allowed on loopback) or a missing client
 *   id; RemoteError when the metadata is unreachable, not JSON, 4xx/5xx, names another issuer,
 *   has no token_endpoint or jwks_uri, or names an endpoint that is not https (http allowed on
 *   loopback).
 */
export async function connectBroker(options: BrokerConnectOptions): Promise<BrokerClient> {
  const url = secureUrl(options.url, 'broker url');
  if (!options.clientId) {
    throw new UsageError('missing broker client id', {
      hint: 'Give --broker-client-id, set AUTHBRIDGE_BROKER_CLIENT_ID, or run `authbridge config set broker.clientId VALUE`.',
    });
  }
  const base = url.href.replace(/\/$/, '');
  const doc = await fetchMetadata(tracingFetch(options.fetch, options.trace, options.now), authorizationServerMetadataUrl(base), {
    issuer: base,
    issuerMatch: 'ignore-trailing-slash',
    what: 'the broker metadata',
    subject: options.url,
    required: ['token_endpoint', 'jwks_uri'],
    endpoints: BROKER_ENDPOINTS,
    timeoutMs: (options.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS) * 1000,
  });
  const clientKey = options.clientKey && !options.clientSecret ? await loadClientKey(options.clientKey, doc.token_endpoint_auth_signing_alg_values_supported) : undefined;
  const connection = new Connection({ ...options, clientKey, clientId: options.clientId, party: 'broker', metadata: doc });
  return new BrokerClient(connection, doc as unknown as BrokerMetadata);
}
