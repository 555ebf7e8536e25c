/**
 * `tokenFlow` in process: a fresh cached token is handed out without a word to the IdP, an
 * expiring one is refreshed (once, whatever the number of callers), a refused refresh means
 * "not signed in", and `--type broker` re-exchanges with the in-process broker.
 */
import type { RunningBroker } from '../../src/broker/server.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Profile } from '../../src/config/types.js';
import { NotSignedInError, RemoteError, type AuthbridgeError } from '../../src/errors.js';
import { REFRESH_MARGIN_MS } from '../../src/flows/session.js';
import { tokenFlow, type TokenType } from '../../src/flows/token.js';
import { refreshFlow } from '../../src/flows/refresh.js';
import {
  activeAtBroker,
  brokerProfile,
  editEntry,
  exchangeIn,
  idpProfile,
  liveContext,
  requestsFrom,
  signIn,
  spyConnectors,
  startTestBroker,
  tempCache,
  uniqueUser,
  type SpyOptions,
} from '../helpers/flows.js';
import { API_RESOURCE, startIdp, type Idp } from '../helpers/idp.js';

let idp: Idp;
let broker: RunningBroker;
beforeAll(async () => {
  // JWT access tokens for the broker's API: the broker accepts them as subject tokens.
  idp = await startIdp({ defaultResource: API_RESOURCE });
  broker = await startTestBroker(idp);
});
afterAll(async () => {
  await broker?.close();
  await idp?.close();
});

async function failure(promise: Promise<unknown>): Promise<AuthbridgeError> {
  return promise.then(
    () => expect.fail('the token was handed out'),
    (err: unknown) => err as AuthbridgeError,
  );
}

/** A cache of its own, signed in, and `token` through spying connectors. */
async function signedIn(profile: Profile = idpProfile(idp), login = 'alice') {
  const cached = tempCache();
  const session = await signIn({ idp, cache: cached.cache, profile, login });
  const token = (type: TokenType, spyOptions?: SpyOptions) => {
    const spy = spyConnectors(spyOptions);
    return { spy, run: () => tokenFlow({ ctx: liveContext(), profile, cache: cached.cache, type, connect: spy.connect }) };
  };
  return { cached, session, token, profile };
}

describe('token', () => {
  it.each([
    ['access', 'access_token', 'access_token_expires_at'],
    ['id', 'id_token', 'id_token_expires_at'],
    ['refresh', 'refresh_token', undefined],
  ] as const)('--type %s with a fresh cache: the cached token, and the IdP never contacted', async (type, key, expiry) => {
    const { cached, session, token } = await signedIn();
    const before = cached.text();
    const seen = requestsFrom(idp);
    const { spy, run } = token(type);
    const result = await run();
    expect(result).toEqual({ token: session[key], refreshed: false, ...(expiry ? { expiresAt: session[expiry] } : {}) });
    expect(spy.calls).toEqual([]);
    expect(seen()).toEqual([]);
    expect(cached.text()).toBe(before);
  });

  it.each([
    ['access', 'an access token that has expired', -1000],
    ['access', `an access token expiring within ${REFRESH_MARGIN_MS / 1000} s`, REFRESH_MARGIN_MS - 5000],
    ['id', 'an ID token that has expired', -1000],
  ] as const)('--type %s with %s: one refresh, and the new token is cached and handed out', async (type, _name, left) => {
    const { cached, session, token } = await signedIn();
    const key = type === 'access' ? 'access_token' : 'id_token';
    await editEntry(cached.cache, 'default', (e) => {
      if (type === 'access') e.access_token_expires_at = Date.now() + left;
      else e.id_token_expires_at = Date.now() + left;
    });
    const { spy, run } = token(type);
    const result = await run();
    const after = cached.read();
    expect(result).toMatchObject({ token: after[key], refreshed: true });
    expect(result.expiresAt).toBeGreaterThan(Date.now() + REFRESH_MARGIN_MS);
    expect(spy.count('idp.refresh')).toBe(1);
    expect(after.refresh_token).not.toBe(session.refresh_token);
    if (type === 'access') expect(after.access_token).not.toBe(session.access_token);
  });

  it('no refresh token, an access token in its last seconds: that token (status calls it signed in, so token hands it out)', async () => {
    const { cached, token } = await signedIn();
    await editEntry(cached.cache, 'default', (e) => {
      e.access_token_expires_at = Date.now() + REFRESH_MARGIN_MS - 5000;
      delete e.refresh_token;
    });
    const { spy, run } = token('access');
    const result = await run();
    expect(result).toMatchObject({ token: cached.read().access_token, refreshed: false });
    expect(spy.calls).toEqual([]);
  });

  it('parallel callers with an expired access token: one refresh grant under the lock, every caller gets its token', async () => {
    const { cached, session, profile } = await signedIn();
    await editEntry(cached.cache, 'default', (e) => (e.access_token_expires_at = Date.now() - 1000));
    const spy = spyConnectors();
    const seen = requestsFrom(idp);
    // oidc-provider rotates a public client's refresh token: a second grant with it would be refused.
    const results = await Promise.all(
      [1, 2, 3, 4].map(() => tokenFlow({ ctx: liveContext(), profile, cache: cached.cache, type: 'access', connect: spy.connect })),
    );
    const after = cached.read();
    expect(new Set(results.map((r) => r.token))).toEqual(new Set([after.access_token]));
    expect(after.access_token).not.toBe(session.access_token);
    expect(spy.count('idp.refresh')).toBe(1);
    expect(seen().filter((r) => r === 'POST /token')).toHaveLength(1);
    expect(after.expired).toBeUndefined();
    // The refresh token in the cache is the live one.
    await expect(refreshFlow({ ctx: liveContext(), profile, cache: cached.cache })).resolves.toMatchObject({ subject: 'alice' });
  });

  it('a refresh token the IdP refuses: NotSignedInError "the session expired", the entry marked expired, and no second try', async () => {
    const { cached, token } = await signedIn();
    await editEntry(cached.cache, 'default', (e) => {
      e.access_token_expires_at = Date.now() - 1000;
      e.id_token_expires_at = Date.now() - 1000;
      e.refresh_token = 'revoked-or-unknown';
    });
    const err = await failure(token('access').run());
    expect(err).toBeInstanceOf(NotSignedInError);
    expect(err.exitClass).toBe('not_signed_in');
    expect(err.message).toMatch(/^could not get the access token of profile "default": the session expired \(the IdP refused the refresh token: invalid_grant/);
    expect(err.hint).toBe('Run `authbridge login`.');
    expect(cached.read().expired).toBe(true);

    const again = token('access');
    const second = await failure(again.run());
    expect(second.message).toBe('could not get the access token of profile "default": the session expired');
    expect(again.spy.calls).toEqual([]);
  });

  it('the IdP down while a refresh is due: RemoteError, and the entry exactly as it was', async () => {
    const { cached, token } = await signedIn();
    await editEntry(cached.cache, 'default', (e) => (e.access_token_expires_at = Date.now() - 1000));
    const before = cached.text();
    const outage = new RemoteError('could not fetch the discovery document from http://127.0.0.1:9/.well-known/openid-configuration: connect ECONNREFUSED');
    const err = await failure(token('access', { override: { 'idp.connect': outage } }).run());
    expect(err).toBe(outage);
    expect(cached.text()).toBe(before);
  });

  describe('not signed in', () => {
    type Spoil = (cache: ReturnType<typeof tempCache>) => Promise<unknown>;
    const expireAccess: Spoil = (c) => editEntry(c.cache, 'default', (e) => (e.access_token_expires_at = Date.now() - 1000));
    const cases: Array<[string, TokenType, Spoil | null, string, string?]> = [
      ['nothing cached', 'access', null, 'not signed in'],
      ['nothing cached', 'broker', null, 'not signed in'],
      ['a session marked expired', 'access', (c) => editEntry(c.cache, 'default', (e) => (e.expired = true)), 'the session expired'],
      ['a session marked expired', 'refresh', (c) => editEntry(c.cache, 'default', (e) => (e.expired = true)), 'the session expired'],
      [
        'an expired access token and no refresh token',
        'access',
        async (c) => {
          await expireAccess(c);
          await editEntry(c.cache, 'default', (e) => delete e.refresh_token);
        },
        'the access token expired and no refresh token is held',
      ],
      ['no refresh token', 'refresh', (c) => editEntry(c.cache, 'default', (e) => delete e.refresh_token), 'no refresh token is held (ask for the offline_access scope)'],
      ['no broker session and no broker configured', 'broker', async () => {}, 'no broker session', 'Run `authbridge exchange`.'],
      [
        'an expired broker session and no broker configured',
        'broker',
        (c) =>
          editEntry(c.cache, 'default', (e) => {
            e.broker = { url: 'http://127.0.0.1:9', issuer: 'http://127.0.0.1:9', access_token: 'old', expires_at: Date.now() - 1000, subject: 's', obtained_at: 0 };
          }),
        'the broker session expired and no broker is configured to renew it',
        'Run `authbridge exchange`.',
      ],
    ];

    it.each(cases)('%s (--type %s): NotSignedInError, nothing asked of the IdP', async (_name, type, spoil, why, hint = 'Run `authbridge login`.') => {
      const cached = tempCache();
      const profile = idpProfile(idp);
      if (spoil) {
        await signIn({ idp, cache: cached.cache, profile });
        await spoil(cached);
      }
      const spy = spyConnectors();
      const err = await failure(tokenFlow({ ctx: liveContext(), profile, cache: cached.cache, type, connect: spy.connect }));
      expect(err).toBeInstanceOf(NotSignedInError);
      expect(err.message).toBe(`could not get the ${type} token of profile "default": ${why}`);
      expect(err.hint).toBe(hint);
      expect(spy.calls).toEqual([]);
    });
  });

  describe('--type broker', () => {
    async function exchanged(login = uniqueUser('tok')) {
      const signed = await signedIn(brokerProfile(idp, broker), login);
      await exchangeIn({ ctx: liveContext(), profile: signed.profile, cache: signed.cached.cache });
      return { ...signed, first: signed.cached.read().broker! };
    }

    it('a live broker session: its token, and neither the IdP nor the broker contacted', async () => {
      const { first, token } = await exchanged();
      const { spy, run } = token('broker');
      expect(await run()).toEqual({ token: first.access_token, refreshed: false, expiresAt: first.expires_at });
      expect(spy.calls).toEqual([]);
    });

    it.each([
      ['an expired broker session', (e: { broker?: { expires_at: number } }) => void (e.broker!.expires_at = Date.now() - 1000), ['broker.connect', 'broker.exchange']],
      ['no broker session yet (a broker configured)', (e: { broker?: unknown }) => void delete e.broker, ['broker.connect', 'broker.exchange']],
      [
        'an expired broker session and an expired IdP access token',
        (e: { broker?: { expires_at: number }; access_token_expires_at?: number }) => {
          e.broker!.expires_at = Date.now() - 1000;
          e.access_token_expires_at = Date.now() - 1000;
        },
        ['idp.connect', 'idp.refresh', 'broker.connect', 'broker.exchange'],
      ],
    ])('%s: exchanged again, and the new broker token cached and live', async (_name, spoil, calls) => {
      const { cached, first, token } = await exchanged();
      await editEntry(cached.cache, 'default', spoil);
      const { spy, run } = token('broker');
      const result = await run();
      const renewed = cached.read().broker!;
      expect(result).toEqual({ token: renewed.access_token, refreshed: true, expiresAt: renewed.expires_at });
      expect(renewed.access_token).not.toBe(first.access_token);
      expect(renewed).toMatchObject({ url: broker.url, issuer: broker.issuer, subject: first.subject, account_status: 'existing' });
      expect(spy.calls).toEqual(calls);
      expect(await activeAtBroker(broker, renewed.access_token)).toBe(true);
    });
  });
});
