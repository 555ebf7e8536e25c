import { TokenCache } from '../cache/token-cache.js';
import { loadProfile } from '../config/profile.js';
import { exchange, type ExchangeOutcome } from '../flows/exchange.js';
import { sessionWithFreshIdpToken } from '../flows/token.js';
import type { Invocation } from '../main.js';
import { keyValues } from '../output/blocks.js';
import { createOutput, type Output } from '../output/output.js';
import { relativeTime } from '../util/time.js';
import { positiveSeconds } from './input.js';

/** Runs the exchange for `exchange` and `login --exchange`. */
export async function runExchange(inv: Invocation, out: Output): Promise<ExchangeOutcome> {
  const { ctx, opts } = inv;
  const profile = await loadProfile(inv);
  const cache = TokenCache.forContext(inv);
  const trace = out.verbose ? out.trace : undefined;
  return exchange(
    {
      fetch: ctx.fetch,
      now: ctx.now,
      cache,
      trace,
      timeoutSeconds: positiveSeconds('--timeout', opts.timeout),
      freshSession: () => sessionWithFreshIdpToken({ ctx, profile, cache, trace }, profile.broker?.subjectTokenType),
    },
    {
      profile,
      subjectToken: typeof opts.subjectToken === 'string' ? opts.subjectToken : undefined,
      subjectTokenType: profile.broker?.subjectTokenType,
      scope: opts.scope as string | undefined,
      resource: opts.resource as string | undefined,
    },
  );
}

export function renderExchange(outcome: ExchangeOutcome, now: number, out: Output): string {
  const status = outcome.account_status === 'created' ? ' (new customer registered)' : outcome.account_status === 'existing' ? ' (existing customer)' : '';
  return [
    `${out.style.green('✓')} Exchanged the IdP token with the broker${status}.`,
    keyValues(
      [
        ['broker', outcome.broker],
        ['subject', outcome.subject],
        ['expires', `${outcome.expires_at} (${relativeTime(Date.parse(outcome.expires_at), now)})`],
        ['token type', outcome.issued_token_type],
      ],
      out.style,
    ),
  ].join('\n');
}

export async function run(inv: Invocation): Promise<number> {
  const out = createOutput(inv.ctx, inv.global);
  const outcome = await runExchange(inv, out);
  if (out.json) out.jsonDoc(outcome);
  else out.info(renderExchange(outcome, inv.ctx.now(), out));
  return 0;
}
