/**
 * private_key_jwt (RFC 7523) against oidc-provider with a client registered
 * `token_endpoint_auth_method: 'private_key_jwt'` and its public keys: login's code exchange,
 * refresh, introspection, logout's revocation and the client credentials grant each carry a
 * client assertion signed with the profile's key, as the IdP saw it. And each bad key file is a
 * one-line exit-2 error before anything is sent.
 */
import { execFileSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chmodSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT, calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Profile } from '../../src/config/types.js';
import { UsageError } from '../../src/errors.js';
import { clientCredentialsFlow } from '../../src/flows/client-credentials.js';
import { introspectFlow } from '../../src/flows/introspect.js';
import { logoutFlow } from '../../src/flows/logout.js';
import { refreshFlow } from '../../src/flows/refresh.js';
import { chooseClientAuth } from '../../src/oidc/connection.js';
import { loadClientKey } from '../../src/oidc/client-key.js';
import { idpProfile, liveContext, recordingTrace, signIn, tempCache } from '../helpers/flows.js';
import { API_RESOURCE, KEY_CLIENT_ID, startIdp, type Idp, type SeenAssertion } from '../helpers/idp.js';
import type { RunningBroker } from '../../src/broker/server.js';
import { exchangeIn, realClock } from '../helpers/flows.js';
import { isolatedEnv, runCli } from '../helpers/cli.js';

let idp: Idp;
let dir: string;

/** Writes `text` to a fresh file in the test dir with `mode`; returns its path. */
function keyFile(name: string, text: string, mode = 0o600): string {
  const path = join(dir, name);
  writeFileSync(path, text, { mode });
  chmodSync(path, mode);
  return path;
}

function keyedProfile(overrides: Partial<Profile> = {}): Profile {
  return idpProfile(idp, { clientId: KEY_CLIENT_ID, clientKey: keyFile(`rsa-${Math.random()}.pem`, idp.clientKeys.rsa.pem), clientKeyId: 'keyed-rsa', ...overrides });
}

/** The assertions the IdP saw from `start` on. */
const seenFrom = (start: number): SeenAssertion[] => idp.assertions.slice(start);

function expectAssertion(seen: SeenAssertion | undefined, kid: string, alg: string): void {
  expect(seen).toBeDefined();
  const { header, claims } = seen!;
  expect(header).toMatchObject({ alg, kid });
  expect(claims).toMatchObject({ iss: KEY_CLIENT_ID, sub: KEY_CLIENT_ID, aud: idp.issuer });
  expect(typeof claims.jti).toBe('string');
  expect((claims.exp as number) - (claims.iat as number)).toBeLessThanOrEqual(60);
}

beforeAll(async () => {
  idp = await startIdp();
  dir = mkdtempSync(join(tmpdir(), 'authbridge-keys-'));
});
afterAll(async () => {
  await idp?.close();
});

describe('private_key_jwt at the IdP', () => {
  it('signs every call of a session with the key: code exchange, refresh, introspection, revocation', async () => {
    const { cache, read } = tempCache();
    const profile = keyedProfile();
    const trace = recordingTrace();
    const start = idp.assertions.length;
    await signIn({ idp, cache, profile, ctx: undefined });
    const afterLogin = seenFrom(start);
    expect(afterLogin.map((a) => `${a.path} ${a.grantType}`)).toEqual(['/token authorization_code']);
    expectAssertion(afterLogin[0], 'keyed-rsa', 'RS256');

    const ctx = liveContext();
    await refreshFlow({ ctx, profile, cache, trace: trace.trace });
    expect(trace.lines.some((l) => /client authentication at the IdP: private_key_jwt with key keyed-rsa \(RS256\) \(a client key and no secret, and the server lists private_key_jwt\)/.test(l))).toBe(true);
    // --verbose shows that an assertion was sent, never the assertion itself.
    expect(trace.lines.some((l) => l.includes('client_assertion=***'))).toBe(true);
    expect(trace.lines.join('\n')).not.toMatch(/client_assertion=eyJ/);
    const result = await introspectFlow({ ctx, profile, cache, type: 'refresh' });
    expect(result.active).toBe(true);
    const refreshToken = read().refresh_token!;
    const [done] = await logoutFlow({ ctx, cache, names: ['default'], local: false, loadProfile: async () => profile });
    expect(done).toMatchObject({ removed: true, revoked: { idp: true }, warnings: [] });

    const seen = seenFrom(start);
    expect(seen.map((a) => `${a.path} ${a.grantType ?? ''}`.trim())).toEqual([
      '/token authorization_code',
      '/token refresh_token',
      '/token/introspection',
      '/token/revocation',
      '/token/revocation',
    ]);
    for (const assertion of seen) expectAssertion(assertion, 'keyed-rsa', 'RS256');
    // Each assertion is used once (RFC 7523 §3 jti).
    expect(new Set(seen.map((a) => a.claims.jti)).size).toBe(seen.length);
    // What the IdP now says of the revoked refresh token, asked with the key again.
    await signIn({ idp, cache, profile });
    const other = await introspectFlow({ ctx, profile, cache, token: refreshToken, type: 'refresh' });
    expect(other.active).toBe(false);
  });

  it('takes an EC key from a JWK file (its kid) and an Ed25519 PEM (kid given, EdDSA) for client credentials', async () => {
    const { cache } = tempCache();
    const ctx = liveContext();
    const start = idp.assertions.length;
    const ecProfile = idpProfile(idp, { clientId: KEY_CLIENT_ID, clientKey: keyFile('ec.json', JSON.stringify(idp.clientKeys.ec.jwk)) });
    const ec = await clientCredentialsFlow({ ctx, profile: ecProfile, cache });
    expect(ec.grant).toBe('client_credentials');
    const edProfile = idpProfile(idp, { clientId: KEY_CLIENT_ID, clientKey: keyFile('ed.pem', idp.clientKeys.ed25519.pem), clientKeyId: 'keyed-ed25519' });
    await clientCredentialsFlow({ ctx, profile: edProfile, cache });
    const seen = seenFrom(start);
    expect(seen.map((a) => a.grantType)).toEqual(['client_credentials', 'client_credentials']);
    expectAssertion(seen[0], 'keyed-ec', 'ES256');
    expectAssertion(seen[1], 'keyed-ed25519', 'EdDSA');
  });

  it('is refused by the IdP when the key is not the registered one (exit 5, invalid_client), the cache untouched', async () => {
    const { cache, exists } = tempCache();
    const { privateKey } = await generateKeyPair('RS256', { extractable: true });
    const stranger = { ...(await exportJWK(privateKey)), kid: 'keyed-rsa' };
    const profile = idpProfile(idp, { clientId: KEY_CLIENT_ID, clientKey: keyFile('stranger.json', JSON.stringify(stranger)) });
    const err = await clientCredentialsFlow({ ctx: liveContext(), profile, cache }).catch((e: unknown) => e);
    expect(err).toMatchObject({ exitCode: 5 });
    expect((err as Error).message).toMatch(/invalid_client/);
    expect(exists()).toBe(false);
  });
});

describe('the client key file', () => {
  const refusal = async (path: string, settings: { kid?: string; alg?: string } = {}, supported?: unknown): Promise<string> => {
    const err = await loadClientKey({ path, ...settings }, supported).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(UsageError);
    expect((err as UsageError).exitCode).toBe(2);
    const message = (err as Error).message;
    expect(message).not.toContain('\n');
    return `${message} | ${(err as UsageError).hint ?? ''}`;
  };

  it('refuses what is not a usable private key, naming the file and the fix', async () => {
    expect(await refusal(join(dir, 'absent.pem'))).toMatch(/absent\.pem: no such file/);
    expect(await refusal(keyFile('loose.pem', idp.clientKeys.rsa.pem, 0o644))).toMatch(/accessible by group and others \(mode 0644\).*chmod 600 .*loose\.pem/);
    expect(await refusal(keyFile('group.pem', idp.clientKeys.rsa.pem, 0o640))).toMatch(/accessible by group \(mode 0640\)/);
    const pub = execFileSync('openssl', ['pkey', '-pubout'], { input: idp.clientKeys.rsa.pem }).toString();
    expect(await refusal(keyFile('public.pem', pub))).toMatch(/a public key, not a private key/);
    const cert = execFileSync('openssl', ['req', '-x509', '-key', keyFile('for-cert.pem', idp.clientKeys.ec.pem), '-subj', '/CN=test', '-days', '1']).toString();
    expect(await refusal(keyFile('cert.pem', cert))).toMatch(/a certificate, not a private key/);
    expect(await refusal(keyFile('garbage.pem', 'hello\n'))).toMatch(/not a PEM private key nor a JWK/);
    expect(await refusal(keyFile('broken.json', '{"kty":'))).toMatch(/not valid JSON/);
    const { d: _d, ...publicJwk } = idp.clientKeys.ec.jwk;
    expect(await refusal(keyFile('public.json', JSON.stringify({ keys: [publicJwk] })))).toMatch(/a public key only/);
    expect(await refusal(keyFile('two.json', JSON.stringify({ keys: [idp.clientKeys.ec.jwk, idp.clientKeys.rsa.jwk] })))).toMatch(/2 private keys.*--client-key-id/);
    expect(await refusal(keyFile('rsa.pem', idp.clientKeys.rsa.pem), { alg: 'ES256' })).toMatch(/ES256 does not fit this RSA key/);
    expect(await refusal(keyFile('ec.pem', idp.clientKeys.ec.pem), {}, ['RS256', 'PS256'])).toMatch(/accepts client assertions signed with RS256, PS256, not ES256/);
    const link = join(dir, 'link.pem');
    symlinkSync(keyFile('target.pem', idp.clientKeys.rsa.pem), link);
    expect(await refusal(link)).toMatch(/link\.pem: .*symlink/);
  });

  it('defaults kid to the JWK kid, else the RFC 7638 thumbprint; alg to the first of the key that the server lists', async () => {
    const pem = await loadClientKey({ path: keyFile('plain.pem', idp.clientKeys.rsa.pem) });
    const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...pub } = idp.clientKeys.rsa.jwk;
    expect(pem.kid).toBe(await calculateJwkThumbprint(pub as JWK));
    expect(pem.alg).toBe('RS256');
    const ps = await loadClientKey({ path: keyFile('plain2.pem', idp.clientKeys.rsa.pem) }, ['ES256', 'PS256']);
    expect(ps.alg).toBe('PS256');
    const jwks = await loadClientKey({ path: keyFile('set.json', JSON.stringify({ keys: [idp.clientKeys.ec.jwk, idp.clientKeys.rsa.jwk] })), kid: 'keyed-rsa' });
    expect([jwks.kid, jwks.alg]).toEqual(['keyed-rsa', 'RS256']);
    expect((await loadClientKey({ path: keyFile('ed2.pem', idp.clientKeys.ed25519.pem) })).alg).toBe('EdDSA');
    // Ed25519 is also spelt Ed25519 (RFC 9864): the server's spelling is used.
    expect((await loadClientKey({ path: keyFile('ed3.pem', idp.clientKeys.ed25519.pem) }, ['Ed25519'])).alg).toBe('Ed25519');
  });

  it('picks private_key_jwt for a key without a secret where the server lists it, and says what is missing otherwise', () => {
    expect(chooseClientAuth(undefined, ['client_secret_basic', 'private_key_jwt'], undefined, true).method).toBe('private_key_jwt');
    expect(chooseClientAuth(undefined, undefined, undefined, true).method).toBe('private_key_jwt');
    expect(chooseClientAuth('s3cret', ['client_secret_basic', 'private_key_jwt'], undefined, true).method).toBe('client_secret_basic');
    expect(() => chooseClientAuth(undefined, ['client_secret_basic'], undefined, true)).toThrow(/does not take private_key_jwt/);
    expect(() => chooseClientAuth('s3cret', undefined, 'private_key_jwt', false)).toThrow(/private_key_jwt needs a client key/);
  });

  it('a config file\'s clientKey may start with ~/ (the home directory); a bad clientKeyAlg is refused naming the field', async () => {
    const { loadProfile } = await import('../../src/config/profile.js');
    const configFile = keyFile('config.json', JSON.stringify({ profiles: { ci: { issuer: idp.issuer, clientId: KEY_CLIENT_ID, clientKey: '~/keys/ci.pem', clientKeyAlg: 'ES256' } } }));
    const profile = await loadProfile({ env: { HOME: '/home/ci' }, configFile, name: 'ci', warn: () => {} });
    expect([profile.clientKey, profile.clientKeyAlg]).toEqual(['/home/ci/keys/ci.pem', 'ES256']);
    const bad = await loadProfile({ env: { AUTHBRIDGE_CLIENT_KEY_ALG: 'HS256' }, configFile, name: 'ci', warn: () => {} }).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(UsageError);
    expect((bad as Error).message).toMatch(/^AUTHBRIDGE_CLIENT_KEY_ALG: expected one of RS256, .*EdDSA/);
  });

  it('is refused by the CLI before any request: exit 2, one line naming chmod 600', async () => {
    const loose = keyFile('cli-loose.pem', idp.clientKeys.rsa.pem, 0o644);
    const before = idp.requests.length;
    const env = { ...isolatedEnv(), AUTHBRIDGE_ISSUER: idp.issuer, AUTHBRIDGE_CLIENT_ID: KEY_CLIENT_ID, AUTHBRIDGE_CLIENT_KEY: loose };
    const run = await runCli(['login', '--client-credentials'], { env });
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/^authbridge: could not use the client key .*cli-loose\.pem: it is accessible by group and others \(mode 0644\); a private key must be yours alone\n/);
    expect(run.stderr).toContain(`chmod 600 ${loose}`);
    expect(run.stderr).not.toMatch(/\n\s+at /);
    // Discovery only: no token request was made.
    expect(idp.requests.slice(before).filter((r) => r.startsWith('POST'))).toEqual([]);
  });
});

describe('private_key_jwt at the broker', () => {
  const BROKER_KEY_CLIENT = 'keyed-app';
  const REMOTE_KEY_CLIENT = 'keyed-remote';
  let broker: RunningBroker;
  let brokerLog: string[];
  /** Serves the Ed25519 client's public key set, as a client's own jwks_uri would. */
  let jwksServer: Server;
  let jwksFetches = 0;
  beforeAll(async () => {
    const [{ parseBrokerConfig }, { startBroker }] = await Promise.all([import('../../src/broker/config.js'), import('../../src/broker/server.js')]);
    const { d: _d, ...ecPublic } = idp.clientKeys.ec.jwk;
    const { d: _d2, ...edPublic } = idp.clientKeys.ed25519.jwk;
    jwksServer = createServer((_req, res) => {
      jwksFetches += 1;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: [edPublic] }));
    });
    await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
    const jwksUri = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/jwks.json`;
    const file = parseBrokerConfig(
      {
        audience: 'my-app',
        clients: [
          { clientId: BROKER_KEY_CLIENT, tokenEndpointAuthMethod: 'private_key_jwt', jwks: { keys: [ecPublic] }, introspects: [] },
          { clientId: REMOTE_KEY_CLIENT, tokenEndpointAuthMethod: 'private_key_jwt', jwksUri },
        ],
        providers: [{ id: 'idp', type: 'jwt', issuer: idp.issuer, audience: [API_RESOURCE], algorithms: ['RS256'], mapping: { email: '/email' } }],
      },
      'of the test broker',
    );
    brokerLog = [];
    broker = await startBroker({
      file,
      host: '127.0.0.1',
      port: 0,
      dbPath: join(mkdtempSync(join(tmpdir(), 'authbridge-broker-')), 'broker.db'),
      deps: { fetch: (...args) => globalThis.fetch(...args), now: realClock },
      log: (line) => void brokerLog.push(line),
    });
  });
  afterAll(async () => {
    await broker?.close();
    await new Promise((resolve) => jwksServer?.close(resolve));
  });

  it('fetches the keys of a client registered by jwksUri, and the exchange signs with its Ed25519 key', async () => {
    const { cache } = tempCache();
    const profile = idpProfile(idp, {
      resource: API_RESOURCE,
      broker: { url: broker.url, clientId: REMOTE_KEY_CLIENT, clientKey: keyFile('broker-ed.json', JSON.stringify(idp.clientKeys.ed25519.jwk)) },
    });
    await signIn({ idp, cache, profile });
    const outcome = await exchangeIn({ ctx: liveContext(), profile, cache });
    expect(outcome.subject).toBeTruthy();
    expect(jwksFetches).toBe(1);
  });

  it('lists private_key_jwt in its metadata, and an exchange authenticates with the profile\'s broker.clientKey', async () => {
    const metadata = (await (await fetch(`${broker.url}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
    expect(metadata.token_endpoint_auth_methods_supported).toEqual(['private_key_jwt']);
    expect(metadata.token_endpoint_auth_signing_alg_values_supported).toContain('ES256');
    const { cache } = tempCache();
    const profile = idpProfile(idp, {
      resource: API_RESOURCE,
      broker: { url: broker.url, clientId: BROKER_KEY_CLIENT, clientKey: keyFile('broker-ec.json', JSON.stringify(idp.clientKeys.ec.jwk)) },
    });
    await signIn({ idp, cache, profile });
    const trace = recordingTrace();
    const outcome = await exchangeIn({ ctx: liveContext(), profile, cache, trace: trace.trace });
    expect(outcome.subject).toBeTruthy();
    expect(trace.lines.some((l) => /client authentication at the broker: private_key_jwt with key keyed-ec \(ES256\)/.test(l))).toBe(true);
  });

  it('accepts an assertion once (jti), and refuses a wrong audience or a foreign key with invalid_client', async () => {
    const { cache, read } = tempCache();
    await signIn({ idp, cache, profile: idpProfile(idp, { resource: API_RESOURCE }) });
    const subject = read().access_token!;
    const ecKey = await importJWK(idp.clientKeys.ec.jwk as JWK, 'ES256');
    const assertion = (claims: Record<string, unknown> = {}, key: Parameters<SignJWT['sign']>[0] = ecKey) =>
      new SignJWT({ jti: `${Math.random()}`, ...claims })
        .setProtectedHeader({ alg: 'ES256', kid: 'keyed-ec' })
        .setIssuer(BROKER_KEY_CLIENT)
        .setSubject(BROKER_KEY_CLIENT)
        .setAudience((claims.aud as string | undefined) ?? `${broker.issuer}/oauth/token`)
        .setIssuedAt()
        .setExpirationTime('60s')
        .sign(key);
    const exchange = async (clientAssertion: string) => {
      const response = await fetch(`${broker.url}/oauth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
          subject_token: subject,
          subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
          client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
          client_assertion: clientAssertion,
        }),
      });
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    };
    const once = await assertion();
    expect((await exchange(once)).status).toBe(200);
    expect(await exchange(once)).toMatchObject({ status: 401, body: { error: 'invalid_client', error_description: expect.stringMatching(/used already/) } });
    expect(await exchange(await assertion({ aud: 'https://elsewhere.example/' }))).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
    const { privateKey: foreign } = await generateKeyPair('ES256');
    expect(await exchange(await assertion({}, foreign))).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
  });
});
