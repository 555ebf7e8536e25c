/**
 * `inspect [TOKEN|-]`: the local jwt.io. Serves a page on 127.0.0.1 (inspect/server.ts: a port the
 * system picks, a path secret made for this run, a CSP that lets nothing load or leave) that
 * explains the token (output/inspect-page.ts), and opens it in the browser. Runs until Ctrl-C
 * (exit 130) or `--idle` seconds without a request (exit 0).
 */
import { Option, type Command } from 'commander';
import { TokenRejectedError, type Outcome } from '../errors.js';
import { decodeToken } from '../jwt/decode.js';
import { verifySignatureSync } from '../jwt/jws.js';
import type { KeySet } from '../jwt/keys.js';
import { normalizeTokenInput } from '../jwt/parse.js';
import type { VerifyResult } from '../jwt/verify.js';
import { renderInspectPage, type InspectView } from '../output/inspect-page.js';
import { createOutput } from '../output/output.js';
import { collect } from './flags.js';
import { positiveSeconds, readStdin } from './input.js';
import { optFlag, optString, optStrings, type Invocation, type ParseInput } from './invocation.js';

export const DEFAULT_IDLE_S = 900;

export interface InspectOptions {
  /** The TOKEN argument; `-` reads stdin; absent: the page starts with the paste box only. */
  token?: string;
  issuer?: string;
  audience?: string[];
  jwksUri?: string;
  jwksFile?: string;
  /** `--no-browser`: print the URL only. */
  browser: boolean;
  idleSeconds: number;
}

export function define(cmd: Command): Command {
  return cmd
    .summary('explain a token in a local web page (the local jwt.io)')
    .description(
      'Serve a page on 127.0.0.1 that explains TOKEN (header and claims with their meaning, a timeline of its times, the ' +
        'verification checklist when --issuer or keys are given) and has a box to paste another; open it in the browser. ' +
        'Nothing leaves this machine: a random port, a secret path, no external assets (strict CSP). Stops on Ctrl-C or when idle.',
    )
    .argument('[token]', 'the token as pasted (quotes, "Bearer …", a redirect URL accepted); "-" reads stdin')
    .option('--issuer <url>', 'verify against this issuer (its JWKS found by discovery unless --jwks/--jwks-uri)')
    .option('--audience <aud>', 'accepted aud, repeatable (default: the token\'s own, marked as not checked)', collect)
    .option('--jwks-uri <url>', 'verify with the keys at this JWKS URL')
    .option('--jwks <file>', 'verify with the keys of a local JWKS file (offline)')
    .option('--no-browser', 'print the URL instead of opening a browser')
    .addOption(new Option('--idle <seconds>', 'stop after this long without a request').default(DEFAULT_IDLE_S))
    .addHelpText(
      'after',
      '\nExamples:\n  authbridge inspect "$ID_TOKEN"\n  authbridge token --type id | authbridge inspect -\n' +
        '  authbridge inspect "$TOKEN" --issuer https://idp.example.com --audience my-app',
    );
}

export function parse({ args, opts }: ParseInput): InspectOptions {
  return {
    token: args[0],
    issuer: optString(opts, 'issuer'),
    audience: optStrings(opts, 'audience'),
    jwksUri: optString(opts, 'jwksUri'),
    jwksFile: optString(opts, 'jwks'),
    browser: opts.browser !== false,
    idleSeconds: positiveSeconds('--idle', opts.idle)!,
  };
}

export async function run(inv: Invocation, o: InspectOptions): Promise<Outcome> {
  const { ctx, global } = inv;
  const out = createOutput(ctx, global);
  const initial = o.token === '-' ? await readStdin(ctx) : o.token;
  const verifying = o.issuer !== undefined || o.jwksUri !== undefined || o.jwksFile !== undefined;
  let keys: KeySet | undefined;
  if (verifying) {
    const { resolveKeySet } = await import('../jwt/key-source.js');
    keys = await resolveKeySet({ jwksFile: o.jwksFile, jwksUri: o.jwksUri, issuer: o.issuer, fetch: ctx.fetch, now: ctx.now, timeoutMs: 10_000, warn: out.warn });
  }

  async function view(input: string | undefined): Promise<InspectView> {
    const now = ctx.now();
    if (input === undefined) return { now };
    let token: string;
    try {
      token = normalizeTokenInput(input);
      const decoded = decodeToken(token);
      if (!keys) {
        return { now, input, decoded, verifyNote: 'Not verified: run inspect with --issuer (and --audience), or --jwks FILE / --jwks-uri URL, to check the signature and claims.' };
      }
      const { verification, note } = await verify(token, decoded.payload, keys, now);
      return { now, input, decoded, verification, verifyNote: note };
    } catch (err) {
      if (!(err instanceof TokenRejectedError)) throw err;
      return { now, input, error: err.message };
    }
  }

  async function verify(token: string, payload: Record<string, unknown> | null, keySet: KeySet, now: number): Promise<{ verification: VerifyResult; note?: string }> {
    const { verifyJwt } = await import('../jwt/verify.js');
    const own = payload?.aud === undefined ? [] : Array.isArray(payload.aud) ? payload.aud.map(String) : [String(payload.aud)];
    const audience = o.audience ?? (own.length ? own : ['(none)']);
    const issuer = o.issuer ?? (typeof payload?.iss === 'string' ? payload.iss : '(none)');
    const verification = await verifyJwt(token, { issuer, audience, keys: keySet, now, checkSignature: verifySignatureSync });
    const unchecked = [o.issuer ? '' : 'issuer (no --issuer: the token\'s own iss)', o.audience ? '' : 'audience (no --audience: the token\'s own aud)'].filter(Boolean);
    return { verification, note: unchecked.length ? `Not checked against anything you gave: ${unchecked.join('; ')}.` : undefined };
  }

  const { startInspectServer } = await import('../inspect/server.js');
  const server = await startInspectServer({
    token: initial,
    idleSeconds: o.idleSeconds,
    render: async ({ token, nonce, action }) => renderInspectPage(await view(token), nonce, action),
  });
  const stopOnInterrupt = ctx.onInterrupt(() => void server.close());
  let interrupted = false;
  const untilInterrupt = ctx.onInterrupt(() => (interrupted = true));
  try {
    if (out.json) out.jsonDoc({ url: server.url, idle_seconds: o.idleSeconds });
    out.info(`Inspecting at ${server.url}\n(only this machine can reach it; Ctrl-C to stop, or it stops after ${o.idleSeconds} s idle)`);
    if (o.browser) {
      await ctx.openBrowser(server.url).catch((err: unknown) => out.warn(`could not open the browser (${err instanceof Error ? err.message : String(err)}): open the URL above yourself`));
    }
    const how = await server.done;
    out.info(how === 'idle' ? `Stopped after ${o.idleSeconds} s without a request.` : 'Stopped.');
    return interrupted ? 'interrupted' : 'ok';
  } finally {
    stopOnInterrupt();
    untilInterrupt();
    await server.close();
  }
}
