/**
 * Exchange the IdP token with the profile's broker (RFC 8693, or the Synerise-compatible call),
 * verify what the broker returns against its JWKS, and keep it in the profile's cache entry.
 */
import { randomUUID } from 'node:crypto';
import type { TokenCache } from '../cache/token-cache.js';
import type { CachedBrokerSession, CachedSession } from '../cache/types.js';
import type { Profile } from '../config/types.js';
import { NotSignedInError, TokenRejectedError, UsageError } from '../errors.js';
import { remoteKeySet } from '../jwt/keys.js';
import { parseToken } from '../jwt/parse.js';
import { failureSummary, verifyJwt } from '../jwt/verify.js';
import { connectBroker, type BrokerClient } from '../oidc/broker-client.js';
import { syneriseLogin } from '../oidc/synerise.js';
import { TOKEN_TYPE } from '../oidc/urls.js';
import { isoTime } from '../util/time.js';

export interface ExchangeDeps {
  fetch: typeof fetch;
  now: () => number;
  cache: TokenCache;
  trace?: (line: string) => void;
  timeoutSeconds?: number;
  /**
   * Returns the profile's session with a fresh IdP token, refreshing it when it has expired and
   * a refresh token is held; throws NotSignedInError otherwise.
   */
  freshSession: () => Promise<CachedSession>;
}

export interface ExchangeRequest {
  profile: Profile;
  /** Exchange this token instead of the cached IdP token. */
  subjectToken?: string;
  /** `access_token` (default), `id_token` or `jwt`. */
  subjectTokenType?: 'access_token' | 'id_token' | 'jwt';
  scope?: string;
  resource?: string;
}

/** What `exchange --json` prints. */
export interface ExchangeOutcome {
  profile: string;
  broker: string;
  issued_token_type: string;
  subject: string;
  expires_at: string;
  account_status: string | null;
}

export function requireBroker(profile: Profile): NonNullable<Profile['broker']> {
  if (!profile.broker?.url) {
    throw new UsageError(`no broker configured for profile "${profile.name}"`, {
      hint: 'Give --broker-url, set AUTHBRIDGE_BROKER_URL, or run `authbridge config set broker.url URL`.',
    });
  }
  return profile.broker;
}

/** Verifies a broker token against the broker's JWKS: signature, iss, exp, typ at+jwt, aud when configured. */
async function verifyBrokerToken(token: string, broker: BrokerClient, audience: string | undefined, deps: ExchangeDeps) {
  const keys = remoteKeySet(broker.metadata.jwks_uri, { fetch: deps.fetch, now: deps.now, timeoutMs: (deps.timeoutSeconds ?? 30) * 1000 });
  let expected = audience;
  if (!expected) {
    // Without a configured audience the CLI accepts the audience the broker chose: it is the
    // client here, not the resource server that must enforce it.
    const aud = parseToken(token).payload?.aud;
    expected = typeof aud === 'string' ? aud : Array.isArray(aud) && typeof aud[0] === 'string' ? aud[0] : broker.issuer;
  }
  const result = await verifyJwt(token, { issuer: broker.issuer, audience: expected, keys, now: deps.now(), type: 'access', clockTolerance: 30 });
  if (!result.valid) {
    throw new TokenRejectedError(`could not accept the broker token: ${failureSummary(result)}`);
  }
  return result.payload!;
}

/**
 * Runs the exchange and stores the broker session in the profile's cache entry.
 * @throws UsageError (no broker configured), NotSignedInError (no IdP token), AuthorizationRefusedError
 *   (the broker said no), RemoteError (broker unreachable), TokenRejectedError (its token failed verification).
 */
export async function exchange(deps: ExchangeDeps, request: ExchangeRequest): Promise<ExchangeOutcome> {
  const { profile } = request;
  const settings = requireBroker(profile);
  const tokenType = request.subjectTokenType ?? settings.subjectTokenType ?? 'access_token';
  let subjectToken = request.subjectToken;
  if (!subjectToken) {
    const session = await deps.freshSession();
    subjectToken = tokenType === 'id_token' ? session.id_token : session.access_token;
    if (!subjectToken) {
      throw new NotSignedInError(`no cached ${tokenType === 'id_token' ? 'ID' : 'access'} token for profile "${profile.name}"`, {
        hint: 'Run `authbridge login`, or pass --subject-token.',
      });
    }
  }
  const common = { fetch: deps.fetch, now: deps.now, trace: deps.trace, timeoutSeconds: deps.timeoutSeconds };

  let session: CachedBrokerSession;
  let issuedTokenType: string;
  if (settings.protocol === 'synerise') {
    if (!settings.apiKey) {
      throw new UsageError('missing broker API key for the synerise protocol', {
        hint: 'Give --broker-api-key, set AUTHBRIDGE_BROKER_API_KEY, or run `authbridge config set broker.apiKey KEY`.',
      });
    }
    const answer = await syneriseLogin({ ...common, url: settings.url, apiKey: settings.apiKey, token: subjectToken, uuid: randomUUID(), deviceId: `authbridge-${profile.name}` });
    // A Synerise-compatible broker may not publish RFC 8414 metadata; verify when it does.
    let payload: Record<string, unknown> | undefined;
    const broker = await connectBroker({ ...common, url: settings.url, clientId: settings.clientId ?? 'authbridge' }).catch(() => undefined);
    if (broker) payload = await verifyBrokerToken(answer.token, broker, settings.audience, deps);
    payload ??= parseToken(answer.token).payload ?? {};
    issuedTokenType = TOKEN_TYPE.accessToken;
    session = {
      url: settings.url,
      issuer: String(payload.iss ?? settings.url),
      access_token: answer.token,
      expires_at: answer.expiration * 1000,
      subject: String(payload.sub ?? answer.customId ?? ''),
      sid: typeof payload.sid === 'string' ? payload.sid : undefined,
      obtained_at: deps.now(),
    };
  } else {
    const broker = await connectBroker({ ...common, url: settings.url, clientId: settings.clientId, clientSecret: settings.clientSecret });
    const answer = await broker.exchange({
      subjectToken,
      subjectTokenType: tokenType,
      audience: settings.audience,
      scope: request.scope,
      resource: request.resource,
    });
    const payload = await verifyBrokerToken(answer.access_token, broker, settings.audience, deps);
    issuedTokenType = answer.issued_token_type;
    session = {
      url: settings.url,
      issuer: broker.issuer,
      access_token: answer.access_token,
      expires_at: typeof payload.exp === 'number' ? payload.exp * 1000 : deps.now() + (answer.expires_in ?? 0) * 1000,
      subject: String(payload.sub ?? ''),
      sid: typeof payload.sid === 'string' ? payload.sid : undefined,
      account_status: answer.account_status === 'created' || answer.account_status === 'existing' ? answer.account_status : undefined,
      obtained_at: deps.now(),
    };
  }

  await deps.cache.update(profile.name, (current) => ({
    ...(current ?? {
      version: 1 as const,
      profile: profile.name,
      issuer: profile.issuer ?? '',
      client_id: profile.clientId ?? '',
      scopes: [],
      obtained_at: deps.now(),
    }),
    broker: session,
  }));
  return {
    profile: profile.name,
    broker: settings.url,
    issued_token_type: issuedTokenType,
    subject: session.subject,
    expires_at: isoTime(session.expires_at),
    account_status: session.account_status ?? null,
  };
}
