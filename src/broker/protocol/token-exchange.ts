/**
 * RFC 8693 §2.1: what a token-exchange request must be, apart from HTTP and client
 * authentication. Pure: parameters in, the request out, or the OAuthError to answer with.
 */
import { TOKEN_EXCHANGE_GRANT, TOKEN_TYPE } from '../../oidc/urls.js';
import { OAuthError, invalidRequest } from '../oauth-error.js';

/** A request's parameters (FormParams): `one` throws invalid_request for a repeated name. */
export interface RequestParams {
  one(name: string): string | undefined;
  all(name: string): string[];
}

/** A token-exchange request this broker can serve. */
export interface TokenExchangeRequest {
  subjectToken: string;
  /** The `subject_token_type` as sent (it selects the provider: see Broker.exchange). */
  subjectTokenType: string;
}

/**
 * Reads an RFC 8693 token-exchange request. Checked in this order, the first failure answered:
 * `grant_type` present and the token-exchange URN; `subject_token` and `subject_token_type`
 * present; no `actor_token`; `requested_token_type` (if any) an access token; every `audience`
 * and `resource` this broker's own `audience`. A single-valued parameter given twice is
 * invalid_request (RFC 6749 §3.2), whenever it is read.
 * @throws OAuthError invalid_request, unsupported_grant_type or invalid_target (all 400).
 */
export function readTokenExchangeRequest(params: RequestParams, audience: string): TokenExchangeRequest {
  const grantType = params.one('grant_type');
  if (!grantType) throw invalidRequest('grant_type is missing');
  if (grantType !== TOKEN_EXCHANGE_GRANT) {
    throw new OAuthError('unsupported_grant_type', `only ${TOKEN_EXCHANGE_GRANT} is supported`);
  }
  const subjectToken = params.one('subject_token');
  const subjectTokenType = params.one('subject_token_type');
  if (!subjectToken) throw invalidRequest('subject_token is missing');
  if (!subjectTokenType) throw invalidRequest('subject_token_type is missing');
  if (params.one('actor_token') || params.one('actor_token_type')) throw invalidRequest('actor_token is not supported');
  const requested = params.one('requested_token_type');
  if (requested && requested !== TOKEN_TYPE.accessToken && requested !== TOKEN_TYPE.jwt) {
    throw invalidRequest('requested_token_type must be an access token');
  }
  // RFC 8693 §2.2.2: a target this broker does not issue tokens for is invalid_target.
  for (const target of [...params.all('audience'), ...params.all('resource')]) {
    if (target !== audience) throw new OAuthError('invalid_target', 'this broker issues tokens only for its own audience');
  }
  params.one('scope');
  return { subjectToken, subjectTokenType };
}
