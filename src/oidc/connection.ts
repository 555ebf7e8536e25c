/**
 * One connection to an OAuth server, IdP or broker: the openid-client `Configuration` built one
 * way (client authentication, time limit, `customFetch`, plain HTTP only on loopback) and the
 * error funnel every call goes through.
 */
import * as oidc from 'openid-client';
import { UsageError, type AuthbridgeError } from '../errors.js';
import { isLoopbackHost } from '../http/loopback.js';
import type { ClientKey } from './client-key.js';
import { oauthFailure, type Endpoint, type Party } from './errors.js';
import type { ServerMetadataDocument } from './metadata.js';
import { DEFAULT_TIMEOUT_SECONDS, endpointFetch } from './transport.js';

/** The client authentication methods authbridge speaks at a token endpoint. */
export const CLIENT_AUTH_METHODS = ['none', 'client_secret_basic', 'client_secret_post', 'private_key_jwt'] as const;
export type ClientAuthMethod = (typeof CLIENT_AUTH_METHODS)[number];

/** What `--client-auth-method` / the profile's `clientAuthMethod` may name. */
export type ConfiguredClientAuthMethod = ClientAuthMethod;

/** The method chosen and why, for `--verbose`. */
export interface ClientAuthChoice {
  method: ClientAuthMethod;
  reason: string;
}

/**
 * Picks the token endpoint client authentication: the configured method when there is one; none
 * for a public client (whether or not the server lists `none`: many IdPs omit it); with a client
 * key and no secret, private_key_jwt (RFC 7523) when the server lists it or lists nothing; for a
 * secret the first of client_secret_basic / client_secret_post in the server's own order of
 * `token_endpoint_auth_methods_supported`, client_secret_basic when it lists neither or nothing
 * (RFC 8414 §2's default).
 *
 * @param supported The metadata's `token_endpoint_auth_methods_supported`, as found (any type).
 * @param hasKey Whether a client key (`clientKey`) is configured.
 * @throws UsageError for a method without what it needs (a secret, a key), or a key the server
 *   does not take.
 * @example
 * chooseClientAuth('s3cret', ['client_secret_post', 'client_secret_basic']).method; // 'client_secret_post'
 */
export function chooseClientAuth(secret: string | undefined, supported: unknown, configured?: ConfiguredClientAuthMethod, hasKey = false): ClientAuthChoice {
  if (configured === 'private_key_jwt') {
    if (!hasKey) {
      throw new UsageError('--client-auth-method private_key_jwt needs a client key', { hint: 'Give --client-key (a PEM or JWK file of the private key registered at the server).' });
    }
    return { method: configured, reason: 'as configured' };
  }
  if (configured) {
    if (configured !== 'none' && !secret) {
      throw new UsageError(`--client-auth-method ${configured} needs a client secret`, { hint: 'Give --client-secret, or set clientAuthMethod to none.' });
    }
    return { method: configured, reason: 'as configured' };
  }
  if (hasKey && !secret) {
    if (!Array.isArray(supported)) return { method: 'private_key_jwt', reason: 'a client key and no secret; the server lists no token_endpoint_auth_methods_supported' };
    if (supported.includes('private_key_jwt')) return { method: 'private_key_jwt', reason: 'a client key and no secret, and the server lists private_key_jwt' };
    throw new UsageError(`the server does not take private_key_jwt (it lists ${supported.join(', ') || 'no method'}), so the client key cannot be used`, {
      hint: 'Use a client secret (--client-secret), or set clientAuthMethod private_key_jwt if it accepts it unlisted.',
    });
  }
  if (!secret) return { method: 'none', reason: 'a public client: no client secret' };
  if (Array.isArray(supported)) {
    const first = supported.find((m): m is ClientAuthMethod => m === 'client_secret_basic' || m === 'client_secret_post');
    if (first) return { method: first, reason: `the first the server lists of ${supported.join(', ')}` };
    return { method: 'client_secret_basic', reason: `the default: the server lists none of the secret methods (${supported.join(', ') || 'an empty list'})` };
  }
  return { method: 'client_secret_basic', reason: 'the default: the server lists no token_endpoint_auth_methods_supported' };
}

/**
 * RFC 6749 §2.3.1 HTTP Basic client authentication, each of id and secret encoded with
 * `application/x-www-form-urlencoded` only (URLSearchParams, the WHATWG serializer): unlike
 * openid-client's own, which also percent-encodes `-_.!~*'()`, so that servers that do not decode
 * Basic credentials (Glewlwyd and many others) still see an id or secret holding `-` or `.` as it
 * is.
 */
export function formEncodedBasic(clientSecret: string): oidc.ClientAuth {
  const encode = (value: string) => new URLSearchParams({ v: value }).toString().slice(2);
  return (_as, client, _body, headers) => {
    const credentials = `${encode(client.client_id)}:${encode(clientSecret)}`;
    headers.set('authorization', `Basic ${Buffer.from(credentials, 'utf8').toString('base64')}`);
  };
}

export interface ConfigurationOptions {
  /** The server's metadata, its `issuer` checked already (see `fetchMetadata`). */
  metadata: ServerMetadataDocument;
  clientId: string;
  /** Present for a confidential client. */
  clientSecret?: string;
  /** How the client authenticates; see {@link chooseClientAuth}. A secret is needed for the secret methods. */
  clientAuth: ClientAuthMethod;
  /** The loaded private key, for `private_key_jwt`. */
  clientKey?: ClientKey;
  fetch: typeof fetch;
  /** Milliseconds since the epoch (trace timings only). */
  now: () => number;
  /** `--verbose`: receives one masked line a request and answer. */
  trace?: (line: string) => void;
  /** Seconds for each request. */
  timeoutSeconds: number;
}

/**
 * Builds the openid-client `Configuration`: the client authentication, `timeout`, the network
 * through `customFetch` (traced and size-limited, see `endpointFetch`), and
 * `allowInsecureRequests` only for an issuer on plain HTTP at a loopback host.
 *
 * @example
 * const config = createConfiguration({ metadata, clientId: 'cli', clientAuth: 'none', fetch, now, timeoutSeconds: 30 });
 * @throws TypeError (openid-client's) when `clientAuth` needs a secret and none is given.
 */
export function createConfiguration(options: ConfigurationOptions): oidc.Configuration {
  const { metadata, clientId, clientSecret, clientAuth } = options;
  const auth = clientAuthFor(clientAuth, clientSecret, options.clientKey);
  const config = new oidc.Configuration(
    metadata as oidc.ServerMetadata,
    clientId,
    clientSecret ? { client_secret: clientSecret } : undefined,
    auth,
  );
  config.timeout = options.timeoutSeconds;
  config[oidc.customFetch] = endpointFetch(options) as oidc.CustomFetch;
  const issuer = URL.canParse(metadata.issuer) ? new URL(metadata.issuer) : undefined;
  if (issuer?.protocol === 'http:' && isLoopbackHost(issuer.hostname)) oidc.allowInsecureRequests(config);
  return config;
}

/** A configuration that authenticates with a bearer access token (see {@link Connection.withBearer}). */
export interface BearerConfiguration {
  config: oidc.Configuration;
}

/**
 * openid-client's client authentication for `method` (client_secret_basic form-encoded only;
 * private_key_jwt with the key's `kid` and `alg` in each assertion's header).
 * @throws UsageError for private_key_jwt without a loaded key.
 */
export function clientAuthFor(method: ClientAuthMethod, clientSecret: string | undefined, clientKey?: ClientKey): oidc.ClientAuth {
  if (method === 'none') return oidc.None();
  if (method === 'private_key_jwt') {
    if (!clientKey) throw new UsageError('private_key_jwt needs a client key', { hint: 'Give --client-key.' });
    return oidc.PrivateKeyJwt(
      { key: clientKey.key, kid: clientKey.kid },
      {
        [oidc.modifyAssertion]: (header) => {
          header.alg = clientKey.alg;
        },
      },
    );
  }
  if (method === 'client_secret_post') return oidc.ClientSecretPost(clientSecret);
  return formEncodedBasic(clientSecret ?? '');
}

export interface ConnectionOptions extends Omit<ConfigurationOptions, 'clientAuth' | 'timeoutSeconds'> {
  /** Who the server is, for messages and hints. */
  party: Party;
  /** The method the profile names (`clientAuthMethod`); else chosen from the metadata. */
  clientAuthMethod?: ConfiguredClientAuthMethod;
  /**
   * Builds the configuration instead of {@link createConfiguration} (Entra ID multi-tenant:
   * openid-client's own discovery, which checks each ID token's issuer against its `tid`).
   */
  configure?: (auth: oidc.ClientAuth) => oidc.Configuration;
  /** Seconds for each request. Default {@link DEFAULT_TIMEOUT_SECONDS} (30). */
  timeoutSeconds?: number;
}

/**
 * A configured client of one server, IdP or broker. Every call goes through {@link Connection.run}
 * (or {@link Connection.fail}), so every failure leaves through the one error funnel.
 */
export class Connection {
  readonly config: oidc.Configuration;
  readonly clientAuthMethod: ClientAuthMethod;
  readonly party: Party;
  /** Seconds for each request. */
  readonly timeoutSeconds: number;
  /** Plain HTTP allowed: an issuer on loopback. */
  private readonly insecure: boolean;

  /**
   * Chooses the client authentication from the configured method, the secret and the metadata
   * ({@link chooseClientAuth}) and says which in `--verbose`.
   * @throws UsageError from {@link chooseClientAuth}.
   */
  constructor(options: ConnectionOptions) {
    this.party = options.party;
    this.timeoutSeconds = options.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS;
    const choice = chooseClientAuth(options.clientSecret, options.metadata.token_endpoint_auth_methods_supported, options.clientAuthMethod, options.clientKey !== undefined);
    this.clientAuthMethod = choice.method;
    const key = choice.method === 'private_key_jwt' && options.clientKey ? ` with key ${options.clientKey.kid} (${options.clientKey.alg})` : '';
    options.trace?.(`client authentication at the ${options.party}: ${choice.method}${key} (${choice.reason})`);
    this.config = options.configure
      ? options.configure(clientAuthFor(this.clientAuthMethod, options.clientSecret, options.clientKey))
      : createConfiguration({ ...options, clientAuth: this.clientAuthMethod, timeoutSeconds: this.timeoutSeconds });
    const issuer = URL.canParse(options.metadata.issuer) ? new URL(options.metadata.issuer) : undefined;
    this.insecure = issuer?.protocol === 'http:' && isLoopbackHost(issuer.hostname);
  }

  /** `err` as the authbridge error `could not <action>: <why>` (see `oauthFailure`), naming the `endpoint` called. */
  fail(action: string, err: unknown, endpoint: Endpoint = 'token', clientAuth: string = this.clientAuthMethod): Promise<AuthbridgeError> {
    return oauthFailure(action, err, { party: this.party, timeoutSeconds: this.timeoutSeconds, clientAuth, endpoint });
  }

  /**
   * Runs one openid-client call with this configuration.
   * @throws the call's failure through {@link Connection.fail}: RemoteError, OAuthRefusedError,
   *   AuthorizationRefusedError, TokenRejectedError or UsageError.
   */
  async run<T>(action: string, call: (config: oidc.Configuration) => Promise<T>, endpoint: Endpoint = 'token', config?: BearerConfiguration): Promise<T> {
    try {
      return await call(config?.config ?? this.config);
    } catch (err) {
      throw await this.fail(action, err, endpoint, config ? 'bearer' : this.clientAuthMethod);
    }
  }

  /**
   * This configuration with `Authorization: Bearer <accessToken>` instead of client
   * authentication: how a public client reaches a revocation or introspection endpoint whose
   * `*_auth_methods_supported` lists `bearer` (Glewlwyd with an introspection scope).
   */
  withBearer(accessToken: string): BearerConfiguration {
    const metadata = this.config.serverMetadata();
    const config = new oidc.Configuration(metadata, this.config.clientMetadata().client_id, undefined, (_as, _client, body, headers) => {
      body.delete('client_id');
      headers.set('authorization', `Bearer ${accessToken}`);
    });
    config.timeout = this.timeoutSeconds;
    config[oidc.customFetch] = this.config[oidc.customFetch]!;
    if (this.insecure) oidc.allowInsecureRequests(config);
    return { config };
  }
}
