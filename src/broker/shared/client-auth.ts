/** Client authentication of a form request, and the client it found, kept on the request. */
import type { FastifyRequest } from 'fastify';
import type { ClientRegistry } from '../clients.js';
import type { ClientConfig } from '../config.js';
import type { FormParams } from './form.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated client, for the request log and the rate limit. */
    clientId: string | null;
  }
}

/**
 * RFC 6749 §2.3: client_secret_basic, client_secret_post, or a public client by client_id.
 * Sets `request.clientId` to the client found.
 * @throws OAuthError invalid_client (401) or invalid_request (ClientRegistry.authenticate).
 */
export function authenticateClient(request: FastifyRequest, params: FormParams, clients: ClientRegistry): ClientConfig {
  const client = clients.authenticate({
    authorization: request.headers.authorization,
    clientId: params.one('client_id'),
    clientSecret: params.one('client_secret'),
  });
  request.clientId = client.clientId;
  return client;
}
