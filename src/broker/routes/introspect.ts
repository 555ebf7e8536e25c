/**
 * `POST /oauth/introspect`: RFC 7662 for the broker's own tokens, the server side of "is signed
 * in". Only confidential clients may ask (RFC 7662 §4: the endpoint must not be a token-scanning
 * oracle), and only about tokens issued to themselves or to a client they list in `introspects`
 * (a resource server's); every other answer is `{"active":false}`.
 */
import type { FastifyInstance } from 'fastify';
import type { LiveToken } from '../broker.js';
import { isConfidential } from '../clients.js';
import type { ClientConfig } from '../config.js';
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

/** Whether `caller` may see a token issued to `issuedTo`. */
export function mayIntrospect(caller: ClientConfig, issuedTo: unknown): boolean {
  if (!isConfidential(caller)) return false;
  return issuedTo === caller.clientId || (typeof issuedTo === 'string' && caller.introspects?.includes(issuedTo) === true);
}

export function introspectRoute(app: FastifyInstance, { broker, clients, limiter }: Pick<RouteDeps, 'broker' | 'clients' | 'limiter'>): void {
  app.post('/oauth/introspect', { config: RATE_LIMITED }, async (request, reply) => {
    reply.headers(NO_STORE);
    const b = broker();
    const params = parseForm(request);
    const client = await authenticateClient(request, params, clients, limiter);
    const token = readTokenParam(params);
    // A public caller learns nothing, not even whether the token is ours: no lookup at all.
    if (!isConfidential(client)) return { active: false };
    const live = await b.liveToken(token);
    return introspectionResponse(live && mayIntrospect(client, live.claims.client_id) ? live : undefined);
  });
}
