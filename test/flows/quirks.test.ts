/**
 * The quirks matrix: one small IdP of our own a row (test/helpers/quirky-idp.ts), each with one
 * quirk a real IdP has, and what the user sees: the exit code, the line on stderr (the error, its
 * hint, a warning), what the IdP received.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_SCOPES, type Profile } from '../../src/config/types.js';
import type { AuthbridgeError } from '../../src/errors.js';
import { doctorFlow } from '../../src/flows/doctor.js';
import { loginFlow } from '../../src/flows/login.js';
import { logoutFlow } from '../../src/flows/logout.js';
import { refreshFlow } from '../../src/flows/refresh.js';
import { introspectFlow } from '../../src/flows/introspect.js';
import { BROKER_CLIENT, claimsOf, exchangeIn, liveContext, recordingTalk, startTestBroker, tempCache } from '../helpers/flows.js';
import { freePort } from '../helpers/glewlwyd.js';
import { ENTRA_TENANT_ID, QUIRKY_PUBLIC_CLIENT, startQuirkyIdp, type QuirkyIdp, type Quirks } from '../helpers/quirky-idp.js';
import { recordingBrowser } from '../helpers/recording-browser.js';

const closers: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

async function idpWith(quirks: Quirks): Promise<QuirkyIdp> {
  const idp = await startQuirkyIdp(quirks);
  closers.push(idp.close);
  return idp;
}

function profileOf(idp: QuirkyIdp, extra: Partial<Profile> = {}): Profile {
  return { name: 'default', issuer: idp.issuer, clientId: QUIRKY_PUBLIC_CLIENT, scopes: [...DEFAULT_SCOPES], redirectPort: 0, ...extra };
}

async function login(idp: QuirkyIdp, profile: Profile, timeoutSeconds = 10) {
  const browser = recordingBrowser({ drive: (url) => idp.drive(url) });
  const ctx = { ...liveContext({ browser: browser.open }), fetch: idp.fetch };
  const cached = tempCache();
  const talk = recordingTalk();
  const outcome = await loginFlow({ ctx, profile, cache: cached.cache, talk: talk.talk, timeoutSeconds }).then(
    (result) => ({ result, error: undefined }),
    (error: unknown) => ({ result: undefined, error: error as AuthbridgeError }),
  );
  return { ...outcome, ctx, cached, talk };
}

describe('the quirks matrix', () => {
  it('exact-match redirect URIs: a free port meets the IdP\'s error page; the timeout (exit 5) and doctor name the URI to register', async () => {
    const port = await freePort();
    const idp = await idpWith({ exactRedirectUri: `http://127.0.0.1:${port}/callback` });
    const { error } = await login(idp, profileOf(idp), 0.5);
    expect(error?.exitCode).toBe(5);
    expect(error?.message).toMatch(/^could not sign in: nobody came back to http:\/\/127\.0\.0\.1:\d+\/callback within 0\.5 s$/);
    expect(error?.hint).toMatch(/register exactly http:\/\/127\.0\.0\.1:\d+\/callback for client quirky-cli, or choose a registered one with --port/);
    const report = await doctorFlow({ profileName: 'default', loadProfile: async () => profileOf(idp), configFile: '/nonexistent/c.json', cacheDir: tempCache().dir, fetch, now: Date.now() });
    expect(report.checks.find((c) => c.name === 'authorization')).toMatchObject({ status: 'fail', detail: 'the IdP refuses the login request with HTTP 400: an unknown client id, or a redirect URI it does not accept' });
    // With the registered port the same login goes through.
    const { result } = await login(idp, profileOf(idp, { redirectPort: port }));
    expect(result?.session.access_token).toBeTruthy();
  });

  it('raw Basic decoding: an id and secret with - and . arrive exactly as registered', async () => {
    const client = { clientId: 'app-1.cli', clientSecret: 'se.cr-et_1' };
    const idp = await idpWith({ rawBasicClient: client });
    const { result, error } = await login(idp, profileOf(idp, client));
    expect(error).toBeUndefined();
    expect(result?.session.access_token).toBeTruthy();
    expect(idp.basicSeen).toEqual(['app-1.cli:se.cr-et_1']);
  });

  it('no revocation endpoint: logout removes the tokens and warns "not revoked" (exit 0)', async () => {
    const idp = await idpWith({ noRevocation: true });
    const { ctx, cached } = await login(idp, profileOf(idp));
    const [doc] = await logoutFlow({ ctx, cache: cached.cache, names: ['default'], local: false, loadProfile: async () => profileOf(idp) });
    expect(doc).toEqual({
      profile: 'default',
      removed: true,
      revoked: { idp: false, broker: false },
      signed_out: ['quirky@example.test'],
      now_active: null,
      warnings: [`not revoked: ${idp.issuer} has no revocation endpoint (the tokens left this machine and run out at their expiry)`],
    });
    expect(idp.requests.filter((r) => r.includes('revoke'))).toEqual([]);
    // doctor notes it (a warning, not a failure).
    const report = await doctorFlow({ profileName: 'default', loadProfile: async () => profileOf(idp), configFile: '/nonexistent/c.json', cacheDir: tempCache().dir, fetch, now: Date.now() });
    expect(report.checks.find((c) => c.name === 'endpoints')).toMatchObject({
      status: 'warn',
      detail: 'the IdP has no revocation_endpoint: logout only removes the tokens from this machine',
    });
    expect(report.outcome).toBe('ok');
  });

  it('access tokens typed JWT (Keycloak, Okta, Entra ID, Auth0): the broker exchange succeeds', async () => {
    const idp = await idpWith({ typJwtAccessTokens: true });
    const broker = await startTestBroker(idp, { audience: ['https://api.quirky.test/'] });
    closers.push(() => broker.close());
    const profile = profileOf(idp, { broker: { url: broker.url, ...BROKER_CLIENT } });
    const { ctx, cached } = await login(idp, profile);
    const outcome = await exchangeIn({ ctx, profile, cache: cached.cache });
    expect(outcome.account_status).toBe('created');
    expect(claimsOf(cached.read().broker!.access_token).iss).toBe(broker.url);
  });

  it('Google-like scopes: offline_access is not asked when scopes_supported leaves it out; asked anyway, invalid_scope (exit 5)', async () => {
    const idp = await idpWith({ googleScopes: true });
    const { result } = await login(idp, profileOf(idp, { authParams: { access_type: 'offline' } }));
    expect(result?.session.access_token).toBeTruthy();
    expect(idp.authorizeParams[0]!.get('scope')).toBe('openid profile email');
    expect(idp.authorizeParams[0]!.get('access_type')).toBe('offline');
    expect(idp.authorizeParams[0]!.has('prompt')).toBe(false);
    const { error } = await login(idp, profileOf(idp, { scopesConfigured: true }));
    expect(error?.exitCode).toBe(5);
    expect(error?.message).toMatch(/^could not sign in: invalid_scope: Some requested scopes were invalid/);
  });

  it('Entra-like {tenantid} issuer (…/common/v2.0): the ID token\'s issuer is the template with its tid; login and refresh succeed', async () => {
    const idp = await idpWith({ entraTemplateIssuer: true });
    const profile = profileOf(idp);
    const { result, error, ctx, cached } = await login(idp, profile);
    expect(error).toBeUndefined();
    expect(result?.claims).toMatchObject({ iss: `https://login.microsoftonline.com/${ENTRA_TENANT_ID}/v2.0`, tid: ENTRA_TENANT_ID });
    expect(cached.read().issuer).toBe('https://login.microsoftonline.com/common/v2.0');
    const refreshed = await refreshFlow({ ctx, profile, cache: cached.cache });
    expect(refreshed.access_token).not.toBe(result!.session.access_token);
    const report = await doctorFlow({ profileName: 'default', loadProfile: async () => profile, configFile: '/nonexistent/c.json', cacheDir: tempCache().dir, fetch: idp.fetch, now: Date.now() });
    expect(report.checks.find((c) => c.name === 'discovery')?.status).toBe('ok');
  });

  it('a {tenantid} document where the profile names something else: exit 2 naming the tenant issuer to set', async () => {
    const idp = await idpWith({ entraTemplateIssuer: true });
    const { error } = await login(idp, profileOf(idp, { issuer: 'https://login.microsoftonline.com/common/v2.0/' }));
    expect(error?.exitCode).toBe(2);
    expect(error?.message).toMatch(/it names the issuer "https:\/\/login\.microsoftonline\.com\/\{tenantid\}\/v2\.0"$/);
    expect(error?.hint).toMatch(/^This is Entra ID's multi-tenant document: set the issuer to your tenant's, https:\/\/login\.microsoftonline\.com\/<tenant id>\/v2\.0/);
  });

  it('no ID token on refresh and auth_time 0: login and refresh succeed, the ID token is kept', async () => {
    const idp = await idpWith({ noIdTokenOnRefresh: true, authTimeZero: true });
    const profile = profileOf(idp);
    const { result, ctx, cached } = await login(idp, profile);
    expect(result?.claims.auth_time).toBe(0);
    const refreshed = await refreshFlow({ ctx, profile, cache: cached.cache });
    expect(refreshed.access_token).not.toBe(result!.session.access_token);
    expect(refreshed.id_token).toBe(result!.session.id_token);
  });

  it('401 with an empty body: a refusal (exit 5) naming the endpoint, not "not JSON" (exit 3)', async () => {
    const idp = await idpWith({ empty401: true });
    const client = { clientId: 'conf', clientSecret: 's' };
    const { ctx, cached } = await login(await idpWith({}), profileOf(idp));
    const err = (await introspectFlow({ ctx, profile: profileOf(idp, client), cache: cached.cache, token: 'some-token' }).catch((e: unknown) => e)) as AuthbridgeError;
    expect(err.exitCode).toBe(5);
    expect(err.message).toBe('could not introspect the token: the IdP refused with no OAuth error (HTTP 401 at the introspection endpoint; client authentication: client_secret_basic)');
  });
});
