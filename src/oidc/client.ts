/**
 * The openid-client adapter: discovery, the PKCE authorization URL, code exchange, refresh,
 * revocation (RFC 7009), introspection (RFC 7662) and userinfo. The network comes in through
 * openid-client's own `customFetch` hook; every failure leaves as the authbridge hierarchy.
 */
import * as oidc from 'openid-client';
import { RemoteError, UsageError } from '../errors.js';
import { fetchJson, limitedFetch } from '../http/fetch-json.js';
import { isLoopbackHost } from '../http/loopback.js';
import { wrapIdpError } from './errors.js';
import { tracingFetch } from './trace.js';
import { discoveryUrl } from './urls.js';

export type ClientAuthMethod = 'none' | 'client_secret_basic' | 'client_secret_post';

export interface IdpConnectOptions {
  /** The issuer identifier, compared exactly with the discovery document's `issuer`. */
  issuer: string;
  clientId: string;
  /** Present for a confidential client: client_secret_basic, or _post when that is all the IdP offers. */
  clientSecret?: string;
  fetch: typeof fetch;
  /** Milliseconds since the epoch (trace timings only). */
  now: () => number;
  /** Seconds for each HTTP request. Default 30. */
  timeoutSeconds?: number;
  /** `--verbose`: receives one masked line a request and answer. */
  trace?: (line: string) => void;
}

/** What the IdP's discovery document says, as far as authbridge uses it. */
export interface IdpMetadata {
  issuer: string;
  authorization_endpoint?: string;
  token_endpoint?: string;
  jwks_uri?: string;
  userinfo_endpoint?: string;
  introspection_endpoint?: string;
  revocation_endpoint?: string;
  authorization_response_iss_parameter_supported?: boolean;
}

/** One login attempt's secrets: kept in memory only, never printed. */
export interface AuthorizationRequest {
  url: URL;
  redirectUri: string;
  state: string;
  nonce: string;
  codeVerifier: string;
  scopes: string[];
}

/** A token endpoint answer (RFC 6749 §5.1). */
export interface TokenSet {
  access_token: string;
  token_type: string;
  /** Seconds. */
  expires_in?: number;
  refresh_token?: string;
  id_token?: string;
  scope?: string;
}

export type IntrospectionResult = Record<string, unknown> & { active: boolean };

/** Parses the issuer and decides whether plain HTTP is allowed (loopback only). */
function parseIssuer(issuer: string): URL {
  let url: URL;
  try {
    url = new URL(issuer);
  } catch {
    throw new UsageError(`--issuer must be an https URL, got "${issuer}"`);
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(url.hostname))) {
    throw new UsageError(`--issuer must be an https URL (http only on 127.0.0.1/localhost), got "${issuer}"`);
  }
  if (url.search || url.hash) throw new UsageError(`--issuer must not have a query or fragment, got "${issuer}"`);
  return url;
}

/**
 * Picks the token endpoint client authentication: none for a public client; for a confidential
 * one client_secret_basic (RFC 6749 §2.3.1, and the metadata default) unless the IdP lists only
 * client_secret_post.
 */
export function chooseClientAuth(secret: string | undefined, supported: unknown): ClientAuthMethod {
  if (!secret) return 'none';
  if (Array.isArray(supported) && !supported.includes('client_secret_basic') && supported.includes('client_secret_post')) {
    return 'client_secret_post';
  }
  return 'client_secret_basic';
}

/** A connected IdP: discovery done, client configured. Build one with {@link connectIdp}. */
export class IdpClient {
  private constructor(
    private readonly config: oidc.Configuration,
    readonly metadata: IdpMetadata,
    readonly clientId: string,
    readonly clientAuthMethod: ClientAuthMethod,
    private readonly timeoutSeconds: number,
  ) {}

  /** @internal Use {@link connectIdp}. */
  static create(options: IdpConnectOptions, metadata: IdpMetadata & Record<string, unknown>): IdpClient {
    const method = chooseClientAuth(options.clientSecret, metadata.token_endpoint_auth_methods_supported);
    const auth =
      method === 'none'
        ? oidc.None()
        : method === 'client_secret_post'
          ? oidc.ClientSecretPost(options.clientSecret)
          : oidc.ClientSecretBasic(options.clientSecret);
    const config = new oidc.Configuration(
      metadata as oidc.ServerMetadata,
      options.clientId,
      options.clientSecret ? { client_secret: options.clientSecret } : undefined,
      auth,
    );
    const timeoutSeconds = options.timeoutSeconds ?? 30;
    config.timeout = timeoutSeconds;
    config[oidc.customFetch] = tracingFetch(limitedFetch(options.fetch), options.trace, options.now) as oidc.CustomFetch;
    if (new URL(metadata.issuer).protocol === 'http:') oidc.allowInsecureRequests(config);
    return new IdpClient(config, metadata, options.clientId, method, timeoutSeconds);
  }

  get issuer(): string {
    return this.metadata.issuer;
  }

  private wrap(action: string, err: unknown) {
    return wrapIdpError(action, err, this.timeoutSeconds);
  }

  /**
   * A fresh authorization request: PKCE S256 verifier and challenge, `state` and `nonce`, and
   * `prompt=consent` when `offline_access` is asked (OpenID Connect Core §11).
   */
  async authorizationRequest(input: { redirectUri: string; scopes: string[]; extra?: Record<string, string> }): Promise<AuthorizationRequest> {
    if (!this.metadata.authorization_endpoint) {
      throw new RemoteError(`could not start the login at ${this.issuer}: the discovery document has no authorization_endpoint`);
    }
    const codeVerifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const params: Record<string, string> = {
      response_type: 'code',
      redirect_uri: input.redirectUri,
      scope: input.scopes.join(' '),
      code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
      state,
      nonce,
      ...input.extra,
    };
    if (input.scopes.includes('offline_access')) params.prompt = 'consent';
    const url = oidc.buildAuthorizationUrl(this.config, params);
    return { url, redirectUri: input.redirectUri, state, nonce, codeVerifier, scopes: input.scopes };
  }

  /**
   * Validates the authorization response (`state`, RFC 9207 `iss` where sent, `error=`) and
   * exchanges the code with its PKCE verifier.
   * @throws AuthorizationRefusedError for `error=` callbacks, a state or iss mismatch, `invalid_grant`;
   *   RemoteError when the token endpoint fails.
   */
  async exchangeCode(callbackUrl: URL, request: AuthorizationRequest): Promise<TokenSet> {
    try {
      const tokens = await oidc.authorizationCodeGrant(this.config, callbackUrl, {
        pkceCodeVerifier: request.codeVerifier,
        expectedState: request.state,
        expectedNonce: request.nonce,
        idTokenExpected: request.scopes.includes('openid'),
      });
      return toTokenSet(tokens);
    } catch (err) {
      if (err instanceof oidc.AuthorizationResponseError) throw this.wrap('sign in', err);
      throw this.wrap('exchange the authorization code', err);
    }
  }

  /**
   * The refresh-token grant (RFC 6749 §6).
   * @throws AuthorizationRefusedError on `invalid_grant` (the session is over); RemoteError otherwise.
   */
  async refresh(refreshToken: string): Promise<TokenSet> {
    try {
      return toTokenSet(await oidc.refreshTokenGrant(this.config, refreshToken));
    } catch (err) {
      throw this.wrap('refresh the session', err);
    }
  }

  /**
   * RFC 7009 revocation.
   * @throws UsageError when the IdP has no revocation endpoint; RemoteError/AuthorizationRefusedError otherwise.
   */
  async revoke(token: string, hint: 'refresh_token' | 'access_token'): Promise<void> {
    const what = hint === 'refresh_token' ? 'the refresh token' : 'the access token';
    if (!this.metadata.revocation_endpoint) {
      throw new RemoteError(`could not revoke ${what}: ${this.issuer} has no revocation_endpoint`);
    }
    try {
      await oidc.tokenRevocation(this.config, token, { token_type_hint: hint });
    } catch (err) {
      throw this.wrap(`revoke ${what}`, err);
    }
  }

  /**
   * RFC 7662 introspection, client-authenticated as configured.
   * @throws UsageError when the IdP has no introspection endpoint.
   */
  async introspect(token: string, hint?: 'refresh_token' | 'access_token'): Promise<IntrospectionResult> {
    if (!this.metadata.introspection_endpoint) {
      throw new UsageError(`could not introspect the token: ${this.issuer} has no introspection_endpoint`);
    }
    try {
      const result = await oidc.tokenIntrospection(this.config, token, hint ? { token_type_hint: hint } : undefined);
      return result as IntrospectionResult;
    } catch (err) {
      throw this.wrap('introspect the token', err);
    }
  }

  /**
   * The UserInfo endpoint (OpenID Connect Core §5.3); `sub` must equal `expectedSubject` when given.
   * @throws AuthorizationRefusedError when the token is refused (401); RemoteError otherwise.
   */
  async userinfo(accessToken: string, expectedSubject?: string): Promise<Record<string, unknown>> {
    if (!this.metadata.userinfo_endpoint) {
      throw new UsageError(`could not fetch userinfo: ${this.issuer} has no userinfo_endpoint`);
    }
    try {
      return (await oidc.fetchUserInfo(this.config, accessToken, expectedSubject ?? oidc.skipSubjectCheck)) as Record<string, unknown>;
    } catch (err) {
      throw this.wrap('fetch userinfo', err);
    }
  }
}

function toTokenSet(tokens: oidc.TokenEndpointResponse): TokenSet {
  return {
    access_token: tokens.access_token,
    token_type: tokens.token_type,
    expires_in: typeof tokens.expires_in === 'number' ? tokens.expires_in : undefined,
    refresh_token: tokens.refresh_token,
    id_token: tokens.id_token,
    scope: tokens.scope,
  };
}

/**
 * Discovers the IdP and configures the client. The discovery document must name exactly
 * `options.issuer` (OpenID Connect Discovery §4.3), else it is refused.
 *
 * @example
 * const idp = await connectIdp({ issuer: 'https://idp.example.com', clientId: 'cli', fetch, now: Date.now });
 * const request = await idp.authorizationRequest({ redirectUri, scopes: ['openid'] });
 *
 * @throws UsageError for an issuer that is not https (http allowed on loopback);
 *   RemoteError when discovery is unreachable, not JSON, 4xx/5xx, or names another issuer.
 */
export async function connectIdp(options: IdpConnectOptions): Promise<IdpClient> {
  parseIssuer(options.issuer);
  const timeoutSeconds = options.timeoutSeconds ?? 30;
  const doc = await fetchJson(tracingFetch(options.fetch, options.trace, options.now), discoveryUrl(options.issuer), {
    what: 'the discovery document',
    timeoutMs: timeoutSeconds * 1000,
  });
  if (doc.issuer !== options.issuer) {
    throw new RemoteError(
      `could not use the discovery document of ${options.issuer}: it names the issuer "${String(doc.issuer)}"`,
      { hint: "The profile's issuer must match the provider's exactly (scheme, host, path, trailing slash)." },
    );
  }
  for (const field of ['authorization_endpoint', 'token_endpoint', 'jwks_uri', 'userinfo_endpoint', 'introspection_endpoint', 'revocation_endpoint']) {
    if (doc[field] !== undefined && typeof doc[field] !== 'string') {
      throw new RemoteError(`could not use the discovery document of ${options.issuer}: ${field} is not a string`);
    }
  }
  return IdpClient.create(options, doc as IdpMetadata & Record<string, unknown>);
}
