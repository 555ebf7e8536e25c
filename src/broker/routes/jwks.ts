/** `GET /jwks.json`: the broker's public signing keys. */
import type { FastifyInstance } from 'fastify';
import type { RouteDeps } from '../shared/route-deps.js';

export function jwksRoute(app: FastifyInstance, { broker }: Pick<RouteDeps, 'broker'>): void {
  app.get('/jwks.json', async (_request, reply) => {
    reply.header('cache-control', 'public, max-age=300');
    return broker().jwks();
  });
}
