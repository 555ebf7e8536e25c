import { TokenCache } from '../cache/token-cache.js';
import { loadProfile } from '../config/profile.js';
import { refreshFlow } from '../flows/refresh.js';
import { statusDocument } from '../flows/status.js';
import type { Invocation } from '../main.js';
import { createOutput } from '../output/output.js';
import { renderLoginDone, stderrStyle } from '../output/session.js';

export async function run(inv: Invocation): Promise<number> {
  const { ctx, global } = inv;
  const out = createOutput(ctx, global);
  const profile = await loadProfile(inv);
  const session = await refreshFlow({ ctx, profile, cache: TokenCache.forContext(inv), trace: out.verbose ? out.trace : undefined });
  if (out.json) out.jsonDoc(statusDocument(profile.name, session, ctx.now()));
  else out.info(renderLoginDone(session, ctx.now(), stderrStyle(ctx, global)).replace('Signed in to', 'Refreshed the session at'));
  return 0;
}
