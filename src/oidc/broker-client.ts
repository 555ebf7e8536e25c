/**
 * The broker, seen from the CLI: RFC 8414 metadata, RFC 8693 token exchange, RFC 7009 revocation
 * and RFC 7662 introspection through openid-client, and the Synerise-compatible login call.
 */
import * as oidc from 'openid-client';
import { AuthorizationRefusedError, RemoteError, UsageError, describeError, isAuthbridgeError } from '../errors.js';
import { fetchJson, limitedFetch } from '../http/fetch-json.js';
import { isLoopbackHost } from '../http/loopback.js';
import { wrapIdpError } from './errors.js';
import { tracingFetch } from './trace.js';
import { TOKEN_EXCHANGE_GRANT, TOKEN_TYPE, authorizationServerMetadataUrl, tokenTypeUrn } from './urls.js';


export interface BrokerConnectOptions {
  /** The broker's base URL; its metadata must name it (or it without a trailing slash) as issuer. */
  url: string;
  clientId?: string;
  clientSecret?: string;
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

function brokerUrl(url: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`broker url must be an http(s) URL, got "${url}"`);
  }
  if (parsed.protocol !== 'https:' && !(parsed.protocol === 'http:' && isLoopbackHost(parsed.hostname))) {
    throw new UsageError(`broker url must be an https URL (http only on 127.0.0.1/localhost), got "${url}"`);
  }
  return parsed;
}

/** A broker whose metadata has been read. Build one with {@link connectBroker}. */
export class BrokerClient {
  constructor(
    private readonly config: oidc.Configuration,
    readonly metadata: BrokerMetadata,
    private readonly timeoutSeconds: number,
  ) {}

  get issuer(): string {
    return this.metadata.issuer;
  }

  private async wrap(action: string, err: unknown) {
    // A 401 with `WWW-Authenticate: Basic` (RFC 6749 §5.2, invalid_client) keeps the OAuth error
    // in its JSON body, not in the challenge: read it from there.
    if (err instanceof oidc.WWWAuthenticateChallengeError) {
      const body = (await err.response.json().catch(() => undefined)) as { error?: unknown; error_description?: unknown } | undefined;
      if (typeof body?.error === 'string') {
        const description = typeof body.error_description === 'string' ? `: ${body.error_description}` : '';
        return new AuthorizationRefusedError(`could not ${action}: ${body.error}${description} (HTTP ${err.status})`, {
          cause: err,
          hint: body.error === 'invalid_client' ? "Check the profile's broker.clientId and broker.clientSecret." : undefined,
        });
      }
    }
    return wrapIdpError(action, err, this.timeoutSeconds);
  }

  /**
   * RFC 8693 token exchange.
   * @throws AuthorizationRefusedError when the broker answers an OAuth error (invalid_request,
   *   invalid_client, registration_required…); RemoteError when unreachable or 5xx/503.
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
    try {
      const response = await oidc.genericGrantRequest(this.config, TOKEN_EXCHANGE_GRANT, params);
      return {
        access_token: response.access_token,
        issued_token_type: String(response.issued_token_type ?? TOKEN_TYPE.accessToken),
        token_type: response.token_type,
        expires_in: typeof response.expires_in === 'number' ? response.expires_in : undefined,
        account_status: typeof response.account_status === 'string' ? response.account_status : undefined,
      };
    } catch (err) {
      throw await this.wrap(`exchange the token with the broker at ${this.issuer}`, err);
    }
  }

  /** RFC 7009: ends the broker session the token belongs to. */
  async revoke(token: string): Promise<void> {
    if (!this.metadata.revocation_endpoint) throw new RemoteError(`could not end the broker session: ${this.issuer} has no revocation_endpoint`);
    try {
      await oidc.tokenRevocation(this.config, token, { token_type_hint: 'access_token' });
    } catch (err) {
      throw await this.wrap('end the broker session', err);
    }
  }

  /** RFC 7662 at the broker: is the broker session still live? */
  async introspect(token: string): Promise<Record<string, unknown> & { active: boolean }> {
    if (!this.metadata.introspection_endpoint) {
      throw new UsageError(`could not introspect at the broker: ${this.issuer} has no introspection_endpoint`);
    }
    try {
      return (await oidc.tokenIntrospection(this.config, token)) as Record<string, unknown> & { active: boolean };
    } catch (err) {
      throw await this.wrap('introspect the broker token', err);
    }
  }
}

/**
 * Reads the broker's RFC 8414 metadata and configures the client (client_secret_basic with a
 * secret, else a public client identified by `client_id`).
 * @throws UsageError for a bad URL or missing client id; RemoteError when the metadata cannot be had.
 */
export async function connectBroker(options: BrokerConnectOptions): Promise<BrokerClient> {
  const url = brokerUrl(options.url);
  if (!options.clientId) {
    throw new UsageError('missing broker client id', {
      hint: 'Give --broker-client-id, set AUTHBRIDGE_BROKER_CLIENT_ID, or run `authbridge config set broker.clientId VALUE`.',
    });
  }
  const timeoutSeconds = options.timeoutSeconds ?? 30;
  const fetchImpl = tracingFetch(options.fetch, options.trace, options.now);
  const base = url.href.replace(/\/$/, '');
  const doc = await fetchJson(fetchImpl, authorizationServerMetadataUrl(base), {
    what: 'the broker metadata',
    timeoutMs: timeoutSeconds * 1000,
  });
  if (typeof doc.issuer !== 'string' || doc.issuer.replace(/\/$/, '') !== base) {
    throw new RemoteError(`could not use the broker metadata of ${options.url}: it names the issuer "${String(doc.issuer)}"`);
  }
  for (const field of ['token_endpoint', 'jwks_uri']) {
    if (typeof doc[field] !== 'string') throw new RemoteError(`could not use the broker metadata of ${options.url}: it has no ${field}`);
  }
  const auth = options.clientSecret ? oidc.ClientSecretBasic(options.clientSecret) : oidc.None();
  const config = new oidc.Configuration(
    doc as unknown as oidc.ServerMetadata,
    options.clientId,
    options.clientSecret ? { client_secret: options.clientSecret } : undefined,
    auth,
  );
  config.timeout = timeoutSeconds;
  config[oidc.customFetch] = limitedFetch(fetchImpl) as oidc.CustomFetch;
  if (url.protocol === 'http:') oidc.allowInsecureRequests(config);
  return new BrokerClient(config, doc as unknown as BrokerMetadata, timeoutSeconds);
}

export interface SyneriseLoginInput {
  url: string;
  apiKey: string;
  token: string;
  fetch: typeof fetch;
  now: () => number;
  timeoutSeconds?: number;
  trace?: (line: string) => void;
  /** A stable device id for this CLI installation. */
  deviceId: string;
  uuid: string;
}

export interface SyneriseLoginResult {
  token: string;
  /** Seconds since the epoch. */
  expiration: number;
  customId?: string;
}

/**
 * `POST /sauth/v3/auth/login/client` with `identityProvider: OAUTH`, for brokers speaking the
 * Synerise SDK's REST call.
 * @throws AuthorizationRefusedError for a 4xx answer; RemoteError when unreachable, 5xx or garbage.
 */
export async function syneriseLogin(input: SyneriseLoginInput): Promise<SyneriseLoginResult> {
  const url = `${brokerUrl(input.url).href.replace(/\/$/, '')}/sauth/v3/auth/login/client`;
  const timeoutSeconds = input.timeoutSeconds ?? 30;
  const fetchImpl = tracingFetch(input.fetch, input.trace, input.now);
  let response: Response;
  try {
    response = await fetchImpl(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({
        apiKey: input.apiKey,
        identityProvider: 'OAUTH',
        identityProviderToken: input.token,
        uuid: input.uuid,
        deviceId: input.deviceId,
      }),
      signal: AbortSignal.timeout(timeoutSeconds * 1000),
    });
  } catch (err) {
    if (isAuthbridgeError(err)) throw err;
    const why = (err as Error).name === 'TimeoutError' ? `no answer within ${timeoutSeconds} s` : describeError(err);
    throw new RemoteError(`could not sign in at the broker ${input.url}: ${why}`, { cause: err });
  }
  const text = await response.text();
  let body: Record<string, unknown> | undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) body = parsed as Record<string, unknown>;
  } catch {
    // not JSON: reported below
  }
  if (response.status >= 400 && response.status < 500) {
    const error = String(body?.error ?? `HTTP ${response.status}`);
    const description = body?.error_description ?? body?.message;
    throw new AuthorizationRefusedError(`could not sign in at the broker ${input.url}: ${error}${description ? `: ${String(description)}` : ''}`);
  }
  if (!response.ok || !body) {
    throw new RemoteError(`could not sign in at the broker ${input.url}: ${response.ok ? 'the answer is not JSON' : `HTTP ${response.status}`}`);
  }
  if (typeof body.token !== 'string' || typeof body.expiration !== 'number') {
    throw new RemoteError(`could not sign in at the broker ${input.url}: the answer has no token/expiration`);
  }
  return { token: body.token, expiration: body.expiration, customId: typeof body.customId === 'string' ? body.customId : undefined };
}
