/** `refresh`: the refresh-token grant; the cache is updated under its lock (flows/refresh.ts). */
import type { Command } from 'commander';
import type { ProfileOverrides } from '../config/profile.js';
import type { Outcome } from '../errors.js';
import { refreshFlow } from '../flows/refresh.js';
import { statusDocument } from '../flows/status.js';
import { createOutput } from '../output/output.js';
import { renderLoginDone, stderrStyle } from '../output/session.js';
import { idpFlags, profileOverrides } from './flags.js';
import type { Invocation, ParseInput } from './invocation.js';
import { loadProfile, tokenCache } from './profile.js';

export interface RefreshOptions {
  profile: ProfileOverrides;
}

export function define(cmd: Command): Command {
  return idpFlags(
    cmd
      .summary('renew the session with the refresh token')
      .description('Run the refresh-token grant and update the cache. A refused refresh token (invalid_grant) exits 5 and marks the session expired.'),
  ).addHelpText('after', '\nExamples:\n  authbridge refresh\n  authbridge refresh --profile work --json');
}

export function parse({ opts }: ParseInput): RefreshOptions {
  return { profile: profileOverrides(opts) };
}

export async function run(inv: Invocation, options: RefreshOptions): Promise<Outcome> {
  const { ctx, global } = inv;
  const out = createOutput(ctx, global);
  const profile = await loadProfile(inv, options.profile);
  const session = await refreshFlow({ ctx, profile, cache: tokenCache(inv), trace: out.verbose ? out.trace : undefined });
  if (out.json) out.jsonDoc(statusDocument(profile.name, session, ctx.now()));
  else out.info(renderLoginDone(session, ctx.now(), stderrStyle(ctx, global)).replace('Signed in to', 'Refreshed the session at'));
  return 'ok';
}
