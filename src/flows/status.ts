/**
 * `status`: what the cache says about each profile (offline), and with `--check` what the IdP
 * says (userinfo, else introspection of the refresh token).
 */
import type { StoredIn, TokenCache } from '../cache/token-cache.js';
import type { CachedSession } from '../cache/types.js';
import type { Profile } from '../config/types.js';
import { AuthorizationRefusedError, UsageError } from '../errors.js';
import { isoTime } from '../util/time.js';
import { accountDocument, type AccountDocument } from './switch.js';
import { isSignedIn, openBroker, openIdp, sameBroker, sameClient, tokenLive, type FlowIo } from './session.js';

/** The result of asking the IdP (`--check`). `live` is null when the IdP offers no way to ask. */
export interface IdpCheck {
  live: boolean | null;
  method: 'userinfo' | 'introspection' | null;
  detail: string;
}

/**
 * The result of asking the broker (`--check`): RFC 7662 introspection of the broker token for a
 * confidential broker client, its `/userinfo` for a public one (the broker introspects only for
 * confidential clients).
 */
export interface BrokerCheck {
  live: boolean;
  detail: string;
}

/** One profile, exactly as `status --json` prints it (plus `check` under `--check`). */
export interface StatusDocument {
  profile: string;
  signed_in: boolean;
  issuer: string | null;
  subject: string | null;
  email: string | null;
  access_token_expires_at: string | null;
  id_token_expires_at: string | null;
  refreshable: boolean;
  scopes: string[];
  broker: null | { signed_in: boolean; issuer: string; subject: string; expires_at: string };
  /** Present for a machine session only: `client_credentials`, with the client it is signed in as. */
  grant?: 'client_credentials';
  client_id?: string;
  /** Where the tokens are: the OS keychain or the cache file; null when signed out. */
  storage: StoredIn | null;
  /** Every account signed in to the profile, the active one first (`active: true`). */
  accounts: AccountDocument[];
  check?: { idp?: IdpCheck; broker?: BrokerCheck };
}

export interface ProfileStatus {
  document: StatusDocument;
  /** The cached entry (for the human view's times); never printed as such. */
  session?: CachedSession;
  /** The profile's other accounts, most recently active first. */
  stashed: CachedSession[];
  /** A refresh was refused (`invalid_grant`): "session expired, run `authbridge login`". */
  expired: boolean;
}

export interface StatusInput extends FlowIo {
  cache: TokenCache;
  /** The profiles to report, in order. */
  names: string[];
  /** Ask the IdP whether each session is still live. */
  check: boolean;
  /** Resolves a profile's settings (for a confidential client's secret under `--check`). */
  loadProfile: (name: string) => Promise<Profile | undefined>;
}

/**
 * The status document of one profile from its cache entry, at `now` (ms); `accounts` lists the
 * stashed ones after it, `storage` says where they are (null: not known to the caller).
 */
export function statusDocument(name: string, session: CachedSession | undefined, now: number, stashed: CachedSession[] = [], storage: StoredIn | null = null): StatusDocument {
  const iso = (ms: number | undefined) => (ms === undefined ? null : isoTime(ms));
  const broker = session?.broker;
  return {
    profile: name,
    signed_in: isSignedIn(session, now),
    issuer: session?.issuer ?? null,
    subject: session?.subject ?? null,
    email: session?.email ?? null,
    access_token_expires_at: session?.access_token ? iso(session.access_token_expires_at) : null,
    id_token_expires_at: session?.id_token ? iso(session.id_token_expires_at) : null,
    refreshable: Boolean(session?.refresh_token && !session.expired),
    scopes: session?.scopes ?? [],
    broker: broker
      ? { signed_in: broker.expires_at > now, issuer: broker.issuer, subject: broker.subject, expires_at: isoTime(broker.expires_at) }
      : null,
    ...(session?.grant === 'client_credentials' ? { grant: session.grant, client_id: session.client_id } : {}),
    storage: session ? storage : null,
    accounts: session ? [accountDocument(session, true), ...stashed.map((s) => accountDocument(s, false))] : [],
  };
}

async function checkAtIdp(input: StatusInput, session: CachedSession): Promise<IdpCheck> {
  const profile = await input.loadProfile(session.profile).catch(() => undefined);
  const credentials = sameClient(profile, session.client_id);
  if (session.grant === 'client_credentials' && !credentials.clientSecret && !credentials.clientKey) {
    return { live: null, method: null, detail: `no client secret or key of client ${session.client_id} here to ask the IdP with` };
  }
  const idp = await openIdp(input, {
    issuer: session.issuer,
    clientId: session.client_id,
    ...credentials,
  });
  if (session.grant === 'client_credentials') {
    // A machine token has no user: userinfo cannot tell; introspection of the token itself can.
    if (!session.access_token || !idp.metadata.introspection_endpoint) {
      return { live: null, method: null, detail: 'no introspection endpoint to ask about the client credentials token' };
    }
    let result;
    try {
      result = await idp.introspect(session.access_token, 'access_token');
    } catch (err) {
      // Without the client's secret or key here, the IdP will not answer: it cannot tell, not an error.
      if (!(err instanceof UsageError)) throw err;
      return { live: null, method: null, detail: err.message.replace(/^could not [^:]*: /, '') };
    }
    return { live: result.active, method: 'introspection', detail: `the IdP says the client credentials token is ${result.active ? 'active' : 'not active'}` };
  }
  let refusal: string | undefined;
  if (session.access_token && tokenLive(session.access_token_expires_at, input.ctx.now()) && idp.metadata.userinfo_endpoint) {
    try {
      await idp.userinfo(session.access_token, session.subject);
      return { live: true, method: 'userinfo', detail: 'the userinfo endpoint accepted the access token' };
    } catch (err) {
      if (!(err instanceof AuthorizationRefusedError)) throw err;
      // An access token minted for another resource is refused here; the refresh token can still tell.
      refusal = err.message;
    }
  }
  if (session.refresh_token && idp.metadata.introspection_endpoint) {
    let result;
    try {
      // A public client introspects with its access token where the IdP lists `bearer`.
      result = await idp.introspect(session.refresh_token, 'refresh_token', { bearer: session.access_token });
    } catch (err) {
      // The IdP introspects for confidential clients only: it cannot tell, which is not an error.
      if (!(err instanceof UsageError)) throw err;
      if (refusal) return { live: false, method: 'userinfo', detail: refusal };
      return { live: null, method: null, detail: err.message.replace(/^could not [^:]*: /, '') };
    }
    return {
      live: result.active,
      method: 'introspection',
      detail: result.active ? 'the IdP says the refresh token is active' : 'the IdP says the refresh token is not active',
    };
  }
  if (refusal) return { live: false, method: 'userinfo', detail: refusal };
  return { live: null, method: null, detail: 'no unexpired access token for userinfo and no refresh token to introspect' };
}

/** Whether `openBroker` will connect to the broker at `url` with a client secret (as for introspection). */
function brokerClientIsConfidential(profile: Profile | undefined, url: string): boolean {
  return sameBroker(profile?.broker?.url, url) && Boolean(profile!.broker!.clientSecret);
}

async function checkAtBroker(input: StatusInput, session: CachedSession): Promise<BrokerCheck> {
  const broker = session.broker!;
  const profile = await input.loadProfile(session.profile).catch(() => undefined);
  const client = await openBroker(input, broker.url, profile, broker.client_id);
  if (!brokerClientIsConfidential(profile, broker.url)) {
    try {
      await client.userinfo(broker.access_token, broker.subject);
      return { live: true, detail: "the broker's userinfo accepted the broker token" };
    } catch (err) {
      // 401: the session was ended or the token expired.
      if (!(err instanceof AuthorizationRefusedError)) throw err;
      return { live: false, detail: "the broker's userinfo refused the broker token: the session has ended" };
    }
  }
  const result = await client.introspect(broker.access_token);
  return {
    live: result.active,
    detail: result.active ? 'the broker says the session is active' : 'the broker says the session has ended',
  };
}

/**
 * The status of each named profile. Offline unless `check`.
 * @throws RemoteError (3) under `check` when the IdP cannot be reached.
 */
export async function statusFlow(input: StatusInput): Promise<ProfileStatus[]> {
  const out: ProfileStatus[] = [];
  for (const name of input.names) {
    const stored = await input.cache.accounts(name);
    const session = stored?.active;
    const document = statusDocument(name, session, input.ctx.now(), stored?.stashed, stored?.storedIn);
    if (input.check && session && !session.expired && (session.access_token || session.refresh_token)) {
      const idp = await checkAtIdp(input, session);
      document.check = { idp };
      if (idp.live === false) document.signed_in = false;
    }
    if (input.check && session?.broker && document.broker) {
      const broker = await checkAtBroker(input, session);
      document.check = { ...document.check, broker };
      if (!broker.live) document.broker.signed_in = false;
    }
    out.push({ document, session, stashed: stored?.stashed ?? [], expired: Boolean(session?.expired) });
  }
  return out;
}
