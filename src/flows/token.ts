/**
 * `token`: one raw token from the cache for `$(authbridge token)`, refreshed first when it has
 * expired (or is about to) and a refresh token is held.
 */
import type { TokenCache } from '../cache/token-cache.js';
import type { CachedSession } from '../cache/types.js';
import type { Profile } from '../config/types.js';
import { NotSignedInError } from '../errors.js';
import { refreshFlow } from './refresh.js';
import { REFRESH_MARGIN_MS, loginCommand, oauthErrorOf, tokenLive, type FlowIo } from './session.js';

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

function usable(session: CachedSession, type: 'access' | 'id', now: number): { token: string; expiresAt?: number } | undefined {
  if (session.expired) return undefined;
  const token = type === 'access' ? session.access_token : session.id_token;
  const expiresAt = type === 'access' ? session.access_token_expires_at : session.id_token_expires_at;
  return token && tokenLive(expiresAt, now, REFRESH_MARGIN_MS) ? { token, expiresAt } : undefined;
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
    // The broker session is written by `exchange`.
    if (!session.broker || session.broker.expires_at <= ctx.now()) {
      throw notSignedIn('no broker session', `Run \`authbridge exchange${profile.name === 'default' ? '' : ` --profile ${profile.name}`}\`.`);
    }
    return { token: session.broker.access_token, refreshed: false, expiresAt: session.broker.expires_at };
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
  if (!session.refresh_token) throw notSignedIn(`the ${type === 'id' ? 'ID' : 'access'} token expired and no refresh token is held`);
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
