/**
 * Machine sign-in (CI): the client credentials grant (RFC 6749 §4.4) with the profile's secret
 * or private key. No browser, no user, no ID token, no refresh token: the token is cached like a
 * session marked `grant: 'client_credentials'`, and `token` gets a new one by the same grant when
 * it runs out, under the cache lock, so parallel `token` calls make one grant.
 */
import type { TokenCache } from '../cache/token-cache.js';
import type { CachedSession } from '../cache/types.js';
import { requireIdp } from '../config/profile.js';
import type { Profile } from '../config/types.js';
import { UsageError } from '../errors.js';
import { openIdp, sameClient, sessionFromTokens, type FlowIo } from './session.js';

export interface ClientCredentialsInput extends FlowIo {
  profile: Profile;
  cache: TokenCache;
  /**
   * When given and true for the entry found under the lock, no grant is made: another process
   * got a token meanwhile. `login --client-credentials` leaves it out (always a new token).
   */
  stillFresh?: (session: CachedSession) => boolean;
}

/** Whether a cache entry is a machine session (client credentials). */
export function isMachineSession(session: CachedSession | undefined): boolean {
  return session?.grant === 'client_credentials';
}

/**
 * Refuses a profile that cannot use the client credentials grant: a public client (no secret, no
 * key, or `clientAuthMethod none`).
 * @throws UsageError (2) naming the secret or key it needs.
 */
export function requireConfidential(profile: Profile): void {
  const flags = '--client-secret (AUTHBRIDGE_CLIENT_SECRET) or --client-key (AUTHBRIDGE_CLIENT_KEY)';
  if (profile.clientAuthMethod === 'none') {
    throw new UsageError(`the client credentials grant needs a confidential client, and profile "${profile.name}" sets clientAuthMethod none`, {
      hint: `Give ${flags} and drop clientAuthMethod none.`,
    });
  }
  if (!profile.clientSecret && !profile.clientKey) {
    throw new UsageError(`the client credentials grant needs a confidential client: profile "${profile.name}" has no client secret or key`, {
      hint: `Give ${flags}, as registered at the IdP for client "${profile.clientId ?? ''}".`,
    });
  }
}

/**
 * Gets a token for the client itself and caches it as the profile's session (replacing whatever
 * the profile held), under the cache lock.
 * @throws UsageError (2) for a public client or a missing issuer/client id; OAuthRefusedError (5)
 *   when the IdP refuses (`unauthorized_client`, `invalid_client`, `invalid_scope`); RemoteError
 *   (3) when it fails. The cache is unchanged on failure.
 */
export async function clientCredentialsFlow(input: ClientCredentialsInput): Promise<CachedSession> {
  const { ctx, profile, cache } = input;
  const { issuer, clientId } = requireIdp(profile);
  requireConfidential(profile);
  let failure: unknown;
  const stored = await cache.update(profile.name, async (current) => {
    if (current && isMachineSession(current) && input.stillFresh?.(current)) return current;
    try {
      const idp = await openIdp(input, { issuer, clientId, ...sameClient(profile, clientId) });
      // Scopes only when configured: the openid default asks a user's consent, not a machine's.
      // What is not configured now is asked as the cached token was (login --client-credentials --scopes …).
      const before = isMachineSession(current) ? current?.grant_request : undefined;
      const requestedScopes = profile.scopesConfigured ? profile.scopes : (before?.scopes ?? []);
      const audience = profile.audience ?? before?.audience;
      const resource = profile.resource ?? before?.resource;
      const tokens = await idp.clientCredentials({ scopes: requestedScopes, audience, resource });
      const session = sessionFromTokens({
        profile: profile.name,
        issuer,
        clientId,
        requestedScopes,
        // RFC 6749 §4.4.3: no refresh token is expected; one sent anyway is not kept (a new grant renews).
        tokens: { ...tokens, refresh_token: undefined, id_token: undefined },
        now: ctx.now(),
      });
      session.grant = 'client_credentials';
      const request = { scopes: requestedScopes.length ? requestedScopes : undefined, audience, resource };
      if (Object.values(request).some((v) => v !== undefined)) session.grant_request = JSON.parse(JSON.stringify(request)) as typeof request;
      return session;
    } catch (err) {
      failure = err;
      return current;
    }
  });
  if (failure !== undefined) throw failure;
  return stored!;
}
