/**
 * `POST /oauth/revoke`: RFC 7009 sign-out, which ends the token's session; `all_sessions=true`
 * ends all of the customer's, for a live token of a confidential client only (Broker.revoke).
 */
import type { FastifyInstance } from 'fastify';
import { isConfidential } from '../clients.js';
import { authenticateClient } from '../shared/client-auth.js';
import { parseForm, readTokenParam } from '../shared/form.js';
import { NO_STORE } from '../shared/http.js';
import { RATE_LIMITED } from '../shared/rate-limited.js';
import type { RouteDeps } from '../shared/route-deps.js';

export function revokeRoute(app: FastifyInstance, { broker, clients, limiter }: Pick<RouteDeps, 'broker' | 'clients' | 'limiter'>): void {
  app.post('/oauth/revoke', { config: RATE_LIMITED }, async (request, reply) => {
    reply.headers(NO_STORE);
    const b = broker();
    const params = parseForm(request);
    const client = await authenticateClient(request, params, clients, limiter);
    const token = readTokenParam(params);
    await b.revoke(token, { clientId: client.clientId, confidential: isConfidential(client) }, params.one('all_sessions') === 'true');
    // RFC 7009 §2.2: 200 whether or not the token was known or still valid.
    return reply.code(200).send();
  });
}
