/** A Context backed by buffers, a fixed clock and a recording browser, for in-process tests. */
import { PassThrough } from 'node:stream';
import type { Context } from '../../src/context.js';
import { Command } from 'commander';
import type { Invocation } from '../../src/commands/invocation.js';

export interface TestContext extends Context {
  out(): string;
  err(): string;
  opened: string[];
}

export function testContext(options: { env?: Record<string, string | undefined>; now?: number; stdin?: string } = {}): TestContext {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const stdin = new PassThrough();
  stdin.end(options.stdin ?? '');
  const chunks = { out: [] as Buffer[], err: [] as Buffer[] };
  stdout.on('data', (d: Buffer) => chunks.out.push(d));
  stderr.on('data', (d: Buffer) => chunks.err.push(d));
  const opened: string[] = [];
  return {
    stdin,
    stdout,
    stderr,
    env: options.env ?? {},
    now: () => options.now ?? Date.UTC(2026, 10, 22, 12, 0, 0),
    fetch: (...args) => globalThis.fetch(...args),
    openBrowser: async (url) => void opened.push(url),
    onInterrupt: () => () => {},
    out: () => Buffer.concat(chunks.out).toString('utf8'),
    err: () => Buffer.concat(chunks.err).toString('utf8'),
    opened,
  };
}

/** An invocation of a command module's `run` in this process, with these global options. */
export function invocation(ctx: Context, global: Partial<Invocation['global']> = {}): Invocation {
  return { ctx, global: { json: false, color: false, debug: false, verbose: false, ...global }, program: new Command('authbridge') };
}
