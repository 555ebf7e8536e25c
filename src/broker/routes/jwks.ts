/**
 * `GET /jwks.json`: the broker's public signing keys, the one that will sign next included.
 * Cacheable for JWKS_MAX_AGE_SECONDS: a rotated-in key is published at least that long (and an
 * instance's key refresh) before it signs (key-ring.ts).
 */
import type { FastifyInstance } from 'fastify';
import { JWKS_MAX_AGE_SECONDS } from '../key-ring.js';
import type { RouteDeps } from '../shared/route-deps.js';

export function jwksRoute(app: FastifyInstance, { broker }: Pick<RouteDeps, 'broker'>): void {
  app.get('/jwks.json', async (_request, reply) => {
    reply.header('cache-control', `public, max-age=${JWKS_MAX_AGE_SECONDS}`);
    return broker().jwks();
  });
}
