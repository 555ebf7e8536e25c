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
}

/** A profile's `clientAuthMethod` (`--client-auth-method`). */
export const CLIENT_AUTH_METHOD_SETTINGS = ['none', 'client_secret_basic', 'client_secret_post', 'private_key_jwt'] as const;
export type ClientAuthMethodSetting = (typeof CLIENT_AUTH_METHOD_SETTINGS)[number];

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
