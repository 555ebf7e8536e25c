import { TokenCache } from '../cache/token-cache.js';
import { loadProfile } from '../config/profile.js';
import { introspectFlow } from '../flows/introspect.js';
import type { Invocation } from '../main.js';
import { createOutput } from '../output/output.js';
import { renderIntrospection } from '../output/session.js';
import { readStdin } from './input.js';

export async function run(inv: Invocation): Promise<number> {
  const { ctx, global, args, opts } = inv;
  const out = createOutput(ctx, global);
  const token = args[0] === '-' ? await readStdin(ctx) : args[0];
  const profile = await loadProfile(inv);
  const result = await introspectFlow({
    ctx,
    profile,
    cache: TokenCache.forContext(inv),
    token,
    type: opts.type as 'access' | 'refresh' | undefined,
    broker: Boolean(opts.broker),
    trace: out.verbose ? out.trace : undefined,
  });
  if (out.json) out.jsonDoc(result);
  else out.data(renderIntrospection(result, ctx.now(), out.style));
  return result.active === true ? 0 : 1;
}
