/** `GET /metrics`: the broker's Prometheus metrics (metrics.ts), in the text exposition format. */
import type { FastifyInstance } from 'fastify';
import type { BrokerMetrics } from '../metrics.js';
import { NO_STORE } from '../shared/http.js';

export function metricsRoute(app: FastifyInstance, metrics: BrokerMetrics): void {
  app.get('/metrics', async (_request, reply) => {
    const { contentType, body } = await metrics.render();
    return reply.headers(NO_STORE).type(contentType).send(body);
  });
}
