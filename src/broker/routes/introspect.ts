/** `POST /oauth/introspect`: RFC 7662 for the broker's own tokens, the server side of "is signed in". */
import type { FastifyInstance } from 'fastify';
import type { LiveToken } from '../broker.js';
import { authenticateClient } from '../shared/client-auth.js';
import { parseForm, readTokenParam } from '../shared/form.js';
import { NO_STORE } from '../shared/http.js';
import { RATE_LIMITED } from '../shared/rate-limited.js';
import type { RouteDeps } from '../shared/route-deps.js';

/** RFC 7662 §2.2: `active`, and for a live token the claims a resource server needs. */
function introspectionResponse(live: LiveToken | undefined) {
  if (!live) return { active: false };
  const { claims } = live;
  return {
    active: true,
    token_type: 'Bearer',
    sub: claims.sub,
    client_id: claims.client_id,
    aud: claims.aud,
    iss: claims.iss,
    iat: claims.iat,
    exp: claims.exp,
    jti: claims.jti,
    sid: claims.sid,
    idp: claims.idp,
  };
}

export function introspectRoute(app: FastifyInstance, { broker, clients }: Pick<RouteDeps, 'broker' | 'clients'>): void {
  app.post('/oauth/introspect', { config: RATE_LIMITED }, async (request, reply) => {
    reply.headers(NO_STORE);
    const b = broker();
    const params = parseForm(request);
    authenticateClient(request, params, clients);
    const token = readTokenParam(params);
    return introspectionResponse(await b.liveToken(token));
  });
}
