/**
 * Refresh token rotation: oidc-provider with `rotateRefreshToken: true` (every refresh spends the
 * refresh token and issues a new one; presenting a spent one is reuse, and it revokes the whole
 * grant). Parallel `token` calls after expiry never spend one twice, a token another process
 * rotated meanwhile is picked up with one retry, and a refresh racing a logout leaves no entry
 * and no live refresh token.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenCache } from '../../src/cache/token-cache.js';
import { OAuthRefusedError } from '../../src/errors.js';
import { logoutFlow } from '../../src/flows/logout.js';
import { refreshFlow } from '../../src/flows/refresh.js';
import { tokenFlow } from '../../src/flows/token.js';
import { activeAtIdp, editEntry, idpProfile, liveContext, signIn, spyConnectors, tempCache } from '../helpers/flows.js';
import { startIdp, type Idp } from '../helpers/idp.js';

let idp: Idp;
beforeAll(async () => {
  idp = await startIdp({ rotateRefreshToken: true });
});
afterAll(async () => {
  await idp?.close();
});

const refreshGrants = (from: number) => idp.grants.slice(from).filter((g) => g.grantType === 'refresh_token');
const expire = (cache: TokenCache) =>
  editEntry(cache, 'default', (e) => {
    e.access_token_expires_at = Date.now() - 1000;
  });

describe('a rotating IdP', () => {
  it('12 parallel `token` calls after each of two expiries: one refresh grant each, all succeed, the grant stays alive', async () => {
    const { cache, dir, read } = tempCache();
    const profile = idpProfile(idp);
    await signIn({ idp, cache, profile });
    for (let round = 0; round < 2; round += 1) {
      const spent = read().refresh_token!;
      await expire(cache);
      const start = idp.grants.length;
      // Separate TokenCache instances on one directory: as separate processes share it.
      const results = await Promise.all(Array.from({ length: 12 }, () => tokenFlow({ ctx: liveContext(), profile, cache: new TokenCache(dir), type: 'access' })));
      expect(refreshGrants(start)).toEqual([{ grantType: 'refresh_token', clientId: 'cli', status: 200, error: undefined }]);
      expect(new Set(results.map((r) => r.token))).toEqual(new Set([read().access_token]));
      // Rotated: a new refresh token is stored, the old one spent.
      expect(read().refresh_token).not.toBe(spent);
      expect(await activeAtIdp(idp, spent)).toBe(false);
      expect(await activeAtIdp(idp, read().refresh_token!)).toBe(true);
    }
    // No reuse was detected: the grant still refreshes.
    const again = await refreshFlow({ ctx: liveContext(), profile, cache });
    expect(again.expired).toBeUndefined();
    expect(await activeAtIdp(idp, again.refresh_token!)).toBe(true);
  });

  it.each([
    ['its fresh access token is used as it is', true],
    ['its refresh token is used once more', false],
  ])('invalid_grant while another process rotated the token: the stored entry is read again, %s', async (_what, otherIsFresh) => {
    const { cache, dir, read } = tempCache();
    const profile = idpProfile(idp);
    await signIn({ idp, cache, profile });
    await expire(cache);
    const first = read().refresh_token!;
    let rotated: ReturnType<typeof read> | undefined;
    // The first refresh finds the cache rewritten by "another process" (its refresh made with the
    // same token, outside our lock) and, as an IdP would, refuses the spent token.
    const sent: string[] = [];
    const spy = spyConnectors({
      override: {
        'idp.refresh': async (real, token: string) => {
          sent.push(token);
          if (sent.length === 1) {
            const other = tempCache();
            await other.cache.update('default', () => read());
            await refreshFlow({ ctx: liveContext(), profile, cache: other.cache });
            rotated = other.read();
            if (!otherIsFresh) rotated.access_token_expires_at = Date.now() - 1000;
            // Written as that process would, without our lock (a lock taken over as stale).
            writeFileSync(join(dir, 'default.json'), JSON.stringify(rotated), { mode: 0o600 });
            throw new OAuthRefusedError('could not refresh the session: invalid_grant (grant request is invalid)', 'invalid_grant');
          }
          return real(token);
        },
      },
    });
    const result = await tokenFlow({ ctx: liveContext(), profile, cache, type: 'access', connect: spy.connect });
    expect(sent).toEqual(otherIsFresh ? [first] : [first, rotated!.refresh_token]);
    const stored = read();
    expect(stored.expired).toBeUndefined();
    expect(result.token).toBe(stored.access_token);
    if (otherIsFresh) expect(stored.access_token).toBe(rotated!.access_token);
    expect(await activeAtIdp(idp, stored.refresh_token!)).toBe(true);
  });

  it('invalid_grant with the stored token unchanged: no retry, the entry marked expired (exit 4)', async () => {
    const { cache, read } = tempCache();
    const profile = idpProfile(idp);
    await signIn({ idp, cache, profile });
    await expire(cache);
    const spy = spyConnectors({ override: { 'idp.refresh': new OAuthRefusedError('could not refresh the session: invalid_grant', 'invalid_grant') } });
    const err = await tokenFlow({ ctx: liveContext(), profile, cache, type: 'access', connect: spy.connect }).catch((e: unknown) => e);
    expect(err).toMatchObject({ exitCode: 4 });
    expect(spy.count('idp.refresh')).toBe(1);
    expect(read().expired).toBe(true);
  });

  it('a refresh racing a logout: no entry left and no live refresh token, whichever takes the lock first', async () => {
    for (const logoutFirst of [false, true]) {
      const { cache, exists } = tempCache();
      const profile = idpProfile(idp);
      const session = await signIn({ idp, cache, profile });
      await expire(cache);
      let logout: Promise<unknown> | undefined;
      const logoutNow = () => logoutFlow({ ctx: liveContext(), cache, names: ['default'], local: false, loadProfile: async () => profile });
      if (logoutFirst) logout = logoutNow();
      let issued: string | undefined;
      const spy = spyConnectors({
        override: {
          // The logout starts while the refresh holds the lock and is at the IdP.
          'idp.refresh': async (real, token: string) => {
            logout ??= logoutNow();
            const tokens = (await real(token)) as { refresh_token?: string };
            issued = tokens.refresh_token;
            return tokens;
          },
        },
      });
      const refreshed = await tokenFlow({ ctx: liveContext(), profile, cache, type: 'access', connect: spy.connect }).catch((e: unknown) => e);
      await logout;
      expect(exists()).toBe(false);
      expect(await activeAtIdp(idp, session.refresh_token!)).toBe(false);
      if (logoutFirst) {
        expect(refreshed).toMatchObject({ exitCode: 4 });
      } else {
        expect(issued).toBeDefined();
        expect(await activeAtIdp(idp, issued!)).toBe(false);
      }
    }
  });
});
