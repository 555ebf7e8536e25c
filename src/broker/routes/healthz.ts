/** `GET /healthz`: 200 while the database answers a read, 503 otherwise. */
import type { FastifyInstance } from 'fastify';
import type { RouteDeps } from '../shared/route-deps.js';

export function healthzRoute(app: FastifyInstance, { store }: Pick<RouteDeps, 'store'>): void {
  app.get('/healthz', async () => {
    await store.ping();
    return { status: 'ok' };
  });
}
