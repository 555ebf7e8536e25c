/**
 * `refresh` (and `token`'s auto-refresh): the refresh-token grant, run under the cache lock so
 * that parallel invocations never spend the same (rotating) refresh token twice.
 */
import type { TokenCache } from '../cache/token-cache.js';
import type { CachedSession } from '../cache/types.js';
import type { Profile } from '../config/types.js';
import { NotSignedInError, oauthErrorOf } from '../errors.js';
import { loginCommand, openIdp, sameClient, sessionFromTokens, verifyIdToken, type FlowIo } from './session.js';

export interface RefreshInput extends FlowIo {
  profile: Profile;
  cache: TokenCache;
  /**
   * When given and true for the entry found under the lock, no grant is made: another process
   * refreshed it meanwhile. `refresh` leaves it out (always refresh); `token` passes its check.
   */
  stillFresh?: (session: CachedSession) => boolean;
}

/**
 * Refreshes the profile's session and stores the result. Without a refresh token, or with a
 * session already marked expired, nothing is sent.
 *
 * @throws NotSignedInError (4) when there is no session or no usable refresh token;
 *   AuthorizationRefusedError (5) on `invalid_grant`, after marking the entry `expired` so
 *   `status` says "session expired"; RemoteError (3) when the IdP fails (the entry is unchanged).
 */
export async function refreshFlow(input: RefreshInput): Promise<CachedSession> {
  const { ctx, profile, cache } = input;
  let failure: unknown;
  const updated = await cache.update(profile.name, async (current) => {
    if (!current) {
      failure = new NotSignedInError(`could not refresh profile "${profile.name}": not signed in`, {
        hint: `Run \`${loginCommand(profile.name)}\`.`,
      });
      return undefined;
    }
    if (input.stillFresh?.(current)) return current;
    if (current.grant === 'client_credentials') {
      failure = new NotSignedInError(`could not refresh profile "${profile.name}": a client credentials session has no refresh token`, {
        hint: `\`authbridge token${profile.name === 'default' ? '' : ` --profile ${profile.name}`}\` gets a new token by the same grant when this one runs out.`,
      });
      return current;
    }
    if (current.expired || !current.refresh_token) {
      failure = new NotSignedInError(
        `could not refresh profile "${profile.name}": ${current.expired ? 'the session expired' : 'no refresh token is held (ask for the offline_access scope)'}`,
        { hint: `Run \`${loginCommand(profile.name)}\`.` },
      );
      return current;
    }
    // The tokens belong to the issuer and client that issued them, whatever the config says now.
    const idp = await openIdp(input, {
      issuer: current.issuer,
      clientId: current.client_id,
      ...sameClient(profile, current.client_id),
    }).catch((err: unknown) => {
      failure = err;
    });
    if (!idp) return current;
    let base = current;
    for (let attempt = 0; ; attempt += 1) {
      try {
        const tokens = await idp.refresh(base.refresh_token!);
        const claims = tokens.id_token ? await verifyIdToken(input, idp, tokens.id_token, { subject: base.subject }) : undefined;
        return sessionFromTokens({
          profile: profile.name,
          issuer: base.issuer,
          clientId: base.client_id,
          requestedScopes: base.scopes,
          tokens,
          claims,
          now: ctx.now(),
          previous: base,
        });
      } catch (err) {
        if (oauthErrorOf(err) === 'invalid_grant' && attempt === 0) {
          // Rotation: another process may have spent this refresh token and stored its successor
          // meanwhile (a lock taken over as stale, a cache written by another tool). Read the
          // entry again: a newer token is used once, a fresh entry as it is.
          const stored = await cache.get(profile.name);
          if (stored && !stored.expired && stored.refresh_token && stored.refresh_token !== base.refresh_token && stored.issuer === base.issuer) {
            input.trace?.('the IdP refused the refresh token, and the cache holds a newer one: another process rotated it; using that');
            if (input.stillFresh?.(stored)) return stored;
            base = stored;
            continue;
          }
        }
        failure = err;
        if (oauthErrorOf(err) === 'invalid_grant') return { ...base, expired: true };
        return base;
      }
    }
  });
  if (failure !== undefined) throw failure;
  return updated!;
}
