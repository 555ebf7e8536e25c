/**
 * The routes that exchange a subject token for a broker token (`/oauth/token`, the Synerise
 * login): rate-limited as every client-authenticated route, and counted by result in /metrics.
 */
import type { FastifyRequest } from 'fastify';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route exchanges a subject token: /metrics counts it by result. */
    exchange?: boolean;
  }
  interface FastifyRequest {
    /** Set by an exchange route that issued a token: whether it registered the customer. */
    accountStatus: 'created' | 'existing' | null;
  }
}

export const EXCHANGE_ROUTE = { rateLimited: true, exchange: true } as const;

export function isExchange(request: FastifyRequest): boolean {
  return request.routeOptions.config?.exchange === true;
}
