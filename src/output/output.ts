/**
 * The one place that decides how things look: colour, symbols, JSON. stdout is data, stderr is talk.
 */
import { Chalk, type ChalkInstance } from 'chalk';
import type { Context, OutputStream } from '../context.js';
import { safeJson, safeText } from '../util/safe-text.js';

/** What decides how output looks: the global `--json`, `--no-color`, `--debug` and `--verbose`. */
export interface OutputOptions {
  json: boolean;
  color: boolean;
  debug: boolean;
  verbose: boolean;
}

export interface Output {
  readonly json: boolean;
  readonly verbose: boolean;
  readonly debug: boolean;
  /** Styles for human output; all identity functions when colour is off. */
  readonly style: ChalkInstance;
  /** Writes data to stdout, adding a newline. */
  data(text: string): void;
  /** Writes one JSON document to stdout (see `safeJson`: the values exact, nothing raw a terminal acts on). */
  jsonDoc(value: unknown): void;
  /** Progress and talk, to stderr (also under --json: scripts parse only stdout). */
  info(text: string): void;
  /** A one-line warning, to stderr; its text is shown through `safeText` (it may quote a server). */
  warn(text: string): void;
  /** A `--verbose` trace line, to stderr; callers mask secrets first. */
  trace(text: string): void;
}

/** Colour only on a TTY; NO_COLOR and --no-color switch it off, FORCE_COLOR on. */
export function colorLevel(ctx: Context, stream: OutputStream, flag: boolean): 0 | 1 | 2 | 3 {
  const force = ctx.env.FORCE_COLOR;
  if (!flag) return 0;
  if (force !== undefined && force !== '0' && force !== 'false') return force === '3' ? 3 : force === '2' ? 2 : 1;
  if (ctx.env.NO_COLOR !== undefined && ctx.env.NO_COLOR !== '') return 0;
  if (force === '0' || force === 'false') return 0;
  if (!stream.isTTY || ctx.env.TERM === 'dumb') return 0;
  return 1;
}

export function createOutput(ctx: Context, global: OutputOptions): Output {
  const style = new Chalk({ level: colorLevel(ctx, ctx.stdout, global.color) });
  const errStyle = new Chalk({ level: colorLevel(ctx, ctx.stderr, global.color) });
  return {
    json: global.json,
    verbose: global.verbose,
    debug: global.debug,
    style,
    data: (text) => void ctx.stdout.write(`${text}\n`),
    jsonDoc: (value) => void ctx.stdout.write(`${safeJson(value, 2)}\n`),
    info: (text) => void ctx.stderr.write(`${text}\n`),
    warn: (text) => void ctx.stderr.write(`${errStyle.yellow('warning:')} ${safeText(text)}\n`),
    trace: (text) => {
      // A trace line carries what servers sent (a content type, an error text).
      if (global.verbose) ctx.stderr.write(`${errStyle.dim(safeText(text))}\n`);
    },
  };
}
