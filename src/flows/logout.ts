/**
 * `logout`: the profile's tokens leave the cache first, always; then the IdP is asked to revoke
 * them (RFC 7009, refresh token first: revoking it ends the grant at most IdPs), and the broker
 * session is ended (RFC 7009 at the broker). Remote failures are warnings.
 */
import { accountName } from '../cache/accounts.js';
import type { TokenCache } from '../cache/token-cache.js';
import type { CachedSession } from '../cache/types.js';
import type { Profile } from '../config/types.js';
import { UsageError, describeError, oauthErrorOf } from '../errors.js';
import { openBroker, openIdp, sameBroker, sameClient, type FlowIo } from './session.js';

/** One profile's outcome, exactly as `logout --json` prints it. */
export interface LogoutDocument {
  profile: string;
  removed: boolean;
  revoked: { idp: boolean; broker: boolean };
  /** The accounts signed out (email, else subject): the active one, or every one with `allAccounts`. */
  signed_out: string[];
  /** The stashed account that became active (the most recently used one), or null. */
  now_active: string | null;
  warnings: string[];
}

export interface LogoutInput extends FlowIo {
  cache: TokenCache;
  names: string[];
  /** `--local`: remove from the cache only. */
  local: boolean;
  /** Sign out of every account of each profile, not only the active one. */
  allAccounts?: boolean;
  /** A profile's settings, for a confidential client's secret. */
  loadProfile: (name: string) => Promise<Profile | undefined>;
}

async function revokeAtIdp(input: LogoutInput, session: CachedSession, warnings: string[]): Promise<boolean> {
  const tokens = [
    ['refresh_token', session.refresh_token],
    ['access_token', session.access_token],
  ].filter((t): t is ['refresh_token' | 'access_token', string] => typeof t[1] === 'string');
  if (tokens.length === 0) return false;
  let idp;
  try {
    const profile = await input.loadProfile(session.profile).catch(() => undefined);
    idp = await openIdp(input, {
      issuer: session.issuer,
      clientId: session.client_id,
      ...sameClient(profile, session.client_id),
    });
  } catch (err) {
    warnings.push(`the tokens were not revoked at ${session.issuer}: ${describeError(err)}`);
    return false;
  }
  if (!idp.metadata.revocation_endpoint) {
    warnings.push(`not revoked: ${session.issuer} has no revocation endpoint (the tokens left this machine and run out at their expiry)`);
    return false;
  }
  let all = true;
  let grantEnded = false;
  for (const [hint, token] of tokens) {
    try {
      // A public client may revoke with the session's access token where the IdP lists `bearer`.
      await idp.revoke(token, hint, { bearer: session.access_token });
      if (hint === 'refresh_token') grantEnded = true;
    } catch (err) {
      if (err instanceof UsageError) {
        // The IdP refuses public clients at revocation: the same for every token, said once.
        warnings.push(`not revoked: ${err.message.replace(/^could not [^:]*: /, '')} (the tokens left this machine and run out at their expiry)`);
        return false;
      }
      // RFC 7009 §2.2.1: an IdP may refuse to revoke self-contained (JWT) access tokens. With the
      // refresh token revoked the grant is over; the JWT simply runs out at its `exp`.
      if (hint === 'access_token' && grantEnded && oauthErrorOf(err) === 'unsupported_token_type') {
        input.trace?.(`the IdP does not revoke its JWT access tokens (${describeError(err)}); the grant was ended with the refresh token`);
        continue;
      }
      all = false;
      warnings.push(`not revoked: ${describeError(err)}`);
    }
  }
  return all;
}

async function endBrokerSession(input: LogoutInput, session: CachedSession, warnings: string[]): Promise<boolean> {
  const broker = session.broker;
  if (!broker) return false;
  let profile: Profile | undefined;
  try {
    profile = await input.loadProfile(session.profile).catch(() => undefined);
    const client = await openBroker(input, broker.url, profile, broker.client_id);
    await client.revoke(broker.access_token);
    return true;
  } catch (err) {
    // A confidential client's secret is never cached: the session was made with --broker-* flags.
    const flags = oauthErrorOf(err) === 'invalid_client' || (err instanceof UsageError && !sameBroker(profile?.broker?.url, broker.url))
      ? ` (give logout the --broker-url, --broker-client-id and --broker-client-secret the session was made with)`
      : '';
    warnings.push(`the broker session at ${broker.url} was not ended: ${describeError(err)}${flags}`);
    return false;
  }
}

/**
 * Signs out of each named profile: its active account, after which the most recently used
 * stashed account becomes active (as gh does); with `allAccounts`, of every account. Never throws
 * for remote failures: they become warnings.
 */
export async function logoutFlow(input: LogoutInput): Promise<LogoutDocument[]> {
  const out: LogoutDocument[] = [];
  for (const name of input.names) {
    let removed: CachedSession[] = [];
    const left = await input.cache.modify(name, (current) => {
      if (!current) return undefined;
      if (input.allAccounts) {
        removed = [current.active, ...current.stashed];
        return undefined;
      }
      removed = [current.active];
      const [next, ...rest] = current.stashed;
      return next ? { active: next, stashed: rest } : undefined;
    });
    const warnings: string[] = [];
    let idp = removed.length > 0 && !input.local;
    let broker = removed.some((s) => s.broker) && !input.local;
    for (const session of removed) {
      if (input.local) break;
      idp = (await revokeAtIdp(input, session, warnings)) && idp;
      if (session.broker) broker = (await endBrokerSession(input, session, warnings)) && broker;
    }
    out.push({
      profile: name,
      removed: removed.length > 0,
      revoked: { idp, broker },
      signed_out: removed.map(accountName),
      now_active: left ? accountName(left.active) : null,
      warnings,
    });
  }
  return out;
}
