/** The broker session held for a profile, after `exchange`. */
export interface CachedBrokerSession {
  /** The broker's base URL and its token's `iss`. */
  url: string;
  issuer: string;
  /** The broker client the token was issued to, so `logout` can end the session without the flags that made it. */
  client_id?: string;
  access_token: string;
  /** Milliseconds since the epoch. */
  expires_at: number;
  subject: string;
  sid?: string;
  account_status?: 'created' | 'existing';
  obtained_at: number;
}

/** One profile's tokens, as stored in `<cacheDir>/<profile>.json` (mode 0600). */
export interface CachedSession {
  version: 1;
  profile: string;
  issuer: string;
  client_id: string;
  access_token?: string;
  /** Milliseconds since the epoch, from `expires_in`. */
  access_token_expires_at?: number;
  id_token?: string;
  /** Milliseconds since the epoch, the ID token's `exp`. */
  id_token_expires_at?: number;
  refresh_token?: string;
  token_type?: string;
  scopes: string[];
  subject?: string;
  email?: string;
  /** The verified ID token claims at login (or last refresh). */
  claims?: Record<string, unknown>;
  obtained_at: number;
  /** Set when a refresh answered `invalid_grant`: `status` says "session expired". */
  expired?: boolean;
  /**
   * How the session was made: `client_credentials` for a machine session (no user, no subject,
   * no refresh token; renewed by the same grant). Absent: a user's sign-in (authorization code).
   */
  grant?: 'client_credentials';
  /**
   * What a client credentials grant asked for, so `token` renews the token as `login
   * --client-credentials --scopes … --resource …` made it, without those flags.
   */
  grant_request?: { scopes?: string[]; audience?: string; resource?: string };
  broker?: CachedBrokerSession;
}
