/**
 * The whole flow against a second, independent OpenID provider: Glewlwyd (Debian's `glewlwyd`,
 * a C implementation) started by test/helpers/glewlwyd.ts on SQLite in a temp dir. Login
 * (exact-match redirect URI), verification of its tokens, refresh, logout and the broker
 * exchange, with the public client and with a confidential one whose id and secret contain `-`
 * and `.`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningBroker } from '../../src/broker/server.js';
import { DEFAULT_SCOPES, type Profile } from '../../src/config/types.js';
import { AuthorizationRefusedError, OAuthRefusedError, UsageError, type AuthbridgeError } from '../../src/errors.js';
import { doctorFlow } from '../../src/flows/doctor.js';
import { introspectFlow } from '../../src/flows/introspect.js';
import { statusFlow } from '../../src/flows/status.js';
import { loginFlow } from '../../src/flows/login.js';
import { logoutFlow } from '../../src/flows/logout.js';
import { refreshFlow } from '../../src/flows/refresh.js';
import { verifyToken } from '../../src/index.js';
import { BROKER_CLIENT, activeAtBroker, claimsOf, exchangeIn, liveContext, recordingTalk, recordingTrace, startTestBroker, tempCache } from '../helpers/flows.js';
import {
  GLEWLWYD_CONFIDENTIAL_CLIENT,
  GLEWLWYD_PUBLIC_CLIENT,
  GLEWLWYD_USER,
  freePort,
  startGlewlwyd,
  type Glewlwyd,
} from '../helpers/glewlwyd.js';
import { makeKey, sign } from '../helpers/keys.js';
import { recordingBrowser } from '../helpers/recording-browser.js';

let glewlwyd: Glewlwyd;
let broker: RunningBroker;
let port: number;
/** Without a resource, Glewlwyd's access tokens name the granted scopes as their `aud`. */
const SCOPES = ['openid', 'profile', 'email'];
beforeAll(async () => {
  port = await freePort();
  glewlwyd = await startGlewlwyd({ redirectUris: [`http://127.0.0.1:${port}/callback`, `http://localhost:${port}/callback`] });
  broker = await startTestBroker(glewlwyd, { audience: [SCOPES.join(' ')] });
}, 30_000);
afterAll(async () => {
  await broker?.close();
  await glewlwyd?.close();
});

function profileFor(client: { clientId: string; clientSecret?: string }, extra: Partial<Profile> = {}): Profile {
  // The default scopes, as a user who configured none: Glewlwyd does not list offline_access.
  return { name: 'default', issuer: glewlwyd.issuer, ...client, scopes: [...DEFAULT_SCOPES], redirectPort: port, ...extra };
}

async function login(profile: Profile) {
  const browser = recordingBrowser({ drive: (url) => glewlwyd.drive(url) });
  const ctx = liveContext({ browser: browser.open });
  const cached = tempCache();
  const trace = recordingTrace();
  const flow = loginFlow({ ctx, profile, cache: cached.cache, talk: recordingTalk().talk, trace: trace.trace, timeoutSeconds: 20 });
  // A drive that fails (Glewlwyd refused the request) fails the test at once, not at the timeout.
  const opened = new Promise<void>((resolve) => {
    const poll = () => (browser.visits.length ? resolve() : setTimeout(poll, 10));
    poll();
  });
  const drive = opened.then(() => browser.visit());
  drive.catch(() => ctx.interrupt());
  const [result] = await Promise.all([flow, drive]);
  return { ...result, cached, ctx, trace, visit: await browser.visit() };
}

describe.each([
  ['the public client', GLEWLWYD_PUBLIC_CLIENT as { clientId: string; clientSecret?: string }],
  ['a confidential client whose id and secret hold - and .', GLEWLWYD_CONFIDENTIAL_CLIENT],
])('Glewlwyd, %s', (_name, client) => {
  it('signs in, verifies, refreshes and logs out', async () => {
    const profile = profileFor(client);
    const withBroker: Profile = { ...profile, broker: { url: broker.url, ...BROKER_CLIENT } };
    const { session, claims, cached, ctx, visit, trace } = await login(profile);
    // --verbose names the client authentication and why: Glewlwyd lists basic then post, never none.
    expect(trace.lines).toContain(
      client.clientSecret
        ? 'client authentication at the IdP: client_secret_basic (the first the server lists of client_secret_basic, client_secret_post)'
        : 'client authentication at the IdP: none (a public client: no client secret)',
    );
    expect(visit.callbackUrl.origin).toBe(`http://127.0.0.1:${port}`);
    // offline_access only when the IdP lists it; no forced consent screen.
    expect(visit.authorizeUrl.searchParams.get('scope')).toBe(SCOPES.join(' '));
    expect(visit.authorizeUrl.searchParams.has('prompt')).toBe(false);
    expect(trace.lines).toContain('not asking for offline_access: the IdP does not list it in scopes_supported (give --scopes to ask anyway)');
    expect(claims).toMatchObject({ iss: glewlwyd.issuer, sub: expect.any(String) });
    expect(session.email ?? claims.email).toBe(GLEWLWYD_USER.email);
    expect(cached.mode()).toBe(0o600);

    const access = await verifyToken(session.access_token!, { issuer: glewlwyd.issuer, audience: claimsOf(session.access_token!).aud as string, type: 'access' });
    expect(access.checks.filter((c) => !c.ok)).toEqual([]);
    const id = await verifyToken(session.id_token!, { issuer: glewlwyd.issuer, audience: client.clientId, type: 'id' });
    expect(id.valid).toBe(true);

    const refreshed = await refreshFlow({ ctx, profile, cache: cached.cache });
    expect(refreshed.access_token).not.toBe(session.access_token);
    expect(cached.read().access_token).toBe(refreshed.access_token);

    const exchanged = await exchangeIn({ ctx, profile: withBroker, cache: cached.cache });
    // The same Glewlwyd user in both rows: the second one finds the broker account.
    expect(['created', 'existing']).toContain(exchanged.account_status);
    const brokerToken = cached.read().broker!.access_token;
    expect(claimsOf(brokerToken)).toMatchObject({ iss: broker.url, idp: 'idp' });
    expect(await activeAtBroker(broker, brokerToken)).toBe(true);

    const [outcome] = await logoutFlow({ ctx, cache: cached.cache, names: ['default'], local: false, loadProfile: async () => withBroker });
    if (client.clientSecret) {
      expect(outcome).toEqual({ profile: 'default', removed: true, revoked: { idp: true, broker: true }, signed_out: [expect.any(String)], now_active: null, warnings: [] });
    } else {
      // Glewlwyd lists only client_secret_basic for revocation: said plainly, once, as a warning.
      expect(outcome).toMatchObject({ removed: true, revoked: { idp: false, broker: true } });
      expect(outcome!.warnings).toEqual([
        `not revoked: ${glewlwyd.issuer} refuses public clients at its revocation endpoint (it lists client_secret_basic) (the tokens left this machine and run out at their expiry)`,
      ]);
    }
    expect(await activeAtBroker(broker, brokerToken)).toBe(false);
    expect(cached.exists()).toBe(false);
  });
});

describe('Glewlwyd, client authentication', () => {
  it('uses the profile clientAuthMethod (client_secret_post) over the IdP order', async () => {
    const { trace, session } = await login(profileFor(GLEWLWYD_CONFIDENTIAL_CLIENT, { clientAuthMethod: 'client_secret_post' }));
    expect(trace.lines).toContain('client authentication at the IdP: client_secret_post (as configured)');
    expect(session.access_token).toBeTruthy();
  });

  it('a wrong secret is a refusal (exit 5) that names the method used', async () => {
    const err = await login(profileFor({ ...GLEWLWYD_CONFIDENTIAL_CLIENT, clientSecret: 'not-the-secret' })).then(
      () => expect.fail('signed in with a wrong secret'),
      (e: unknown) => e as AuthbridgeError,
    );
    expect(err).toBeInstanceOf(OAuthRefusedError);
    expect(err.exitCode).toBe(5);
    expect(err.message).toMatch(/^could not exchange the authorization code: .*; client authentication: client_secret_basic\)$/);
  });
});

describe('Glewlwyd, introspection and revocation refusals', () => {
  it('a public client is told plainly that introspection needs a confidential client (exit 2, pointing at verify)', async () => {
    const { cached, ctx } = await login(profileFor(GLEWLWYD_PUBLIC_CLIENT));
    const err = await introspectFlow({ ctx, profile: profileFor(GLEWLWYD_PUBLIC_CLIENT), cache: cached.cache }).catch((e: unknown) => e as AuthbridgeError);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as AuthbridgeError).message).toBe(
      `could not introspect the token: ${glewlwyd.issuer} refuses public clients at its introspection endpoint (it lists client_secret_basic)`,
    );
    expect((err as AuthbridgeError).hint).toContain('authbridge verify --type access');
  });

  it('a 401 with an empty body is a refusal (exit 5) naming the endpoint, the status and the method', async () => {
    const { cached, ctx } = await login(profileFor(GLEWLWYD_CONFIDENTIAL_CLIENT));
    const wrong = profileFor({ ...GLEWLWYD_CONFIDENTIAL_CLIENT, clientSecret: 'not-the-secret' });
    const err = (await introspectFlow({ ctx, profile: wrong, cache: cached.cache }).catch((e: unknown) => e)) as AuthbridgeError;
    expect(err).toBeInstanceOf(AuthorizationRefusedError);
    expect(err.exitCode).toBe(5);
    expect(err.message).toBe(
      'could not introspect the token: the IdP refused with no OAuth error (HTTP 401 at the introspection endpoint; client authentication: client_secret_basic)',
    );
    expect(err.hint).toBe('Check that this client may introspect tokens at the IdP, and its clientId, clientSecret and clientAuthMethod.');
    const confidential = await introspectFlow({ ctx, profile: profileFor(GLEWLWYD_CONFIDENTIAL_CLIENT), cache: cached.cache });
    expect(confidential).toMatchObject({ active: true, client_id: GLEWLWYD_CONFIDENTIAL_CLIENT.clientId });
  });

  it('"inactive" for a JWT comes with a note pointing at verify --type access', async () => {
    const { cached, ctx } = await login(profileFor(GLEWLWYD_CONFIDENTIAL_CLIENT));
    const said: string[] = [];
    const forged = await sign(await makeKey('RS256'), { iss: glewlwyd.issuer, sub: 'ada' }, { header: { typ: 'at+jwt' } });
    const profile = profileFor(GLEWLWYD_CONFIDENTIAL_CLIENT);
    const result = await introspectFlow({ ctx, profile, cache: cached.cache, token: forged, warn: (t) => void said.push(t) });
    expect(result.active).toBe(false);
    expect(said).toEqual([
      'the IdP says "inactive", but many IdPs (the demo\'s among them) do not introspect the JWT access tokens they issue: check it locally with `authbridge verify --type access`',
    ]);
  });
});

describe('Glewlwyd, status --check with a public client', () => {
  it('an expired access token and an IdP that introspects for confidential clients only: "cannot tell", not an error', async () => {
    const profile = profileFor(GLEWLWYD_PUBLIC_CLIENT);
    const { ctx, cached } = await login(profile);
    await cached.cache.update('default', (entry) => (entry ? { ...entry, access_token_expires_at: Date.now() - 1000 } : entry));
    const [status] = await statusFlow({ ctx, cache: cached.cache, names: ['default'], check: true, loadProfile: async () => profile });
    expect(status!.document.check?.idp).toEqual({
      live: null,
      method: null,
      detail: `${glewlwyd.issuer} refuses public clients at its introspection endpoint (it lists client_secret_basic)`,
    });
  });
});

describe('Glewlwyd listing bearer for introspection and revocation', () => {
  let bearerIdp: Glewlwyd;
  beforeAll(async () => {
    bearerIdp = await startGlewlwyd({ redirectUris: [`http://127.0.0.1:${port}/callback`], bearerScope: 'openid' });
  }, 30_000);
  afterAll(async () => {
    await bearerIdp?.close();
  });

  it('a public client introspects and revokes with its access token as bearer', async () => {
    const profile: Profile = { ...profileFor(GLEWLWYD_PUBLIC_CLIENT), issuer: bearerIdp.issuer };
    const browser = recordingBrowser({ drive: (url) => bearerIdp.drive(url) });
    const ctx = liveContext({ browser: browser.open });
    const cached = tempCache();
    await loginFlow({ ctx, profile, cache: cached.cache, talk: recordingTalk().talk, timeoutSeconds: 20 });
    expect(await introspectFlow({ ctx, profile, cache: cached.cache, type: 'refresh' })).toMatchObject({ active: true });
    const session = cached.read();
    const [outcome] = await logoutFlow({ ctx, cache: cached.cache, names: ['default'], local: false, loadProfile: async () => profile });
    expect(outcome).toEqual({ profile: 'default', removed: true, revoked: { idp: true, broker: false }, signed_out: [expect.any(String)], now_active: null, warnings: [] });
    // Revoked for real: the IdP says so to the confidential client.
    const confidential: Profile = { ...profileFor(GLEWLWYD_CONFIDENTIAL_CLIENT), issuer: bearerIdp.issuer };
    const after = await introspectFlow({ ctx, profile: confidential, cache: cached.cache, token: session.refresh_token!, type: 'refresh' });
    expect(after.active).toBe(false);
  });
});

/** A free port other than the registered one. */
async function otherFreePort(): Promise<number> {
  for (;;) {
    const candidate = await freePort();
    if (candidate !== port) return candidate;
  }
}

describe('Glewlwyd matches redirect URIs exactly', () => {
  const doctor = (profile: Profile) =>
    doctorFlow({ profileName: 'default', loadProfile: async () => profile, configFile: '/nonexistent/config.json', cacheDir: tempCache().dir, fetch, now: Date.now() });

  it.each([
    ['the registered port', () => profileFor(GLEWLWYD_PUBLIC_CLIENT), 'ok', /^the IdP accepts client authbridge-cli\.public with http:\/\/127\.0\.0\.1:\d+\/callback/],
    // Another port that is free now (port + 1 may be taken: doctor would then report that instead).
    ['another port', async () => profileFor(GLEWLWYD_PUBLIC_CLIENT, { redirectPort: await otherFreePort() }), 'fail', /^the IdP refuses the login request with HTTP 403: an unknown client id, or a redirect URI it does not accept$/],
    ['an unknown client', () => profileFor({ clientId: 'nobody' }), 'fail', /^the IdP refuses the login request with HTTP 403/],
  ] as const)('doctor probes the authorization endpoint: %s', async (_name, profile, status, detail) => {
    const report = await doctor(await profile());
    const check = (name: string) => report.checks.find((c) => c.name === name)!;
    expect(check('redirect uri')).toMatchObject({ status: 'warn', detail: expect.stringMatching(/^register exactly http:\/\/127\.0\.0\.1:\d+\/callback at the IdP/) });
    expect(check('authorization')).toMatchObject({ status, detail: expect.stringMatching(detail) });
    if (status === 'fail') expect(check('authorization').fix).toMatch(/^Register exactly http:\/\/127\.0\.0\.1:\d+\/callback for client /);
  });

  it('signs in with --redirect-host localhost when that is the URI registered', async () => {
    const { visit, session } = await login(profileFor(GLEWLWYD_PUBLIC_CLIENT, { redirectHost: 'localhost' }));
    expect(visit.callbackUrl.origin).toBe(`http://localhost:${port}`);
    expect(session.access_token).toBeTruthy();
  });
});

describe('Glewlwyd, extra authorization parameters', () => {
  it('--prompt, --auth-param and --audience reach the authorization request; the flow\'s own parameters are kept', async () => {
    const { visit, session } = await login(
      profileFor(GLEWLWYD_PUBLIC_CLIENT, { prompt: 'login', authParams: { ui_locales: 'fr', acr_values: 'urn:x' }, audience: 'https://api.example.test' }),
    );
    const params = visit.authorizeUrl.searchParams;
    expect([params.get('prompt'), params.get('ui_locales'), params.get('acr_values'), params.get('audience')]).toEqual(['login', 'fr', 'urn:x', 'https://api.example.test']);
    expect(params.get('code_challenge_method')).toBe('S256');
    expect(session.access_token).toBeTruthy();
  });
});
