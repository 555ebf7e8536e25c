import { TokenCache } from '../cache/token-cache.js';
import { loadProfile } from '../config/profile.js';
import { UsageError } from '../errors.js';
import type { ExchangeOutcome } from '../flows/exchange.js';
import { DEFAULT_LOGIN_TIMEOUT_S, loginFlow } from '../flows/login.js';
import type { Invocation } from '../main.js';
import { createOutput } from '../output/output.js';
import { renderLoginDone, stderrStyle } from '../output/session.js';
import { createSpinner } from '../output/spinner.js';
import { isoTime } from '../util/time.js';
import { seconds } from './input.js';

export async function run(inv: Invocation): Promise<number> {
  const { ctx, global, opts } = inv;
  const out = createOutput(ctx, global);
  const err = stderrStyle(ctx, global);
  const timeoutSeconds = seconds('--timeout', opts.timeout) ?? DEFAULT_LOGIN_TIMEOUT_S;
  if (timeoutSeconds <= 0) throw new UsageError(`--timeout must be a positive number of seconds, got "${String(opts.timeout)}"`);
  const profile = await loadProfile(inv);
  const spinner = createSpinner(ctx.stderr);
  const { session, claims } = await loginFlow({
    ctx,
    profile,
    cache: TokenCache.forContext(inv),
    timeoutSeconds,
    noBrowser: opts.browser === false,
    trace: out.verbose ? out.trace : undefined,
    talk: {
      say: out.info,
      warn: out.warn,
      showUrl(url, pasteAccepted) {
        out.info(`Open this URL in a browser to sign in:\n\n  ${err.cyan(url)}\n`);
        if (pasteAccepted) {
          out.info('If the browser cannot reach this machine, paste here the address it ends up at (…/callback?code=…).');
        }
      },
      waiting(active) {
        if (!active) return spinner.stop();
        if (ctx.stderr.isTTY) spinner.start('Waiting for the sign-in in the browser (Ctrl-C to cancel) …');
      },
    },
  });
  const expiresAt = session.access_token_expires_at ?? session.id_token_expires_at;
  if (!out.json) out.info(renderLoginDone(session, ctx.now(), err));
  let exchanged: ExchangeOutcome | undefined;
  if (opts.exchange) {
    const { runExchange, renderExchange } = await import('./exchange.js');
    exchanged = await runExchange({ ...inv, opts: { ...opts, timeout: undefined } }, out);
    if (!out.json) out.info(renderExchange(exchanged, ctx.now(), out));
  }
  if (out.json) {
    out.jsonDoc({
      profile: session.profile,
      issuer: session.issuer,
      subject: session.subject ?? null,
      email: session.email ?? null,
      expires_at: expiresAt === undefined ? null : isoTime(expiresAt),
      scopes: session.scopes,
      claims,
      ...(exchanged ? { exchange: exchanged } : {}),
    });
  }
  return 0;
}
