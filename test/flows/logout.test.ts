/**
 * `logoutFlow` in process: the entry leaves the cache first, always; then the refresh token is
 * revoked before the access token, the broker session is ended, and remote failures become
 * warnings.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningBroker } from '../../src/broker/server.js';
import type { Profile } from '../../src/config/types.js';
import { RemoteError } from '../../src/errors.js';
import { logoutFlow } from '../../src/flows/logout.js';
import {
  activeAtBroker,
  activeAtIdp,
  BROKER_PUBLIC_CLIENT_ID,
  brokerProfile,
  exchangeIn,
  idpProfile,
  liveContext,
  recordingTrace,
  signIn,
  spyConnectors,
  startTestBroker,
  tempCache,
  uniqueUser,
  type SpyOptions,
  type TempCache,
} from '../helpers/flows.js';
import { API_RESOURCE, startIdp, type Idp } from '../helpers/idp.js';

/** Opaque access tokens: both tokens can be revoked. */
let idp: Idp;
/** JWT access tokens (and the broker's IdP). */
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

function logout(cached: TempCache, names: string[], options: { local?: boolean; spy?: SpyOptions; profiles?: Profile[] } = {}) {
  const spy = spyConnectors(options.spy);
  const trace = recordingTrace();
  const run = () =>
    logoutFlow({
      ctx: liveContext(),
      cache: cached.cache,
      names,
      local: options.local ?? false,
      connect: spy.connect,
      trace: trace.trace,
      loadProfile: async (name) => options.profiles?.find((p) => p.name === name),
    });
  return { spy, trace, run };
}

describe('logout', () => {
  it('removes the entry, revokes the refresh token first and then the access token; the IdP honours neither', async () => {
    const cached = tempCache();
    const session = await signIn({ idp, cache: cached.cache });
    const { spy, run } = logout(cached, ['default']);
    expect(await run()).toEqual([{ profile: 'default', removed: true, revoked: { idp: true, broker: false }, signed_out: ['alice@example.test'], now_active: null, warnings: [] }]);
    expect(cached.exists()).toBe(false);
    expect(spy.calls).toEqual(['idp.connect', 'idp.revoke refresh_token', 'idp.revoke access_token']);
    expect(await activeAtIdp(idp, session.refresh_token!)).toBe(false);
    expect(await activeAtIdp(idp, session.access_token!)).toBe(false);
  });

  it('an IdP that does not revoke its JWT access tokens: the grant ends with the refresh token, no warning', async () => {
    const cached = tempCache();
    const session = await signIn({ idp: apiIdp, cache: cached.cache, profile: idpProfile(apiIdp) });
    const { trace, run } = logout(cached, ['default']);
    expect(await run()).toEqual([{ profile: 'default', removed: true, revoked: { idp: true, broker: false }, signed_out: ['alice@example.test'], now_active: null, warnings: [] }]);
    expect(trace.lines).toContainEqual(expect.stringMatching(/^the IdP does not revoke its JWT access tokens \(.*unsupported_token_type.*\); the grant was ended with the refresh token$/));
    expect(await activeAtIdp(apiIdp, session.refresh_token!)).toBe(false);
  });

  it('--local removes every named profile and revokes nothing: the tokens stay live at the IdP', async () => {
    const cached = tempCache();
    await signIn({ idp, cache: cached.cache });
    const work = await signIn({ idp, cache: cached.cache, profile: idpProfile(idp, { name: 'work' }), login: 'bob' });
    const { spy, run } = logout(cached, ['default', 'work'], { local: true });
    expect(await run()).toEqual([
      { profile: 'default', removed: true, revoked: { idp: false, broker: false }, signed_out: ['alice@example.test'], now_active: null, warnings: [] },
      { profile: 'work', removed: true, revoked: { idp: false, broker: false }, signed_out: ['bob@example.test'], now_active: null, warnings: [] },
    ]);
    expect(await cached.cache.profiles()).toEqual([]);
    expect(spy.calls).toEqual([]);
    expect(await activeAtIdp(idp, work.refresh_token!)).toBe(true);
  });

  it('nothing cached: removed false, and no one asked', async () => {
    const { spy, run } = logout(tempCache(), ['default']);
    expect(await run()).toEqual([{ profile: 'default', removed: false, revoked: { idp: false, broker: false }, signed_out: [], now_active: null, warnings: [] }]);
    expect(spy.calls).toEqual([]);
  });

  it('ends the broker session at the broker', async () => {
    const cached = tempCache();
    const profile = brokerProfile(apiIdp, broker);
    await signIn({ idp: apiIdp, cache: cached.cache, profile, login: uniqueUser('logout') });
    await exchangeIn({ ctx: liveContext(), profile, cache: cached.cache });
    const brokerToken = cached.read().broker!.access_token;
    const { spy, run } = logout(cached, ['default'], { profiles: [profile] });
    expect(await run()).toEqual([{ profile: 'default', removed: true, revoked: { idp: true, broker: true }, signed_out: [expect.stringMatching(/^logout/)], now_active: null, warnings: [] }]);
    expect(spy.calls.slice(-2)).toEqual(['broker.connect', 'broker.revoke']);
    expect(await activeAtBroker(broker, brokerToken)).toBe(false);
    expect(cached.exists()).toBe(false);
  });

  it('ends a broker session made with --broker-* flags only (no broker in the profile): as the cached public client', async () => {
    const cached = tempCache();
    const withFlags = brokerProfile(apiIdp, broker, { clientId: BROKER_PUBLIC_CLIENT_ID, clientSecret: undefined });
    await signIn({ idp: apiIdp, cache: cached.cache, profile: withFlags, login: uniqueUser('logout') });
    await exchangeIn({ ctx: liveContext(), profile: withFlags, cache: cached.cache });
    const session = cached.read().broker!;
    expect(session.client_id).toBe(BROKER_PUBLIC_CLIENT_ID);
    // logout without the flags: the profile knows nothing of the broker.
    const { run } = logout(cached, ['default'], { profiles: [idpProfile(apiIdp)] });
    expect(await run()).toEqual([{ profile: 'default', removed: true, revoked: { idp: true, broker: true }, signed_out: [expect.stringMatching(/^logout/)], now_active: null, warnings: [] }]);
    expect(await activeAtBroker(broker, session.access_token)).toBe(false);
  });

  describe('remote failures are warnings: the entry is removed all the same', () => {
    const unreachable = (what: string) => new RemoteError(`could not fetch ${what}: connect ECONNREFUSED`);

    it('the revocation endpoint answering 503', async () => {
      const cached = tempCache();
      await signIn({ idp, cache: cached.cache });
      idp.faults.revocation = { status: 503 };
      try {
        const [doc] = await logout(cached, ['default']).run();
        expect(doc).toMatchObject({ removed: true, revoked: { idp: false, broker: false } });
        expect(doc!.warnings[0]).toMatch(/^not revoked: could not revoke the refresh token: /);
      } finally {
        delete idp.faults.revocation;
      }
      expect(cached.exists()).toBe(false);
    });

    it('the IdP unreachable', async () => {
      const cached = tempCache();
      await signIn({ idp, cache: cached.cache });
      const [doc] = await logout(cached, ['default'], { spy: { override: { 'idp.connect': unreachable('the discovery document') } } }).run();
      expect(doc).toEqual({
        profile: 'default',
        removed: true,
        revoked: { idp: false, broker: false },
        signed_out: ['alice@example.test'],
        now_active: null,
        warnings: [`the tokens were not revoked at ${idp.issuer}: could not fetch the discovery document: connect ECONNREFUSED`],
      });
      expect(cached.exists()).toBe(false);
    });

    it('the broker unreachable', async () => {
      const cached = tempCache();
      const profile = brokerProfile(apiIdp, broker);
      await signIn({ idp: apiIdp, cache: cached.cache, profile, login: uniqueUser('logout') });
      await exchangeIn({ ctx: liveContext(), profile, cache: cached.cache });
      const brokerToken = cached.read().broker!.access_token;
      const [doc] = await logout(cached, ['default'], { profiles: [profile], spy: { override: { 'broker.connect': unreachable('the broker metadata') } } }).run();
      expect(doc).toEqual({
        profile: 'default',
        removed: true,
        revoked: { idp: true, broker: false },
        signed_out: [expect.any(String)],
        now_active: null,
        warnings: [`the broker session at ${broker.url} was not ended: could not fetch the broker metadata: connect ECONNREFUSED`],
      });
      expect(cached.exists()).toBe(false);
      // Not ended: the broker still honours it until it expires.
      expect(await activeAtBroker(broker, brokerToken)).toBe(true);
    });
  });
});
