/**
 * `token`: one raw token from the cache for `$(authbridge token)`, refreshed first when it has
 * expired (or is about to) and a refresh token is held.
 */
import type { TokenCache } from '../cache/token-cache.js';
import type { CachedSession } from '../cache/types.js';
import type { Profile } from '../config/types.js';
import { NotSignedInError, oauthErrorOf } from '../errors.js';
import { refreshFlow } from './refresh.js';
import { REFRESH_MARGIN_MS, loginCommand, tokenLive, type FlowIo } from './session.js';

export type TokenType = 'access' | 'id' | 'refresh' | 'broker';
export const TOKEN_TYPES: readonly TokenType[] = ['access', 'id', 'refresh', 'broker'];

export interface TokenInput extends FlowIo {
  profile: Profile;
  cache: TokenCache;
  type: TokenType;
}

export interface TokenResult {
  token: string;
  /** Whether a refresh-token grant was made to get it. */
  refreshed: boolean;
  /** Milliseconds since the epoch, when known. */
  expiresAt?: number;
}

function usable(session: CachedSession, type: 'access' | 'id', now: number, marginMs = REFRESH_MARGIN_MS): { token: string; expiresAt?: number } | undefined {
  if (session.expired) return undefined;
  const token = type === 'access' ? session.access_token : session.id_token;
  const expiresAt = type === 'access' ? session.access_token_expires_at : session.id_token_expires_at;
  return token && tokenLive(expiresAt, now, marginMs) ? { token, expiresAt } : undefined;
}

/**
 * The requested token of the profile.
 * @throws NotSignedInError (4) when there is none usable and no refresh brings one, including
 *   when the IdP refuses the refresh token; RemoteError (3) when the IdP cannot refresh.
 */
export async function tokenFlow(input: TokenInput): Promise<TokenResult> {
  const { ctx, profile, cache, type } = input;
  const notSignedIn = (why: string, hint = `Run \`${loginCommand(profile.name)}\`.`) =>
    new NotSignedInError(`could not get the ${type} token of profile "${profile.name}": ${why}`, { hint });
  const session = await cache.get(profile.name);
  if (!session) throw notSignedIn('not signed in');
  if (type === 'broker') {
    const broker = session.broker;
    if (broker && broker.expires_at - REFRESH_MARGIN_MS > ctx.now()) {
      return { token: broker.access_token, refreshed: false, expiresAt: broker.expires_at };
    }
    if (!profile.broker?.url) {
      throw notSignedIn(
        broker ? 'the broker session expired and no broker is configured to renew it' : 'no broker session',
        `Run \`authbridge exchange${profile.name === 'default' ? '' : ` --profile ${profile.name}`}\`.`,
      );
    }
    // Expired (or never made): exchange the IdP token again, refreshing that first if need be.
    const { exchangeFlow } = await import('./exchange.js');
    await exchangeFlow({ ...input, freshSession: () => sessionWithFreshIdpToken(input, profile.broker?.subjectTokenType) });
    const renewed = (await cache.get(profile.name))?.broker;
    if (!renewed) throw notSignedIn('no broker session');
    return { token: renewed.access_token, refreshed: true, expiresAt: renewed.expires_at };
  }
  if (type === 'refresh') {
    if (session.expired) throw notSignedIn('the session expired');
    if (!session.refresh_token) throw notSignedIn('no refresh token is held (ask for the offline_access scope)');
    return { token: session.refresh_token, refreshed: false };
  }
  const now = ctx.now();
  const cached = usable(session, type, now);
  if (cached) return { ...cached, refreshed: false };
  if (session.expired) throw notSignedIn('the session expired');
  if (!session.refresh_token) {
    // Nothing to renew it with: a token in its last seconds is still the one `status` calls signed in.
    const last = usable(session, type, now, 0);
    if (last) return { ...last, refreshed: false };
    throw notSignedIn(`the ${type === 'id' ? 'ID' : 'access'} token expired and no refresh token is held`);
  }
  let refreshed: CachedSession;
  try {
    refreshed = await refreshFlow({ ...input, stillFresh: (s) => usable(s, type, ctx.now()) !== undefined });
  } catch (err) {
    if (oauthErrorOf(err) === 'invalid_grant') {
      throw notSignedIn(`the session expired (the IdP refused the refresh token: ${(err as Error).message.replace(/^could not [^:]*: /, '')})`);
    }
    throw err;
  }
  const fresh = usable(refreshed, type, ctx.now());
  if (!fresh) throw notSignedIn(`the refreshed session has no unexpired ${type === 'id' ? 'ID' : 'access'} token`);
  return { ...fresh, refreshed: true };
}

/**
 * The profile's cache entry once its IdP token for an exchange (`id_token` type: the ID token,
 * else the access token) is unexpired, refreshing it first when needed.
 * @throws NotSignedInError (4) when there is no such token and no refresh brings one.
 */
export async function sessionWithFreshIdpToken(
  input: Omit<TokenInput, 'type'>,
  subjectTokenType: string | undefined,
): Promise<CachedSession> {
  await tokenFlow({ ...input, type: subjectTokenType === 'id_token' ? 'id' : 'access' });
  const session = await input.cache.get(input.profile.name);
  if (!session) throw new NotSignedInError(`could not exchange for profile "${input.profile.name}": not signed in`);
  return session;
}
