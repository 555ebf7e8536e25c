/**
 * `statusFlow` in process: offline from the cache alone, and with `--check` asking the IdP
 * (userinfo, else introspection of the refresh token) and the in-process broker.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningBroker } from '../../src/broker/server.js';
import type { CachedSession } from '../../src/cache/types.js';
import type { Profile } from '../../src/config/types.js';
import { RemoteError } from '../../src/errors.js';
import { statusFlow, type ProfileStatus, type StatusInput } from '../../src/flows/status.js';
import { oidcConnectors } from '../../src/flows/connectors.js';
import { isoTime } from '../../src/util/time.js';
import {
  BROKER_CLIENT,
  brokerProfile,
  editEntry,
  exchangeIn,
  idpProfile,
  liveContext,
  requestsFrom,
  secretsOf,
  signIn,
  spyConnectors,
  startTestBroker,
  tempCache,
  uniqueUser,
  type SpyOptions,
  type TempCache,
} from '../helpers/flows.js';
import { API_RESOURCE, CONFIDENTIAL_CLIENT_ID, CONFIDENTIAL_CLIENT_SECRET, startIdp, type Idp } from '../helpers/idp.js';

/** Opaque access tokens, which its userinfo endpoint accepts. */
let idp: Idp;
/** JWT access tokens for an API: its userinfo refuses them, introspection of the refresh token tells. */
let apiIdp: Idp;
let broker: RunningBroker;
beforeAll(async () => {
  // One after the other: a failed start leaves the other assigned, for afterAll to close.
  idp = await startIdp();
  apiIdp = await startIdp({ defaultResource: API_RESOURCE });
  broker = await startTestBroker(apiIdp);
});
afterAll(async () => {
  await broker?.close();
  await Promise.all([idp?.close(), apiIdp?.close()]);
});

const STATUS_KEYS = ['profile', 'signed_in', 'issuer', 'subject', 'email', 'access_token_expires_at', 'id_token_expires_at', 'refreshable', 'scopes', 'broker', 'storage', 'accounts'];

const past = () => Date.now() - 1000;

function status(cached: TempCache, names: string[], check: boolean, options: { spy?: SpyOptions; profiles?: Profile[] } = {}) {
  const spy = spyConnectors(options.spy);
  const input: StatusInput = {
    ctx: liveContext(),
    cache: cached.cache,
    names,
    check,
    connect: spy.connect,
    loadProfile: async (name) => options.profiles?.find((p) => p.name === name),
  };
  return { spy, run: () => statusFlow(input) };
}

describe('status, offline', () => {
  it('nothing cached: the empty document, and no one asked', async () => {
    const { spy, run } = status(tempCache(), ['default'], false);
    const seen = requestsFrom(idp);
    expect(await run()).toEqual([
      {
        document: {
          profile: 'default',
          signed_in: false,
          issuer: null,
          subject: null,
          email: null,
          access_token_expires_at: null,
          id_token_expires_at: null,
          refreshable: false,
          scopes: [],
          broker: null,
          storage: null,
          accounts: [],
        },
        session: undefined,
        stashed: [],
        expired: false,
      },
    ]);
    expect(spy.calls).toEqual([]);
    expect(seen()).toEqual([]);
  });

  type Edit = (e: CachedSession) => void;
  it.each([
    ['fresh tokens', (() => {}) as Edit, { signed_in: true, refreshable: true }, false],
    ['an expired access token and a live ID token', ((e) => (e.access_token_expires_at = past())) as Edit, { signed_in: true, refreshable: true }, false],
    [
      'expired access and ID tokens, a refresh token held',
      ((e) => {
        e.access_token_expires_at = past();
        e.id_token_expires_at = past();
      }) as Edit,
      { signed_in: false, refreshable: true },
      false,
    ],
    ['a session marked expired by a refused refresh', ((e) => (e.expired = true)) as Edit, { signed_in: false, refreshable: false }, true],
    ['no refresh token', ((e) => delete e.refresh_token) as Edit, { signed_in: true, refreshable: false }, false],
    [
      'an expired access token, a live ID token, no refresh token (`token` exits 4)',
      ((e) => {
        e.access_token_expires_at = past();
        delete e.refresh_token;
      }) as Edit,
      { signed_in: false, refreshable: false },
      false,
    ],
  ])('%s: signed in and refreshable as the cache says, no one asked, no token in the document', async (_name, edit, expected, expired) => {
    const cached = tempCache();
    await signIn({ idp, cache: cached.cache });
    const entry = await editEntry(cached.cache, 'default', edit);
    const { spy, run } = status(cached, ['default'], false);
    const seen = requestsFrom(idp);
    const [result] = await run();
    const doc = result!.document;
    expect(Object.keys(doc)).toEqual(STATUS_KEYS);
    expect(doc).toEqual({
      profile: 'default',
      issuer: idp.issuer,
      subject: 'alice',
      email: 'alice@example.test',
      access_token_expires_at: isoTime(entry.access_token_expires_at!),
      id_token_expires_at: isoTime(entry.id_token_expires_at!),
      scopes: ['openid', 'profile', 'email', 'offline_access'],
      broker: null,
      storage: 'file',
      accounts: [{ account: 'alice@example.test', issuer: idp.issuer, subject: 'alice', email: 'alice@example.test', active: true }],
      ...expected,
    });
    expect(doc.access_token_expires_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(result!.expired).toBe(expired);
    for (const secret of secretsOf(entry)) expect(JSON.stringify(doc)).not.toContain(secret);
    expect(spy.calls).toEqual([]);
    expect(seen()).toEqual([]);
  });

  it('several profiles, in the order asked', async () => {
    const cached = tempCache();
    await signIn({ idp, cache: cached.cache, profile: idpProfile(idp, { name: 'work' }), login: 'bob' });
    await signIn({ idp, cache: cached.cache });
    const docs = (await status(cached, ['work', 'none', 'default'], false).run()).map((r) => r.document);
    expect(docs.map((d) => [d.profile, d.signed_in, d.subject])).toEqual([
      ['work', true, 'bob'],
      ['none', false, null],
      ['default', true, 'alice'],
    ]);
  });
});

describe('status --check', () => {
  it('a live session at an IdP whose userinfo takes the access token', async () => {
    const cached = tempCache();
    await signIn({ idp, cache: cached.cache });
    const { spy, run } = status(cached, ['default'], true);
    const [{ document }] = (await run()) as [ProfileStatus];
    expect(document.check).toEqual({ idp: { live: true, method: 'userinfo', detail: 'the userinfo endpoint accepted the access token' } });
    expect(document.signed_in).toBe(true);
    expect(spy.calls).toEqual(['idp.connect', 'idp.userinfo']);
  });

  it('a grant the IdP ended: not live (introspection), while offline status still trusts the cache', async () => {
    const cached = tempCache();
    const session = await signIn({ idp, cache: cached.cache });
    const token = await idp.provider.RefreshToken.find(session.refresh_token!);
    await (await idp.provider.Grant.find(token!.grantId!))!.destroy();
    await token!.destroy();
    const [checked] = await status(cached, ['default'], true).run();
    expect(checked!.document).toMatchObject({ signed_in: false, check: { idp: { live: false, method: 'introspection', detail: 'the IdP says the refresh token is not active' } } });
    const [offline] = await status(cached, ['default'], false).run();
    expect(offline!.document.signed_in).toBe(true);
  });

  it.each([
    ['an access token expired here: the refresh token is introspected', () => idp, idpProfile, ((e) => (e.access_token_expires_at = past())) as (e: CachedSession) => void, ['idp.connect', 'idp.introspect refresh_token']],
    ['an access token for another resource, which userinfo refuses: the refresh token is introspected', () => apiIdp, idpProfile, () => {}, ['idp.connect', 'idp.userinfo', 'idp.introspect refresh_token']],
    [
      'a confidential client: introspected with the profile\'s secret',
      () => idp,
      (i: Idp) => idpProfile(i, { clientId: CONFIDENTIAL_CLIENT_ID, clientSecret: CONFIDENTIAL_CLIENT_SECRET }),
      ((e) => (e.access_token_expires_at = past())) as (e: CachedSession) => void,
      ['idp.connect', 'idp.introspect refresh_token'],
    ],
  ])('%s', async (_name, which, makeProfile, edit, calls) => {
    const at = which();
    const profile = makeProfile(at);
    const cached = tempCache();
    await signIn({ idp: at, cache: cached.cache, profile });
    await editEntry(cached.cache, 'default', edit);
    const { spy, run } = status(cached, ['default'], true, { profiles: [profile] });
    const [result] = await run();
    expect(result!.document.check).toEqual({ idp: { live: true, method: 'introspection', detail: 'the IdP says the refresh token is active' } });
    expect(spy.calls).toEqual(calls);
  });

  it('nothing to ask with (an expired access token, no refresh token): live unknown, not signed in (as `token` would say)', async () => {
    const cached = tempCache();
    await signIn({ idp, cache: cached.cache });
    await editEntry(cached.cache, 'default', (e) => {
      e.access_token_expires_at = past();
      delete e.refresh_token;
    });
    const [result] = await status(cached, ['default'], true).run();
    expect(result!.document).toMatchObject({
      signed_in: false,
      check: { idp: { live: null, method: null, detail: 'no unexpired access token for userinfo and no refresh token to introspect' } },
    });
  });

  it('a session marked expired is not checked', async () => {
    const cached = tempCache();
    await signIn({ idp, cache: cached.cache });
    await editEntry(cached.cache, 'default', (e) => (e.expired = true));
    const { spy, run } = status(cached, ['default'], true);
    const [result] = await run();
    expect(result!.document.check).toBeUndefined();
    expect(result!.document.signed_in).toBe(false);
    expect(spy.calls).toEqual([]);
  });

  it('the IdP down: RemoteError', async () => {
    const cached = tempCache();
    await signIn({ idp, cache: cached.cache });
    const outage = new RemoteError('could not fetch the discovery document from http://127.0.0.1:9/.well-known/openid-configuration: connect ECONNREFUSED');
    await expect(status(cached, ['default'], true, { spy: { override: { 'idp.connect': outage } } }).run()).rejects.toBe(outage);
  });

  describe('with a broker session', () => {
    async function exchanged() {
      const cached = tempCache();
      const profile = brokerProfile(apiIdp, broker);
      await signIn({ idp: apiIdp, cache: cached.cache, profile, login: uniqueUser('status') });
      await exchangeIn({ ctx: liveContext(), profile, cache: cached.cache });
      return { cached, profile, session: cached.read() };
    }

    it('offline: the broker session from the cache; expired once its time is up', async () => {
      const { cached, session } = await exchanged();
      const b = session.broker!;
      const [live] = await status(cached, ['default'], false).run();
      expect(live!.document.broker).toEqual({ signed_in: true, issuer: broker.issuer, subject: b.subject, expires_at: isoTime(b.expires_at) });
      expect(broker.issuer).toBe(broker.url);
      await editEntry(cached.cache, 'default', (e) => (e.broker!.expires_at = past()));
      const [ended] = await status(cached, ['default'], false).run();
      expect(ended!.document.broker!.signed_in).toBe(false);
    });

    it.each([
      ['live', false, { live: true, detail: 'the broker says the session is active' }],
      ['ended at the broker', true, { live: false, detail: 'the broker says the session has ended' }],
    ])('--check, the broker session %s', async (_name, revoke, expected) => {
      const { cached, profile, session } = await exchanged();
      if (revoke) {
        const client = await oidcConnectors.broker({ url: broker.url, ...BROKER_CLIENT, fetch, now: Date.now });
        await client.revoke(session.broker!.access_token);
      }
      const { spy, run } = status(cached, ['default'], true, { profiles: [profile] });
      const [result] = await run();
      expect(result!.document.check!.broker).toEqual(expected);
      expect(result!.document.broker!.signed_in).toBe(expected.live);
      expect(spy.calls.slice(-2)).toEqual(['broker.connect', 'broker.introspect']);
    });
  });
});
