/**
 * openid-client (oauth4webapi) errors, re-thrown into the one hierarchy with a fixed message and
 * the original as `cause`.
 */
import { AuthorizationResponseError, ResponseBodyError, WWWAuthenticateChallengeError } from 'openid-client';
import {
  AuthbridgeError,
  isAuthbridgeError,
  AuthorizationRefusedError,
  OAuthRefusedError,
  RemoteError,
  TokenRejectedError,
  UsageError,
  describeError,
} from '../errors.js';

/** OAuth error codes that mean "the server is not well", not "the server said no". */
const REMOTE_OAUTH_ERRORS = new Set(['server_error', 'temporarily_unavailable']);

const HINTS: Record<string, string> = {
  invalid_grant: 'Run `authbridge login` to sign in again.',
  invalid_client: "Check the profile's clientId and clientSecret (`authbridge config get`).",
  unauthorized_client: "Check that the client is allowed this grant at the IdP.",
  invalid_scope: "Check the profile's scopes against what the IdP offers.",
};

function codeOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' ? code : undefined;
}

/** The innermost helpful message of an oauth4webapi processing error. */
function innerMessage(err: Error): string {
  const cause = (err as { cause?: unknown }).cause;
  if (cause instanceof Error && cause.message) return cause.message;
  return err.message;
}

/**
 * Wraps any failure of an IdP call as `could not <action>: <why>`:
 * unreachable, timed out, 5xx or garbage → RemoteError (3); an OAuth error such as
 * `invalid_grant` or `access_denied` → AuthorizationRefusedError (5); an ID token that fails
 * openid-client's claim checks → TokenRejectedError (1); a refused plain-HTTP issuer → UsageError (2).
 */
export function wrapIdpError(action: string, err: unknown, timeoutSeconds?: number): AuthbridgeError {
  // An error of ours deep inside openid-client's (a body over the size limit) says it best.
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (isAuthbridgeError(e)) return e;
  }
  const fail = <T extends AuthbridgeError>(
    Kind: new (message: string, options: { cause?: unknown; hint?: string }) => T,
    why: string,
    hint?: string,
  ): T => new Kind(`could not ${action}: ${why}`, { cause: err, hint });

  if (err instanceof AuthorizationResponseError || err instanceof ResponseBodyError) {
    const description = err.error_description ? `: ${err.error_description}` : '';
    const status = err instanceof ResponseBodyError ? ` (HTTP ${err.status})` : '';
    const why = `${err.error}${description}${status}`;
    if (err instanceof ResponseBodyError && (err.status >= 500 || REMOTE_OAUTH_ERRORS.has(err.error))) return fail(RemoteError, why);
    return new OAuthRefusedError(`could not ${action}: ${why}`, err.error, { cause: err, hint: HINTS[err.error] });
  }
  if (err instanceof WWWAuthenticateChallengeError) {
    const challenge = err.cause[0];
    const error = challenge?.parameters.error ?? `HTTP ${err.status}`;
    const description = challenge?.parameters.error_description ? `: ${challenge.parameters.error_description}` : '';
    return fail(AuthorizationRefusedError, `${error}${description}`);
  }
  if (err instanceof Error) {
    if (err.name === 'TimeoutError' || err.name === 'AbortError') {
      return fail(RemoteError, `no answer within ${timeoutSeconds ?? 30} s`);
    }
    switch (codeOf(err)) {
      // oauth4webapi's own time limit (config.timeout) on any endpoint.
      case 'OAUTH_TIMEOUT':
        return fail(RemoteError, `no answer within ${timeoutSeconds ?? 30} s`);
      case 'OAUTH_HTTP_REQUEST_FORBIDDEN':
      case 'OAUTH_REQUEST_PROTOCOL_FORBIDDEN':
        return fail(UsageError, 'the IdP asks for a plain-HTTP request; only https is allowed (http only on 127.0.0.1/localhost)');
      case 'OAUTH_RESPONSE_IS_NOT_CONFORM': {
        const response = (err as { cause?: unknown }).cause;
        const status = response instanceof Response ? `HTTP ${response.status}` : 'an unexpected HTTP status';
        return fail(RemoteError, `the IdP answered ${status}`);
      }
      case 'OAUTH_RESPONSE_IS_NOT_JSON':
        return fail(RemoteError, 'the IdP answered something that is not JSON');
      case 'OAUTH_PARSE_ERROR':
      case 'OAUTH_INVALID_RESPONSE':
      case 'OAUTH_INVALID_SERVER_METADATA':
        return fail(RemoteError, `the IdP's answer is invalid: ${innerMessage(err)}`);
      case 'OAUTH_JWT_CLAIM_COMPARISON_FAILED':
      case 'OAUTH_JWT_TIMESTAMP_CHECK_FAILED':
        return fail(TokenRejectedError, `the ID token failed a check: ${innerMessage(err)}`);
      case 'OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED':
        // RFC 9207 `iss` or `state` of the authorization response does not match.
        return fail(AuthorizationRefusedError, innerMessage(err));
      default:
        break;
    }
    if (err instanceof TypeError && err.message === 'fetch failed') return fail(RemoteError, describeError(err));
  }
  return fail(RemoteError, describeError(err));
}
