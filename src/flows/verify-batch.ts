import { once } from 'node:events';
import { availableParallelism } from 'node:os';
import { StringDecoder } from 'node:string_decoder';
import type { Readable } from 'node:stream';
import type { Context } from '../context.js';
import { RemoteError, UsageError } from '../errors.js';
import { verifyJwt, type VerifyOptions, type VerifyResult } from '../jwt/verify.js';
import { startWorker, workerScript } from '../runtime/worker.js';
import { safeJson } from '../util/safe-text.js';

export interface BatchSummary {
  total: number;
  valid: number;
}

/**
 * What `verify --batch` writes for each token: `json`, the full result as one NDJSON line (every
 * check); `valid`, the word `valid` or `invalid`; `reason`, `valid` or the reason code
 * (`expired`, `bad_signature`, …). The lean forms cost a fraction of the JSON to make and write.
 */
export type BatchOutput = 'json' | 'valid' | 'reason';

/** One token's output line, newline included. */
export function formatResult(result: VerifyResult, output: BatchOutput = 'json'): string {
  if (output === 'valid') return result.valid ? 'valid\n' : 'invalid\n';
  if (output === 'reason') return `${result.reason ?? 'valid'}\n`;
  return `${safeJson(result)}\n`;
}

/** A key source a worker thread can open by itself. */
export interface LocalKeySource {
  jwksFile?: string;
  secret?: string;
}

export interface BatchChunk {
  id: number;
  lines: string[];
}

export interface BatchChunkResult {
  id: number;
  out: string;
  valid: number;
  total: number;
}

/** The longest line read as a token; a longer one is reported as malformed and not kept. */
export const MAX_LINE_BYTES = 1024 * 1024;
const TOO_LONG = `\u0000line longer than ${MAX_LINE_BYTES} bytes`;

/**
 * The non-blank lines of `input`, each at most `max` characters: a longer line is skipped to its
 * end and yielded as a marker, so one huge line cannot take the memory a batch must not grow.
 */
export async function* boundedLines(input: Readable, max = MAX_LINE_BYTES): AsyncGenerator<string> {
  for await (const lines of boundedLineChunks(input, max)) yield* lines;
}

/**
 * {@link boundedLines} a chunk of input at a time: the lines each read completes, as one array
 * (a batch pays one promise per read, not one per token).
 */
export async function* boundedLineChunks(input: Readable, max = MAX_LINE_BYTES): AsyncGenerator<string[]> {
  const decoder = new StringDecoder('utf8');
  let line = '';
  let skipping = false;
  const keep = (out: string[], text: string) => {
    const trimmed = text.endsWith('\r') ? text.slice(0, -1) : text;
    if (trimmed.trim() !== '') out.push(trimmed);
  };
  for await (const chunk of input) {
    const out: string[] = [];
    const text = typeof chunk === 'string' ? chunk : decoder.write(chunk as Buffer);
    let start = 0;
    for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', start)) {
      if (skipping) skipping = false;
      else if (line.length + nl - start > max) out.push(TOO_LONG);
      else keep(out, line + text.slice(start, nl));
      line = '';
      start = nl + 1;
    }
    if (!skipping) {
      if (line.length + text.length - start > max) {
        out.push(TOO_LONG);
        line = '';
        skipping = true;
      } else line += text.slice(start);
    }
    if (out.length) yield out;
  }
  if (!skipping) {
    const out: string[] = [];
    keep(out, line + decoder.end());
    if (out.length) yield out;
  }
}

/** The result for a line too long to be a token. */
function tooLong(): VerifyResult {
  return {
    valid: false,
    reason: 'malformed',
    checks: [{ name: 'format', ok: false, detail: `the line is longer than ${MAX_LINE_BYTES} bytes` }],
    header: null,
    payload: null,
  };
}

/** Verifies one line, or reports it as too long. */
export function verifyLine(line: string, options: VerifyOptions): Promise<VerifyResult> {
  return line === TOO_LONG ? Promise.resolve(tooLong()) : verifyJwt(line, options);
}

/** Tokens verified at once on the main thread; bounded so memory stays flat. */
const WINDOW = 64;
/** Below this many tokens, starting worker threads costs more than it saves. */
const WORKER_THRESHOLD = 1024;
/**
 * Worker threads pay only from this many cores on. On two, this thread parsing and checking
 * claims while libuv's pool checks the signatures keeps both cores busy from the first token,
 * where a worker would first boot for ~100 ms (its own Node environment and bundle), then
 * verify no faster: measured in the same run, 10,000 RS256 tokens (bench/verify-batch.mjs).
 */
const WORKER_MIN_CORES = 3;
const CHUNK = 256;
/** This thread's output is written in pieces of about this many characters (one write each). */
const OUTPUT_PIECE = 64 * 1024;
/**
 * A worker holds a few chunks at a time; small heap limits make its garbage collector keep it
 * that small instead of letting the heap grow with the number of tokens it has seen.
 */
const WORKER_LIMITS = { maxYoungGenerationSizeMb: 8, maxOldGenerationSizeMb: 64 };
/** Chunks in flight per worker: enough to keep it busy, few enough to keep memory flat. */
const IN_FLIGHT_PER_WORKER = 4;

export interface BatchOptions {
  /** When the keys are local, the batch may spread over worker threads (one per core). */
  localKeys?: LocalKeySource;
  /**
   * Worker threads to use; default: `AUTHBRIDGE_BATCH_WORKERS`, else the machine's parallelism,
   * none below three cores (see `WORKER_MIN_CORES`); at most 8. 0 or 1: none.
   */
  workers?: number;
  /** What is written for each token; default `json`. */
  output?: BatchOutput;
}

type Writer = (text: string) => Promise<void>;

function writer(ctx: Context): Writer {
  return async (text) => {
    if (!ctx.stdout.write(text)) await once(ctx.stdout, 'drain');
  };
}

/** One worker thread per core, at most 8, and none below `WORKER_MIN_CORES`. */
function defaultWorkers(): number {
  const parallelism = availableParallelism();
  return parallelism >= WORKER_MIN_CORES ? parallelism : 0;
}

/**
 * `AUTHBRIDGE_BATCH_WORKERS`: the worker threads a batch uses instead of the default (0 or 1: this
 * thread and libuv's pool only; at most 8 are started).
 * @throws UsageError when it is set to anything but a whole number.
 */
function workersFromEnv(ctx: Context): number | undefined {
  const value = ctx.env.AUTHBRIDGE_BATCH_WORKERS;
  if (value === undefined || value === '') return undefined;
  if (!/^\d{1,3}$/.test(value)) throw new UsageError(`AUTHBRIDGE_BATCH_WORKERS must be a whole number of threads (0 for none), not "${value}"`);
  return Number(value);
}

/**
 * Verifies one token per stdin line and writes one NDJSON result per line, in input order.
 * Blank lines are skipped. Streams: memory does not grow with the number of tokens. With local
 * keys, more than a thousand tokens and three cores or more, the work is spread over worker
 * threads, one per core.
 */
export async function verifyBatch(ctx: Context, options: VerifyOptions, batch: BatchOptions = {}): Promise<BatchSummary> {
  const workers = Math.min(batch.workers ?? workersFromEnv(ctx) ?? defaultWorkers(), 8);
  const chunks = boundedLineChunks(ctx.stdin);
  const script = workerScript('verify-worker');
  const head: string[] = [];
  if (batch.localKeys && workers > 1 && script) {
    // Read ahead: a short batch is done on this thread, a long one goes to the workers.
    while (head.length < WORKER_THRESHOLD) {
      const next = await chunks.next();
      if (next.done) break;
      for (const line of next.value) head.push(line);
    }
    if (head.length >= WORKER_THRESHOLD) {
      return inWorkers(ctx, options, batch.localKeys, workers, script, head, chunks, batch.output ?? 'json');
    }
  }
  return onThisThread(ctx, options, head, chunks, batch.output ?? 'json');
}

async function onThisThread(
  ctx: Context,
  options: VerifyOptions,
  head: string[],
  chunks: AsyncIterator<string[]>,
  output: BatchOutput,
): Promise<BatchSummary> {
  const summary: BatchSummary = { total: 0, valid: 0 };
  const pending: Promise<VerifyResult>[] = [];
  const write = writer(ctx);
  let piece = '';
  const emit = async (result: VerifyResult) => {
    summary.total++;
    if (result.valid) summary.valid++;
    piece += formatResult(result, output);
    if (piece.length >= OUTPUT_PIECE) await flush();
  };
  const flush = async () => {
    if (piece === '') return;
    const text = piece;
    piece = '';
    await write(text);
  };
  const take = async (lines: string[]) => {
    for (const line of lines) {
      const result = verifyLine(line, options);
      // A key-set failure (JWKS unreachable) rejects every pending token at once: the first one is
      // awaited and reported; the others must not surface as unhandled rejections.
      result.catch(() => {});
      pending.push(result);
      if (pending.length >= WINDOW) await emit(await pending.shift()!);
    }
    // What is done goes out before more input is awaited (a slow producer sees its answers).
    await flush();
  };
  await take(head);
  for (let next = await chunks.next(); !next.done; next = await chunks.next()) await take(next.value);
  while (pending.length) await emit(await pending.shift()!);
  await flush();
  return summary;
}

async function inWorkers(
  ctx: Context,
  options: VerifyOptions,
  keySource: LocalKeySource,
  size: number,
  script: string,
  head: string[],
  chunks: AsyncIterator<string[]>,
  output: BatchOutput,
): Promise<BatchSummary> {
  const { keys: _keys, ...plain } = options;
  const workerData = { options: plain, keySource, output };
  const pool = Array.from({ length: size }, () => startWorker('verify-worker', { script, workerData, resourceLimits: WORKER_LIMITS })!);
  const waiting = new Map<number, { resolve: (r: BatchChunkResult) => void; reject: (e: Error) => void }>();
  const fail = (err: Error) => {
    for (const w of waiting.values()) w.reject(err);
    waiting.clear();
  };
  for (const worker of pool) {
    worker.on('message', (msg: BatchChunkResult & { error?: string; code?: string }) => {
      const w = waiting.get(msg.id);
      waiting.delete(msg.id);
      if (!w) return;
      if (msg.error !== undefined) w.reject(msg.code === 'ERR_USAGE' ? new UsageError(msg.error) : new RemoteError(msg.error));
      else w.resolve(msg);
    });
    worker.on('error', (err) => fail(err));
  }
  const summary: BatchSummary = { total: 0, valid: 0 };
  const write = writer(ctx);
  const results: Promise<BatchChunkResult>[] = [];
  let nextId = 0;
  const dispatch = (chunk: string[]) => {
    const id = nextId++;
    const result = new Promise<BatchChunkResult>((resolve, reject) => waiting.set(id, { resolve, reject }));
    result.catch(() => {});
    results.push(result);
    pool[id % size]!.postMessage({ id, lines: chunk } satisfies BatchChunk);
  };
  const drainOne = async () => {
    const done = await results.shift()!;
    summary.total += done.total;
    summary.valid += done.valid;
    await write(done.out);
  };
  try {
    let chunk: string[] = [];
    const add = async (line: string) => {
      chunk.push(line);
      if (chunk.length < CHUNK) return;
      dispatch(chunk);
      chunk = [];
      if (results.length >= size * IN_FLIGHT_PER_WORKER) await drainOne();
    };
    for (const line of head) await add(line);
    for (let next = await chunks.next(); !next.done; next = await chunks.next()) {
      for (const line of next.value) await add(line);
    }
    if (chunk.length) dispatch(chunk);
    while (results.length) await drainOne();
    return summary;
  } finally {
    await Promise.all(pool.map((w) => w.terminate()));
  }
}
