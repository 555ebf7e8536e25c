/**
 * Exchange the IdP token with the profile's broker (RFC 8693, or the Synerise-compatible call),
 * verify what the broker returns against its JWKS, and keep it in the profile's cache entry.
 */
import { randomUUID } from 'node:crypto';
import type { TokenCache } from '../cache/token-cache.js';
import type { CachedBrokerSession, CachedSession } from '../cache/types.js';
import type { Profile } from '../config/types.js';
import { NotSignedInError, OAuthRefusedError, RemoteError, TokenRejectedError, UsageError } from '../errors.js';
import { remoteKeySet } from '../jwt/keys.js';
import { parseToken } from '../jwt/parse.js';
import { failureSummary, verifyJwt } from '../jwt/verify.js';
import type { BrokerClient } from '../oidc/broker-client.js';
import { TOKEN_TYPE } from '../oidc/urls.js';
import { isoTime } from '../util/time.js';
import { oidcConnectors } from './connectors.js';
import { httpTimeoutSeconds, type FlowIo } from './session.js';

export interface ExchangeInput extends FlowIo {
  cache: TokenCache;
  /**
   * Returns the profile's session with a fresh IdP token, refreshing it when it has expired and
   * a refresh token is held; throws NotSignedInError otherwise.
   */
  freshSession: () => Promise<CachedSession>;
  /** Seconds for each broker request (`exchange --timeout`). Default: AUTHBRIDGE_HTTP_TIMEOUT, else 30. */
  timeoutSeconds?: number;
  profile: Profile;
  /** Exchange this token instead of the cached IdP token. */
  subjectToken?: string;
  /** `access_token` (default), `id_token`, `jwt`, or an absolute URI sent as it is (the cached access token is sent). */
  subjectTokenType?: string;
  scope?: string;
  resource?: string;
}

/**
 * The broker refusing the token as not of the type sent (its `invalid_request` "it is not an
 * access token" …): the same refusal, with a hint naming `--subject-token-type`.
 */
function wrongTypeHint(err: unknown, tokenType: string): unknown {
  if (!(err instanceof OAuthRefusedError) || err.oauthError !== 'invalid_request') return err;
  if (!/it is not an? (access|ID) token|its typ is not that of/.test(err.message)) return err;
  const other = tokenType === 'id_token' ? 'access_token' : 'id_token';
  return new OAuthRefusedError(err.message, err.oauthError, {
    cause: err,
    hint: `The broker takes this token for another type than ${tokenType}: try --subject-token-type ${other} (or jwt, or the broker's urn:authbridge:token-type:<provider>); \`authbridge verify --type access\` shows the token's typ.`,
  });
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
async function verifyBrokerToken(token: string, broker: BrokerClient, audience: string | undefined, input: ExchangeInput, timeoutSeconds: number) {
  const { ctx } = input;
  const keys = remoteKeySet(broker.metadata.jwks_uri, { fetch: ctx.fetch, now: ctx.now, timeoutMs: timeoutSeconds * 1000 });
  let expected = audience;
  if (!expected) {
    // Without a configured audience the CLI accepts the audience the broker chose: it is the
    // client here, not the resource server that must enforce it.
    const aud = parseToken(token).payload?.aud;
    expected = typeof aud === 'string' ? aud : Array.isArray(aud) && typeof aud[0] === 'string' ? aud[0] : broker.issuer;
  }
  const result = await verifyJwt(token, { issuer: broker.issuer, audience: expected, keys, now: ctx.now(), type: 'access', clockTolerance: 30 });
  if (!result.valid) {
    throw new TokenRejectedError(`could not accept the broker token: ${failureSummary(result)}`);
  }
  return result.payload!;
}

/**
 * Runs the exchange and stores the broker session in the profile's cache entry.
 * @throws UsageError (no broker configured), NotSignedInError (no IdP token), AuthorizationRefusedError
 *   (the broker said no), RemoteError (broker unreachable; its metadata or keys cannot be had, for
 *   the Synerise protocol too), TokenRejectedError (its token failed verification). Nothing is
 *   cached unless the broker's token verified.
 */
export async function exchangeFlow(input: ExchangeInput): Promise<ExchangeOutcome> {
  const { ctx, profile } = input;
  const connect = input.connect ?? oidcConnectors;
  const settings = requireBroker(profile);
  const tokenType = input.subjectTokenType ?? settings.subjectTokenType ?? 'access_token';
  let subjectToken = input.subjectToken;
  if (!subjectToken) {
    const session = await input.freshSession();
    subjectToken = tokenType === 'id_token' ? session.id_token : session.access_token;
    if (!subjectToken) {
      throw new NotSignedInError(`no cached ${tokenType === 'id_token' ? 'ID' : 'access'} token for profile "${profile.name}"`, {
        hint: 'Run `authbridge login`, or pass --subject-token.',
      });
    }
  }
  const timeoutSeconds = input.timeoutSeconds ?? httpTimeoutSeconds(ctx.env) ?? 30;
  const common = { fetch: ctx.fetch, now: ctx.now, trace: input.trace, timeoutSeconds };

  let session: CachedBrokerSession;
  let issuedTokenType: string;
  if (settings.protocol === 'synerise') {
    if (!settings.apiKey) {
      throw new UsageError('missing broker API key for the synerise protocol', {
        hint: 'Give --broker-api-key, set AUTHBRIDGE_BROKER_API_KEY, or run `authbridge config set broker.apiKey KEY`.',
      });
    }
    // Fail closed (RFC 8725 §3.1): the broker's token is only ever kept verified against the keys
    // of its RFC 8414 metadata. They are found first, so the IdP token is not handed to a broker
    // whose token could never be accepted.
    const broker = await connect.broker({ ...common, url: settings.url, clientId: settings.clientId ?? 'authbridge' }).catch((err: unknown) => {
      if (!(err instanceof RemoteError)) throw err;
      throw new RemoteError(`could not verify the broker's token: ${err.message}`, {
        cause: err,
        hint: `authbridge verifies the broker's token against the keys named by its metadata (${settings.url.replace(/\/$/, '')}/.well-known/oauth-authorization-server); the broker must publish them.`,
      });
    });
    const answer = await connect.synerise({ ...common, url: settings.url, apiKey: settings.apiKey, token: subjectToken, uuid: randomUUID(), deviceId: `authbridge-${profile.name}` });
    const payload = await verifyBrokerToken(answer.token, broker, settings.audience, input, timeoutSeconds);
    issuedTokenType = TOKEN_TYPE.accessToken;
    session = {
      url: settings.url,
      issuer: String(payload.iss ?? settings.url),
      access_token: answer.token,
      expires_at: answer.expiration * 1000,
      subject: String(payload.sub ?? answer.customId ?? ''),
      sid: typeof payload.sid === 'string' ? payload.sid : undefined,
      obtained_at: ctx.now(),
    };
  } else {
    const broker = await connect.broker({
      ...common,
      url: settings.url,
      clientId: settings.clientId,
      clientSecret: settings.clientSecret,
      clientKey: settings.clientKey ? { path: settings.clientKey } : undefined,
    });
    const answer = await broker
      .exchange({
        subjectToken,
        subjectTokenType: tokenType,
        audience: settings.audience,
        scope: input.scope,
        resource: input.resource,
      })
      .catch((err: unknown) => {
        throw wrongTypeHint(err, tokenType);
      });
    const payload = await verifyBrokerToken(answer.access_token, broker, settings.audience, input, timeoutSeconds);
    issuedTokenType = answer.issued_token_type;
    session = {
      url: settings.url,
      issuer: broker.issuer,
      client_id: settings.clientId,
      access_token: answer.access_token,
      expires_at: typeof payload.exp === 'number' ? payload.exp * 1000 : ctx.now() + (answer.expires_in ?? 0) * 1000,
      subject: String(payload.sub ?? ''),
      sid: typeof payload.sid === 'string' ? payload.sid : undefined,
      account_status: answer.account_status === 'created' || answer.account_status === 'existing' ? answer.account_status : undefined,
      obtained_at: ctx.now(),
    };
  }

  await input.cache.update(profile.name, (current) => ({
    ...(current ?? {
      version: 1 as const,
      profile: profile.name,
      issuer: profile.issuer ?? '',
      client_id: profile.clientId ?? '',
      scopes: [],
      obtained_at: ctx.now(),
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
