/**
 * `refreshFlow` in process against a real OpenID provider: the refresh-token grant under the
 * cache lock, rotation, a refused refresh token marking the entry expired, and an IdP outage
 * leaving the entry as it was. Each case signs in to a cache of its own.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CachedSession } from '../../src/cache/types.js';
import type { Profile } from '../../src/config/types.js';
import { NotSignedInError, OAuthRefusedError, RemoteError, TokenRejectedError, type AuthbridgeError } from '../../src/errors.js';
import { refreshFlow } from '../../src/flows/refresh.js';
import type { TokenSet } from '../../src/oidc/client.js';
import {
  activeAtIdp,
  editEntry,
  expectNoSecrets,
  idpProfile,
  liveContext,
  recordingTrace,
  requestsFrom,
  secretsOf,
  signIn,
  spyConnectors,
  tempCache,
  type SpyOptions,
} from '../helpers/flows.js';
import { CONFIDENTIAL_CLIENT_ID, CONFIDENTIAL_CLIENT_SECRET, startIdp, type Idp } from '../helpers/idp.js';

let idp: Idp;
beforeAll(async () => {
  idp = await startIdp();
});
afterAll(async () => {
  await idp?.close();
});

async function failure(promise: Promise<unknown>): Promise<AuthbridgeError> {
  return promise.then(
    () => expect.fail('the refresh succeeded'),
    (err: unknown) => err as AuthbridgeError,
  );
}

/** A signed-in cache of its own, and a refresh through spying connectors. */
async function signedIn(profile: Profile = idpProfile(idp), login = 'alice') {
  const cached = tempCache();
  const session = await signIn({ idp, cache: cached.cache, profile, login });
  const refresh = (options: { spy?: SpyOptions; now?: number } = {}) => {
    const spy = spyConnectors(options.spy);
    const trace = recordingTrace();
    const ctx = liveContext(options.now === undefined ? {} : { now: () => options.now! });
    return { spy, trace, run: () => refreshFlow({ ctx, profile, cache: cached.cache, connect: spy.connect, trace: trace.trace }) };
  };
  return { cached, session, refresh };
}

const PUBLIC = {};
const CONFIDENTIAL = { clientId: CONFIDENTIAL_CLIENT_ID, clientSecret: CONFIDENTIAL_CLIENT_SECRET };

describe('refresh', () => {
  it.each([
    ['the public client: the refresh token rotates, the old one is spent', PUBLIC, true],
    ['a confidential client: the refresh token is kept', CONFIDENTIAL, false],
  ])('%s; new tokens cached 0600, the ID token verified again, nothing secret traced', async (_name, client, rotates) => {
    const { cached, session: before, refresh } = await signedIn(idpProfile(idp, client));
    const now = Date.now() + 1000;
    const { spy, trace, run } = refresh({ now });
    const seen = requestsFrom(idp);
    const after = await run();

    expect(cached.read()).toEqual(after);
    expect(cached.mode()).toBe(0o600);
    expect(after.access_token).not.toBe(before.access_token);
    expect(after).toMatchObject({
      issuer: idp.issuer,
      client_id: before.client_id,
      subject: 'alice',
      email: 'alice@example.test',
      scopes: before.scopes,
      obtained_at: now,
      access_token_expires_at: now + 3600_000,
    });
    expect(after.expired).toBeUndefined();
    // One grant, and the new ID token checked against the IdP's keys.
    expect(spy.calls).toEqual(['idp.connect', 'idp.refresh']);
    expect(seen().filter((r) => r === 'POST /token')).toHaveLength(1);
    expect(seen()).toContain('GET /jwks');
    const asClient = client === CONFIDENTIAL ? CONFIDENTIAL : undefined;
    if (rotates) {
      expect(after.refresh_token).not.toBe(before.refresh_token);
      expect(await activeAtIdp(idp, before.refresh_token!, asClient)).toBe(false);
    } else {
      expect(after.refresh_token).toBe(before.refresh_token);
    }
    expect(await activeAtIdp(idp, after.refresh_token!, asClient)).toBe(true);
    expectNoSecrets(trace.lines, [...secretsOf(before), ...secretsOf(after)]);
  });

  it('keeps the refresh token, ID token and scopes the IdP does not send again (RFC 6749 §6)', async () => {
    const { cached, session: before, refresh } = await signedIn();
    const { run } = refresh({
      spy: {
        override: {
          'idp.refresh': async (real, ...args) => {
            const tokens = (await real(...args)) as TokenSet;
            return { access_token: tokens.access_token, token_type: tokens.token_type, expires_in: tokens.expires_in };
          },
        },
      },
    });
    const after = await run();
    expect(after.access_token).not.toBe(before.access_token);
    expect(after).toMatchObject({
      refresh_token: before.refresh_token,
      id_token: before.id_token,
      id_token_expires_at: before.id_token_expires_at,
      scopes: before.scopes,
      subject: 'alice',
      claims: before.claims,
    });
    expect(cached.read()).toEqual(after);
  });

  describe('a refresh token the IdP refuses (invalid_grant)', () => {
    const cases: Array<[string, (s: { cached: ReturnType<typeof tempCache>; session: CachedSession }) => Promise<void>]> = [
      ['one it never issued', async ({ cached }) => void (await editEntry(cached.cache, 'default', (e) => (e.refresh_token = 'not-a-refresh-token')))],
      [
        'one already spent (rotated by an earlier refresh)',
        async ({ cached, session }) => {
          await refreshFlow({ ctx: liveContext(), profile: idpProfile(idp), cache: cached.cache });
          await editEntry(cached.cache, 'default', (e) => (e.refresh_token = session.refresh_token));
        },
      ],
      [
        'one whose grant the IdP ended',
        async ({ session }) => {
          const token = await idp.provider.RefreshToken.find(session.refresh_token!);
          await (await idp.provider.Grant.find(token!.grantId!))!.destroy();
        },
      ],
    ];

    it.each(cases)('%s: OAuthRefusedError, and the entry kept but marked expired', async (_name, spoil) => {
      const { cached, session, refresh } = await signedIn();
      await spoil({ cached, session });
      const before = cached.read();
      const err = await failure(refresh().run());
      expect(err).toBeInstanceOf(OAuthRefusedError);
      expect(err.exitClass).toBe('refused');
      expect((err as OAuthRefusedError).oauthError).toBe('invalid_grant');
      expect(err.message).toMatch(/^could not refresh the session: invalid_grant/);
      expect(err.hint).toBe('Run `authbridge login` to sign in again.');
      expect(cached.read()).toEqual({ ...before, expired: true });
      expect(cached.mode()).toBe(0o600);
    });

    it('after which a refresh is not even tried', async () => {
      const { cached, refresh } = await signedIn();
      await editEntry(cached.cache, 'default', (e) => (e.refresh_token = 'not-a-refresh-token'));
      await failure(refresh().run());
      const again = refresh();
      const err = await failure(again.run());
      expect(err).toBeInstanceOf(NotSignedInError);
      expect(err.message).toBe('could not refresh profile "default": the session expired');
      expect(again.spy.calls).toEqual([]);
    });
  });

  describe('the IdP failing', () => {
    const outage = new RemoteError('could not fetch the discovery document from http://127.0.0.1:9/.well-known/openid-configuration: connect ECONNREFUSED');
    it.each([
      ['unreachable (no discovery)', { override: { 'idp.connect': outage } }, undefined, /^could not fetch the discovery document from .*ECONNREFUSED/],
      ['failing the grant', { override: { 'idp.refresh': new RemoteError('could not refresh the session: no answer within 30 s') } }, undefined, /^could not refresh the session: no answer within 30 s$/],
      ['answering 503 at the token endpoint', {}, { status: 503, body: { error: 'temporarily_unavailable' } }, /^could not refresh the session: the IdP answered HTTP 503 at the token endpoint$/],
    ] as const)('%s: RemoteError, and the entry exactly as it was', async (_name, spy, tokenFault, message) => {
      const { cached, refresh } = await signedIn();
      const before = cached.text();
      if (tokenFault) idp.faults.token = tokenFault;
      try {
        const err = await failure(refresh({ spy }).run());
        expect(err).toBeInstanceOf(RemoteError);
        expect(err.exitClass).toBe('remote');
        expect(err.message).toMatch(message);
      } finally {
        delete idp.faults.token;
      }
      expect(cached.text()).toBe(before);
    });
  });

  it('refuses a refreshed ID token naming another user, and keeps the entry', async () => {
    const { cached, refresh } = await signedIn();
    const bob = await signIn({ idp, cache: tempCache().cache, login: 'bob' });
    const before = cached.text();
    const { run } = refresh({
      spy: { override: { 'idp.refresh': async (real, ...args) => ({ ...((await real(...args)) as TokenSet), id_token: bob.id_token }) } },
    });
    const err = await failure(run());
    expect(err).toBeInstanceOf(TokenRejectedError);
    expect(err.message).toBe('could not verify the ID token: its sub "bob" is not the signed-in "alice"');
    expect(cached.text()).toBe(before);
  });

  describe('nothing to refresh with', () => {
    it.each([
      ['not signed in', 'default', async () => {}, 'could not refresh profile "default": not signed in', 'Run `authbridge login`.'],
      [
        'a session marked expired',
        'work',
        async (c: ReturnType<typeof tempCache>) => void (await editEntry(c.cache, 'work', (e) => (e.expired = true))),
        'could not refresh profile "work": the session expired',
        'Run `authbridge login --profile work`.',
      ],
      [
        'no refresh token held',
        'default',
        async (c: ReturnType<typeof tempCache>) => void (await editEntry(c.cache, 'default', (e) => delete e.refresh_token)),
        'could not refresh profile "default": no refresh token is held (ask for the offline_access scope)',
        'Run `authbridge login`.',
      ],
    ])('%s: NotSignedInError, and the IdP is not contacted', async (name, profileName, spoil, message, hint) => {
      const cached = tempCache();
      const profile = idpProfile(idp, { name: profileName });
      if (name !== 'not signed in') await signIn({ idp, cache: cached.cache, profile });
      await spoil(cached);
      const before = name === 'not signed in' ? undefined : cached.text(profileName);
      const spy = spyConnectors();
      const err = await failure(refreshFlow({ ctx: liveContext(), profile, cache: cached.cache, connect: spy.connect }));
      expect(err).toBeInstanceOf(NotSignedInError);
      expect(err.exitClass).toBe('not_signed_in');
      expect(err.message).toBe(message);
      expect(err.hint).toBe(hint);
      expect(spy.calls).toEqual([]);
      if (before === undefined) expect(cached.exists(profileName)).toBe(false);
      else expect(cached.text(profileName)).toBe(before);
    });
  });
});
