/**
 * `POST /sauth/v3/auth/login/client`: the Synerise-compatible login, for apps written against
 * that SDK's REST call. The same validation and registration as /oauth/token, that SDK's JSON
 * shapes, errors included.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ExchangeResult } from '../broker.js';
import type { ClientRegistry } from '../clients.js';
import type { RateLimits } from '../rate-limit.js';
import type { ClientConfig } from '../config.js';
import { OAuthError, invalidRequest } from '../oauth-error.js';
import { NO_STORE } from '../shared/http.js';
import { EXCHANGE_ROUTE } from '../shared/exchange-route.js';
import { authenticationFailed, checkRateLimit } from '../shared/rate-limited.js';
import type { RouteDeps } from '../shared/route-deps.js';
import { toOAuthError } from '../shared/to-oauth-error.js';

const JSON_TYPE = /^application\/json\s*(;|$)/i;

/** @throws OAuthError invalid_request unless the body is a JSON object. */
function parseJsonObject(request: FastifyRequest): Record<string, unknown> {
  if (!JSON_TYPE.test(request.headers['content-type'] ?? '')) throw invalidRequest('the body must be application/json');
  const body = request.body as Record<string, unknown> | null;
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw invalidRequest('the body must be a JSON object');
  return body;
}

/**
 * The client holding `apiKey`, within the rate limits (shared/rate-limited.ts); sets
 * `request.clientId`.
 * @throws OAuthError invalid_client (401) for a missing or unknown key; 429 when a limit is reached.
 */
function authenticateApiKey(request: FastifyRequest, body: Record<string, unknown>, clients: ClientRegistry, limits: RateLimits): ClientConfig {
  const { apiKey } = body;
  const client = typeof apiKey === 'string' && apiKey !== '' ? clients.byApiKey(apiKey) : undefined;
  if (!client) {
    const err = new OAuthError('invalid_client', typeof apiKey === 'string' && apiKey !== '' ? 'unknown apiKey' : 'apiKey is required', 401);
    authenticationFailed(request, undefined, limits, err);
  }
  request.clientId = client.clientId;
  checkRateLimit(request, limits);
  return client;
}

/** @throws OAuthError invalid_request unless `identityProvider` is OAUTH with a token. */
function readIdentityProviderToken(body: Record<string, unknown>): string {
  const { identityProvider, identityProviderToken } = body;
  if (identityProvider !== 'OAUTH') throw invalidRequest('identityProvider must be "OAUTH"');
  if (typeof identityProviderToken !== 'string' || identityProviderToken === '') {
    throw invalidRequest('identityProviderToken is required');
  }
  return identityProviderToken;
}

function loginResponse(result: ExchangeResult) {
  return {
    token: result.accessToken,
    expiration: result.expiresAt,
    created: result.issuedAt * 1000,
    origin: 'OAUTH',
    customId: result.customer.subject,
    realm: 'client',
  };
}

export function syneriseLoginRoute(
  app: FastifyInstance,
  { broker, clients, limiter, log }: Pick<RouteDeps, 'broker' | 'clients' | 'limiter' | 'log'>,
): void {
  app.post('/sauth/v3/auth/login/client', { config: EXCHANGE_ROUTE }, async (request, reply) => {
    reply.headers(NO_STORE);
    try {
      const b = broker();
      const body = parseJsonObject(request);
      const client = authenticateApiKey(request, body, clients, limiter);
      const subjectToken = readIdentityProviderToken(body);
      const result = await b.exchange({ subjectToken, kind: { synerise: true }, clientId: client.clientId });
      request.accountStatus = result.accountStatus;
      return loginResponse(result);
    } catch (err) {
      // That SDK's error shape: the OAuth code and reason, with `status`, `message` and `path`.
      const e = toOAuthError(err, log);
      return reply
        .code(e.status)
        .headers(e.headers)
        .send({ status: e.status, error: e.error, error_description: e.description, message: e.description, path: request.url });
    }
  });
}
