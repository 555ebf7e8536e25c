/** `login --client-credentials` (or a profile with `grant: client_credentials`): a machine sign-in, no browser. */
import type { Profile } from '../config/types.js';
import type { Outcome } from '../errors.js';
import { clientCredentialsFlow } from '../flows/client-credentials.js';
import type { Output } from '../output/output.js';
import { renderLoginDone, stderrStyle } from '../output/session.js';
import { isoTime } from '../util/time.js';
import type { Invocation } from './invocation.js';
import { tokenCache } from './profile.js';

/**
 * Gets a client credentials token for `profile` and caches it; tells the line `login` tells, or
 * under `--json` `{"profile","issuer","subject":null,"client_id","grant":"client_credentials","expires_at","scopes"}`.
 */
export async function runClientCredentialsLogin(inv: Invocation, profile: Profile, out: Output): Promise<Outcome> {
  const { ctx, global } = inv;
  const session = await clientCredentialsFlow({ ctx, profile, cache: tokenCache(inv), trace: out.verbose ? out.trace : undefined });
  if (out.json) {
    out.jsonDoc({
      profile: session.profile,
      issuer: session.issuer,
      subject: null,
      client_id: session.client_id,
      grant: 'client_credentials',
      expires_at: session.access_token_expires_at === undefined ? null : isoTime(session.access_token_expires_at),
      scopes: session.scopes,
    });
  } else {
    out.info(renderLoginDone(session, ctx.now(), stderrStyle(ctx, global)));
  }
  return 'ok';
}
