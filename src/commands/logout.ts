/** `logout`: the tokens leave the cache first, then are revoked at the IdP and the broker (flows/logout.ts). */
import type { Command } from 'commander';
import type { Outcome } from '../errors.js';
import { logoutFlow } from '../flows/logout.js';
import { createOutput } from '../output/output.js';
import { renderLogout, stderrStyle } from '../output/session.js';
import type { ProfileOverrides } from '../config/profile.js';
import { brokerClientFlags, idpFlags, profileOverrides } from './flags.js';
import { optFlag, type Invocation, type ParseInput } from './invocation.js';
import { loadProfile, profileName, requireProfile, tokenCache } from './profile.js';

export interface LogoutOptions {
  /** Only remove the tokens from the cache. */
  local: boolean;
  /** Every profile in the cache (every account of each). */
  all: boolean;
  /** Every account of the profile, not only the active one. */
  allAccounts: boolean;
  profile: ProfileOverrides;
}

export function define(cmd: Command): Command {
  return brokerClientFlags(
    idpFlags(
      cmd
        .summary('remove the cached tokens and revoke them at the IdP')
        .description(
          "Remove the profile's tokens from the cache, then revoke them at the IdP (RFC 7009, refresh token first) and end the broker " +
            'session (as the client it was issued to; --broker-* flags for a confidential client not in the config). Remote failures are warnings. ' +
            'Signs out of the active account: the most recently used other account signed in to the profile becomes active (`authbridge switch`); --all-accounts signs out every one.',
        ),
    ),
  )
    .option('--local', 'only remove them from the cache')
    .option('--all', 'every profile in the cache, every account of each')
    .option('--all-accounts', 'every account of the profile, not only the active one (the next one becomes active otherwise)')
    .addHelpText('after', '\nExamples:\n  authbridge logout\n  authbridge logout --all-accounts\n  authbridge logout --all --local');
}

export function parse({ opts }: ParseInput): LogoutOptions {
  return { local: optFlag(opts, 'local'), all: optFlag(opts, 'all'), allAccounts: optFlag(opts, 'allAccounts'), profile: profileOverrides(opts) };
}

export async function run(inv: Invocation, options: LogoutOptions): Promise<Outcome> {
  const { ctx, global } = inv;
  const out = createOutput(ctx, global);
  const cache = tokenCache(inv);
  const { all, local } = options;
  if (!all) await requireProfile(inv);
  const names = all ? await cache.profiles() : [profileName(inv)];
  const results = await logoutFlow({
    ctx,
    cache,
    names,
    local,
    allAccounts: all || options.allAccounts,
    trace: out.verbose ? out.trace : undefined,
    loadProfile: (name) => loadProfile(inv, options.profile, name),
  });
  const style = stderrStyle(ctx, global);
  for (const doc of results) {
    for (const warning of doc.warnings) out.warn(warning);
    out.info(renderLogout(doc, local, style));
  }
  if (all && results.length === 0) out.info('No profile was signed in; nothing to remove.');
  if (out.json) out.jsonDoc(all ? results : results[0]);
  return 'ok';
}
