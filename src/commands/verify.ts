import { UsageError } from '../errors.js';
import { isLoopbackHost } from '../http/loopback.js';
import { resolveKeySet } from '../jwt/key-source.js';
import { validateVerifyOptions, verifyJwt, type ClaimExpectation, type VerifyOptions } from '../jwt/verify.js';
import { verifySignatureSync } from '../jwt/jws.js';
import type { Invocation } from '../main.js';
import { createOutput } from '../output/output.js';
import { renderVerifyResult } from '../output/verify.js';
import { parseMoment, positiveSeconds, seconds, tokenArgument } from './input.js';

function claimExpectations(values: string[] | undefined): ClaimExpectation[] {
  return (values ?? []).map((entry) => {
    const eq = entry.indexOf('=');
    if (eq <= 0) throw new UsageError(`--claim must be NAME=VALUE, got "${entry}"`);
    return { name: entry.slice(0, eq), value: entry.slice(eq + 1) };
  });
}

/** True for an http:// URL to another machine: keys fetched from it can be swapped on the way. */
function plainHttpRemote(value: unknown): boolean {
  if (typeof value !== 'string') return false;
  try {
    const url = new URL(value);
    return url.protocol === 'http:' && !isLoopbackHost(url.hostname);
  } catch {
    return false;
  }
}

export async function run(inv: Invocation): Promise<number> {
  const { ctx, global, args, opts } = inv;
  const out = createOutput(ctx, global);
  if (opts.batch && args[0] !== undefined && args[0] !== '-') {
    throw new UsageError('--batch reads tokens from stdin; do not pass TOKEN');
  }
  // The profile (config file, token cache) is read only for what the flags leave out.
  const defaults = opts.issuer && opts.audience ? {} : await (await import('../config/profile-defaults.js')).profileDefaults(inv);
  const issuer = (opts.issuer as string | undefined) ?? defaults.issuer;
  const audience = (opts.audience as string[] | undefined) ?? (defaults.clientId ? [defaults.clientId] : []);
  const timeout = positiveSeconds('--timeout', opts.timeout)!;
  const options: Omit<VerifyOptions, 'keys'> = {
    issuer: issuer ?? '',
    audience,
    algorithms: typeof opts.algorithms === 'string' ? opts.algorithms.split(',').map((a) => a.trim()).filter(Boolean) : undefined,
    clockTolerance: seconds('--clock-tolerance', opts.clockTolerance),
    now: opts.now !== undefined ? parseMoment('--now', opts.now as string) : ctx.now(),
    maxAge: seconds('--max-age', opts.maxAge),
    nonce: opts.nonce as string | undefined,
    claims: claimExpectations(opts.claim as string[] | undefined),
    type: opts.type as 'id' | 'access' | undefined,
  };
  validateVerifyOptions(options);
  const keysFrom = opts.jwksUri ?? (opts.jwks === undefined && opts.secret === undefined ? issuer : undefined);
  if (plainHttpRemote(keysFrom)) {
    out.warn(`the keys come over plain HTTP from ${new URL(keysFrom as string).host}: anyone on the way can swap them; use https`);
  }
  const keys = await resolveKeySet({
    jwksFile: opts.jwks as string | undefined,
    jwksUri: opts.jwksUri as string | undefined,
    secret: opts.secret as string | undefined,
    issuer,
    fetch: ctx.fetch,
    now: ctx.now,
    timeoutMs: timeout * 1000,
  });
  const verifyOptions: VerifyOptions = { ...options, keys };

  if (opts.batch) {
    const localKeys = opts.jwks !== undefined ? { jwksFile: opts.jwks as string } : opts.secret !== undefined ? { secret: opts.secret as string } : undefined;
    // Imported here: a single verification (the start-up budget) has no use for the batch machinery.
    const { verifyBatch } = await import('../flows/verify-batch.js');
    const summary = await verifyBatch(ctx, verifyOptions, { localKeys });
    out.info(`${summary.valid} of ${summary.total} token(s) valid`);
    return summary.valid === summary.total ? 0 : 1;
  }
  // One token, nothing else to do meanwhile: checked on this thread, libuv's pool never started.
  const result = await verifyJwt(await tokenArgument(ctx, args[0]), { ...verifyOptions, checkSignature: verifySignatureSync });
  if (out.json) out.jsonDoc(result);
  else out.data(renderVerifyResult(result, out.style));
  return result.valid ? 0 : 1;
}
