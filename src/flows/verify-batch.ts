import { once } from 'node:events';
import { createInterface } from 'node:readline';
import type { Context } from '../context.js';
import { verifyJwt, type VerifyOptions, type VerifyResult } from '../jwt/verify.js';

export interface BatchSummary {
  total: number;
  valid: number;
}

/** Tokens verified at once; bounded so memory stays flat however long the input is. */
const WINDOW = 64;

/**
 * Verifies one token per stdin line and writes one NDJSON result per line, in input order.
 * Blank lines are skipped. Streams: memory does not grow with the number of tokens.
 */
export async function verifyBatch(ctx: Context, options: VerifyOptions): Promise<BatchSummary> {
  const summary: BatchSummary = { total: 0, valid: 0 };
  const pending: Promise<VerifyResult>[] = [];
  const write = async (result: VerifyResult) => {
    summary.total++;
    if (result.valid) summary.valid++;
    if (!ctx.stdout.write(`${JSON.stringify(result)}\n`)) await once(ctx.stdout, 'drain');
  };
  const lines = createInterface({ input: ctx.stdin, crlfDelay: Infinity });
  for await (const line of lines) {
    if (line.trim() === '') continue;
    const result = verifyJwt(line, options);
    // A key-set failure (JWKS unreachable) rejects every pending token at once: the first one is
    // awaited and reported; the others must not surface as unhandled rejections.
    result.catch(() => {});
    pending.push(result);
    if (pending.length >= WINDOW) await write(await pending.shift()!);
  }
  while (pending.length) await write(await pending.shift()!);
  return summary;
}
