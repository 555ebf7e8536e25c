/**
 * `token`: one raw token on stdout for scripts, refreshed (or re-exchanged) first when expired.
 * The refresh runs under the cache's lock (flows/refresh.ts, util/atomic-file.ts `withFileLock`),
 * so parallel calls spend a rotating refresh token once.
 */
import { Option, type Command } from 'commander';
import type { ProfileOverrides } from '../config/profile.js';
import type { Outcome } from '../errors.js';
import { TOKEN_TYPES, tokenFlow, type TokenType } from '../flows/token.js';
import { createOutput } from '../output/output.js';
import { isoTime } from '../util/time.js';
import { idpFlags, profileOverrides } from './flags.js';
import { optChoice, type Invocation, type ParseInput } from './invocation.js';
import { loadProfile, tokenCache } from './profile.js';

export interface TokenOptions {
  type: TokenType;
  profile: ProfileOverrides;
}

export function define(cmd: Command): Command {
  return idpFlags(
    cmd
      .summary('print a cached token (refreshed first if expired)')
      .description('Print one raw token and a newline on stdout. An expired access or ID token is refreshed first when a refresh token is held; otherwise exit 4.'),
  )
    .addOption(new Option('--type <type>', 'which token').choices([...TOKEN_TYPES]).default('access'))
    .addHelpText('after', '\nExamples:\n  curl -H "Authorization: Bearer $(authbridge token)" https://api.example.com/\n  authbridge token --type id | authbridge decode');
}

export function parse({ opts }: ParseInput): TokenOptions {
  return { type: optChoice(opts, 'type', TOKEN_TYPES) ?? 'access', profile: profileOverrides(opts) };
}

export async function run(inv: Invocation, options: TokenOptions): Promise<Outcome> {
  const { ctx, global } = inv;
  const out = createOutput(ctx, global);
  const { type } = options;
  const profile = await loadProfile(inv, options.profile);
  const result = await tokenFlow({ ctx, profile, cache: tokenCache(inv), type, trace: out.verbose ? out.trace : undefined });
  if (result.refreshed) out.trace(`refreshed the session of profile "${profile.name}" first`);
  if (out.json) {
    out.jsonDoc({
      profile: profile.name,
      type,
      token: result.token,
      expires_at: result.expiresAt === undefined ? null : isoTime(result.expiresAt),
      refreshed: result.refreshed,
    });
  } else {
    out.data(result.token);
  }
  return 'ok';
}
