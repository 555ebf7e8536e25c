/** `GET /userinfo`: the customer as stored, for a bearer token of a live session. */
import type { FastifyInstance } from 'fastify';
import { OAuthError } from '../oauth-error.js';
import { NO_STORE, bearerToken } from '../shared/http.js';
import type { RouteDeps } from '../shared/route-deps.js';
import type { Customer } from '../store/types.js';

function userinfoResponse(customer: Customer) {
  return {
    ...customer.fields,
    sub: customer.id,
    created_at: new Date(customer.createdAt).toISOString(),
    updated_at: new Date(customer.updatedAt).toISOString(),
  };
}

export function userinfoRoute(app: FastifyInstance, { broker }: Pick<RouteDeps, 'broker'>): void {
  app.get('/userinfo', async (request, reply) => {
    reply.headers(NO_STORE);
    const b = broker();
    const token = bearerToken(request.headers.authorization);
    if (!token) {
      // RFC 6750 §3.1: no error code when the request carried no token at all.
      throw new OAuthError('invalid_token', 'a bearer token is required', 401, { 'www-authenticate': 'Bearer realm="authbridge broker"' });
    }
    const live = await b.liveToken(token);
    const customer = live && (await b.customer(live.session.customerId));
    if (!live || !customer) {
      throw new OAuthError('invalid_token', 'the token is not active', 401, {
        'www-authenticate': 'Bearer realm="authbridge broker", error="invalid_token"',
      });
    }
    request.clientId = live.session.clientId;
    return userinfoResponse(customer);
  });
}
