/** `exchange`: the cached IdP token (or `--subject-token`) for the broker's own (RFC 8693 or Synerise). */
import { Option, type Command } from 'commander';
import type { ProfileOverrides } from '../config/profile.js';
import type { Outcome } from '../errors.js';
import { exchangeFlow, type ExchangeOutcome } from '../flows/exchange.js';
import { sessionWithFreshIdpToken } from '../flows/token.js';
import { createOutput, type Output } from '../output/output.js';
import { renderExchange } from '../output/session.js';
import { brokerFlags, profileOverrides } from './flags.js';
import { positiveSeconds } from './input.js';
import { optString, type Invocation, type ParseInput } from './invocation.js';
import { loadProfile, tokenCache } from './profile.js';

export interface ExchangeOptions {
  profile: ProfileOverrides;
  subjectToken?: string;
  scope?: string;
  resource?: string;
  /** Seconds for each request to the broker (`--timeout`; else AUTHBRIDGE_HTTP_TIMEOUT, flows/session.ts `httpTimeoutSeconds`). */
  timeoutSeconds?: number;
}

export function define(cmd: Command): Command {
  return brokerFlags(
    cmd
      .summary("exchange the IdP token for the broker's own (RFC 8693)")
      .description(
        "Hand the cached IdP token (or --subject-token) to the profile's broker, verify the broker's token against its JWKS, and cache it.",
      ),
  )
    .option('--subject-token <token>', 'exchange this token instead of the cached one')
    .option('--scope <scope>', 'scope to ask the broker for')
    .option('--resource <uri>', 'resource to ask the broker for')
    .addOption(new Option('--timeout <seconds>', 'time limit for each HTTP request').default(30))
    .addHelpText(
      'after',
      '\nExamples:\n  authbridge exchange --broker-url https://broker.example.com --broker-client-id cli\n' +
        '  authbridge exchange --json | jq .account_status\n  authbridge token --type broker',
    );
}

export function parse({ opts }: ParseInput): ExchangeOptions {
  return {
    // Its --resource is the broker's, not the IdP's `resource`.
    profile: profileOverrides(opts, ['resource']),
    subjectToken: optString(opts, 'subjectToken'),
    scope: optString(opts, 'scope'),
    resource: optString(opts, 'resource'),
    timeoutSeconds: positiveSeconds('--timeout', opts.timeout),
  };
}

/** Runs the exchange for `exchange` and `login --exchange`. */
export async function runExchange(inv: Invocation, options: ExchangeOptions, out: Output): Promise<ExchangeOutcome> {
  const { ctx } = inv;
  // `--subject-token` with a broker on the command line needs no profile of its own yet.
  const profile = await loadProfile(inv, options.profile, undefined, { allowNew: (p) => Boolean(options.subjectToken && p.broker?.url) });
  const cache = tokenCache(inv);
  const trace = out.verbose ? out.trace : undefined;
  return exchangeFlow({
    ctx,
    cache,
    trace,
    profile,
    subjectToken: options.subjectToken,
    subjectTokenType: profile.broker?.subjectTokenType,
    scope: options.scope,
    resource: options.resource,
    timeoutSeconds: options.timeoutSeconds,
    freshSession: () => sessionWithFreshIdpToken({ ctx, profile, cache, trace }, profile.broker?.subjectTokenType),
  });
}

export async function run(inv: Invocation, options: ExchangeOptions): Promise<Outcome> {
  const out = createOutput(inv.ctx, inv.global);
  const outcome = await runExchange(inv, options, out);
  if (out.json) out.jsonDoc(outcome);
  else out.info(renderExchange(outcome, inv.ctx.now(), out.style));
  return 'ok';
}
