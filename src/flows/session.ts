/**
 * What the sign-in flows share: reaching the IdP, verifying an ID token with the foundation's
 * verifier, turning a token response into a cache entry, and judging whether an entry is usable.
 * The adapters come through `FlowIo.connect`, loaded on first use: `status` and `token` on a
 * fresh cache never load openid-client.
 */
import type { CachedSession } from '../cache/types.js';
import type { Context, Env } from '../context.js';
import { TokenRejectedError, UsageError } from '../errors.js';
import type { ClientAuthMethodSetting, Profile } from '../config/types.js';
import type { BrokerClient } from '../oidc/broker-client.js';
import type { ClientKeySettings } from '../oidc/client-key.js';
import type { IdpClient, TokenSet } from '../oidc/client.js';
import { oidcConnectors, type Connectors } from './connectors.js';

/** Seconds of leeway between this machine's clock and the IdP's for ID token times. */
export const ID_TOKEN_CLOCK_TOLERANCE_S = 30;

export interface IdpSettings {
  issuer: string;
  clientId: string;
  clientSecret?: string;
  /** The profile's `clientAuthMethod`. */
  clientAuthMethod?: ClientAuthMethodSetting;
  /** The profile's `clientKey`, `clientKeyId`, `clientKeyAlg` (`private_key_jwt`). */
  clientKey?: ClientKeySettings;
}

export interface FlowIo {
  ctx: Context;
  /** `--verbose` lines (already masked by the adapter). */
  trace?: (line: string) => void;
  /** How to reach the IdP and the broker. Default: the openid-client adapters (flows/connectors.ts). */
  connect?: Connectors;
}

/**
 * Seconds each IdP or broker request may take: `AUTHBRIDGE_HTTP_TIMEOUT`, else undefined (the
 * adapters' default, 30).
 * @throws UsageError for a value that is not a positive number.
 */
export function httpTimeoutSeconds(env: Env): number | undefined {
  const value = env.AUTHBRIDGE_HTTP_TIMEOUT;
  if (value === undefined || value.trim() === '') return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`AUTHBRIDGE_HTTP_TIMEOUT must be a positive number of seconds, got "${value}"`);
  return n;
}

/**
 * The profile's client credentials (secret, authentication method) when the cached tokens were
 * issued to the profile's client; none when the config now names another client.
 */
export function sameClient(profile: Profile | undefined, clientId: string): Pick<IdpSettings, 'clientSecret' | 'clientAuthMethod' | 'clientKey'> {
  if (profile?.clientId !== undefined && profile.clientId !== clientId) return {};
  return { clientSecret: profile?.clientSecret, clientAuthMethod: profile?.clientAuthMethod, clientKey: clientKeyOf(profile) };
}

/** The profile's client key settings for `private_key_jwt`, when it names a key. */
export function clientKeyOf(profile: Profile | undefined): ClientKeySettings | undefined {
  if (!profile?.clientKey) return undefined;
  return { path: profile.clientKey, kid: profile.clientKeyId, alg: profile.clientKeyAlg };
}

/** Discovers the IdP and configures the client, through `io.connect`. */
export async function openIdp(io: FlowIo, settings: IdpSettings): Promise<IdpClient> {
  const { ctx, trace } = io;
  return (io.connect ?? oidcConnectors).idp({ ...settings, fetch: ctx.fetch, now: ctx.now, trace, timeoutSeconds: httpTimeoutSeconds(ctx.env) });
}

/** Whether two broker URLs name the same broker (a trailing slash aside). */
export function sameBroker(a: string | undefined, b: string): boolean {
  return a !== undefined && a.replace(/\/+$/, '') === b.replace(/\/+$/, '');
}

/**
 * Connects to the broker at `url` as the profile's broker client, when the profile's broker is
 * that one; else as `cachedClientId`, the client a cached session was issued to (a session made
 * with --broker-* flags only), without a secret.
 */
export async function openBroker(io: FlowIo, url: string, profile: Profile | undefined, cachedClientId?: string): Promise<BrokerClient> {
  const { ctx, trace } = io;
  const settings = sameBroker(profile?.broker?.url, url) ? profile!.broker : undefined;
  return (io.connect ?? oidcConnectors).broker({
    url,
    clientId: settings?.clientId ?? cachedClientId,
    clientSecret: settings?.clientSecret,
    clientKey: settings?.clientKey ? { path: settings.clientKey } : undefined,
    fetch: ctx.fetch,
    now: ctx.now,
    trace,
    timeoutSeconds: httpTimeoutSeconds(ctx.env),
  });
}

/**
 * Verifies an ID token with `verifyJwt`: signature against the IdP's JWKS, `iss`, `aud`
 * (the client id), `exp`, `nonce` when given, `azp` when present, and that it is not an access
 * token. Returns its claims.
 * @throws TokenRejectedError naming the first failing check; RemoteError when the JWKS cannot be had.
 */
export async function verifyIdToken(
  { ctx, trace }: FlowIo,
  idp: IdpClient,
  idToken: string,
  expected: { nonce?: string; subject?: string },
): Promise<Record<string, unknown>> {
  const [{ verifyJwt, failureSummary }, { remoteKeySet }, { tracingFetch }] = await Promise.all([
    import('../jwt/verify.js'),
    import('../jwt/keys.js'),
    import('../oidc/trace.js'),
  ]);
  if (!idp.metadata.jwks_uri) throw new TokenRejectedError(`could not verify the ID token: ${idp.issuer} publishes no jwks_uri`);
  // Entra ID multi-tenant: the issuer is the template with the token's own `tid`.
  const [{ decodeToken }, { tokenIssuer }] = await Promise.all([import('../jwt/decode.js'), import('../oidc/urls.js')]);
  let unverified: Record<string, unknown> = {};
  try {
    unverified = (decodeToken(idToken).payload as Record<string, unknown> | null) ?? {};
  } catch {
    // Not a JWT: verifyJwt says so.
  }
  const result = await verifyJwt(idToken, {
    issuer: tokenIssuer(idp.issuer, unverified),
    audience: idp.clientId,
    keys: remoteKeySet(idp.metadata.jwks_uri, {
      fetch: tracingFetch(ctx.fetch, trace, ctx.now),
      now: ctx.now,
      timeoutMs: (httpTimeoutSeconds(ctx.env) ?? 10) * 1000,
    }),
    now: ctx.now(),
    clockTolerance: ID_TOKEN_CLOCK_TOLERANCE_S,
    nonce: expected.nonce,
    authorizedParty: idp.clientId,
    type: 'id',
  });
  if (!result.valid) {
    throw new TokenRejectedError(`could not verify the ID token: ${failureSummary(result)}`, {
      hint: 'Nothing was cached. Check the profile\'s issuer and client id.',
    });
  }
  const claims = result.payload as Record<string, unknown>;
  // OpenID Connect Core §12.2: a refreshed ID token names the same End-User.
  if (expected.subject !== undefined && claims.sub !== expected.subject) {
    throw new TokenRejectedError(`could not verify the ID token: its sub "${String(claims.sub)}" is not the signed-in "${expected.subject}"`);
  }
  return claims;
}

export interface SessionInput {
  profile: string;
  issuer: string;
  clientId: string;
  /** The scopes asked for: used when the IdP does not say which it granted. */
  requestedScopes: string[];
  tokens: TokenSet;
  /** The verified ID token claims, when an ID token came. */
  claims?: Record<string, unknown>;
  /** Userinfo claims to fill in what the ID token lacks (email). */
  userinfo?: Record<string, unknown>;
  /** Milliseconds since the epoch. */
  now: number;
  /** The entry being refreshed: what the new answer lacks is kept from it. */
  previous?: CachedSession;
}

function stringClaim(...values: unknown[]): string | undefined {
  return values.find((v): v is string => typeof v === 'string' && v !== '');
}

/** A cache entry from a token response (login or refresh). */
export function sessionFromTokens(input: SessionInput): CachedSession {
  const { tokens, claims, previous, now } = input;
  const idToken = tokens.id_token ?? previous?.id_token;
  const idExp = claims && typeof claims.exp === 'number' ? claims.exp * 1000 : tokens.id_token ? undefined : previous?.id_token_expires_at;
  const session: CachedSession = {
    version: 1,
    profile: input.profile,
    issuer: input.issuer,
    client_id: input.clientId,
    access_token: tokens.access_token,
    access_token_expires_at: tokens.expires_in !== undefined ? now + tokens.expires_in * 1000 : undefined,
    id_token: idToken,
    id_token_expires_at: idExp,
    // RFC 6749 §6: without a new refresh token the old one stays valid.
    refresh_token: tokens.refresh_token ?? previous?.refresh_token,
    token_type: tokens.token_type,
    scopes: tokens.scope ? tokens.scope.split(' ').filter(Boolean) : (previous?.scopes ?? input.requestedScopes),
    subject: stringClaim(claims?.sub, previous?.subject),
    email: stringClaim(claims?.email, input.userinfo?.email, previous?.email),
    claims: claims ?? previous?.claims,
    obtained_at: now,
  };
  if (previous?.broker) session.broker = previous.broker;
  for (const key of Object.keys(session) as Array<keyof CachedSession>) if (session[key] === undefined) delete session[key];
  return session;
}

/** Milliseconds before expiry at which `token` refreshes rather than hand out a dying token. */
export const REFRESH_MARGIN_MS = 30_000;

/** A token's expiry: unknown (no `expires_in`) counts as valid until the IdP says otherwise. */
export function tokenLive(expiresAt: number | undefined, now: number, marginMs = 0): boolean {
  return expiresAt === undefined || expiresAt - marginMs > now;
}

/**
 * "Signed in", as `token` sees it (so `status` and `token` agree): an unexpired access token, or
 * an unexpired ID token with a refresh token to renew the access token; never a session marked
 * expired by a refused refresh. An expired access token that cannot be refreshed is not signed
 * in, even while the ID token lives: `token` could not hand anything out.
 */
export function isSignedIn(session: CachedSession | undefined, now: number): boolean {
  if (!session || session.expired) return false;
  const access = session.access_token !== undefined && tokenLive(session.access_token_expires_at, now);
  const id = session.id_token !== undefined && tokenLive(session.id_token_expires_at, now);
  return access || (id && session.refresh_token !== undefined);
}

/** `authbridge login` with the profile flag when it is not the default. */
export function loginCommand(profile: string): string {
  return profile === 'default' ? 'authbridge login' : `authbridge login --profile ${profile}`;
}
