/**
 * The accounts of a profile (src/cache/accounts.ts): whatever sequence of logins, sign-outs and
 * switches, one entry per account, the latest tokens kept, the active one what was last chosen.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { accountsNamed, activate, replaceActive, sameAccount, type ProfileAccounts } from '../../src/cache/accounts.js';
import type { CachedSession } from '../../src/cache/types.js';

function session(subject: string, n: number, issuer = 'https://idp.test'): CachedSession {
  return { version: 1, profile: 'p', issuer, client_id: 'cli', scopes: [], obtained_at: n, subject, email: `${subject}@example.test`, access_token: `at-${subject}-${n}` };
}

type Step = { kind: 'login'; subject: string } | { kind: 'logout' } | { kind: 'switch'; index: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant('login' as const), subject: fc.constantFrom('alice', 'bob', 'carol', 'dave') }),
  fc.record({ kind: fc.constant('logout' as const) }),
  fc.record({ kind: fc.constant('switch' as const), index: fc.nat(5) }),
);

describe('accounts', () => {
  it('any sequence of logins, sign-outs and switches: no account twice, the newest tokens kept, the chosen one active', () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 30 }), (steps) => {
        let accounts: ProfileAccounts | undefined;
        const latest = new Map<string, string>();
        steps.forEach((s, n) => {
          if (s.kind === 'login') {
            const next = session(s.subject, n);
            accounts = replaceActive(accounts, next);
            latest.set(s.subject, next.access_token!);
            expect(accounts!.active).toBe(next);
          } else if (s.kind === 'logout') {
            const gone = accounts?.active.subject;
            const promoted = accounts?.stashed[0];
            accounts = replaceActive(accounts, undefined);
            if (gone) latest.delete(gone);
            expect(accounts?.active).toBe(promoted);
          } else if (accounts && accounts.stashed.length > 0) {
            const chosen = accounts.stashed[s.index % accounts.stashed.length]!;
            const before = accounts.active;
            accounts = activate(accounts, chosen);
            expect(accounts.active).toBe(chosen);
            expect(accounts.stashed[0]).toBe(before);
          }
          const all = accounts ? [accounts.active, ...accounts.stashed] : [];
          expect(new Set(all.map((a) => a.subject)).size).toBe(all.length);
          expect(new Map(all.map((a) => [a.subject!, a.access_token!]))).toEqual(latest);
        });
      }),
    );
  });

  it('the same subject at another issuer is another account; a session without a subject is its issuer\'s', () => {
    expect(sameAccount(session('alice', 1), session('alice', 2, 'https://other.test'))).toBe(false);
    const anonymous = { ...session('x', 1), subject: undefined };
    expect(sameAccount(anonymous, session('alice', 2))).toBe(true);
  });

  it('names an account by exact email or subject first, else by prefix', () => {
    const all = [session('bob', 1), session('bobby', 2), session('alice', 3)];
    expect(accountsNamed(all, 'bob').map((a) => a.subject)).toEqual(['bob']);
    expect(accountsNamed(all, 'bo').map((a) => a.subject)).toEqual(['bob', 'bobby']);
    expect(accountsNamed(all, 'alice@').map((a) => a.subject)).toEqual(['alice']);
    expect(accountsNamed(all, 'carol')).toEqual([]);
  });
});
