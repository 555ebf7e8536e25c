/**
 * `GET /healthz` (liveness: the process answers; a load balancer restarts it otherwise) and
 * `GET /readyz` (readiness: the database answers a read too, 503 otherwise; a load balancer sends
 * it no traffic meanwhile). Both answer 503 while the broker drains (the server's onRequest hook).
 */
import type { FastifyInstance } from 'fastify';
import { NO_STORE } from '../shared/http.js';
import type { RouteDeps } from '../shared/route-deps.js';

export function healthzRoute(app: FastifyInstance): void {
  app.get('/healthz', async (_request, reply) => {
    reply.headers(NO_STORE);
    return { status: 'ok' };
  });
}

export function readyzRoute(app: FastifyInstance, { store }: Pick<RouteDeps, 'store'>): void {
  app.get('/readyz', async (_request, reply) => {
    reply.headers(NO_STORE);
    await store.ping();
    return { status: 'ready' };
  });
}
