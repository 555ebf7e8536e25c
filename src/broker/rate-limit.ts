/**
 * Rate limits of the requests that authenticate a client.
 *
 * Failures: a client at one address that piles up refusals within a window is answered 429 with
 * `Retry-After` until the oldest of them leaves the window, whatever it sends, so a secret cannot
 * be guessed at speed. Before authentication a request counts against the client it names (at
 * its address), and a failed authentication also against the address alone; the address count
 * only ever turns further *failed* authentications into 429s: a request that authenticates
 * correctly is never refused for what others at its address (a NAT, a proxy) did. Successes are
 * never counted as failures. Keyed by client *and* address: a public client id is shared by every
 * install of an app, so a client-wide failure limit would let anyone lock everyone out.
 *
 * Requests: optionally, a client's authenticated requests per window (`maxRequestsPerClient`),
 * whatever their outcome: a bound on the work one client can cause.
 */
import { OAuthError } from './oauth-error.js';

export interface RateLimitSettings {
  /** Refused requests allowed per key within the window; 0 switches the limit off. */
  maxFailures: number;
  /** Seconds a refusal (or a request) counts. */
  windowSeconds: number;
  /** Authenticated requests allowed per client within the window; 0 (the default) switches it off. */
  maxRequestsPerClient: number;
}

export const DEFAULT_RATE_LIMIT: RateLimitSettings = { maxFailures: 100, windowSeconds: 60, maxRequestsPerClient: 0 };

/** Keys remembered at most; the least recently failed are forgotten first. */
const MAX_KEYS = 10_000;

const tooMany = (what: string, retryAfter: number): OAuthError =>
  new OAuthError('temporarily_unavailable', `too many ${what}; retry after ${retryAfter} s`, 429, { 'retry-after': String(retryAfter) });

export class FailureRateLimiter {
  /** Key → times (ms) of its refusals in the window, oldest first. Map order = last failure. */
  private readonly failures = new Map<string, number[]>();

  constructor(
    private readonly settings: Pick<RateLimitSettings, 'maxFailures' | 'windowSeconds'>,
    private readonly now: () => number,
  ) {}

  private recent(key: string): number[] {
    const list = this.failures.get(key);
    if (!list) return [];
    const since = this.now() - this.settings.windowSeconds * 1000;
    while (list.length > 0 && list[0]! <= since) list.shift();
    if (list.length === 0) this.failures.delete(key);
    return list;
  }

  /**
   * @throws OAuthError 429 `temporarily_unavailable` with `Retry-After` (seconds) when `key` has
   *   used up its refusals for the window.
   */
  check(key: string): void {
    if (this.settings.maxFailures <= 0) return;
    const list = this.recent(key);
    if (list.length < this.settings.maxFailures) return;
    const retryAfter = Math.max(1, Math.ceil((list[list.length - this.settings.maxFailures]! + this.settings.windowSeconds * 1000 - this.now()) / 1000));
    throw tooMany('failed requests', retryAfter);
  }

  /** Hears each refusal counted here (the shared record: failure-sync.ts). */
  onFail: ((key: string, at: number) => void) | undefined;

  /** Counts one refusal against `key`. */
  fail(key: string): void {
    if (this.settings.maxFailures <= 0) return;
    const at = this.now();
    this.onFail?.(key, at);
    this.count(key, at);
  }

  /** Counts a refusal another broker instance saw against `key` at `at` (ms). */
  absorb(key: string, at: number): void {
    if (this.settings.maxFailures <= 0 || at <= this.now() - this.settings.windowSeconds * 1000) return;
    this.count(key, at);
  }

  private count(key: string, at: number): void {
    const list = this.recent(key);
    // Oldest first: another instance's refusal may be older than the last one here.
    let i = list.length;
    while (i > 0 && list[i - 1]! > at) i--;
    list.splice(i, 0, at);
    this.failures.delete(key);
    this.failures.set(key, list);
    // Keep only what the limit needs, and a bounded number of keys.
    if (list.length > this.settings.maxFailures) list.splice(0, list.length - this.settings.maxFailures);
    if (this.failures.size > MAX_KEYS) this.failures.delete(this.failures.keys().next().value!);
  }
}

/** Authenticated requests per client in fixed windows. Keys are configured client ids: bounded. */
export class RequestRateLimiter {
  private readonly windows = new Map<string, { start: number; count: number }>();

  constructor(
    private readonly settings: Pick<RateLimitSettings, 'maxRequestsPerClient' | 'windowSeconds'>,
    private readonly now: () => number,
  ) {}

  /**
   * Counts one request of `clientId`.
   * @throws OAuthError 429 `temporarily_unavailable` with `Retry-After` once the client has used
   *   up its requests for the window (that request is not counted).
   */
  hit(clientId: string): void {
    const max = this.settings.maxRequestsPerClient;
    if (max <= 0) return;
    const now = this.now();
    const windowMs = this.settings.windowSeconds * 1000;
    let current = this.windows.get(clientId);
    if (!current || now - current.start >= windowMs) this.windows.set(clientId, (current = { start: now, count: 0 }));
    if (current.count >= max) throw tooMany('requests from this client', Math.max(1, Math.ceil((current.start + windowMs - now) / 1000)));
    current.count += 1;
  }
}

/** The broker's two limits, as the routes and the server's hooks use them. */
export class RateLimits {
  readonly failures: FailureRateLimiter;
  readonly requests: RequestRateLimiter;

  constructor(settings: RateLimitSettings, now: () => number) {
    this.failures = new FailureRateLimiter(settings, now);
    this.requests = new RequestRateLimiter(settings, now);
  }
}
