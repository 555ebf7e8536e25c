/**
 * Which requests the rate limits (rate-limit.ts) apply to, and the keys they count against. A
 * route opts in with `{ config: RATE_LIMITED }` and authenticates through these steps; the
 * server's onResponse hook counts its 4xx answers (countRefusal).
 */
import type { FastifyRequest } from 'fastify';
import type { RateLimits } from '../rate-limit.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route authenticates a client: its refusals count against the failed-request limit. */
    rateLimited?: boolean;
  }
  interface FastifyRequest {
    /** Set when the client authentication failed: the configured client the request named, if any. */
    failedAuthentication: { claimed: string | undefined } | null;
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

/** `request.ip` is the client's address (the peer's, or X-Forwarded-For's from a `trustProxy` proxy). */
const addressKey = (request: FastifyRequest): string => `ip:${request.ip}`;
const clientKey = (clientId: string, request: FastifyRequest): string => `client:${clientId} ip:${request.ip}`;

/**
 * Before authentication: the configured client a request names, at its address, must be within
 * its failures (so its secret cannot be guessed at speed, the right guess included).
 * @throws OAuthError 429.
 */
export function checkClaimedClient(request: FastifyRequest, claimed: string | undefined, limits: RateLimits): void {
  if (claimed !== undefined) limits.failures.check(clientKey(claimed, request));
}

/**
 * Authentication failed with `err`: remembered for the count after the answer. An address over
 * its failures is answered 429 instead (only failed authentications ever see that limit).
 * @throws OAuthError 429, else `err`.
 */
export function authenticationFailed(request: FastifyRequest, claimed: string | undefined, limits: RateLimits, err: unknown): never {
  request.failedAuthentication = { claimed };
  limits.failures.check(addressKey(request));
  throw err;
}

/**
 * Once `request.clientId` is authenticated: the client at its address within its failures, and
 * the client within its requests per window.
 * @throws OAuthError 429 (FailureRateLimiter.check, RequestRateLimiter.hit).
 */
export function checkRateLimit(request: FastifyRequest, limits: RateLimits): void {
  const clientId = request.clientId!;
  limits.failures.check(clientKey(clientId, request));
  limits.requests.hit(clientId);
}

/**
 * After the answer: a refusal (4xx but 429) of a rate-limited route counts against the client
 * at its address; a failed authentication against the address and the client it named.
 */
export function countRefusal(request: FastifyRequest, status: number, limits: RateLimits): void {
  if (status < 400 || status >= 500 || status === 429 || !isRateLimited(request)) return;
  const failed = request.failedAuthentication;
  if (failed) {
    limits.failures.fail(addressKey(request));
    if (failed.claimed !== undefined) limits.failures.fail(clientKey(failed.claimed, request));
  } else if (request.clientId) {
    limits.failures.fail(clientKey(request.clientId, request));
  }
}
