/**
 * Failed-exchange rate limiting: a client at one address (or, before it has authenticated, the
 * address alone) that piles up refusals within a window is answered 429 with `Retry-After` until
 * the oldest of them leaves the window. Guessing client secrets or trying stolen subject tokens
 * gets slow; successes are never counted. Keyed by client *and* address: a public client id is
 * shared by every install of an app, so a client-wide limit would let anyone lock everyone out.
 */
import { OAuthError } from './oauth-error.js';

export interface RateLimitSettings {
  /** Refused requests allowed per key within the window; 0 switches the limit off. */
  maxFailures: number;
  /** Seconds a refusal counts. */
  windowSeconds: number;
}

export const DEFAULT_RATE_LIMIT: RateLimitSettings = { maxFailures: 100, windowSeconds: 60 };

/** Keys remembered at most; the least recently failed are forgotten first. */
const MAX_KEYS = 10_000;

export class FailureRateLimiter {
  /** Key → times (ms) of its refusals in the window, oldest first. Map order = last failure. */
  private readonly failures = new Map<string, number[]>();

  constructor(
    private readonly settings: RateLimitSettings,
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
    throw new OAuthError('temporarily_unavailable', `too many failed requests; retry after ${retryAfter} s`, 429, {
      'retry-after': String(retryAfter),
    });
  }

  /** Counts one refusal against `key`. */
  fail(key: string): void {
    if (this.settings.maxFailures <= 0) return;
    const list = this.recent(key);
    list.push(this.now());
    this.failures.delete(key);
    this.failures.set(key, list);
    // Keep only what the limit needs, and a bounded number of keys.
    if (list.length > this.settings.maxFailures) list.splice(0, list.length - this.settings.maxFailures);
    if (this.failures.size > MAX_KEYS) this.failures.delete(this.failures.keys().next().value!);
  }
}
