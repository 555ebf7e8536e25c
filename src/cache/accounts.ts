/**
 * Several accounts per profile: the active one is the profile's entry as every flow reads it;
 * the others signed in to the same profile are stashed beside it, most recently active first.
 * Pure functions over {@link ProfileAccounts}; the cache stores and locks them.
 */
import type { CachedSession } from './types.js';

/** A profile's accounts: the active session and the stashed ones, most recently active first. */
export interface ProfileAccounts {
  active: CachedSession;
  stashed: CachedSession[];
}

/**
 * Whether two sessions are the same account: the same issuer and subject. A session without a
 * subject (no ID token) cannot be told apart, and counts as the same as any of its issuer.
 */
export function sameAccount(a: CachedSession, b: CachedSession): boolean {
  if (a.issuer !== b.issuer) return false;
  return !a.subject || !b.subject || a.subject === b.subject;
}

/**
 * The accounts after the active session became `next` (the cache's `update`): the same account
 * is replaced; another one becomes active and the previous one is stashed (a stashed copy of
 * `next` is dropped: its new tokens replace it); undefined (signed out) makes the most recently
 * active stashed account active, as gh's `auth logout` does.
 */
export function replaceActive(current: ProfileAccounts | undefined, next: CachedSession | undefined): ProfileAccounts | undefined {
  if (!current) return next ? { active: next, stashed: [] } : undefined;
  if (!next) {
    const [first, ...rest] = current.stashed;
    return first ? { active: first, stashed: rest } : undefined;
  }
  if (sameAccount(current.active, next)) return { active: next, stashed: current.stashed };
  return { active: next, stashed: [current.active, ...current.stashed.filter((s) => !sameAccount(s, next))] };
}

/** The accounts with the stashed `chosen` active and the active one stashed first. */
export function activate(current: ProfileAccounts, chosen: CachedSession): ProfileAccounts {
  return { active: chosen, stashed: [current.active, ...current.stashed.filter((s) => s !== chosen)] };
}

/** How an account is named to the user and on `switch`'s command line: its email, else its subject. */
export function accountName(session: CachedSession): string {
  return session.email ?? session.subject ?? `(no subject) at ${session.issuer}`;
}

/** Whether `query` names `session` exactly (email or subject). */
function namesExactly(session: CachedSession, query: string): boolean {
  return session.email === query || session.subject === query;
}

/**
 * The accounts `query` names: those whose email or subject is exactly `query`, else those where
 * one of them begins with it (a unique prefix is enough).
 */
export function accountsNamed(accounts: readonly CachedSession[], query: string): CachedSession[] {
  const exact = accounts.filter((s) => namesExactly(s, query));
  if (exact.length > 0) return exact;
  return accounts.filter((s) => Boolean(s.email?.startsWith(query) || s.subject?.startsWith(query)));
}
