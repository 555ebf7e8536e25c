/** Errors the broker answers with: RFC 6749 §5.2 bodies, with their HTTP status. */

export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unsupported_grant_type'
  | 'invalid_target'
  | 'registration_required'
  | 'invalid_token'
  | 'temporarily_unavailable'
  | 'not_found'
  | 'server_error';

/**
 * A refusal sent to the client as `{"error","error_description"}`. The description is a short
 * reason for a human; it never carries the token or validation detail beyond that.
 */
export class OAuthError extends Error {
  constructor(
    readonly error: OAuthErrorCode,
    readonly description: string,
    readonly status = 400,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(`${error}: ${description}`);
    this.name = 'OAuthError';
  }

  body(): { error: OAuthErrorCode; error_description: string } {
    return { error: this.error, error_description: this.description };
  }
}

export const invalidRequest = (description: string): OAuthError => new OAuthError('invalid_request', description, 400);

export const temporarilyUnavailable = (description: string): OAuthError =>
  new OAuthError('temporarily_unavailable', description, 503, { 'retry-after': '5' });

/** RFC 6749 §5.2: 401 with a challenge for the scheme the client may use. */
export const invalidClient = (description: string): OAuthError =>
  new OAuthError('invalid_client', description, 401, { 'www-authenticate': 'Basic realm="authbridge broker", charset="UTF-8"' });
