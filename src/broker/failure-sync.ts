/**
 * The failure rate limit shared by every broker instance on one database: each instance
 * records its refusals in the store, and counts the others' into its own limiter, once every
 * `intervalMs`. A client guessing a secret across instances behind a load balancer meets the
 * limit after the same number of failures as at one (give or take what one interval lets
 * through). Records older than the window are deleted by whichever instance gets there.
 */
import type { FailureRateLimiter } from './rate-limit.js';
import type { BrokerStore, FailureRecord } from './store/types.js';

/** Failures buffered at most between two syncs (the limiter itself bounds what it keeps). */
const MAX_BUFFERED = 10_000;

export class FailureSync {
  private buffer: FailureRecord[] = [];
  private cursor = 0;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private lastPurge = 0;

  constructor(
    private readonly store: Pick<BrokerStore, 'recordFailures' | 'failuresAfter' | 'purgeFailures'>,
    private readonly limiter: FailureRateLimiter,
    private readonly windowSeconds: number,
    private readonly now: () => number,
  ) {
    limiter.onFail = (key, at) => {
      if (this.buffer.length < MAX_BUFFERED) this.buffer.push({ key, at });
    };
  }

  /** Syncs every `intervalMs`; `onError` hears a failed sync (the failures are kept for the next). */
  start(onError: (err: unknown) => void, intervalMs = 1000): void {
    this.timer = setInterval(() => {
      this.running ??= this.sync()
        .catch(onError)
        .finally(() => (this.running = undefined));
    }, intervalMs);
    this.timer.unref();
  }

  /** Stops, after recording what is buffered. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
    await this.sync().catch(() => {});
  }

  /** Records the buffered refusals, and counts the others' since the last sync. */
  async sync(): Promise<void> {
    const mine = this.buffer;
    this.buffer = [];
    try {
      await this.store.recordFailures(mine);
    } catch (err) {
      this.buffer = [...mine, ...this.buffer].slice(-MAX_BUFFERED);
      throw err;
    }
    // One page a sync (the adapters give up to 10,000): a flood is read over a few syncs.
    const page = await this.store.failuresAfter(this.cursor);
    this.cursor = page.cursor;
    for (const f of page.failures) this.limiter.absorb(f.key, f.at);
    const now = this.now();
    if (now - this.lastPurge >= this.windowSeconds * 1000) {
      this.lastPurge = now;
      await this.store.purgeFailures(now - this.windowSeconds * 1000);
    }
  }
}
