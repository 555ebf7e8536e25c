/**
 * The one error funnel of the adapter: whatever an openid-client (oauth4webapi) call throws, at
 * the IdP or at the broker, is re-thrown into the one hierarchy with a fixed message and the
 * original as `cause`.
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

/** Who answered: named in messages ("the IdP answered HTTP 500") and choosing the hints. */
export type Party = 'IdP' | 'broker';

/** Which of the server's endpoints answered: named in messages, and choosing the hints. */
export type Endpoint = 'token' | 'revocation' | 'introspection' | 'userinfo' | 'authorization' | 'device_authorization';

export interface FailureContext {
  /** Who was asked. */
  party: Party;
  /** The time limit of the request, in seconds, for "no answer within N s". */
  timeoutSeconds: number;
  /** How the client authenticated, named when the server refuses the client. */
  clientAuth?: string;
  /** The endpoint called. Default `token`. */
  endpoint?: Endpoint;
}

/** OAuth errors about the client itself: the message names how it authenticated. */
const CLIENT_ERRORS = new Set(['invalid_client', 'unauthorized_client']);

/** OAuth error codes that mean "the server is not well", not "the server said no". */
const REMOTE_OAUTH_ERRORS = new Set(['server_error', 'temporarily_unavailable']);

/** What to do next at the token endpoint, by who refused and the OAuth error code. */
const TOKEN_HINTS: Record<Party, Record<string, string>> = {
  IdP: {
    invalid_grant: 'Run `authbridge login` to sign in again.',
    invalid_client:
      "Check the profile's clientId and clientSecret (`authbridge config get`); if they are right, try the other method with --client-auth-method client_secret_post (or client_secret_basic).",
    unauthorized_client: 'Check that the client is allowed the authorization_code and refresh_token grants at the IdP.',
    invalid_scope: "Check the profile's scopes against what the IdP offers (its scopes_supported; `authbridge doctor` lists them).",
  },
  broker: {
    invalid_grant: 'Run `authbridge login` to sign in again.',
    invalid_client: "Check the profile's broker.clientId and broker.clientSecret.",
    unauthorized_client: 'Check that the client is allowed this grant at the broker.',
    invalid_scope: 'Check the scope asked for against what the broker offers.',
  },
};

/**
 * The hint that fits the endpoint: a refusal of the client at revocation or introspection is not
 * about grants; for a public client it usually means the IdP serves confidential clients only.
 */
function hintFor(context: FailureContext, error: string | undefined, status: number | undefined): string | undefined {
  const endpoint = context.endpoint ?? 'token';
  const clientRefused = error === 'invalid_client' || error === 'unauthorized_client' || (error === undefined && (status === 401 || status === 403));
  if (endpoint === 'introspection' && error === 'unsupported_token_type') {
    // oidc-provider (the demo's IdP): "Structured JWT Tokens cannot be introspected".
    return 'This IdP does not introspect the JWT access tokens it issues: check it locally with `authbridge verify --type access`.';
  }
  if (endpoint === 'revocation' || endpoint === 'introspection') {
    if (!clientRefused) return undefined;
    const verb = endpoint === 'revocation' ? 'revoke' : 'introspect';
    if (context.clientAuth === 'none') {
      return (
        `This ${context.party} lets only confidential clients ${verb} tokens: give the profile a confidential client (clientId and clientSecret).` +
        (endpoint === 'introspection' ? ' A JWT access token can be checked locally with `authbridge verify --type access`.' : '')
      );
    }
    return `Check that this client may ${verb} tokens at the ${context.party}, and its ${context.party === 'broker' ? 'broker.clientId and broker.clientSecret' : 'clientId, clientSecret and clientAuthMethod'}.`;
  }
  if (endpoint === 'userinfo') {
    return clientRefused || error === 'invalid_token' ? 'The access token was refused: run `authbridge refresh`, or `authbridge login`.' : undefined;
  }
  if (error === undefined) return clientRefused ? TOKEN_HINTS[context.party].invalid_client : undefined;
  return TOKEN_HINTS[context.party][error];
}

type ErrorClass<T extends AuthbridgeError> = new (message: string, options: { cause?: unknown; hint?: string }) => T;

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
 * RFC 6749 §5.2: a 401 `invalid_client` carries its error in the JSON body even when the
 * challenge is `WWW-Authenticate: Basic`, which names no error. Read already, unparsable or
 * without a string `error`: undefined.
 */
async function challengeBody(err: WWWAuthenticateChallengeError): Promise<{ error: string; error_description?: unknown } | undefined> {
  const response = err.response;
  if (!response || response.bodyUsed) return undefined;
  const body = (await response.json().catch(() => undefined)) as { error?: unknown; error_description?: unknown } | undefined;
  return body && typeof body === 'object' && typeof body.error === 'string' && body.error ? (body as { error: string }) : undefined;
}

/**
 * Classifies any failure of an IdP or broker call as `could not <action>: <why>`:
 * unreachable, timed out, 5xx, `server_error`/`temporarily_unavailable` or garbage →
 * RemoteError (exit 3); an OAuth error such as `invalid_grant`, `invalid_client` or
 * `access_denied` → OAuthRefusedError (exit 5, its `oauthError` the code), the code taken from
 * a `WWW-Authenticate` challenge's `error`, else from the JSON body behind it (a 401 `Basic`
 * challenge for `invalid_client`); a challenge with no error code anywhere →
 * AuthorizationRefusedError (exit 5); an ID token that fails openid-client's claim
 * checks → TokenRejectedError (exit 1); an endpoint on plain HTTP → UsageError (exit 2). An
 * authbridge error inside the chain (a body over the size limit) is returned as it is.
 *
 * Async because the body of a challenged answer is read here; it never rejects.
 *
 * @example
 * try { await oidc.refreshTokenGrant(config, token); }
 * catch (err) { throw await oauthFailure('refresh the session', err, { party: 'IdP', timeoutSeconds: 30 }); }
 */
export async function oauthFailure(action: string, err: unknown, context: FailureContext): Promise<AuthbridgeError> {
  // An error of ours deep inside openid-client's (a body over the size limit) says it best.
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (isAuthbridgeError(e)) return e;
  }
  const { party, timeoutSeconds } = context;
  const endpoint = context.endpoint ?? 'token';
  const fail = <T extends AuthbridgeError>(Kind: ErrorClass<T>, why: string, hint?: string): T =>
    new Kind(`could not ${action}: ${why}`, { cause: err, hint });
  /** `(HTTP 401 at the token endpoint; client authentication: none)`: where, and how the client came. */
  const where = (status: number | undefined, error: string | undefined): string => {
    const parts = [status === undefined ? undefined : `HTTP ${status} at the ${endpoint} endpoint`];
    const clientRefused = (error !== undefined && CLIENT_ERRORS.has(error)) || (error === undefined && (status === 401 || status === 403));
    if (clientRefused && context.clientAuth) parts.push(`client authentication: ${context.clientAuth}`);
    const text = parts.filter(Boolean).join('; ');
    return text ? ` (${text})` : '';
  };
  /**
   * An OAuth error: a refusal with its code, unless an endpoint's answer (`status`) says the
   * server is unwell (5xx, `server_error`, `temporarily_unavailable`).
   */
  const oauthError = (error: string, description: unknown, status: number | undefined, why: string): AuthbridgeError => {
    if (status !== undefined && (status >= 500 || REMOTE_OAUTH_ERRORS.has(error))) return fail(RemoteError, why);
    return new OAuthRefusedError(`could not ${action}: ${why}`, error, { cause: err, hint: hintFor(context, error, status) });
  };
  const describe = (error: string, description: unknown, status?: number): string =>
    `${error}${typeof description === 'string' && description ? `: ${description}` : ''}${where(status, error)}`;
  /**
   * An answer without an OAuth error: a 4xx is the server saying no (exit 5: a 401 with an empty
   * body is how Glewlwyd refuses a public client at revocation), anything else an outage (exit 3).
   */
  const bare = (response: Response | undefined, what: string): AuthbridgeError => {
    const status = response?.status;
    if (status !== undefined && status >= 400 && status < 500) {
      return fail(AuthorizationRefusedError, `the ${party} refused with no OAuth error${where(status, undefined)}`, hintFor(context, undefined, status));
    }
    if (status === undefined) return fail(RemoteError, `the ${party} answered ${what} at the ${endpoint} endpoint`);
    const notJson = what.includes('JSON') ? ' that is not JSON' : '';
    return fail(RemoteError, `the ${party} answered HTTP ${status}${notJson} at the ${endpoint} endpoint`);
  };

  if (err instanceof ResponseBodyError) {
    return oauthError(err.error, err.error_description, err.status, describe(err.error, err.error_description, err.status));
  }
  if (err instanceof AuthorizationResponseError) {
    // `error=` at the redirect: whatever the code, the user's sign-in was refused (exit 5).
    return oauthError(err.error, err.error_description, undefined, describe(err.error, err.error_description));
  }
  if (err instanceof WWWAuthenticateChallengeError) {
    // A challenge that names its error (RFC 6750 §3, a resource such as userinfo) says it all;
    // one that does not (`Basic`, RFC 6749 §5.2's invalid_client) leaves it to the JSON body.
    const parameters = err.cause[0]?.parameters;
    const error = parameters?.error;
    if (error) return oauthError(error, parameters.error_description, err.status, describe(error, parameters.error_description));
    const body = await challengeBody(err);
    if (body) return oauthError(body.error, body.error_description, err.status, describe(body.error, body.error_description, err.status));
    const description = parameters?.error_description;
    return fail(
      AuthorizationRefusedError,
      `the ${party} refused with no OAuth error${typeof description === 'string' && description ? `: ${description}` : ''}${where(err.status, undefined)}`,
      hintFor(context, undefined, err.status),
    );
  }
  if (err instanceof Error) {
    if (err.name === 'TimeoutError' || err.name === 'AbortError') {
      return fail(RemoteError, `no answer within ${timeoutSeconds} s`);
    }
    switch (codeOf(err)) {
      // oauth4webapi's own time limit (config.timeout) on any endpoint.
      case 'OAUTH_TIMEOUT':
        return fail(RemoteError, `no answer within ${timeoutSeconds} s`);
      case 'OAUTH_HTTP_REQUEST_FORBIDDEN':
      case 'OAUTH_REQUEST_PROTOCOL_FORBIDDEN':
        return fail(UsageError, `the ${party} asks for a plain-HTTP request; only https is allowed (http only on 127.0.0.1/localhost)`);
      case 'OAUTH_RESPONSE_IS_NOT_CONFORM':
      case 'OAUTH_RESPONSE_IS_NOT_JSON': {
        const response = (err as { cause?: unknown }).cause;
        const what = codeOf(err) === 'OAUTH_RESPONSE_IS_NOT_JSON' ? 'something that is not JSON' : 'an unexpected HTTP status';
        return bare(response instanceof Response ? response : undefined, what);
      }
      case 'OAUTH_PARSE_ERROR':
      case 'OAUTH_INVALID_RESPONSE':
      case 'OAUTH_INVALID_SERVER_METADATA':
        return fail(RemoteError, `the ${party}'s answer is invalid: ${innerMessage(err)}`);
      case 'OAUTH_JWT_CLAIM_COMPARISON_FAILED':
      case 'OAUTH_JWT_TIMESTAMP_CHECK_FAILED':
        return fail(TokenRejectedError, `the ID token failed a check: ${innerMessage(err)}`);
      case 'OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED':
        // RFC 9207 `iss` or `state` of the authorization response does not match.
        return fail(AuthorizationRefusedError, innerMessage(err));
      default:
        break;
    }
  }
  return fail(RemoteError, describeError(err));
}
