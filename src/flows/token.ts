/**
 * `token`: one raw token from the cache for `$(authbridge token)`, refreshed first when it has
 * expired (or is about to) and a refresh token is held.
 */
import type { TokenCache } from '../cache/token-cache.js';
import type { CachedSession } from '../cache/types.js';
import type { Profile } from '../config/types.js';
import { NotSignedInError, oauthErrorOf } from '../errors.js';
import { clientCredentialsFlow, isMachineSession } from './client-credentials.js';
import { refreshFlow } from './refresh.js';
import { REFRESH_MARGIN_MS, loginCommand, tokenLive, type FlowIo } from './session.js';

export type TokenType = 'access' | 'id' | 'refresh' | 'broker';
export const TOKEN_TYPES: readonly TokenType[] = ['access', 'id', 'refresh', 'broker'];

export interface TokenInput extends FlowIo {
  profile: Profile;
  cache: TokenCache;
  type: TokenType;
  /**
   * Milliseconds the token must stay valid (`--min-valid`): a token expiring sooner is renewed
   * first, and when no renewal makes it last that long the flow fails (exit 4). Default
   * {@link REFRESH_MARGIN_MS}, and then a token in its last seconds is still handed out when
   * nothing can renew it.
   */
  minValidMs?: number;
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
  const margin = input.minValidMs ?? REFRESH_MARGIN_MS;
  const notSignedIn = (why: string, hint = `Run \`${loginCommand(profile.name)}\`.`) =>
    new NotSignedInError(`could not get the ${type} token of profile "${profile.name}": ${why}`, { hint });
  const session = await cache.get(profile.name);
  if (type !== 'broker' && (isMachineSession(session) || (!session && profile.grant === 'client_credentials'))) {
    return machineToken(input, session, margin);
  }
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
  const cached = usable(session, type, now, margin);
  if (cached) return { ...cached, refreshed: false };
  if (session.expired) throw notSignedIn('the session expired');
  if (!session.refresh_token) {
    // Nothing to renew it with: a token in its last seconds is still the one `status` calls signed in
    // (unless --min-valid asked for more).
    const last = usable(session, type, now, input.minValidMs ?? 0);
    if (last) return { ...last, refreshed: false };
    if (input.minValidMs !== undefined && usable(session, type, now, 0)) {
      throw notSignedIn(`the ${type === 'id' ? 'ID' : 'access'} token expires within ${durationText(input.minValidMs)} and no refresh token is held to renew it`);
    }
    throw notSignedIn(`the ${type === 'id' ? 'ID' : 'access'} token expired and no refresh token is held`);
  }
  let refreshed: CachedSession;
  try {
    refreshed = await refreshFlow({ ...input, stillFresh: (s) => usable(s, type, ctx.now(), margin) !== undefined });
  } catch (err) {
    if (oauthErrorOf(err) === 'invalid_grant') {
      throw notSignedIn(`the session expired (the IdP refused the refresh token: ${(err as Error).message.replace(/^could not [^:]*: /, '')})`);
    }
    throw err;
  }
  const fresh = usable(refreshed, type, ctx.now(), margin);
  if (!fresh) {
    throw notSignedIn(
      input.minValidMs !== undefined && usable(refreshed, type, ctx.now(), 0)
        ? `even the refreshed ${type === 'id' ? 'ID' : 'access'} token expires within ${durationText(input.minValidMs)} (the IdP issues shorter-lived tokens)`
        : `the refreshed session has no unexpired ${type === 'id' ? 'ID' : 'access'} token`,
    );
  }
  return { ...fresh, refreshed: true };
}

/** "90s", "5m", "1h 30m": a --min-valid for messages. */
function durationText(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60 || s % 60 !== 0) return `${s}s`;
  const m = s / 60;
  return m < 60 || m % 60 !== 0 ? `${m}m` : `${m / 60}h`;
}

/**
 * The access token of a machine profile (client credentials): the cached one while it stays
 * valid for `margin`, else a new grant under the cache lock (one grant for parallel calls).
 * @throws NotSignedInError (4) for an ID or refresh token (a machine session has neither), or
 *   when the token ran out and the profile has no secret or key to get another.
 */
async function machineToken(input: TokenInput, session: CachedSession | undefined, margin: number): Promise<TokenResult> {
  const { ctx, profile, type } = input;
  const fail = (why: string, hint = `Run \`${loginCommand(profile.name)} --client-credentials\`.`) =>
    new NotSignedInError(`could not get the ${type} token of profile "${profile.name}": ${why}`, { hint });
  if (type !== 'access') throw fail(`a client credentials session has no ${type === 'id' ? 'ID' : 'refresh'} token`, 'Use --type access.');
  const cached = session && usable(session, 'access', ctx.now(), margin);
  if (cached) return { ...cached, refreshed: false };
  if (!profile.clientSecret && !profile.clientKey) {
    throw fail(
      session ? 'the client credentials token expired and the profile has no client secret or key to get another' : 'not signed in',
      'Give --client-secret or --client-key (or AUTHBRIDGE_CLIENT_SECRET / AUTHBRIDGE_CLIENT_KEY).',
    );
  }
  const renewed = await clientCredentialsFlow({ ...input, stillFresh: (s) => usable(s, 'access', ctx.now(), margin) !== undefined });
  const fresh = usable(renewed, 'access', ctx.now(), margin);
  if (!fresh) {
    throw fail(
      input.minValidMs !== undefined && usable(renewed, 'access', ctx.now(), 0)
        ? `even a new client credentials token expires within ${durationText(input.minValidMs)} (the IdP issues shorter-lived tokens)`
        : 'the IdP answered an access token that has already expired',
    );
  }
  return { ...fresh, refreshed: renewed.obtained_at !== session?.obtained_at };
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
