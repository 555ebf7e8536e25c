/** A Context backed by buffers, a fixed clock and a recording browser, for in-process tests. */
import { PassThrough } from 'node:stream';
import type { BrowserLauncher, Context } from '../../src/context.js';
import { Command } from 'commander';
import type { Invocation } from '../../src/commands/invocation.js';

export interface TestContext extends Context {
  out(): string;
  err(): string;
  /** Every URL handed to `openBrowser`, in order. */
  opened: string[];
  /** Types `text` on stdin (with `openStdin`; the stream is ended otherwise). */
  type(text: string): void;
  /** Delivers a signal to the interrupt handlers registered through `onInterrupt` (none: nothing happens). */
  interrupt(signal?: 'SIGINT' | 'SIGTERM'): void;
  /** How many interrupt handlers are registered right now (a flow removes its own when it ends). */
  interruptHandlers(): number;
}

export interface TestContextOptions {
  env?: Record<string, string | undefined>;
  /** Milliseconds since the epoch, or a clock. Default: a fixed 2026-11-22T12:00:00Z. */
  now?: number | (() => number);
  /** What stdin holds; it is then ended (unless `openStdin`). */
  stdin?: string;
  /** Keep stdin open: the test writes to it with `type()` (`--no-browser`'s pasted URL). */
  openStdin?: boolean;
  /** Called with each URL after it is recorded in `opened` (a recording browser, see recording-browser.ts). */
  browser?: BrowserLauncher;
}

export function testContext(options: TestContextOptions = {}): TestContext {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const stdin = new PassThrough();
  if (options.stdin !== undefined) stdin.write(options.stdin);
  if (!options.openStdin) stdin.end();
  const chunks = { out: [] as Buffer[], err: [] as Buffer[] };
  stdout.on('data', (d: Buffer) => chunks.out.push(d));
  stderr.on('data', (d: Buffer) => chunks.err.push(d));
  const opened: string[] = [];
  const handlers = new Set<(signal: 'SIGINT' | 'SIGTERM') => void>();
  const { now } = options;
  const clock = typeof now === 'function' ? now : () => now ?? Date.UTC(2026, 10, 22, 12, 0, 0);
  return {
    stdin,
    stdout,
    stderr,
    env: options.env ?? {},
    now: clock,
    fetch: (...args) => globalThis.fetch(...args),
    openBrowser: async (url) => {
      opened.push(url);
      await options.browser?.(url);
    },
    onInterrupt: (handler) => {
      // A handler object of its own, so one handler registered twice is removed once.
      const entry = (signal: 'SIGINT' | 'SIGTERM') => handler(signal);
      handlers.add(entry);
      return () => void handlers.delete(entry);
    },
    out: () => Buffer.concat(chunks.out).toString('utf8'),
    err: () => Buffer.concat(chunks.err).toString('utf8'),
    opened,
    type: (text) => void stdin.write(text),
    interrupt: (signal = 'SIGINT') => {
      for (const handler of [...handlers]) handler(signal);
    },
    interruptHandlers: () => handlers.size,
  };
}

/** An invocation of a command module's `run` in this process, with these global options. */
export function invocation(ctx: Context, global: Partial<Invocation['global']> = {}): Invocation {
  return { ctx, global: { json: false, color: false, debug: false, verbose: false, ...global }, program: new Command('authbridge') };
}
