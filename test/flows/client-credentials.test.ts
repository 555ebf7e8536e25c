/**
 * The client credentials grant for CI: `login --client-credentials` and a `grant:
 * client_credentials` profile, against oidc-provider (`features.clientCredentials`) and real
 * Glewlwyd (`auth-type-client-enabled`). The token is cached like a session (0600, marked
 * `grant`, no subject, no refresh token), `token` hands it out and gets a new one when it runs
 * out (one grant for parallel calls), `status` says "signed in as client …", `logout` revokes it.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenCache } from '../../src/cache/token-cache.js';
import type { Profile } from '../../src/config/types.js';
import { clientCredentialsFlow } from '../../src/flows/client-credentials.js';
import { refreshFlow } from '../../src/flows/refresh.js';
import { tokenFlow } from '../../src/flows/token.js';
import { isolatedEnv, runCli } from '../helpers/cli.js';
import { claimsOf, editEntry, idpProfile, liveContext, tempCache } from '../helpers/flows.js';
import { GLEWLWYD_BIN, GLEWLWYD_MACHINE_CLIENT, startGlewlwyd, type Glewlwyd } from '../helpers/glewlwyd.js';
import { API_RESOURCE, MACHINE_CLIENT_ID, MACHINE_CLIENT_SECRET, PUBLIC_CLIENT_ID, startIdp, type Idp } from '../helpers/idp.js';

let idp: Idp;
beforeAll(async () => {
  idp = await startIdp();
});
afterAll(async () => {
  await idp?.close();
});

function machineProfile(overrides: Partial<Profile> = {}): Profile {
  return idpProfile(idp, { clientId: MACHINE_CLIENT_ID, clientSecret: MACHINE_CLIENT_SECRET, grant: 'client_credentials', scopesConfigured: false, ...overrides });
}

/** A private HOME whose env names the test IdP and the machine client (as CI would). */
function ciEnv(extra: Record<string, string> = {}): { env: Record<string, string>; cache: ReturnType<typeof tempCache> } {
  const env: Record<string, string> = { ...isolatedEnv(), AUTHBRIDGE_ISSUER: idp.issuer, AUTHBRIDGE_CLIENT_ID: MACHINE_CLIENT_ID, AUTHBRIDGE_CLIENT_SECRET: MACHINE_CLIENT_SECRET, ...extra };
  return { env, cache: tempCache(join(env.XDG_CACHE_HOME!, 'authbridge')) };
}

const ccGrants = () => idp.grants.filter((g) => g.grantType === 'client_credentials' && g.status === 200).length;

describe('login --client-credentials, token, status, logout (the built CLI)', () => {
  it('signs the client in without a browser, hands out the cached token, shows and revokes it', async () => {
    const { env, cache } = ciEnv();
    const grantsBefore = ccGrants();
    const login = await runCli(['login', '--client-credentials', '--json'], { env });
    expect(login.stderr).toBe('');
    expect(login.code).toBe(0);
    const doc = JSON.parse(login.stdout) as Record<string, unknown>;
    expect(doc).toMatchObject({ profile: 'default', issuer: idp.issuer, subject: null, client_id: MACHINE_CLIENT_ID, grant: 'client_credentials', scopes: [] });
    expect(doc.expires_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const entry = cache.read();
    expect(cache.mode()).toBe(0o600);
    expect(entry).toMatchObject({ grant: 'client_credentials', client_id: MACHINE_CLIENT_ID });
    expect(entry.subject).toBeUndefined();
    expect(entry.refresh_token).toBeUndefined();
    expect(entry.id_token).toBeUndefined();

    const token = await runCli(['token'], { env });
    expect([token.code, token.stdout]).toEqual([0, `${entry.access_token}\n`]);
    expect(ccGrants()).toBe(grantsBefore + 1);

    const status = await runCli(['status'], { env });
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/^default: signed in as client machine\n/);
    expect(status.stdout).toMatch(/refresh token\s+none/);
    const statusJson = JSON.parse((await runCli(['status', '--json', '--check'], { env })).stdout) as Record<string, unknown>;
    expect(statusJson).toMatchObject({ signed_in: true, subject: null, grant: 'client_credentials', client_id: MACHINE_CLIENT_ID, check: { idp: { live: true, method: 'introspection' } } });

    // Without the secret here the IdP cannot be asked: unknown, not an error.
    const unknown = await runCli(['status', '--json', '--check'], { env: { ...env, AUTHBRIDGE_CLIENT_SECRET: '' } });
    expect(unknown.code).toBe(0);
    expect(JSON.parse(unknown.stdout)).toMatchObject({ signed_in: true, check: { idp: { live: null, method: null, detail: 'no client secret or key of client machine here to ask the IdP with' } } });

    const logout = await runCli(['logout', '--json'], { env });
    expect(logout.code).toBe(0);
    expect(JSON.parse(logout.stdout)).toMatchObject({ profile: 'default', removed: true, revoked: { idp: true }, warnings: [] });
    expect(cache.exists()).toBe(false);
    const connected = await import('../../src/flows/connectors.js').then(({ oidcConnectors }) =>
      oidcConnectors.idp({ issuer: idp.issuer, clientId: MACHINE_CLIENT_ID, clientSecret: MACHINE_CLIENT_SECRET, fetch: (...a) => globalThis.fetch(...a), now: Date.now }),
    );
    expect((await connected.introspect(entry.access_token!)).active).toBe(false);
  });

  it('a public client asking for client credentials: exit 2 naming the secret or key it needs, nothing sent', async () => {
    const { env, cache } = ciEnv({ AUTHBRIDGE_CLIENT_ID: PUBLIC_CLIENT_ID, AUTHBRIDGE_CLIENT_SECRET: '' });
    const before = idp.requests.length;
    const run = await runCli(['login', '--client-credentials'], { env });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^authbridge: the client credentials grant needs a confidential client: profile "default" has no client secret or key\n/);
    expect(run.stderr).toContain('--client-secret (AUTHBRIDGE_CLIENT_SECRET) or --client-key (AUTHBRIDGE_CLIENT_KEY)');
    expect(idp.requests.slice(before)).toEqual([]);
    expect(cache.exists()).toBe(false);
    const exchange = await runCli(['login', '--client-credentials', '--exchange'], { env: ciEnv().env });
    expect(exchange.code).toBe(2);
    expect(exchange.stderr).toMatch(/^authbridge: --exchange goes with a user's sign-in, not with the client credentials grant\n/);
  });

  it('a wrong secret: exit 5 with the IdP\'s invalid_client, nothing cached', async () => {
    const { env, cache } = ciEnv({ AUTHBRIDGE_CLIENT_SECRET: 'wrong' });
    const run = await runCli(['login', '--client-credentials'], { env });
    expect(run.code).toBe(5);
    expect(run.stderr).toMatch(/invalid_client/);
    expect(cache.exists()).toBe(false);
  });

  it('`token` with a grant: client_credentials profile in the config and no login: gets one; --min-valid longer than the IdP gives: exit 4', async () => {
    const { env, cache } = ciEnv({ AUTHBRIDGE_CLIENT_SECRET: '' });
    mkdirSync(join(env.XDG_CONFIG_HOME!, 'authbridge'), { recursive: true, mode: 0o700 });
    writeFileSync(
      join(env.XDG_CONFIG_HOME!, 'authbridge', 'config.json'),
      JSON.stringify({ profiles: { ci: { issuer: idp.issuer, clientId: MACHINE_CLIENT_ID, clientSecret: MACHINE_CLIENT_SECRET, grant: 'client_credentials', scopes: ['api:read'], resource: API_RESOURCE } } }),
      { mode: 0o600 },
    );
    const token = await runCli(['token', '--profile', 'ci', '--min-valid', '10m'], { env });
    expect(token.stderr).toBe('');
    expect(token.code).toBe(0);
    // With a resource the IdP issues a JWT for it (RFC 8707), with the asked scope.
    expect(claimsOf(token.stdout.trim())).toMatchObject({ aud: API_RESOURCE, client_id: MACHINE_CLIENT_ID, scope: 'api:read' });
    expect(cache.read('ci').access_token).toBe(token.stdout.trim());
    const tooLong = await runCli(['token', '--profile', 'ci', '--min-valid', '2h'], { env });
    expect(tooLong.code).toBe(4);
    expect(tooLong.stderr).toMatch(/even a new client credentials token expires within 2h/);
    const id = await runCli(['token', '--profile', 'ci', '--type', 'id'], { env });
    expect(id.code).toBe(4);
    expect(id.stderr).toMatch(/a client credentials session has no ID token/);
  });
});

describe('renewal', () => {
  it('renews the token as login --client-credentials --scopes --resource asked for it, without those flags', async () => {
    const { env, cache } = ciEnv();
    const login = await runCli(['login', '--client-credentials', '--scopes', 'api:read', '--resource', API_RESOURCE], { env });
    expect(login.code).toBe(0);
    const first = cache.read();
    expect(first.grant_request).toEqual({ scopes: ['api:read'], resource: API_RESOURCE });
    await editEntry(cache.cache, 'default', (e) => {
      e.access_token_expires_at = Date.now() - 1000;
    });
    const token = await runCli(['token'], { env });
    expect(token.code).toBe(0);
    expect(token.stdout.trim()).not.toBe(first.access_token);
    expect(claimsOf(token.stdout.trim())).toMatchObject({ aud: API_RESOURCE, scope: 'api:read', client_id: MACHINE_CLIENT_ID });
  });

  it('an expired machine token: 10 parallel `token` calls (separate caches on one dir) make one grant and all print its token', async () => {
    const { cache, dir } = tempCache();
    const profile = machineProfile();
    const first = await clientCredentialsFlow({ ctx: liveContext(), profile, cache });
    await editEntry(cache, 'default', (e) => {
      e.access_token_expires_at = Date.now() - 1000;
    });
    const before = ccGrants();
    const results = await Promise.all(
      Array.from({ length: 10 }, () => tokenFlow({ ctx: liveContext(), profile, cache: new TokenCache(dir), type: 'access' })),
    );
    expect(ccGrants()).toBe(before + 1);
    const tokens = new Set(results.map((r) => r.token));
    expect(tokens.size).toBe(1);
    expect(tokens.has(first.access_token!)).toBe(false);
    expect(results.filter((r) => r.refreshed).length).toBeGreaterThanOrEqual(1);
  });

  it('`refresh` of a machine session: exit 4 pointing at `token`, nothing sent', async () => {
    const { cache, read } = tempCache();
    const profile = machineProfile();
    await clientCredentialsFlow({ ctx: liveContext(), profile, cache });
    const before = read();
    const start = idp.requests.length;
    const err = await refreshFlow({ ctx: liveContext(), profile, cache }).catch((e: unknown) => e);
    expect(err).toMatchObject({ exitCode: 4, hint: '`authbridge token` gets a new token by the same grant when this one runs out.' });
    expect((err as Error).message).toBe('could not refresh profile "default": a client credentials session has no refresh token');
    expect(idp.requests.slice(start)).toEqual([]);
    expect(read()).toEqual(before);
  });

  it('an expired machine token and no secret in this environment: exit 4 naming what is missing', async () => {
    const { cache } = tempCache();
    await clientCredentialsFlow({ ctx: liveContext(), profile: machineProfile(), cache });
    await editEntry(cache, 'default', (e) => {
      e.access_token_expires_at = Date.now() - 1000;
    });
    const err = await tokenFlow({ ctx: liveContext(), profile: machineProfile({ clientSecret: undefined, grant: undefined }), cache, type: 'access' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ exitCode: 4 });
    expect((err as Error).message).toMatch(/the client credentials token expired and the profile has no client secret or key to get another/);
  });
});

describe.runIf(existsSync(GLEWLWYD_BIN))('against Glewlwyd', () => {
  let glewlwyd: Glewlwyd;
  beforeAll(async () => {
    glewlwyd = await startGlewlwyd({ redirectUris: ['http://127.0.0.1/callback'], clientCredentials: true });
  }, 60_000);
  afterAll(async () => {
    await glewlwyd?.close();
  });

  it('gets a client credentials token with the secret (client_secret_basic) and the client scope, and renews it when it runs out', async () => {
    const { cache } = tempCache();
    const profile: Profile = {
      name: 'default',
      issuer: glewlwyd.issuer,
      clientId: GLEWLWYD_MACHINE_CLIENT.clientId,
      clientSecret: GLEWLWYD_MACHINE_CLIENT.clientSecret,
      scopes: [GLEWLWYD_MACHINE_CLIENT.scope],
      scopesConfigured: true,
      grant: 'client_credentials',
    };
    const first = await tokenFlow({ ctx: liveContext(), profile, cache, type: 'access' });
    expect(first.refreshed).toBe(true);
    expect(claimsOf(first.token)).toMatchObject({ iss: glewlwyd.issuer, scope: GLEWLWYD_MACHINE_CLIENT.scope });
    expect((await tokenFlow({ ctx: liveContext(), profile, cache, type: 'access' })).token).toBe(first.token);
    await editEntry(cache, 'default', (e) => {
      e.access_token_expires_at = Date.now() - 1000;
    });
    const renewed = await tokenFlow({ ctx: liveContext(), profile, cache, type: 'access' });
    expect(renewed.refreshed).toBe(true);
    expect(renewed.token).not.toBe(first.token);
  }, 30_000);
});
