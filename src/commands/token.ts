import { TokenCache } from '../cache/token-cache.js';
import { loadProfile } from '../config/profile.js';
import { tokenFlow, type TokenType } from '../flows/token.js';
import type { Invocation } from '../main.js';
import { createOutput } from '../output/output.js';
import { isoTime } from '../util/time.js';

export async function run(inv: Invocation): Promise<number> {
  const { ctx, global, opts } = inv;
  const out = createOutput(ctx, global);
  const type = (opts.type as TokenType | undefined) ?? 'access';
  const profile = await loadProfile(inv);
  const result = await tokenFlow({ ctx, profile, cache: TokenCache.forContext(inv), type, trace: out.verbose ? out.trace : undefined });
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
  return 0;
}
