/** `demo`: the whole mission against an embedded IdP and broker on 127.0.0.1 (demo/run.ts). */
import type { Command } from 'commander';
import type { Outcome } from '../errors.js';
import type { DemoTalk } from '../demo/run.js';
import { indent, renderDemoEnd, renderDemoFailed, renderDemoStart, renderDemoStep, renderKeep } from '../output/demo.js';
import { createOutput } from '../output/output.js';
import { renderExchange, renderLoginDone, renderLogout, renderStatus, stderrStyle } from '../output/session.js';
import { createSpinner } from '../output/spinner.js';
import { renderVerifyResult } from '../output/verify.js';
import { positiveSeconds } from './input.js';
import { optFlag, type Invocation, type ParseInput } from './invocation.js';

export interface DemoOptions {
  /** Log in over HTTP as the demo user instead of opening a browser. */
  headless: boolean;
  /** Skip logout and keep both servers up until Ctrl-C. */
  keep: boolean;
  /** Seconds to wait for the browser (default 300; 60 headless). */
  loginTimeoutSeconds?: number;
}

export function define(cmd: Command): Command {
  return cmd
    .summary('the whole flow against an embedded IdP and broker, nothing to configure')
    .description(
      'Start an OpenID provider (user demo, password demo) and the reference broker on 127.0.0.1, with a temporary ' +
        'config and token cache, then run login, the ID token checklist, the exchange, status and logout. ' +
        'Nothing of yours is read or written (--profile and --config do not apply). Ctrl-C stops everything.',
    )
    .option('--headless', 'complete the login over HTTP as the demo user instead of opening a browser')
    .option('--keep', 'skip logout and keep both servers running until Ctrl-C; prints the env vars to try other commands')
    .option('--timeout <seconds>', 'how long to wait for the browser to come back (default 300; 60 with --headless)')
    .addHelpText(
      'after',
      '\nExamples:\n  npx authbridge demo --headless\n  authbridge demo            # sign in in your browser as demo / demo\n' +
        '  authbridge demo --keep     # then, in another terminal, the printed exports and `authbridge status`',
    );
}

export function parse({ opts }: ParseInput): DemoOptions {
  return { headless: optFlag(opts, 'headless'), keep: optFlag(opts, 'keep'), loginTimeoutSeconds: positiveSeconds('--timeout', opts.timeout) };
}

export async function run(inv: Invocation, { headless, keep, loginTimeoutSeconds }: DemoOptions): Promise<Outcome> {
  const { ctx, global } = inv;
  const out = createOutput(ctx, global);
  const style = stderrStyle(ctx, global);
  const spinner = createSpinner(ctx.stderr);
  const say = (text: string) => out.info(indent(text));
  /** With --keep, the variables the user was told to export: the end says to unset them. */
  let exported: string[] = [];

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
    // Talk goes to stderr, so the step views use stderr's colours.
    exchanged: (outcome) => say(renderExchange(outcome, ctx.now(), style)),
    status: (statuses) => say(renderStatus(statuses, ctx.now(), style)),
    loggedOut: (doc) => {
      for (const warning of doc.warnings) out.warn(warning);
      say(renderLogout(doc, false, style));
      if (doc.revoked.broker) say(`${style.green('✓')} Ended the broker session (RFC 7009 at the broker): its token is no longer active.`);
    },
    failed: (name, err) => out.info(renderDemoFailed(name, err, style)),
    keeping: (summary) => {
      exported = Object.keys(summary.keep?.env ?? {});
      out.info(renderKeep(summary, style));
      if (out.json) out.jsonDoc(summary);
    },
    stopped: (outcome, dir) => out.info(renderDemoEnd(outcome, dir, style, exported)),
  };

  // The demo's IdP (oidc-provider) and broker (fastify, SQLite) load only when it runs, not for
  // `authbridge --help`, which defines every command.
  const { runDemo } = await import('../demo/run.js');
  const { summary, interrupted } = await runDemo({
    ctx,
    talk,
    headless,
    keep,
    loginTimeoutSeconds,
    trace: out.verbose ? out.trace : undefined,
  });
  if (out.json && !keep) out.jsonDoc(summary);
  return interrupted ? 'interrupted' : 'ok';
}
