/**
 * `exchangeFlow` in process against the real broker (fastify + SQLite, in this process) trusting
 * the in-process IdP's JWT access tokens: RFC 8693 and the Synerise-compatible call, the broker
 * token verified and cached, refusals carrying the broker's error. Each case signs in a user of
 * its own, so "created" never depends on another case.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningBroker } from '../../src/broker/server.js';
import type { BrokerSettings } from '../../src/config/types.js';
import {
  AuthorizationRefusedError,
  NotSignedInError,
  OAuthRefusedError,
  RemoteError,
  TokenRejectedError,
  UsageError,
  type AuthbridgeError,
} from '../../src/errors.js';
import { isoTime } from '../../src/util/time.js';
import {
  BROKER_API_KEY,
  BROKER_AUDIENCE,
  BROKER_CLIENT,
  activeAtBroker,
  brokerProfile,
  claimsOf,
  editEntry,
  exchangeIn,
  expectNoSecrets,
  idpProfile,
  liveContext,
  recordingTrace,
  secretsOf,
  signIn,
  spyConnectors,
  startTestBroker,
  tempCache,
  uniqueUser,
  type SpyOptions,
} from '../helpers/flows.js';
import { API_RESOURCE, startIdp, type Idp } from '../helpers/idp.js';
import { makeKey, sign } from '../helpers/keys.js';

const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';

let idp: Idp;
let broker: RunningBroker;
beforeAll(async () => {
  idp = await startIdp({ defaultResource: API_RESOURCE });
  broker = await startTestBroker(idp);
});
afterAll(async () => {
  await broker?.close();
  await idp?.close();
});

async function failure(promise: Promise<unknown>): Promise<AuthbridgeError> {
  return promise.then(
    () => expect.fail('the exchange succeeded'),
    (err: unknown) => err as AuthbridgeError,
  );
}

/** A user of its own signed in to a cache of its own, with `settings` for the profile's broker. */
async function signedIn(settings: Partial<BrokerSettings> = {}) {
  const cached = tempCache();
  const profile = brokerProfile(idp, broker, settings);
  const user = uniqueUser('ex');
  const session = await signIn({ idp, cache: cached.cache, profile, login: user });
  const exchange = (options: { spy?: SpyOptions; subjectToken?: string } = {}) => {
    const spy = spyConnectors(options.spy);
    const trace = recordingTrace();
    const run = () =>
      exchangeIn(
        { ctx: liveContext(), profile, cache: cached.cache, connect: spy.connect, trace: trace.trace },
        options.subjectToken ? { subjectToken: options.subjectToken } : {},
      );
    return { spy, trace, run };
  };
  return { cached, profile, user, session, exchange };
}

describe('exchange (RFC 8693)', () => {
  it('a first exchange creates the account; the broker token is verified and cached beside the IdP tokens', async () => {
    const { cached, user, session, exchange } = await signedIn();
    const { spy, trace, run } = exchange();
    const outcome = await run();
    const entry = cached.read();
    const b = entry.broker!;

    expect(outcome).toEqual({
      profile: 'default',
      broker: broker.url,
      issued_token_type: ACCESS_TOKEN_TYPE,
      subject: b.subject,
      expires_at: isoTime(b.expires_at),
      account_status: 'created',
    });
    expect(spy.exchanges.map((a) => a.account_status)).toEqual(['created']);
    expect(spy.calls).toEqual(['broker.connect', 'broker.exchange']);
    expect(b).toEqual({
      url: broker.url,
      issuer: broker.issuer,
      // The client it was issued to: `logout` ends the session without the flags that made it.
      client_id: BROKER_CLIENT.clientId,
      access_token: spy.exchanges[0]!.access_token,
      expires_at: (claimsOf(b.access_token).exp as number) * 1000,
      subject: expect.any(String),
      sid: claimsOf(b.access_token).sid,
      account_status: 'created',
      obtained_at: expect.any(Number),
    });
    // What the broker signed: its own issuer, the app's audience, the client and the IdP it trusted.
    expect(claimsOf(b.access_token)).toMatchObject({ iss: broker.issuer, aud: BROKER_AUDIENCE, sub: b.subject, client_id: BROKER_CLIENT.clientId, idp: 'idp' });
    expect(await activeAtBroker(broker, b.access_token)).toBe(true);
    // The IdP tokens are left as they were, and the file stays 0600.
    const { broker: _, ...idpPart } = entry;
    expect(idpPart).toEqual(session);
    expect(cached.mode()).toBe(0o600);
    expect(user).not.toBe(b.subject);
    expectNoSecrets(trace.lines, secretsOf(entry));
  });

  it('a second exchange of the same user finds the existing account: same subject, a new token', async () => {
    const { cached, exchange } = await signedIn();
    const first = await exchange().run();
    const firstToken = cached.read().broker!.access_token;
    const second = await exchange().run();
    expect(second).toMatchObject({ account_status: 'existing', subject: first.subject });
    expect(cached.read().broker!.access_token).not.toBe(firstToken);
    expect(cached.read().broker!.account_status).toBe('existing');
  });

  it('an expired IdP access token is refreshed first, then exchanged', async () => {
    const { cached, session, exchange } = await signedIn();
    await editEntry(cached.cache, 'default', (e) => (e.access_token_expires_at = Date.now() - 1000));
    const { spy, run } = exchange();
    await run();
    expect(spy.calls).toEqual(['idp.connect', 'idp.refresh', 'broker.connect', 'broker.exchange']);
    const entry = cached.read();
    expect(entry.access_token).not.toBe(session.access_token);
    expect(entry.broker?.account_status).toBe('created');
  });

  it('a subject token given with nothing cached: the broker session is kept in a new entry for the profile', async () => {
    const other = await signIn({ idp, cache: tempCache().cache, profile: idpProfile(idp), login: uniqueUser('given') });
    const cached = tempCache();
    const profile = brokerProfile(idp, broker);
    const spy = spyConnectors();
    const outcome = await exchangeIn({ ctx: liveContext(), profile, cache: cached.cache, connect: spy.connect }, { subjectToken: other.access_token });
    expect(outcome.account_status).toBe('created');
    expect(cached.read()).toMatchObject({ version: 1, profile: 'default', issuer: idp.issuer, client_id: 'cli', scopes: [], broker: { subject: outcome.subject } });
    expect(cached.read().access_token).toBeUndefined();
    expect(spy.calls).toEqual(['broker.connect', 'broker.exchange']);
  });

  describe('the broker refusing: AuthorizationRefusedError with its error, and the cache untouched', () => {
    it.each([
      ['a wrong client secret', { clientSecret: 'nope' }, undefined, /: invalid_client: unknown client or bad credentials \(HTTP 401 at the token endpoint; client authentication: client_secret_basic\)$/],
      ['a subject token from nowhere', {}, async () => 'opaque-garbage', /: invalid_request: subject_token is not a JWT, and no backend is configured for opaque tokens \(HTTP 400 at the token endpoint\)$/],
      ['an audience it does not issue for', { audience: 'another-app' }, undefined, /: invalid_target: this broker issues tokens only for its own audience \(HTTP 400 at the token endpoint\)$/],
      [
        'a JWT from an issuer it does not trust',
        {},
        async () => sign(await makeKey('RS256', 'elsewhere'), { iss: 'https://elsewhere.example', aud: API_RESOURCE, sub: 'eve' }, { header: { typ: 'at+jwt' } }),
        /: invalid_request: subject_token rejected: its issuer is not trusted \(HTTP 400 at the token endpoint\)$/,
      ],
    ])('%s', async (_name, settings, subject, error) => {
      const { cached, exchange } = await signedIn(settings);
      const before = cached.text();
      const err = await failure(exchange({ subjectToken: subject ? await subject() : undefined }).run());
      expect(err).toBeInstanceOf(AuthorizationRefusedError);
      expect(err.exitClass).toBe('refused');
      expect(err.message).toMatch(new RegExp(`^could not exchange the token with the broker at ${broker.url}`));
      expect(err.message).toMatch(error);
      expect(cached.text()).toBe(before);
    });
  });

  it('a broker token that fails verification: TokenRejectedError, and the cache untouched', async () => {
    const { cached, exchange } = await signedIn();
    const before = cached.text();
    const { run } = exchange({
      spy: {
        override: {
          'broker.exchange': async (real, ...args) => {
            const answer = (await real(...args)) as { access_token: string };
            const [header, payload] = answer.access_token.split('.');
            return { ...answer, access_token: `${header}.${payload}.${Buffer.from('forged').toString('base64url')}` };
          },
        },
      },
    });
    const err = await failure(run());
    expect(err).toBeInstanceOf(TokenRejectedError);
    expect(err.message).toMatch(/^could not accept the broker token: bad_signature/);
    expect(cached.text()).toBe(before);
  });

  it.each([
    ['not signed in', 'NotSignedInError', NotSignedInError, /^could not get the access token of profile "default": not signed in$/, false, {}],
    ['no broker configured', 'UsageError', UsageError, /^no broker configured for profile "default"$/, true, { url: '' }],
    ['a broker that is down', 'RemoteError', RemoteError, /^could not fetch the broker metadata from http:\/\/127\.0\.0\.1:9\/.*/, true, { url: 'http://127.0.0.1:9' }],
  ] as const)('%s: %s', async (_name, _kind, Kind, message, signedInFirst, settings) => {
    const cached = tempCache();
    const profile = brokerProfile(idp, broker, settings);
    if (signedInFirst) await signIn({ idp, cache: cached.cache, profile, login: uniqueUser('fail') });
    const before = signedInFirst ? cached.text() : undefined;
    const err = await failure(exchangeIn({ ctx: liveContext(), profile, cache: cached.cache }));
    expect(err).toBeInstanceOf(Kind);
    expect(err.message).toMatch(message);
    if (before === undefined) expect(cached.exists()).toBe(false);
    else expect(cached.text()).toBe(before);
  });
});

describe('exchange (Synerise-compatible)', () => {
  it('signs in at the broker with the API key; the token is verified against the broker\'s keys and cached', async () => {
    const { cached, exchange } = await signedIn({ protocol: 'synerise', apiKey: BROKER_API_KEY });
    const { spy, run } = exchange();
    const outcome = await run();
    const b = cached.read().broker!;
    expect(outcome).toEqual({
      profile: 'default',
      broker: broker.url,
      issued_token_type: ACCESS_TOKEN_TYPE,
      subject: b.subject,
      expires_at: isoTime(b.expires_at),
      account_status: null,
    });
    // The broker's metadata (its keys) first: without them the IdP token is never sent (fails closed).
    expect(spy.calls).toEqual(['broker.connect', 'synerise']);
    expect(b).toMatchObject({ url: broker.url, issuer: broker.issuer, subject: claimsOf(b.access_token).sub });
    expect(claimsOf(b.access_token)).toMatchObject({ iss: broker.issuer, client_id: 'sdk', idp: 'idp' });
    expect(await activeAtBroker(broker, b.access_token)).toBe(true);
  });

  it.each([
    ['a wrong API key', 'AuthorizationRefusedError', { apiKey: 'wrong' }, AuthorizationRefusedError, /^could not sign in at the broker http:\/\/127\.0\.0\.1:\d+: invalid_client: unknown apiKey$/],
    ['no API key', 'UsageError', {}, UsageError, /^missing broker API key for the synerise protocol$/],
  ] as const)('%s: %s, and the cache untouched', async (_name, _kind, settings, Kind, message) => {
    const { cached, exchange } = await signedIn({ protocol: 'synerise', ...settings });
    const before = cached.text();
    const err = await failure(exchange().run());
    expect(err).toBeInstanceOf(Kind);
    expect(err.message).toMatch(message);
    expect(cached.text()).toBe(before);
  });
});

describe('subject token types', () => {
  it('a custom absolute URI (the broker provider\'s urn:authbridge:token-type:<id>) is sent as it is, with the access token', async () => {
    const { cached } = await signedIn({ subjectTokenType: 'urn:authbridge:token-type:idp' });
    const profile = brokerProfile(idp, broker, { subjectTokenType: 'urn:authbridge:token-type:idp' });
    const spy = spyConnectors();
    const outcome = await exchangeIn({ ctx: liveContext(), profile, cache: cached.cache, connect: spy.connect });
    expect(outcome.issued_token_type).toBe(ACCESS_TOKEN_TYPE);
    expect(cached.read().broker?.access_token).toBe(spy.exchanges[0]!.access_token);
  });

  it('an ID token sent as an access token: the broker\'s refusal (exit 5) comes with a --subject-token-type hint', async () => {
    const { exchange, session } = await signedIn();
    const err = await failure(exchange({ subjectToken: session.id_token! }).run());
    expect(err).toBeInstanceOf(OAuthRefusedError);
    expect(err.exitCode).toBe(5);
    expect(err.message).toMatch(/invalid_request: subject_token rejected: it is not an access token/);
    expect(err.hint).toMatch(/^The broker takes this token for another type than access_token: try --subject-token-type id_token/);
  });
});
