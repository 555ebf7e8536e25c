/**
 * Which requests the failed-exchange limit (rate-limit.ts) applies to, and the key they count
 * against. A route opts in with `{ config: RATE_LIMITED }`; the server's hooks check before the
 * handler and count its 4xx answers after.
 */
import type { FastifyRequest } from 'fastify';
import type { FailureRateLimiter } from '../rate-limit.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route authenticates a client: its refusals count against the failed-exchange limit. */
    rateLimited?: boolean;
  }
}

/**
 * The route config of every route that authenticates a client: secrets cannot be guessed at one
 * while another is limited.
 */
export const RATE_LIMITED = { rateLimited: true } as const;

export function isRateLimited(request: FastifyRequest): boolean {
  return request.routeOptions.config?.rateLimited === true;
}

/** Refusals count against the client at its address, or the address before authentication (rate-limit.ts). */
export function limitKey(request: FastifyRequest): string {
  return request.clientId ? `client:${request.clientId} ip:${request.ip}` : `ip:${request.ip}`;
}

/**
 * Checks the limit again once the client is known: the key is now the client at its address.
 * @throws OAuthError 429 (FailureRateLimiter.check).
 */
export function checkRateLimit(request: FastifyRequest, limiter: FailureRateLimiter): void {
  limiter.check(limitKey(request));
}
