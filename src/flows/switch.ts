/**
 * `switch`: makes another account signed in to the profile the active one (gh's `auth switch`).
 * Nothing is asked of the IdP: the stashed account's tokens become the profile's entry as they
 * are (`token` refreshes them if they have run out).
 */
import { accountName, accountsNamed, activate } from '../cache/accounts.js';
import type { TokenCache } from '../cache/token-cache.js';
import type { CachedSession } from '../cache/types.js';
import { NotSignedInError, UsageError } from '../errors.js';
import { safeText } from '../util/safe-text.js';
import { didYouMean } from '../util/suggest.js';

export interface SwitchInput {
  cache: TokenCache;
  profile: string;
  /** The email or subject of the account to make active (a unique prefix is enough); none: the other of two. */
  account?: string;
}

/** One account as `switch --json` and `status --json` (`accounts`) print it. */
export interface AccountDocument {
  account: string;
  issuer: string;
  subject: string | null;
  email: string | null;
  active: boolean;
}

/** What `switch --json` prints. */
export interface SwitchResult {
  profile: string;
  /** The account now active. */
  active: AccountDocument;
  /** The account that was active (the same as `active` when it already was). */
  previous: AccountDocument;
  /** False when the account named was already the active one. */
  switched: boolean;
}

/** The document of one account. */
export function accountDocument(session: CachedSession, active: boolean): AccountDocument {
  return { account: accountName(session), issuer: session.issuer, subject: session.subject ?? null, email: session.email ?? null, active };
}

function listed(accounts: readonly CachedSession[]): string {
  return accounts.map((s) => safeText(accountName(s))).join(', ');
}

/** The account `query` names among `all`. @throws UsageError naming the accounts when none or several match. */
function chooseNamed(profile: string, all: CachedSession[], query: string): CachedSession {
  const matches = accountsNamed(all, query);
  if (matches.length === 1) return matches[0]!;
  if (matches.length === 0) {
    const names = all.flatMap((s) => [s.email, s.subject]).filter((n): n is string => Boolean(n));
    throw new UsageError(`no account "${safeText(query)}" is signed in to profile '${profile}' (accounts: ${listed(all)})`, {
      hint: didYouMean(query, names, (n) => `'${safeText(n)}'`) ?? `To sign in as another account: authbridge login --profile ${profile} --prompt select_account`,
    });
  }
  throw new UsageError(`"${safeText(query)}" names several accounts of profile '${profile}': ${listed(matches)}`, { hint: 'Give more of the email or subject.' });
}

/**
 * Makes the account `input.account` names active; without a name, the other one of exactly two.
 * @throws NotSignedInError (exit 4) when the profile has no account;
 *   UsageError (exit 2) for an unknown or ambiguous name, a single account, or several to choose from
 *   without a name (the message lists them).
 */
export async function switchFlow(input: SwitchInput): Promise<SwitchResult> {
  const { cache, profile } = input;
  let result: SwitchResult | undefined;
  await cache.modify(profile, (current) => {
    if (!current) throw new NotSignedInError(`profile '${profile}' has no signed-in account to switch to`, { hint: `Run \`authbridge login${profile === 'default' ? '' : ` --profile ${profile}`}\`.` });
    const all = [current.active, ...current.stashed];
    let chosen: CachedSession;
    if (input.account !== undefined) {
      chosen = chooseNamed(profile, all, input.account);
    } else if (current.stashed.length === 1) {
      chosen = current.stashed[0]!;
    } else if (current.stashed.length === 0) {
      throw new UsageError(`only one account (${safeText(accountName(current.active))}) is signed in to profile '${profile}': nothing to switch to`, {
        hint: `To sign in as another account too: authbridge login${profile === 'default' ? '' : ` --profile ${profile}`} --prompt select_account`,
      });
    } else {
      throw new UsageError(`profile '${profile}' has ${all.length} accounts; name the one to switch to: ${listed(all)}`, {
        hint: `For example: authbridge switch${profile === 'default' ? '' : ` --profile ${profile}`} ${safeText(accountName(current.stashed[0]!))}`,
      });
    }
    const switched = chosen !== current.active;
    result = { profile, active: accountDocument(chosen, true), previous: accountDocument(current.active, !switched), switched };
    return switched ? activate(current, chosen) : current;
  });
  return result!;
}
