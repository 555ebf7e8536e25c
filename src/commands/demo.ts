import { runDemo, type DemoTalk } from '../demo/run.js';
import { UsageError } from '../errors.js';
import type { Invocation } from '../main.js';
import { indent, renderDemoEnd, renderDemoFailed, renderDemoStart, renderDemoStep, renderKeep } from '../output/demo.js';
import { createOutput } from '../output/output.js';
import { renderLoginDone, renderLogout, renderStatus, stderrStyle } from '../output/session.js';
import { createSpinner } from '../output/spinner.js';
import { renderVerifyResult } from '../output/verify.js';
import { renderExchange } from './exchange.js';
import { seconds } from './input.js';

export async function run(inv: Invocation): Promise<number> {
  const { ctx, global, opts } = inv;
  const out = createOutput(ctx, global);
  const style = stderrStyle(ctx, global);
  const headless = Boolean(opts.headless);
  const keep = Boolean(opts.keep);
  const loginTimeoutSeconds = seconds('--timeout', opts.timeout);
  if (loginTimeoutSeconds === 0) throw new UsageError(`--timeout must be a positive number of seconds, got "${String(opts.timeout)}"`);
  const spinner = createSpinner(ctx.stderr);
  const say = (text: string) => out.info(indent(text));
  // Talk goes to stderr, so the step views use stderr's colours.
  const talkOut = { ...out, style };

  const talk: DemoTalk = {
    started: (info) => out.info(renderDemoStart(info, style)),
    step: (index, total, name) => out.info(renderDemoStep(index, total, name, headless, style)),
    say,
    warn: (text) => out.warn(text),
    waiting(active) {
      if (!active) return spinner.stop();
      if (ctx.stderr.isTTY && !headless) spinner.start('Waiting for the sign-in in the browser (Ctrl-C to stop the demo) …');
    },
    showUrl: (url) => say(`Open this URL in a browser to sign in (user demo, password demo):\n\n  ${style.cyan(url)}\n`),
    signedIn: (session) => say(renderLoginDone(session, ctx.now(), style)),
    idToken: (result) => say(renderVerifyResult(result, style)),
    exchanged: (outcome) => say(renderExchange(outcome, ctx.now(), talkOut)),
    status: (statuses) => say(renderStatus(statuses, ctx.now(), style)),
    loggedOut: (doc) => {
      for (const warning of doc.warnings) out.warn(warning);
      say(renderLogout(doc, false, style));
      if (doc.revoked.broker) say(`${style.green('✓')} Ended the broker session (RFC 7009 at the broker): its token is no longer active.`);
    },
    failed: (name) => out.info(renderDemoFailed(name, style)),
    keeping: (summary) => {
      out.info(renderKeep(summary, style));
      if (out.json) out.jsonDoc(summary);
    },
    stopped: (outcome, dir) => out.info(renderDemoEnd(outcome, dir, style)),
  };

  const { summary, interrupted } = await runDemo({
    ctx,
    talk,
    headless,
    keep,
    loginTimeoutSeconds,
    trace: out.verbose ? out.trace : undefined,
  });
  if (out.json && !keep) out.jsonDoc(summary);
  return interrupted ? 130 : 0;
}
