/**
 * Group commit: the writes of one event-loop turn committed together, in one transaction. Under
 * load, one lock and one WAL append serve many requests instead of one each. Needs a synchronous
 * commit (better-sqlite3): a batch is committed within one turn.
 */

export interface GroupCommitOptions<I, O> {
  /** Commits `inputs` in one transaction, in order (a later one sees what an earlier one wrote); all or nothing. */
  commitBatch: (inputs: I[]) => O[];
  /** Commits one input in a transaction of its own. */
  commitOne: (input: I) => O;
  /** Whether `err` is an outage (the database cannot be used), which fails a whole batch. */
  isOutage: (err: unknown) => boolean;
  /** Inputs committed together at most; more wait for the next turn. Default 256. */
  max?: number;
}

interface Queued<I, O> {
  input: I;
  resolve: (outcome: O) => void;
  reject: (err: unknown) => void;
}

/** Inputs committed together at most; more wait for the next turn. */
const GROUP_COMMIT_MAX = 256;

export class GroupCommit<I, O> {
  /** Inputs waiting for this turn's commit. */
  private queued: Queued<I, O>[] = [];
  private readonly max: number;

  constructor(private readonly options: GroupCommitOptions<I, O>) {
    this.max = options.max ?? GROUP_COMMIT_MAX;
  }

  /**
   * Queues `input` for this turn's commit; resolves only once its own input is committed.
   * Rejects with what the commit threw.
   */
  submit(input: I): Promise<O> {
    return new Promise((resolve, reject) => {
      if (this.queued.push({ input, resolve, reject }) === 1) setImmediate(() => this.commitQueued());
    });
  }

  /** Commits everything still queued, now (when closing: inputs already accepted are committed, not dropped). */
  commitAll(): void {
    while (this.queued.length > 0) this.commitQueued();
  }

  private commitQueued(): void {
    const batch = this.queued.splice(0, this.max);
    if (this.queued.length > 0) setImmediate(() => this.commitQueued());
    if (batch.length === 0) return;
    let outcomes: O[];
    try {
      outcomes = this.options.commitBatch(batch.map((q) => q.input));
    } catch (err) {
      // The whole transaction was rolled back. An outage fails every input in it; anything else
      // (one login's bug) must not fail its neighbours: each is tried again on its own.
      if (this.options.isOutage(err) || batch.length === 1) {
        for (const q of batch) q.reject(err);
        return;
      }
      for (const q of batch) {
        try {
          q.resolve(this.options.commitOne(q.input));
        } catch (one) {
          q.reject(one);
        }
      }
      return;
    }
    batch.forEach((q, i) => q.resolve(outcomes[i]!));
  }
}
