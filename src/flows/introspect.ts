/** `introspect [TOKEN]`: RFC 7662 at the IdP, client-authenticated. */
import type { TokenCache } from '../cache/token-cache.js';
import type { Profile } from '../config/types.js';
import { NotSignedInError, UsageError } from '../errors.js';
import type { IntrospectionResult } from '../oidc/client.js';
import { decodeToken } from '../jwt/decode.js';
import { clientKeyOf, loginCommand, openBroker, openIdp, type FlowIo } from './session.js';

export interface IntrospectInput extends FlowIo {
  profile: Profile;
  cache: TokenCache;
  /** The token to ask about; absent: the profile's cached token of `type`. */
  token?: string;
  /** Which cached token, and the `token_type_hint` sent. */
  type?: 'access' | 'refresh';
  /** Ask the profile's broker about a broker token (default: the cached broker token). */
  broker?: boolean;
  /** Receives a note for the user (stderr): why an answer may mislead. */
  warn?: (text: string) => void;
}

/** Whether `token` is a signed JWT whose payload is a JSON object (no verification). */
function isJwt(token: string): boolean {
  try {
    return decodeToken(token).format === 'jws';
  } catch {
    return false;
  }
}

/**
 * Asks the IdP whether a token is active. The IdP and client come from the profile, or, for a
 * cached token without profile settings, from the cache entry that holds it.
 * @throws NotSignedInError (4) when no token is given and none is cached; UsageError (2) without
 *   an issuer/client id or when the IdP has no introspection endpoint; RemoteError (3).
 */
export async function introspectFlow(input: IntrospectInput): Promise<IntrospectionResult> {
  const { profile, cache } = input;
  if (input.broker) return introspectAtBroker(input);
  const hint = input.type === 'refresh' ? 'refresh_token' : input.type === 'access' ? 'access_token' : undefined;
  const session = profile.issuer && profile.clientId && input.token ? undefined : await cache.get(profile.name);
  let token = input.token;
  if (token === undefined) {
    token = input.type === 'refresh' ? session?.refresh_token : session?.access_token;
    if (!token) {
      throw new NotSignedInError(`could not introspect the cached ${input.type ?? 'access'} token of profile "${profile.name}": none is held`, {
        hint: `Pass TOKEN, or run \`${loginCommand(profile.name)}\`.`,
      });
    }
  }
  token = token.trim().replace(/^Bearer\s+/i, '');
  if (!token) throw new UsageError('TOKEN must not be empty');
  const issuer = profile.issuer ?? session?.issuer;
  const clientId = profile.clientId ?? session?.client_id;
  if (!issuer || !clientId) {
    throw new UsageError(`missing ${issuer ? 'client id' : 'issuer'} for profile "${profile.name}"`, {
      hint: 'Give --issuer and --client-id (the client that introspects must be known to the IdP).',
    });
  }
  const idp = await openIdp(input, { issuer, clientId, clientSecret: profile.clientSecret, clientAuthMethod: profile.clientAuthMethod, clientKey: clientKeyOf(profile) });
  // A public client may introspect with the session's access token where the IdP lists `bearer`.
  const held = profile.clientSecret ? undefined : (session ?? (await cache.get(profile.name)));
  const bearer = held?.issuer === issuer ? held.access_token : undefined;
  const result = await idp.introspect(token, hint, { bearer });
  if (result.active !== true && hint !== 'refresh_token' && isJwt(token)) {
    // oidc-provider (the demo's IdP) and others answer `active: false` for the JWT access tokens
    // they issue, as they keep no record of them (RFC 7662 §2.2 lets them).
    input.warn?.(
      'the IdP says "inactive", but many IdPs (the demo\'s among them) do not introspect the JWT access tokens they issue: check it locally with `authbridge verify --type access`',
    );
  }
  return result;
}

/**
 * `introspect --broker`: RFC 7662 at the broker, as the profile's broker client, which must be
 * confidential.
 * @throws UsageError (2) for a public broker client.
 */
async function introspectAtBroker(input: IntrospectInput): Promise<IntrospectionResult> {
  const { profile, cache } = input;
  const session = await cache.get(profile.name);
  const token = (input.token ?? session?.broker?.access_token)?.trim().replace(/^Bearer\s+/i, '');
  if (!token) {
    throw new NotSignedInError(`could not introspect the broker token of profile "${profile.name}": none is held`, {
      hint: 'Pass TOKEN, or run `authbridge exchange`.',
    });
  }
  const url = profile.broker?.url ?? session?.broker?.url;
  if (!url) throw new UsageError(`no broker configured for profile "${profile.name}"`, { hint: 'Give --broker-url or set AUTHBRIDGE_BROKER_URL.' });
  // The broker introspects only for confidential clients (its answer to a public one is always
  // `active: false`): saying so beats printing "inactive" for a live session.
  const settings = profile.broker?.url === url ? profile.broker : undefined;
  if (settings?.clientId && !settings.clientSecret) {
    throw new UsageError('could not introspect at the broker: it answers introspection only to confidential clients, and this profile\'s broker client has no secret', {
      hint: 'Give --broker-client-secret for a confidential broker client, or run `authbridge status --check`, which asks the broker\'s /userinfo.',
    });
  }
  return (await openBroker(input, url, profile)).introspect(token);
}
