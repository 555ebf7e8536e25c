/**
 * The one way to start a worker thread. Each thread's script is built to the top of dist/ (see
 * scripts/build.mjs, `WORKERS`); running from the TypeScript sources (tests) there is none, and
 * the caller does the work on its own thread instead. Every caller has such a fallback, so a
 * thread that cannot start, fails or exits unexpectedly costs speed, never an answer.
 */
import type { Worker, WorkerOptions } from 'node:worker_threads';
import { distFile } from './dist-file.js';

/** The worker threads the build emits, by the name of their script in dist/. */
export type WorkerName = 'verify-worker' | 'crypto-worker' | 'checkpoint-worker';

export interface StartWorkerOptions extends Pick<WorkerOptions, 'workerData' | 'resourceLimits'> {
  /**
   * A script to run instead of the built one (tests that start the bundled thread by path).
   * `null`: no thread, as when running from the sources.
   */
  script?: string | null;
  /** Unreferenced: the thread alone does not keep the process alive. Default false. */
  unref?: boolean;
  /**
   * Called once when the thread fails (`error`) or exits, whoever stopped it: the caller takes
   * the work back on its own thread unless it stopped the thread on purpose.
   */
  onLost?: (err?: Error) => void;
}

/** The built script of worker `name`; undefined when running from the sources. */
export function workerScript(name: WorkerName): string | undefined {
  return distFile(`${name}.js`);
}

/**
 * Starts the worker thread `name`, or returns undefined when there is no script for it (running
 * from the sources): the caller then does the work itself.
 */
export function startWorker(name: WorkerName, options: StartWorkerOptions = {}): Worker | undefined {
  const script = options.script === undefined ? workerScript(name) : options.script;
  if (!script) return undefined;
  // Loaded here, not with this module: commands that never start a thread never load it.
  const { Worker } = process.getBuiltinModule('node:worker_threads');
  const worker = new Worker(script, { workerData: options.workerData, resourceLimits: options.resourceLimits });
  if (options.unref) worker.unref();
  const { onLost } = options;
  if (onLost) {
    let reported = false;
    const lost = (err?: Error) => {
      if (reported) return;
      reported = true;
      onLost(err);
    };
    worker.once('error', lost);
    worker.once('exit', () => lost());
  }
  return worker;
}
