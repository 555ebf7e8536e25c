/** A profile's broker: where the IdP token is exchanged for the broker's own. */
export interface BrokerSettings {
  /** The broker's base URL (its issuer); metadata at `/.well-known/oauth-authorization-server`. */
  url: string;
  clientId?: string;
  clientSecret?: string;
  audience?: string;
  /** `access_token` (default), `id_token`, `jwt`, or any absolute URI (`urn:authbridge:token-type:<provider>`). */
  subjectTokenType?: string;
  /** `rfc8693` (default) or `synerise` (POST /sauth/v3/auth/login/client with `apiKey`). */
  protocol?: 'rfc8693' | 'synerise';
  apiKey?: string;
  /** A private key (PEM or JWK file) for `private_key_jwt` at the broker, used when there is no `clientSecret`. */
  clientKey?: string;
}

/** A profile's `clientAuthMethod` (`--client-auth-method`). */
export const CLIENT_AUTH_METHOD_SETTINGS = ['none', 'client_secret_basic', 'client_secret_post', 'private_key_jwt'] as const;
export type ClientAuthMethodSetting = (typeof CLIENT_AUTH_METHOD_SETTINGS)[number];

/** The JWS algorithms a `clientKeyAlg` may name (RSA, EC P-256/384/521, Ed25519). */
export const CLIENT_KEY_ALGS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'] as const;

/** A profile's `grant`: how `token` gets a new token once the cached one runs out. */
export const GRANTS = ['authorization_code', 'client_credentials'] as const;
export type Grant = (typeof GRANTS)[number];

/** A profile as resolved from flags > env > config file. */
export interface Profile {
  name: string;
  issuer?: string;
  clientId?: string;
  clientSecret?: string;
  /**
   * How the client authenticates at the IdP's token, revocation and introspection endpoints.
   * Default: none for a public client, else the first secret method in the IdP's
   * `token_endpoint_auth_methods_supported`.
   */
  clientAuthMethod?: ClientAuthMethodSetting;
  /**
   * Path of the client's private key (PEM or JWK / JWK Set file, mode 0600) for `private_key_jwt`
   * (RFC 7523): used when there is no `clientSecret`, or with `clientAuthMethod private_key_jwt`.
   */
  clientKey?: string;
  /** The key's `kid`. Default: the JWK's `kid`, else its RFC 7638 thumbprint. */
  clientKeyId?: string;
  /** The key's JWS algorithm. Default from the key (RS256, ES256, EdDSA …). */
  clientKeyAlg?: (typeof CLIENT_KEY_ALGS)[number];
  /**
   * `client_credentials`: a machine profile (CI): `login` and `token` use the client credentials
   * grant, no browser. Default `authorization_code` (a user signs in through the browser).
   */
  grant?: Grant;
  /** Default `openid profile email offline_access`. */
  scopes: string[];
  redirectPort?: number;
  /** The redirect URI's host: `127.0.0.1` (default) or `localhost`; the server listens on 127.0.0.1 either way. */
  redirectHost?: '127.0.0.1' | 'localhost';
  /**
   * Whether `scopes` were configured (flag, env or file). When not, login drops `offline_access`
   * from the default scopes unless the IdP lists it in `scopes_supported` (Google answers
   * `invalid_scope` to it).
   */
  scopesConfigured?: boolean;
  /** The authorization request's `prompt` (`consent`, `login`, `select_account`, `none`); none sent by default. */
  prompt?: string;
  /** Extra authorization request parameters (`--auth-param KEY=VALUE`), e.g. Google's `access_type=offline`. */
  authParams?: Record<string, string>;
  /** `audience` for the authorization request (Auth0: JWT access tokens for that API). */
  audience?: string;
  /** RFC 8707 `resource` for the authorization and token requests. */
  resource?: string;
  broker?: BrokerSettings;
}

export const DEFAULT_SCOPES = ['openid', 'profile', 'email', 'offline_access'];

/** A profile's name: it is also a file name in the token cache. */
export const PROFILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
