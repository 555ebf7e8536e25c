import { TokenCache } from '../cache/token-cache.js';
import { loadProfile, profileName } from '../config/profile.js';
import { logoutFlow } from '../flows/logout.js';
import type { Invocation } from '../main.js';
import { createOutput } from '../output/output.js';
import { renderLogout, stderrStyle } from '../output/session.js';

export async function run(inv: Invocation): Promise<number> {
  const { ctx, global, opts } = inv;
  const out = createOutput(ctx, global);
  const cache = TokenCache.forContext(inv);
  const all = Boolean(opts.all);
  const local = Boolean(opts.local);
  const names = all ? await cache.profiles() : [profileName(inv)];
  const results = await logoutFlow({
    ctx,
    cache,
    names,
    local,
    trace: out.verbose ? out.trace : undefined,
    loadProfile: (name) => loadProfile({ ...inv, global: { ...inv.global, profile: name } }),
  });
  const style = stderrStyle(ctx, global);
  for (const doc of results) {
    for (const warning of doc.warnings) out.warn(warning);
    out.info(renderLogout(doc, local, style));
  }
  if (all && results.length === 0) out.info('No profile was signed in; nothing to remove.');
  if (out.json) out.jsonDoc(all ? results : results[0]);
  return 0;
}
