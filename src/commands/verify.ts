/** `verify [TOKEN|-]`: full verification of a JWT, every check reported; `--batch` for many. */
import { Option, type Command } from 'commander';
import { TokenRejectedError, UsageError, type Outcome } from '../errors.js';
import { verifySignatureSync } from '../jwt/jws.js';
import { resolveKeySet } from '../jwt/key-source.js';
import { normalizeTokenInput } from '../jwt/parse.js';
import { malformedResult, validateVerifyOptions, verifyJwt, type ClaimExpectation, type VerifyOptions } from '../jwt/verify.js';
import type { BatchOutput } from '../flows/verify-batch.js';
import { createOutput } from '../output/output.js';
import { renderVerifyResult } from '../output/verify.js';
import { collect } from './flags.js';
import { parseMoment, positiveSeconds, seconds, tokenArgument } from './input.js';
import { optChoice, optFlag, optString, optStrings, type Invocation, type ParseInput } from './invocation.js';

export interface VerifyCommandOptions {
  /** The TOKEN argument; `-` or absent reads stdin. */
  token?: string;
  /** One token a line on stdin, NDJSON out. */
  batch: boolean;
  /** `--output`: what `--batch` writes per token; default `json`. */
  output: BatchOutput;
  /** `--issuer`; default the profile's issuer. */
  issuer?: string;
  /** `--audience` (repeatable); default the profile's client id. */
  audience?: string[];
  jwksUri?: string;
  jwksFile?: string;
  secret?: string;
  algorithms?: string[];
  /** Seconds. */
  clockTolerance?: number;
  /** `--now`, ms since the epoch; default the clock. */
  now?: number;
  /** Seconds. */
  maxAge?: number;
  nonce?: string;
  claims: ClaimExpectation[];
  type?: 'id' | 'access';
  /** Seconds for each HTTP request. */
  timeoutSeconds: number;
  /** `--allow-insecure-http`: keys over plain http from another host (development only; warned about). */
  allowInsecureHttp: boolean;
}

export function define(cmd: Command): Command {
  return cmd
    .summary('verify a JWT and explain every check')
    .description('Verify signature, issuer, audience, expiry and more; every check is reported.')
    .argument('[token]', 'the token; "-" or absent reads stdin')
    .option('--issuer <url>', 'expected iss (default: the profile\'s issuer)')
    .option('--audience <aud>', 'accepted aud, repeatable (default: the profile\'s clientId)', collect)
    .option('--jwks-uri <url>', 'fetch keys from this JWKS URL')
    .option('--jwks <file>', 'use keys from a local JWKS file (offline)')
    .option('--secret <secret>', 'shared secret: the only way HS256/384/512 are accepted')
    .option('--algorithms <list>', 'comma-separated allow-list (default: what the key set allows)')
    .addOption(new Option('--clock-tolerance <seconds>', 'leeway for exp/nbf/iat').default(0))
    .option('--now <time>', 'judge the token as of this moment (ISO-8601 or epoch seconds)')
    .option('--max-age <seconds>', 'reject if auth_time (else iat) is older')
    .option('--nonce <value>', 'expected nonce')
    .option('--claim <name=value>', 'expected claim value, repeatable', collect)
    .addOption(new Option('--type <type>', 'token type expectations').choices(['id', 'access']))
    .option('--batch', 'one token a line on stdin, NDJSON results in input order')
    .addOption(
      new Option('--output <form>', 'with --batch, per token: json (every check), valid (valid|invalid) or reason (valid or the reason code)')
        .choices(['json', 'valid', 'reason'])
        .default('json'),
    )
    .addOption(new Option('--timeout <seconds>', 'time limit for each HTTP request').default(10))
    .option('--allow-insecure-http', 'development only: fetch keys over plain http from a host other than this machine (warned about)')
    .addHelpText(
      'after',
      '\nExamples:\n  authbridge verify "$ID_TOKEN" --issuer https://idp.example.com --audience my-app\n' +
        '  authbridge verify --jwks keys.json --issuer https://idp.example.com --audience api --json < token.txt\n' +
        '  cut -f2 tokens.tsv | authbridge verify --batch --jwks keys.json --issuer https://idp --audience api\n' +
        '  authbridge verify --batch --output reason --jwks keys.json --issuer https://idp --audience api < tokens.txt | sort | uniq -c',
    );
}

function claimExpectations(values: string[] | undefined): ClaimExpectation[] {
  return (values ?? []).map((entry) => {
    const eq = entry.indexOf('=');
    if (eq <= 0) throw new UsageError(`--claim must be NAME=VALUE, got "${entry}"`);
    return { name: entry.slice(0, eq), value: entry.slice(eq + 1) };
  });
}

export function parse({ args, opts }: ParseInput): VerifyCommandOptions {
  const batch = optFlag(opts, 'batch');
  if (batch && args[0] !== undefined && args[0] !== '-') {
    throw new UsageError('--batch reads tokens from stdin; do not pass TOKEN');
  }
  const output = optChoice(opts, 'output', ['json', 'valid', 'reason'] as const) ?? 'json';
  if (output !== 'json' && !batch) throw new UsageError('--output valid|reason goes with --batch');
  const now = optString(opts, 'now');
  const algorithms = optString(opts, 'algorithms');
  return {
    token: args[0],
    batch,
    output,
    issuer: optString(opts, 'issuer'),
    audience: optStrings(opts, 'audience'),
    jwksUri: optString(opts, 'jwksUri'),
    jwksFile: optString(opts, 'jwks'),
    secret: optString(opts, 'secret'),
    timeoutSeconds: positiveSeconds('--timeout', opts.timeout)!,
    algorithms: algorithms === undefined ? undefined : algorithms.split(',').map((a) => a.trim()).filter(Boolean),
    clockTolerance: seconds('--clock-tolerance', opts.clockTolerance),
    now: now === undefined ? undefined : parseMoment('--now', now),
    maxAge: seconds('--max-age', opts.maxAge),
    nonce: optString(opts, 'nonce'),
    claims: claimExpectations(optStrings(opts, 'claim')),
    type: optChoice(opts, 'type', ['id', 'access'] as const),
    allowInsecureHttp: optFlag(opts, 'allowInsecureHttp'),
  };
}

export async function run(inv: Invocation, o: VerifyCommandOptions): Promise<Outcome> {
  const { ctx, global } = inv;
  const out = createOutput(ctx, global);
  // The profile (config file) is read only for what the flags leave out; verify's own --issuer
  // is no profile override here: only env and config fill the gaps.
  const profile = o.issuer && o.audience ? undefined : await (await import('./profile.js')).loadProfile(inv);
  const issuer = o.issuer ?? profile?.issuer;
  const audience = o.audience ?? (profile?.clientId ? [profile.clientId] : []);
  const options: Omit<VerifyOptions, 'keys'> = {
    issuer: issuer ?? '',
    audience,
    algorithms: o.algorithms,
    clockTolerance: o.clockTolerance,
    now: o.now ?? ctx.now(),
    maxAge: o.maxAge,
    nonce: o.nonce,
    claims: o.claims,
    type: o.type,
  };
  validateVerifyOptions(options);
  // Keys over plain http from another host only with --allow-insecure-http, and then warned about.
  const keys = await resolveKeySet({
    jwksFile: o.jwksFile,
    jwksUri: o.jwksUri,
    secret: o.secret,
    issuer,
    fetch: ctx.fetch,
    now: ctx.now,
    timeoutMs: o.timeoutSeconds * 1000,
    allowInsecureHttp: o.allowInsecureHttp,
    warn: out.warn,
  });
  const verifyOptions: VerifyOptions = { ...options, keys };

  if (o.batch) {
    const localKeys = o.jwksFile !== undefined ? { jwksFile: o.jwksFile } : o.secret !== undefined ? { secret: o.secret } : undefined;
    // Imported here: a single verification (the start-up budget) has no use for the batch machinery.
    const { verifyBatch } = await import('../flows/verify-batch.js');
    const summary = await verifyBatch(ctx, verifyOptions, { localKeys, output: o.output });
    out.info(`${summary.valid} of ${summary.total} token(s) valid`);
    return summary.valid === summary.total ? 'ok' : 'token_rejected';
  }
  // One token, nothing else to do meanwhile: checked on this thread, libuv's pool never started.
  // Pasted forms (quotes, `Authorization: Bearer`, a redirect URL) are unwrapped; what holds no
  // token fails the format check with what it is.
  let token: string | undefined;
  let notAToken = '';
  try {
    token = normalizeTokenInput(await tokenArgument(ctx, o.token));
  } catch (err) {
    if (!(err instanceof TokenRejectedError)) throw err;
    notAToken = err.message.replace(/^could not decode token: /, '');
  }
  const result = token === undefined ? malformedResult(notAToken) : await verifyJwt(token, { ...verifyOptions, checkSignature: verifySignatureSync });
  if (out.json) out.jsonDoc(result);
  else out.data(renderVerifyResult(result, out.style));
  return result.valid ? 'ok' : 'token_rejected';
}
