/**
 * The shared connection module: the https-or-loopback URL rule, the metadata fetch with its
 * issuer check, and the one error funnel of the IdP and broker clients, against a real HTTP
 * server on 127.0.0.1 that answers what each test asks.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthorizationRefusedError, OAuthRefusedError, RemoteError, UsageError, oauthErrorOf } from '../../src/errors.js';
import { isSecureOrLoopback, secureUrl } from '../../src/http/loopback.js';
import { connectBroker } from '../../src/oidc/broker-client.js';
import { connectIdp } from '../../src/oidc/client.js';
import { fetchMetadata } from '../../src/oidc/metadata.js';
import { syneriseLogin } from '../../src/oidc/synerise.js';

describe('secureUrl', () => {
  it.each([
    ['https://idp.example.com', 'https://idp.example.com/'],
    ['https://idp.example.com/tenant/', 'https://idp.example.com/tenant/'],
    ['http://127.0.0.1:8080', 'http://127.0.0.1:8080/'],
    ['http://localhost/realms/x', 'http://localhost/realms/x'],
    ['http://[::1]:9000', 'http://[::1]:9000/'],
  ])('accepts %s', (value, href) => {
    expect(secureUrl(value, '--issuer').href).toBe(href);
    expect(isSecureOrLoopback(new URL(value))).toBe(true);
  });

  it.each([
    ['plain http to another host', 'http://idp.example.com'],
    ['plain http to a name that only starts like loopback', 'http://127.0.0.1.evil.example'],
    ['another scheme', 'ftp://idp.example.com'],
    ['a file URL', 'file:///etc/passwd'],
    ['no URL at all', 'idp.example.com'],
    ['an empty value', ''],
  ])('refuses %s, naming the flag and the value', (_name, value) => {
    let err: unknown;
    try {
      secureUrl(value, 'broker url');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UsageError);
    expect((err as UsageError).exitCode).toBe(2);
    expect((err as Error).message).toBe(`broker url must be an https URL (http only on 127.0.0.1/localhost), got "${value}"`);
    if (URL.canParse(value)) expect(isSecureOrLoopback(new URL(value))).toBe(false);
  });

  it('connectIdp and connectBroker use it, and the issuer still refuses a query or fragment', async () => {
    const options = { clientId: 'x', fetch, now: Date.now };
    await expect(connectIdp({ ...options, issuer: 'http://idp.example.com' })).rejects.toThrow(/^--issuer must be an https URL/);
    await expect(connectIdp({ ...options, issuer: 'not a url' })).rejects.toThrow(/^--issuer must be an https URL/);
    await expect(connectIdp({ ...options, issuer: 'https://idp.example.com/?tenant=x' })).rejects.toThrow(
      '--issuer must not have a query or fragment, got "https://idp.example.com/?tenant=x"',
    );
    await expect(connectBroker({ ...options, url: 'http://broker.example.com' })).rejects.toThrow(/^broker url must be an https URL/);
    const synerise = { url: 'http://broker.example.com', apiKey: 'k', token: 't', fetch, now: Date.now, deviceId: 'd', uuid: 'u' };
    await expect(syneriseLogin(synerise)).rejects.toThrow(/^broker url must be an https URL/);
  });
});

/** One route of the test server: what it answers, set by each test. */
type Handler = (req: IncomingMessage, res: ServerResponse, base: string) => void;

const servers: Server[] = [];
const sockets = new Set<Socket>();
let base: string;
const routes = new Map<string, Handler>();

function json(res: ServerResponse, body: unknown, status = 200, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
}

beforeAll(async () => {
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const handler = routes.get(path);
    if (!handler) return json(res, { error: 'not_found' }, 404);
    // Drain the request body first: the answer may come before the client has sent it all.
    req.resume();
    req.on('end', () => handler(req, res, base));
  });
  servers.push(server);
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  routes.set('/.well-known/openid-configuration', (_req, res, b) =>
    json(res, { issuer: b, token_endpoint: `${b}/token`, userinfo_endpoint: `${b}/me`, jwks_uri: `${b}/jwks` }),
  );
  routes.set('/.well-known/oauth-authorization-server', (_req, res, b) =>
    json(res, { issuer: `${b}/`, token_endpoint: `${b}/token`, jwks_uri: `${b}/jwks` }),
  );
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
});

const idp = () => connectIdp({ issuer: base, clientId: 'cli', clientSecret: 'wrong', fetch, now: Date.now });
const broker = () => connectBroker({ url: base, clientId: 'cli', clientSecret: 'wrong', fetch, now: Date.now });

describe('the error funnel', () => {
  const basicChallenge = { 'www-authenticate': 'Basic realm="token"' };

  it('an IdP token endpoint answering 401 with WWW-Authenticate: Basic and a JSON invalid_client body is invalid_client, exit 5', async () => {
    routes.set('/token', (_req, res) =>
      json(res, { error: 'invalid_client', error_description: 'client authentication failed' }, 401, basicChallenge),
    );
    const client = await idp();
    expect(client.clientAuthMethod).toBe('client_secret_basic');
    const err = await client.refresh('a-refresh-token').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OAuthRefusedError);
    expect(oauthErrorOf(err)).toBe('invalid_client');
    expect((err as OAuthRefusedError).exitCode).toBe(5);
    expect((err as Error).message).toBe('could not refresh the session: invalid_client: client authentication failed (HTTP 401 at the token endpoint; client authentication: client_secret_basic)');
    expect((err as OAuthRefusedError).hint).toMatch(/^Check the profile's clientId and clientSecret \(`authbridge config get`\); if they are right, try the other method with --client-auth-method/);
  });

  it('the broker answering the same is invalid_client too, with the broker hint', async () => {
    routes.set('/token', (_req, res) =>
      json(res, { error: 'invalid_client', error_description: 'client authentication failed' }, 401, basicChallenge),
    );
    const client = await broker();
    const err = await client.exchange({ subjectToken: 'x', subjectTokenType: 'access_token' }).catch((e: unknown) => e);
    expect(oauthErrorOf(err)).toBe('invalid_client');
    expect((err as OAuthRefusedError).exitCode).toBe(5);
    expect((err as Error).message).toBe(
      `could not exchange the token with the broker at ${base}/: invalid_client: client authentication failed (HTTP 401 at the token endpoint; client authentication: client_secret_basic)`,
    );
    expect((err as OAuthRefusedError).hint).toBe("Check the profile's broker.clientId and broker.clientSecret.");
  });

  it('a 401 challenge without a JSON error is a refusal without an OAuth code', async () => {
    routes.set('/token', (_req, res) => res.writeHead(401, { ...basicChallenge, 'content-type': 'text/plain' }).end('go away'));
    const err = await (await idp()).refresh('x').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthorizationRefusedError);
    expect(oauthErrorOf(err)).toBeUndefined();
    expect((err as Error).message).toBe('could not refresh the session: the IdP refused with no OAuth error (HTTP 401 at the token endpoint; client authentication: client_secret_basic)');
  });

  it('a Bearer challenge naming the error (userinfo, RFC 6750 §3) is a refusal with that code, whatever the body says', async () => {
    routes.set('/me', (_req, res) =>
      json(res, { error: 'invalid_request', error_description: 'from the body' }, 401, {
        'www-authenticate': 'Bearer error="invalid_token", error_description="expired"',
      }),
    );
    const err = await (await idp()).userinfo('an-access-token').catch((e: unknown) => e);
    expect(oauthErrorOf(err)).toBe('invalid_token');
    expect((err as Error).message).toBe('could not fetch userinfo: invalid_token: expired');
  });

  it('5xx and temporarily_unavailable are outages (exit 3), named after who answered', async () => {
    routes.set('/token', (_req, res) => json(res, { error: 'temporarily_unavailable' }, 400));
    const unavailable = await (await idp()).refresh('x').catch((e: unknown) => e);
    expect(unavailable).toBeInstanceOf(RemoteError);
    expect((unavailable as RemoteError).exitCode).toBe(3);
    routes.set('/token', (_req, res) => json(res, { error: 'server_error' }, 503));
    expect(((await (await idp()).refresh('x').catch((e: unknown) => e)) as Error).message).toBe(
      'could not refresh the session: the IdP answered HTTP 503 at the token endpoint',
    );
    const err = await (await broker()).exchange({ subjectToken: 'x', subjectTokenType: 'jwt' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RemoteError);
    expect((err as Error).message).toBe(`could not exchange the token with the broker at ${base}/: the broker answered HTTP 503 at the token endpoint`);
  });
});

describe('fetchMetadata', () => {
  const doc = (issuer: string, extra: Record<string, unknown> = {}): Handler => (_req, res) => json(res, { issuer, ...extra });

  it('compares the issuer exactly by default, and without a trailing slash when asked', async () => {
    routes.set('/meta', doc('https://idp.example/'));
    const url = () => `${base}/meta`;
    const exact = await fetchMetadata(fetch, url(), { issuer: 'https://idp.example', what: 'the discovery document' }).catch((e: unknown) => e);
    expect(exact).toBeInstanceOf(RemoteError);
    expect((exact as Error).message).toBe('could not use the discovery document of https://idp.example: it names the issuer "https://idp.example/"');
    const loose = await fetchMetadata(fetch, url(), { issuer: 'https://idp.example', issuerMatch: 'ignore-trailing-slash', what: 'x' });
    expect(loose.issuer).toBe('https://idp.example/');
  });

  it('refuses a missing issuer, a missing required field and an optional field that is not a string', async () => {
    const url = `${base}/meta`;
    const options = { issuer: 'https://idp.example', what: 'the broker metadata', subject: 'the-broker', issuerHint: 'fix it' };
    routes.set('/meta', (_req, res) => json(res, { jwks_uri: 'https://idp.example/jwks' }));
    const noIssuer = await fetchMetadata(fetch, url, options).catch((e: unknown) => e);
    expect((noIssuer as Error).message).toBe('could not use the broker metadata of the-broker: it names the issuer "undefined"');
    expect((noIssuer as RemoteError).hint).toBe('fix it');
    routes.set('/meta', doc('https://idp.example', { token_endpoint: 42 }));
    await expect(fetchMetadata(fetch, url, { ...options, required: ['token_endpoint'] })).rejects.toThrow(
      'could not use the broker metadata of the-broker: it has no token_endpoint',
    );
    await expect(fetchMetadata(fetch, url, { ...options, optional: ['token_endpoint'] })).rejects.toThrow(
      'could not use the broker metadata of the-broker: token_endpoint is not a string',
    );
    expect(await fetchMetadata(fetch, url, { ...options, optional: ['userinfo_endpoint'] })).toMatchObject({ token_endpoint: 42 });
  });
});
