/**
 * The openid-client adapter: discovery, the PKCE authorization URL, code exchange, refresh,
 * revocation (RFC 7009), introspection (RFC 7662) and userinfo. The network comes in through
 * openid-client's own `customFetch` hook; every failure leaves as the authbridge hierarchy.
 */
import * as oidc from 'openid-client';
import { RemoteError, UsageError, describeError } from '../errors.js';
import { secureUrl } from '../http/loopback.js';
import { loadClientKey, type ClientKey, type ClientKeySettings } from './client-key.js';
import { Connection, chooseClientAuth, clientAuthFor, type BearerConfiguration, type ClientAuthMethod, type ConfiguredClientAuthMethod } from './connection.js';
import { IDP_ENDPOINTS, fetchMetadata } from './metadata.js';
import { tracingFetch } from './trace.js';
import { DEFAULT_TIMEOUT_SECONDS, endpointFetch } from './transport.js';
import { discoveryUrl, fitsTenantTemplate } from './urls.js';

export { CLIENT_AUTH_METHODS, chooseClientAuth, type ClientAuthMethod, type ConfiguredClientAuthMethod } from './connection.js';

export interface IdpConnectOptions {
  /** The issuer identifier, compared exactly with the discovery document's `issuer`. */
  issuer: string;
  clientId: string;
  /** Present for a confidential client: the first of client_secret_basic/_post the IdP lists. */
  clientSecret?: string;
  /** The profile's `clientAuthMethod`: overrides the choice from discovery. */
  clientAuthMethod?: ConfiguredClientAuthMethod;
  /** The profile's `clientKey` (with `clientKeyId`, `clientKeyAlg`): `private_key_jwt` (RFC 7523). */
  clientKey?: ClientKeySettings;
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
  /** RFC 8628 §4. */
  device_authorization_endpoint?: string;
  revocation_endpoint_auth_methods_supported?: unknown;
  scopes_supported?: unknown;
  introspection_endpoint_auth_methods_supported?: unknown;
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
  /** RFC 8707 `resource`, sent again with the code exchange. */
  resource?: string;
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

/** A connected IdP: discovery done, client configured. Build one with {@link connectIdp}. */
export class IdpClient {
  private constructor(
    private readonly connection: Connection,
    readonly metadata: IdpMetadata,
    readonly clientId: string,
  ) {}

  /** @internal Use {@link connectIdp}. */
  static create(
    options: IdpConnectOptions & { configure?: (auth: oidc.ClientAuth) => oidc.Configuration },
    metadata: IdpMetadata & Record<string, unknown>,
    clientKey?: ClientKey,
  ): IdpClient {
    const connection = new Connection({ ...options, clientKey, party: 'IdP', metadata });
    return new IdpClient(connection, metadata, options.clientId);
  }

  get issuer(): string {
    return this.metadata.issuer;
  }

  /** How the client authenticates at the token endpoint. */
  get clientAuthMethod(): ClientAuthMethod {
    return this.connection.clientAuthMethod;
  }

  /**
   * A fresh authorization request: PKCE S256 verifier and challenge, `state` and `nonce`, and
   * `extra` parameters (`prompt`, `audience`, `resource`, `--auth-param`s) — but no `prompt` of
   * its own: a forced `consent` shows a consent screen at every login. `resource`, when given,
   * is also sent with the code exchange (RFC 8707 §2.2).
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
    };
    // The extra parameters never replace the ones the flow's security rests on.
    for (const [key, value] of Object.entries(input.extra ?? {})) if (!(key in params)) params[key] = value;
    const url = oidc.buildAuthorizationUrl(this.connection.config, params);
    return { url, redirectUri: input.redirectUri, state, nonce, codeVerifier, scopes: input.scopes, resource: input.extra?.resource };
  }

  /**
   * Validates the authorization response (`state`, RFC 9207 `iss` where sent, `error=`) and
   * exchanges the code with its PKCE verifier.
   * @throws OAuthRefusedError (exit 5) for `error=` callbacks and OAuth errors such as
   *   `invalid_grant`; AuthorizationRefusedError for a state or iss mismatch; TokenRejectedError
   *   for an ID token failing openid-client's checks; RemoteError when the token endpoint fails.
   */
  async exchangeCode(callbackUrl: URL, request: AuthorizationRequest): Promise<TokenSet> {
    try {
      const tokens = await oidc.authorizationCodeGrant(
        this.connection.config,
        callbackUrl,
        {
          pkceCodeVerifier: request.codeVerifier,
          expectedState: request.state,
          expectedNonce: request.nonce,
          idTokenExpected: request.scopes.includes('openid'),
        },
        request.resource ? { resource: request.resource } : undefined,
      );
      return toTokenSet(tokens);
    } catch (err) {
      const refused = err instanceof oidc.AuthorizationResponseError;
      throw await this.connection.fail(refused ? 'sign in' : 'exchange the authorization code', err, refused ? 'authorization' : 'token');
    }
  }

  /**
   * The refresh-token grant (RFC 6749 §6).
   * @throws OAuthRefusedError on `invalid_grant` (the session is over); RemoteError otherwise.
   */
  async refresh(refreshToken: string): Promise<TokenSet> {
    return toTokenSet(await this.connection.run('refresh the session', (config) => oidc.refreshTokenGrant(config, refreshToken)));
  }

  /**
   * The client credentials grant (RFC 6749 §4.4): a token for the client itself, no user, no
   * browser. `resource` (RFC 8707) and `audience` are sent when given.
   * @throws UsageError when the IdP has no token endpoint; OAuthRefusedError when it refuses
   *   (`unauthorized_client`, `invalid_client`, `invalid_scope`); RemoteError when it fails.
   */
  async clientCredentials(input: { scopes?: string[]; audience?: string; resource?: string }): Promise<TokenSet> {
    if (!this.metadata.token_endpoint) throw new UsageError(`could not get a client credentials token: ${this.issuer} has no token_endpoint`);
    const params: Record<string, string> = {};
    if (input.scopes?.length) params.scope = input.scopes.join(' ');
    if (input.audience) params.audience = input.audience;
    if (input.resource) params.resource = input.resource;
    return toTokenSet(await this.connection.run('get a client credentials token', (config) => oidc.clientCredentialsGrant(config, params)));
  }

  /**
   * How a public client reaches the revocation or introspection endpoint: as a public client
   * when the IdP lists `none` for it or lists nothing; with `Authorization: Bearer <bearer>` when
   * it lists `bearer` (and an access token is at hand). A confidential client authenticates as
   * configured (undefined).
   * @throws UsageError when the IdP lists methods for that endpoint that a public client cannot use.
   */
  private publicAccess(endpoint: 'revocation' | 'introspection', action: string, bearer: string | undefined): BearerConfiguration | undefined {
    if (this.clientAuthMethod !== 'none') return undefined;
    const listed = this.metadata[`${endpoint}_endpoint_auth_methods_supported`];
    if (!Array.isArray(listed) || listed.length === 0 || listed.includes('none')) return undefined;
    if (listed.includes('bearer') && bearer) return this.connection.withBearer(bearer);
    throw new UsageError(
      `could not ${action}: ${this.issuer} refuses public clients at its ${endpoint} endpoint (it lists ${listed.join(', ')})`,
      {
        hint:
          'Give the profile a confidential client (clientId and clientSecret).' +
          (endpoint === 'introspection' ? ' A JWT access token can be checked locally with `authbridge verify --type access`.' : ''),
      },
    );
  }

  /**
   * RFC 7009 revocation. A public client uses `bearer` (an access token of the session) where the
   * IdP lists it for revocation.
   * @throws RemoteError when the IdP has no revocation endpoint or fails; UsageError when it
   *   refuses public clients (see `publicAccess`); OAuthRefusedError / AuthorizationRefusedError
   *   when it refuses.
   */
  async revoke(token: string, hint: 'refresh_token' | 'access_token', options: { bearer?: string } = {}): Promise<void> {
    const what = hint === 'refresh_token' ? 'the refresh token' : 'the access token';
    if (!this.metadata.revocation_endpoint) {
      throw new RemoteError(`could not revoke ${what}: ${this.issuer} has no revocation_endpoint`);
    }
    const access = this.publicAccess('revocation', `revoke ${what}`, options.bearer);
    await this.connection.run(`revoke ${what}`, (config) => oidc.tokenRevocation(config, token, { token_type_hint: hint }), 'revocation', access);
  }

  /**
   * RFC 7662 introspection, client-authenticated as configured; a public client uses `bearer`
   * where the IdP lists it for introspection.
   * @throws UsageError when the IdP has no introspection endpoint or refuses public clients;
   *   OAuthRefusedError when it refuses (`invalid_client`); RemoteError when it fails.
   */
  async introspect(token: string, hint?: 'refresh_token' | 'access_token', options: { bearer?: string } = {}): Promise<IntrospectionResult> {
    if (!this.metadata.introspection_endpoint) {
      throw new UsageError(`could not introspect the token: ${this.issuer} has no introspection_endpoint`, {
        hint: 'A JWT access token can be checked locally with `authbridge verify --type access`.',
      });
    }
    const access = this.publicAccess('introspection', 'introspect the token', options.bearer);
    const result = await this.connection.run(
      'introspect the token',
      (config) => oidc.tokenIntrospection(config, token, hint ? { token_type_hint: hint } : undefined),
      'introspection',
      access,
    );
    return result as IntrospectionResult;
  }

  /**
   * The UserInfo endpoint (OpenID Connect Core §5.3); `sub` must equal `expectedSubject` when given.
   * @throws UsageError when the IdP has no userinfo endpoint; AuthorizationRefusedError (an
   *   OAuthRefusedError when the challenge names the error) when the token is refused (401);
   *   RemoteError otherwise.
   */
  async userinfo(accessToken: string, expectedSubject?: string): Promise<Record<string, unknown>> {
    if (!this.metadata.userinfo_endpoint) {
      throw new UsageError(`could not fetch userinfo: ${this.issuer} has no userinfo_endpoint`);
    }
    const info = await this.connection.run(
      'fetch userinfo',
      (config) => oidc.fetchUserInfo(config, accessToken, expectedSubject ?? oidc.skipSubjectCheck),
      'userinfo',
    );
    return info as Record<string, unknown>;
  }

  /**
   * RFC 8628 §3.1–3.2: asks the device authorization endpoint for a device code and a user code,
   * authenticating the client as configured. No PKCE: RFC 8628 defines none for this endpoint and
   * oidc-provider refuses `code_challenge` there.
   * @throws UsageError when the IdP has no device_authorization_endpoint; OAuthRefusedError (exit
   *   5) when it refuses (`unauthorized_client`: the client may not use the device grant);
   *   RemoteError when it fails or answers garbage.
   */
  async startDeviceAuthorization(input: { scopes: string[]; extra?: Record<string, string> }): Promise<DeviceAuthorization> {
    if (!this.metadata.device_authorization_endpoint) {
      throw new UsageError(`could not start the device sign-in: ${this.issuer} has no device_authorization_endpoint in its discovery document`);
    }
    const params: Record<string, string> = { scope: input.scopes.join(' ') };
    for (const [key, value] of Object.entries(input.extra ?? {})) if (!(key in params)) params[key] = value;
    const config = this.connection.config;
    const network = config[oidc.customFetch]!;
    if (!(network as { deviceQuirks?: true }).deviceQuirks) {
      config[oidc.customFetch] = Object.assign(verificationUrlAsUri(network, this.metadata.device_authorization_endpoint), { deviceQuirks: true as const });
    }
    const answer = await this.connection.run(
      'start the device sign-in',
      (config) => oidc.initiateDeviceAuthorization(config, params),
      'device_authorization',
    );
    return {
      deviceCode: answer.device_code,
      userCode: answer.user_code,
      verificationUri: answer.verification_uri,
      verificationUriComplete: typeof answer.verification_uri_complete === 'string' ? answer.verification_uri_complete : undefined,
      expiresIn: answer.expires_in,
      interval: typeof answer.interval === 'number' && answer.interval > 0 ? answer.interval : undefined,
      resource: input.extra?.resource,
    };
  }

  /**
   * One device access token request (RFC 8628 §3.4–3.5). `authorization_pending` and
   * `slow_down` come back as answers (the caller waits and asks again); the tokens when the user
   * has approved. The ID token passes openid-client's claim checks here and is verified again by
   * the flow.
   * @throws OAuthRefusedError for `access_denied`, `expired_token`, `invalid_grant`,
   *   `unauthorized_client` …; RemoteError when the token endpoint fails.
   */
  async pollDeviceToken(device: DeviceAuthorization): Promise<DevicePoll> {
    const params: Record<string, string> = { device_code: device.deviceCode };
    if (device.resource) params.resource = device.resource;
    try {
      const tokens = await oidc.genericGrantRequest(this.connection.config, DEVICE_CODE_GRANT, params);
      return { status: 'tokens', tokens: toTokenSet(tokens) };
    } catch (err) {
      if (err instanceof oidc.ResponseBodyError && (err.error === 'authorization_pending' || err.error === 'slow_down')) {
        return { status: err.error };
      }
      throw await this.connection.fail('sign in with the device code', err, 'token');
    }
  }
}

/**
 * Google's device endpoint predates RFC 8628 and names the verification URI `verification_url`
 * (kubelogin#846): its answer, and only that endpoint's, gets the RFC's `verification_uri` too.
 */
function verificationUrlAsUri(network: oidc.CustomFetch, endpoint: string): oidc.CustomFetch {
  return async (url, options) => {
    const response = await network(url, options);
    if (url !== endpoint || !response.ok) return response;
    const text = await response.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    const answer = body as Record<string, unknown> | undefined;
    if (answer && typeof answer === 'object' && answer.verification_uri === undefined && typeof answer.verification_url === 'string') {
      answer.verification_uri = answer.verification_url;
    }
    const headers = new Headers(response.headers);
    headers.delete('content-length');
    headers.delete('content-encoding');
    return new Response(answer ? JSON.stringify(answer) : text, { status: response.status, statusText: response.statusText, headers });
  };
}

/** RFC 8628 §3.4's grant type. */
export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

/** A device authorization answer (RFC 8628 §3.2); the device code is a secret, never printed. */
export interface DeviceAuthorization {
  deviceCode: string;
  userCode: string;
  verificationUri: string;
  verificationUriComplete?: string;
  /** Seconds the codes live. */
  expiresIn: number;
  /** Seconds between polls, when the IdP says (RFC 8628 default: 5). */
  interval?: number;
  /** RFC 8707 `resource`, sent again with each token request. */
  resource?: string;
}

/** One poll's answer: wait and ask again, wait 5 s longer and ask again, or the tokens. */
export type DevicePoll = { status: 'authorization_pending' } | { status: 'slow_down' } | { status: 'tokens'; tokens: TokenSet };

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
 *   RemoteError when discovery is unreachable, not JSON, 4xx/5xx, names another issuer, or names
 *   an endpoint that is not https (http allowed on loopback).
 */
export async function connectIdp(options: IdpConnectOptions): Promise<IdpClient> {
  const issuer = secureUrl(options.issuer, '--issuer');
  if (issuer.search || issuer.hash) throw new UsageError(`--issuer must not have a query or fragment, got "${options.issuer}"`);
  const doc = await fetchMetadata(tracingFetch(options.fetch, options.trace, options.now), discoveryUrl(options.issuer), {
    issuer: options.issuer,
    what: 'the discovery document',
    configuredIssuer: true,
    optional: IDP_ENDPOINTS,
    // RFC 9700 §2.6 / RFC 8252 §8.3: an endpoint on plain http elsewhere, or `javascript:`, is
    // never called nor opened in the browser.
    endpoints: IDP_ENDPOINTS,
    timeoutMs: (options.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS) * 1000,
  });
  // The key is read only when it will sign: a secret (or a configured secret method) wins.
  const keyNeeded = options.clientKey !== undefined && (options.clientAuthMethod === 'private_key_jwt' || (!options.clientAuthMethod && !options.clientSecret));
  const clientKey = keyNeeded ? await loadClientKey(options.clientKey!, doc.token_endpoint_auth_signing_alg_values_supported) : undefined;
  let configure: ((auth: oidc.ClientAuth) => oidc.Configuration) | undefined;
  if (fitsTenantTemplate(options.issuer, doc.issuer)) {
    // Entra ID multi-tenant: openid-client's own discovery knows to check each ID token's `iss`
    // against the template with the token's `tid`.
    const { method } = chooseClientAuth(options.clientSecret, doc.token_endpoint_auth_methods_supported, options.clientAuthMethod, clientKey !== undefined);
    const config = await oidc
      .discovery(new URL(options.issuer), options.clientId, options.clientSecret ? { client_secret: options.clientSecret } : undefined, clientAuthFor(method, options.clientSecret, clientKey), {
        [oidc.customFetch]: endpointFetch({ fetch: options.fetch, trace: options.trace, now: options.now }) as oidc.CustomFetch,
        timeout: options.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS,
      })
      .catch((err: unknown) => {
        throw new RemoteError(`could not use the discovery document of ${options.issuer}: ${describeError(err)}`, { cause: err });
      });
    configure = () => config;
  }
  return IdpClient.create({ ...options, configure }, doc as IdpMetadata & Record<string, unknown>, clientKey);
}
