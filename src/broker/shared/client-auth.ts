/** Client authentication of a form request, and the client it found, kept on the request. */
import type { FastifyRequest } from 'fastify';
import type { ClientRegistry } from '../clients.js';
import type { ClientConfig } from '../config.js';
import type { RateLimits } from '../rate-limit.js';
import type { FormParams } from './form.js';
import { authenticationFailed, checkClaimedClient, checkRateLimit } from './rate-limited.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated client, for the request log and the rate limit. */
    clientId: string | null;
  }
}

/**
 * RFC 6749 §2.3: the client by its configured method (client_secret_basic, client_secret_post,
 * private_key_jwt, or none: public by client_id), within the rate limits (shared/rate-limited.ts). Sets
 * `request.clientId` to the client found.
 * @throws OAuthError invalid_client (401) or invalid_request (ClientRegistry.authenticate);
 *   429 temporarily_unavailable when a limit is reached.
 */
export async function authenticateClient(request: FastifyRequest, params: FormParams, clients: ClientRegistry, limits: RateLimits): Promise<ClientConfig> {
  const credentials = {
    authorization: request.headers.authorization,
    clientId: params.one('client_id'),
    clientSecret: params.one('client_secret'),
    clientAssertionType: params.one('client_assertion_type'),
    clientAssertion: params.one('client_assertion'),
  };
  const claimed = clients.claimedId(credentials);
  checkClaimedClient(request, claimed, limits);
  let client: ClientConfig;
  try {
    client = await clients.authenticateRequest(credentials);
  } catch (err) {
    authenticationFailed(request, claimed, limits, err);
  }
  request.clientId = client.clientId;
  checkRateLimit(request, limits);
  return client;
}
