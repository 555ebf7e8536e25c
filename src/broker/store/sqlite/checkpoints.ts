/**
 * WAL checkpoints of the broker's SQLite file, every `intervalMs` (one fsync a period however
 * many logins there were), instead of SQLite's default of a checkpoint inside whichever commit
 * crosses 1000 pages. On a thread of their own when the build has one (checkpoint-worker.ts),
 * else on a timer of this one.
 */
import type Database from 'better-sqlite3';
import { once } from 'node:events';
import type { Worker } from 'node:worker_threads';
import { startWorker } from '../../../runtime/worker.js';

/** Milliseconds stop() waits for the checkpoint thread to stop before it is terminated. */
const CLOSE_WAIT_MS = 5000;

export class Checkpoints {
  private timer: NodeJS.Timeout | undefined;
  private thread: Worker | undefined;

  /** `db`: the connection the timer fallback checkpoints with (the thread opens its own). */
  constructor(private readonly db: Database.Database) {}

  /** Starts checkpointing, on the thread (`onThread`, when there is one) or on a timer. Once only. */
  start(intervalMs = 1000, onThread = true): void {
    if (this.thread || this.timer) return;
    // On its own thread and connection (checkpoint-worker.ts), so the fsync never holds up a request.
    const worker =
      onThread && this.db.name !== ':memory:'
        ? startWorker('checkpoint-worker', {
            workerData: { path: this.db.name, intervalMs },
            unref: true,
            // A thread that cannot start, or dies, leaves the job to this one (stop() stops it on purpose).
            onLost: () => {
              if (this.thread !== worker) return;
              this.thread = undefined;
              this.start(intervalMs, false);
            },
          })
        : undefined;
    if (worker) {
      this.thread = worker;
      return;
    }
    this.timer = setInterval(() => {
      try {
        this.db.pragma('wal_checkpoint(PASSIVE)');
      } catch {
        // Busy or read-only: the next period tries again; the WAL keeps the data meanwhile.
      }
    }, intervalMs);
    this.timer.unref();
  }

  /** Stops the timer, or the thread (terminated if it has not stopped within a few seconds). */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    const thread = this.thread;
    this.thread = undefined;
    if (!thread) return;
    const gone = once(thread, 'exit').catch(() => {});
    // Unreferenced while it ran; this wait must keep the process alive until it has gone.
    thread.ref();
    thread.postMessage('stop');
    // A thread that does not stop when asked is stopped: a broker's exit never hangs on it.
    const deadline = setTimeout(() => void thread.terminate(), CLOSE_WAIT_MS);
    await gone;
    clearTimeout(deadline);
  }
}
