/** `status`: whether each profile is signed in, from the cache (`--check` asks the IdP and the broker). */
import type { Command } from 'commander';
import type { Outcome } from '../errors.js';
import { statusFlow } from '../flows/status.js';
import { createOutput } from '../output/output.js';
import { renderStatus } from '../output/session.js';
import { optFlag, type Invocation, type ParseInput } from './invocation.js';
import { listProfiles, loadProfile, profileName, readConfig, requireProfile, tokenCache } from './profile.js';

export interface StatusOptions {
  /** Every profile in the config file and the cache. */
  all: boolean;
  /** Ask the IdP and the broker whether the sessions are live. */
  check: boolean;
}

export function define(cmd: Command): Command {
  return cmd
    .summary('show whether you are signed in (offline; --check asks the IdP)')
    .description('Show the cached session of the profile: subject, email, issuer, token expiry, refresh token. Exit 0 if signed in, 4 if not.')
    .option('--all', 'every profile in the config file and the cache')
    .option('--check', 'ask the IdP (userinfo, else introspection) whether the session is still live')
    .addHelpText('after', '\nExamples:\n  authbridge status\n  authbridge status --all --json\n  authbridge status --check || authbridge login');
}

export function parse({ opts }: ParseInput): StatusOptions {
  return { all: optFlag(opts, 'all'), check: optFlag(opts, 'check') };
}

export async function run(inv: Invocation, { all, check }: StatusOptions): Promise<Outcome> {
  const { ctx, global } = inv;
  const out = createOutput(ctx, global);
  // Offline status needs only the cache, but a broken config file is still reported (exit 2).
  if (!all) {
    await readConfig(inv);
    await requireProfile(inv);
  }
  const names = all ? await listProfiles(inv) : [profileName(inv)];
  const statuses = await statusFlow({
    ctx,
    cache: tokenCache(inv),
    names,
    check,
    trace: out.verbose ? out.trace : undefined,
    loadProfile: (name) => loadProfile(inv, undefined, name),
  });
  // The contract's "signed in" (an unexpired access or ID token, not marked expired) is decided
  // in flows/session.ts `isSignedIn`; `--check` lets the IdP and the broker overrule it.
  const signedIn = statuses.some((s) => s.document.signed_in);
  if (out.json) {
    out.jsonDoc(all ? statuses.map((s) => s.document) : statuses[0]!.document);
  } else if (statuses.length === 0) {
    out.info('No profiles: nothing is configured or cached. Run `authbridge login --issuer URL --client-id ID`.');
  } else {
    out.data(renderStatus(statuses, ctx.now(), out.style));
    if (!signedIn && !statuses.some((s) => s.expired)) out.info('Run `authbridge login` to sign in.');
  }
  return signedIn ? 'ok' : 'not_signed_in';
}
