/**
 * One connection to an OAuth server, IdP or broker: the openid-client `Configuration` built one
 * way (client authentication, time limit, `customFetch`, plain HTTP only on loopback) and the
 * error funnel every call goes through.
 */
import * as oidc from 'openid-client';
import type { AuthbridgeError } from '../errors.js';
import { isLoopbackHost } from '../http/loopback.js';
import { oauthFailure, type Party } from './errors.js';
import type { ServerMetadataDocument } from './metadata.js';
import { DEFAULT_TIMEOUT_SECONDS, endpointFetch } from './transport.js';

export type ClientAuthMethod = 'none' | 'client_secret_basic' | 'client_secret_post';

/**
 * Picks the token endpoint client authentication: none for a public client; for a confidential
 * one client_secret_basic (RFC 6749 §2.3.1, and the metadata default) unless the server lists
 * only client_secret_post.
 *
 * @param supported The metadata's `token_endpoint_auth_methods_supported`, as found (any type).
 * @example
 * chooseClientAuth('s3cret', ['client_secret_post']); // 'client_secret_post'
 */
export function chooseClientAuth(secret: string | undefined, supported: unknown): ClientAuthMethod {
  if (!secret) return 'none';
  if (Array.isArray(supported) && !supported.includes('client_secret_basic') && supported.includes('client_secret_post')) {
    return 'client_secret_post';
  }
  return 'client_secret_basic';
}

export interface ConfigurationOptions {
  /** The server's metadata, its `issuer` checked already (see `fetchMetadata`). */
  metadata: ServerMetadataDocument;
  clientId: string;
  /** Present for a confidential client. */
  clientSecret?: string;
  /** How the client authenticates; see {@link chooseClientAuth}. A secret is needed unless `none`. */
  clientAuth: ClientAuthMethod;
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
  const auth =
    clientAuth === 'none'
      ? oidc.None()
      : clientAuth === 'client_secret_post'
        ? oidc.ClientSecretPost(clientSecret)
        : oidc.ClientSecretBasic(clientSecret);
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

export interface ConnectionOptions extends Omit<ConfigurationOptions, 'clientAuth' | 'timeoutSeconds'> {
  /** Who the server is, for messages and hints. */
  party: Party;
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

  /** Chooses the client authentication from the secret and the metadata ({@link chooseClientAuth}). */
  constructor(options: ConnectionOptions) {
    this.party = options.party;
    this.timeoutSeconds = options.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS;
    this.clientAuthMethod = chooseClientAuth(options.clientSecret, options.metadata.token_endpoint_auth_methods_supported);
    this.config = createConfiguration({ ...options, clientAuth: this.clientAuthMethod, timeoutSeconds: this.timeoutSeconds });
  }

  /** `err` as the authbridge error `could not <action>: <why>` (see `oauthFailure`). */
  fail(action: string, err: unknown): Promise<AuthbridgeError> {
    return oauthFailure(action, err, { party: this.party, timeoutSeconds: this.timeoutSeconds });
  }

  /**
   * Runs one openid-client call with this configuration.
   * @throws the call's failure through {@link Connection.fail}: RemoteError, OAuthRefusedError,
   *   AuthorizationRefusedError, TokenRejectedError or UsageError.
   */
  async run<T>(action: string, call: (config: oidc.Configuration) => Promise<T>): Promise<T> {
    try {
      return await call(this.config);
    } catch (err) {
      throw await this.fail(action, err);
    }
  }
}
