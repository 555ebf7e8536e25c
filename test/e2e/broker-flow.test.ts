/**
 * The mission end to end through the built CLI: login at a real OpenID provider (JWT access
 * tokens), exchange with the real broker process, status, token --type broker (re-exchange when
 * expired), introspect --broker, and logout ending the broker session.
 *
 * Each case stands alone with a user of its own (so "created" never depends on another case):
 * the IdP session, and the broker session where the case is not about making one, are made in
 * this process into the HOME the CLI then uses. The exchange flow itself is tested in process
 * in test/flows/exchange.test.ts.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { introspect as introspectAtBroker, startBroker, tempDir, type BrokerProcess } from '../broker/helpers.js';
import { isolatedEnv, runCli } from '../helpers/cli.js';
import { driveLogin, startBrowserHook, type BrowserHook, type DriveResult } from '../helpers/http-browser.js';
import { brokerProfile, exchangeIn, liveContext, signIn, tempCache, uniqueUser } from '../helpers/flows.js';
import { API_RESOURCE, idpEnv, startIdp, type Idp } from '../helpers/idp.js';
import { isoTime } from '../../src/util/time.js';
import type { CachedSession } from '../../src/cache/types.js';

let idp: Idp;
let browser: BrowserHook<DriveResult>;
let broker: BrokerProcess;

beforeAll(async () => {
  idp = await startIdp({ defaultResource: API_RESOURCE });
  browser = await startBrowserHook((url) => driveLogin(url, { login: 'dana' }));
  broker = await startBroker(
    {
      audience: 'my-app',
      clients: [
        { clientId: 'cli', tokenEndpointAuthMethod: 'client_secret_basic', clientSecret: 's3cret' },
        { clientId: 'sdk', apiKey: 'sdk-key' },
      ],
      providers: [
        {
          id: 'idp',
          type: 'jwt',
          issuer: idp.issuer,
          audience: [API_RESOURCE],
          algorithms: ['RS256'],
          mapping: { email: '/email', firstName: '/given_name', lastName: '/family_name' },
        },
      ],
    },
    join(tempDir(), 'broker.db'),
  );
}, 60_000);

afterAll(async () => {
  await broker?.stop();
  await browser?.close();
  await idp?.close();
});

type Env = Record<string, string>;
function env(extra: Record<string, string | undefined> = {}): Env {
  return idpEnv(idp, isolatedEnv(), {
    BROWSER: browser.command,
    AUTHBRIDGE_BROKER_URL: broker.url,
    AUTHBRIDGE_BROKER_CLIENT_ID: 'cli',
    AUTHBRIDGE_BROKER_CLIENT_SECRET: 's3cret',
    ...extra,
  });
}
const cacheFile = (e: Env) => join(e.XDG_CACHE_HOME!, 'authbridge', 'default.json');

/**
 * Signs a user of its own in, in this process, into the cache the CLI run with `e` uses; with
 * `exchange`, exchanges for a broker session too (as `authbridge exchange` would).
 */
async function signedIn(e: Env, options: { exchange?: boolean } = {}): Promise<CachedSession> {
  const cached = tempCache(join(e.XDG_CACHE_HOME!, 'authbridge'));
  const profile = brokerProfile(idp, broker);
  await signIn({ idp, cache: cached.cache, profile, login: uniqueUser('e2e') });
  if (options.exchange) await exchangeIn({ ctx: liveContext(), profile, cache: cached.cache });
  return cached.read();
}

async function cli(args: string[], e: Env, expected = 0) {
  const result = await runCli(args, { env: e });
  expect(result.code, `${args.join(' ')}\n${result.stderr}`).toBe(expected);
  expect(result.stderr).not.toMatch(/\n\s+at /);
  return result;
}

describe('a broker session through the CLI', () => {
  it('exchange --json prints the contract document: the account created, then existing', async () => {
    const e = env();
    await signedIn(e);
    const first = JSON.parse((await cli(['exchange', '--json'], e)).stdout);
    expect(first).toMatchObject({
      profile: 'default',
      broker: broker.url,
      issued_token_type: 'urn:ietf:params:oauth:token-type:access_token',
      account_status: 'created',
    });
    expect(first.subject).toEqual(expect.any(String));
    expect(first.expires_at).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    const again = JSON.parse((await cli(['exchange', '--json'], e)).stdout);
    expect(again).toMatchObject({ account_status: 'existing', subject: first.subject });
  }, 60_000);

  it('status --json shows the broker session; status --check --json asks the broker', async () => {
    const e = env();
    const { broker: session } = await signedIn(e, { exchange: true });
    const status = JSON.parse((await cli(['status', '--json'], e)).stdout);
    expect(status.broker).toEqual({ signed_in: true, issuer: broker.url, subject: session!.subject, expires_at: isoTime(session!.expires_at) });
    const checked = JSON.parse((await cli(['status', '--check', '--json'], e)).stdout);
    expect(checked.check.broker).toMatchObject({ live: true });
  }, 60_000);

  it('token --type broker prints the broker token, which verify accepts with the broker\'s keys; introspect --broker exit 0', async () => {
    const e = env();
    const { broker: session } = await signedIn(e, { exchange: true });
    const token = (await cli(['token', '--type', 'broker'], e)).stdout.trim();
    expect(token).toBe(session!.access_token);
    expect(token.split('.')).toHaveLength(3);
    const verified = await cli(
      ['verify', token, '--jwks-uri', `${broker.url}/jwks.json`, '--issuer', broker.url, '--audience', 'my-app', '--type', 'access', '--json'],
      e,
    );
    expect(JSON.parse(verified.stdout)).toMatchObject({ valid: true, payload: { sub: session!.subject, client_id: 'cli', idp: 'idp' } });
    expect((await cli(['introspect', '--broker'], e)).code).toBe(0);
  }, 60_000);

  it('token --type broker re-exchanges an expired broker token with the still-valid IdP token', async () => {
    const e = env();
    const { broker: session } = await signedIn(e, { exchange: true });
    const entry = JSON.parse(readFileSync(cacheFile(e), 'utf8'));
    entry.broker.expires_at = Date.now() - 1000;
    writeFileSync(cacheFile(e), JSON.stringify(entry), { mode: 0o600 });
    const renewed = (await cli(['token', '--type', 'broker'], e)).stdout.trim();
    expect(renewed).not.toBe(session!.access_token);
    expect(renewed).toBe(JSON.parse(readFileSync(cacheFile(e), 'utf8')).broker.access_token);
  }, 60_000);

  it('logout --json ends the broker session; then status and token --type broker exit 4', async () => {
    const e = env();
    const { broker: session } = await signedIn(e, { exchange: true });
    const logout = JSON.parse((await cli(['logout', '--json'], e)).stdout);
    expect(logout).toMatchObject({ profile: 'default', removed: true, revoked: { broker: true } });
    expect((await introspectAtBroker(broker.url, session!.access_token)).active).toBe(false);
    await cli(['status'], e, 4);
    await cli(['token', '--type', 'broker'], e, 4);
  }, 60_000);

  it('login --exchange signs in and exchanges in one go', async () => {
    const e = env();
    const result = JSON.parse((await cli(['login', '--exchange', '--json'], e)).stdout);
    expect(result.subject).toBe('dana');
    expect(result.exchange).toMatchObject({ broker: broker.url, account_status: expect.stringMatching(/^(created|existing)$/) });
  }, 60_000);

  it('login --exchange refused at the broker: exit 5 and the hint that the IdP session is cached; exchange then succeeds without the browser', async () => {
    const e = env({ AUTHBRIDGE_BROKER_CLIENT_SECRET: 'wrong' });
    const failed = await cli(['login', '--exchange'], e, 5);
    expect(failed.stderr).toContain('You are signed in at the IdP (the session is cached): `authbridge exchange` retries the exchange without the browser.');
    const retried = await cli(['exchange', '--json'], { ...e, AUTHBRIDGE_BROKER_CLIENT_SECRET: 's3cret', BROWSER: '/bin/false' });
    expect(JSON.parse(retried.stdout)).toMatchObject({ broker: broker.url, account_status: expect.stringMatching(/^(created|existing)$/) });
  }, 60_000);

  describe('a broker session made with --broker-* flags only (nothing of the broker in config or env)', () => {
    const flags = () => ['--broker-url', broker.url, '--broker-client-id', 'cli', '--broker-client-secret', 's3cret'];
    async function flagsOnlySession(): Promise<{ e: Env; token: string }> {
      const e = idpEnv(idp, isolatedEnv(), { BROWSER: browser.command });
      await signedIn(e);
      await cli(['exchange', ...flags()], e);
      const cached = JSON.parse(readFileSync(cacheFile(e), 'utf8')).broker;
      expect(cached).toMatchObject({ url: broker.url, client_id: 'cli' });
      return { e, token: cached.access_token };
    }

    it('logout with the same flags ends it at the broker', async () => {
      const { e, token } = await flagsOnlySession();
      const logout = JSON.parse((await cli(['logout', '--json', ...flags()], e)).stdout);
      expect(logout).toMatchObject({ removed: true, revoked: { broker: true }, warnings: [] });
      expect((await introspectAtBroker(broker.url, token)).active).toBe(false);
    }, 60_000);

    it('logout without them (a confidential client): the warning names the flags to give', async () => {
      const { e } = await flagsOnlySession();
      const logout = await cli(['logout'], e);
      expect(logout.stderr).toMatch(
        /^warning: the broker session at http:\/\/127\.0\.0\.1:\d+ was not ended: .* \(give logout the --broker-url, --broker-client-id and --broker-client-secret the session was made with\)$/m,
      );
    }, 60_000);
  });

  describe('the Synerise-compatible protocol', () => {
    const synerise = (apiKey: string) => env({ AUTHBRIDGE_BROKER_PROTOCOL: 'synerise', AUTHBRIDGE_BROKER_API_KEY: apiKey });

    it('exchange --json with the API key', async () => {
      const e = synerise('sdk-key');
      await signedIn(e);
      const out = JSON.parse((await cli(['exchange', '--json'], e)).stdout);
      expect(out.broker).toBe(broker.url);
      expect(out.subject).toEqual(expect.any(String));
    }, 60_000);

    it('a wrong API key: exit 5, "could not sign in at the broker"', async () => {
      const e = synerise('wrong');
      await signedIn(e);
      const bad = await cli(['exchange'], e, 5);
      expect(bad.stderr).toMatch(/^authbridge: could not sign in at the broker/);
    }, 60_000);
  });
});

describe('exchange failures', () => {
  let e: Env;
  // One signed-in HOME that no case changes (each failing exchange leaves the cache as it was).
  beforeAll(async () => {
    e = env();
    await signedIn(e);
  }, 60_000);

  it.each([
    ['not signed in', 4, () => env(), [] as string[], /not signed in/],
    ['no broker configured', 2, () => ({ ...e, AUTHBRIDGE_BROKER_URL: '' }), [], /no broker configured/],
    ['a wrong client secret', 5, () => ({ ...e, AUTHBRIDGE_BROKER_CLIENT_SECRET: 'nope' }), [], /invalid_client/],
    ['a broker that is down', 3, () => ({ ...e, AUTHBRIDGE_BROKER_URL: 'http://127.0.0.1:9' }), [], /could not fetch the broker metadata/],
    ['a subject token from nowhere', 5, () => e, ['--subject-token', 'opaque-garbage'], /invalid_request/],
  ])('%s → exit %i and one line', async (_name, code, makeEnv, args, message) => {
    const result = await cli(['exchange', ...args], makeEnv(), code);
    expect(result.stderr.split('\n')[0]).toMatch(/^authbridge: /);
    expect(result.stderr).toMatch(message);
    expect(result.stdout).toBe('');
  });

  it('prints the error as JSON on stdout under --json', async () => {
    const result = await cli(['exchange', '--json'], { ...e, AUTHBRIDGE_BROKER_CLIENT_SECRET: 'nope' }, 5);
    expect(JSON.parse(result.stdout)).toEqual({ error: { code: 'refused', message: expect.stringMatching(/invalid_client/) } });
  });
});
