import type { Context } from '../context.js';
import { UsageError, describeError } from '../errors.js';
import { normalizeTokenInput } from '../jwt/parse.js';

/** The most a token argument read from stdin may be; more is not a token. */
const MAX_STDIN_BYTES = 8 * 1024 * 1024;

/** Reads all of stdin as UTF-8, up to `max` bytes. */
export async function readStdin(ctx: Context, max = MAX_STDIN_BYTES): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of ctx.stdin) {
      const buf = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
      size += buf.length;
      if (size > max) throw new UsageError(`could not read stdin: more than ${max} bytes`);
      chunks.push(buf);
    }
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(`could not read stdin: ${describeError(err)}`, { cause: err });
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * The TOKEN argument: given inline, or `-`/absent with stdin not a TTY → stdin.
 * @throws UsageError when there is nothing to read.
 */
export async function tokenArgument(ctx: Context, arg: string | undefined): Promise<string> {
  if (arg !== undefined && arg !== '-') return arg;
  if (arg === undefined && ctx.stdin.isTTY) {
    throw new UsageError('missing TOKEN: pass it as an argument, or "-" to read stdin');
  }
  return readStdin(ctx);
}

/**
 * The TOKEN argument as people paste it (quotes, `Authorization: Bearer …`, a JSON string, a
 * redirect URL's `#id_token=…`): see jwt/parse.ts `normalizeTokenInput`.
 * @throws UsageError when there is nothing to read; TokenRejectedError naming what was pasted
 *   when it holds no one token.
 */
export async function pastedToken(ctx: Context, arg: string | undefined): Promise<string> {
  return normalizeTokenInput(await tokenArgument(ctx, arg));
}

/** Parses a non-negative number of seconds given to `flag` (a default is already a number). */
export function seconds(flag: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  const given = typeof value === 'number' || (typeof value === 'string' && value.trim() !== '');
  if (!given || !Number.isFinite(n) || n < 0) {
    throw new UsageError(`${flag} must be a non-negative number of seconds, got "${String(value)}"`);
  }
  return n;
}

/** Parses a positive number of seconds given to `flag` (a time limit: 0 would fail at once). */
export function positiveSeconds(flag: string, value: unknown): number | undefined {
  const n = seconds(flag, value);
  if (n === 0) throw new UsageError(`${flag} must be a positive number of seconds, got "${String(value)}"`);
  return n;
}

/** `--now`: ISO-8601 or epoch seconds → milliseconds since the epoch. */
export function parseMoment(flag: string, value: string): number {
  const trimmed = value.trim();
  if (/^-?\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed) * 1000;
  // A time without a zone is UTC, like every time authbridge prints; never the machine's zone.
  const zoned = /T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(trimmed) ? `${trimmed}Z` : trimmed;
  const ms = /^\d{4}-\d{2}-\d{2}/.test(trimmed) ? Date.parse(zoned) : NaN;
  if (!Number.isFinite(ms)) throw new UsageError(`${flag} must be an ISO-8601 time or epoch seconds, got "${value}"`);
  return ms;
}
