import { TokenCache } from '../cache/token-cache.js';
import { readConfigFile } from '../config/config-file.js';
import { configPath, listProfiles, loadProfile, profileName } from '../config/profile.js';
import { statusFlow } from '../flows/status.js';
import type { Invocation } from '../main.js';
import { createOutput } from '../output/output.js';
import { renderStatus } from '../output/session.js';

export async function run(inv: Invocation): Promise<number> {
  const { ctx, global, opts } = inv;
  const out = createOutput(ctx, global);
  const all = Boolean(opts.all);
  // Offline status needs only the cache, but a broken config file is still reported (exit 2).
  if (!all) await readConfigFile(configPath(inv));
  const names = all ? await listProfiles(inv) : [profileName(inv)];
  const statuses = await statusFlow({
    ctx,
    cache: TokenCache.forContext(inv),
    names,
    check: Boolean(opts.check),
    trace: out.verbose ? out.trace : undefined,
    loadProfile: (name) => loadProfile({ ...inv, global: { ...inv.global, profile: name } }),
  });
  const signedIn = statuses.some((s) => s.document.signed_in);
  if (out.json) {
    out.jsonDoc(all ? statuses.map((s) => s.document) : statuses[0]!.document);
  } else if (statuses.length === 0) {
    out.info('No profiles: nothing is configured or cached. Run `authbridge login --issuer URL --client-id ID`.');
  } else {
    out.data(renderStatus(statuses, ctx.now(), out.style));
    if (!signedIn && !statuses.some((s) => s.expired)) out.info('Run `authbridge login` to sign in.');
  }
  return signedIn ? 0 : 4;
}
