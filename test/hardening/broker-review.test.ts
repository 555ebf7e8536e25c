/**
 * The broker against the findings of its second security review (RFC 8725, RFC 9700, RFC 8252,
 * RFC 7009/7662): one describe a finding, each test named after it, each an attack that worked
 * before the fix. Real `authbridge broker serve` processes, a real IdP and backend on loopback.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseBrokerConfig } from '../../src/broker/config.js';
import {
  TOKEN_EXCHANGE,
  basic,
  exchange,
  postForm,
  startBackend,
  startBroker,
  startIdp,
  tempDir,
  type BrokerProcess,
  type TestBackend,
  type TestIdp,
} from '../broker/helpers.js';
import { isolatedEnv, runCli } from '../helpers/cli.js';

let idp: TestIdp;
let backend: TestBackend;

beforeAll(async () => {
  [idp, backend] = await Promise.all([startIdp('ES256'), startBackend()]);
}, 30_000);
afterAll(async () => {
  await Promise.all([idp?.close(), backend?.close()]);
});

/** A provider for the IdP above, as every broker here trusts it. */
const idpProvider = () => ({ id: 'idp', type: 'jwt', issuer: idp.issuer, audience: 'cli', algorithms: ['ES256'], mapping: { email: '/email' } });

/** A form POST with no Authorization header, the given fields only. */
async function bare(url: string, params: Record<string, string>) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(params).toString(),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
}

/** parseBrokerConfig's message for `doc`, or 'accepted'. */
function configMessage(doc: unknown): string {
  try {
    parseBrokerConfig(doc, 'broker.json');
  } catch (err) {
    return (err as Error).message;
  }
  return 'accepted';
}

describe('finding 1: a client configured with only an apiKey used the RFC 6749 endpoints with no credential', () => {
  let broker: BrokerProcess;
  beforeAll(async () => {
    broker = await startBroker({ clients: [{ clientId: 'sdk', apiKey: 'sdk-api-key' }], providers: [idpProvider()] }, join(tempDir(), 'f1.db'));
  }, 30_000);
  afterAll(async () => {
    await broker?.stop();
  });

  it('finding 1: an apiKey-only client cannot use /oauth/token, /oauth/introspect or /oauth/revoke, with or without its key; the Synerise endpoint still works', async () => {
    const subjectToken = await idp.accessToken({ sub: 'f1-user' });
    const synerise = await fetch(`${broker.url}/sauth/v3/auth/login/client`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ apiKey: 'sdk-api-key', identityProvider: 'OAUTH', identityProviderToken: subjectToken }),
    });
    expect(synerise.status).toBe(200);
    const brokerToken = ((await synerise.json()) as { token: string }).token;

    const exchangeParams = { grant_type: TOKEN_EXCHANGE, subject_token: subjectToken, subject_token_type: 'urn:ietf:params:oauth:token-type:access_token' };
    const attempts = [
      ['/oauth/token', exchangeParams],
      ['/oauth/introspect', { token: brokerToken }],
      ['/oauth/revoke', { token: brokerToken }],
    ] as const;
    for (const [path, params] of attempts) {
      // By client_id alone, as a public client; with the API key as a client_secret; with it as Basic.
      const byId = await bare(`${broker.url}${path}`, { ...params, client_id: 'sdk' });
      const keyAsSecret = await bare(`${broker.url}${path}`, { ...params, client_id: 'sdk', client_secret: 'sdk-api-key' });
      const keyAsBasic = await postForm(`${broker.url}${path}`, params, { authorization: basic('sdk', 'sdk-api-key') });
      for (const response of [byId, keyAsSecret, keyAsBasic]) {
        expect({ path, status: response.status, error: response.body.error }).toEqual({ path, status: 401, error: 'invalid_client' });
      }
    }
    // The session is still there: the refused revocations did nothing.
    const info = await fetch(`${broker.url}/userinfo`, { headers: { authorization: `Bearer ${brokerToken}` } });
    expect(info.status).toBe(200);
  });

  it('finding 1: an ambiguous or contradictory client is refused at start with the field named (exit 2)', async () => {
    const doc = (client: Record<string, unknown>) => ({ clients: [client], providers: [{ id: 'idp', type: 'jwt', issuer: 'https://idp.example.com', audience: 'cli' }] });
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ clientId: 'cli', clientSecret: 's3cret' }, 'clients[0].tokenEndpointAuthMethod: required with a clientSecret'],
      [{ clientId: 'cli', tokenEndpointAuthMethod: 'none', clientSecret: 's3cret' }, 'clients[0].clientSecret: a client with tokenEndpointAuthMethod "none" has no secret'],
      [{ clientId: 'cli', tokenEndpointAuthMethod: 'client_secret_basic' }, 'clients[0].clientSecret: required with tokenEndpointAuthMethod "client_secret_basic"'],
      [{ clientId: 'cli', tokenEndpointAuthMethod: 'client_secret_post' }, 'clients[0].clientSecret: required with tokenEndpointAuthMethod "client_secret_post"'],
      [{ clientId: 'cli' }, 'clients[0].tokenEndpointAuthMethod: required'],
      [{ clientId: 'cli', tokenEndpointAuthMethod: 'client_secret_jwt', clientSecret: 's3cret' }, 'clients[0].tokenEndpointAuthMethod: expected "client_secret_basic", "client_secret_post", "private_key_jwt" or "none"'],
      [{ clientId: 'cli', tokenEndpointAuthMethod: 'private_key_jwt', clientSecret: 's3cret' }, 'clients[0].clientSecret: a private_key_jwt client authenticates with its key, not a secret'],
    ];
    for (const [client, expected] of cases) expect(configMessage(doc(client))).toContain(`could not load broker config broker.json: ${expected}`);
    // Each refusal names the secret's field, never the secret.
    expect(configMessage(doc({ clientId: 'cli', tokenEndpointAuthMethod: 'none', clientSecret: 'top-secret' }))).not.toContain('top-secret');

    const dir = tempDir();
    const file = join(dir, 'ambiguous.json');
    writeFileSync(file, JSON.stringify(doc({ clientId: 'cli', clientSecret: 's3cret' })));
    const result = await runCli(['broker', 'serve', '--config', file, '--port', '0', '--db', join(dir, 'x.db')]);
    expect(result.code).toBe(2);
    expect(result.stderr.split('\n')[0]).toMatch(/^authbridge: could not load broker config .*: clients\[0\]\.tokenEndpointAuthMethod: required with a clientSecret/);
  });
});

describe('finding 1: each client authenticates only by its configured method', () => {
  let broker: BrokerProcess;
  beforeAll(async () => {
    broker = await startBroker(
      {
        rateLimit: { maxFailures: 0 },
        clients: [
          { clientId: 'cli', tokenEndpointAuthMethod: 'client_secret_basic', clientSecret: 's3cret' },
          { clientId: 'poster', tokenEndpointAuthMethod: 'client_secret_post', clientSecret: 'p0st-s3cret' },
          { clientId: 'mobile-app', tokenEndpointAuthMethod: 'none' },
        ],
        providers: [idpProvider()],
      },
      join(tempDir(), 'f1-methods.db'),
    );
  }, 30_000);
  afterAll(async () => {
    await broker?.stop();
  });

  it('finding 1: a client_secret_basic client sending client_secret in the body is invalid_client, and the reverse', async () => {
    const token = await idp.accessToken({ sub: 'f1-methods' });
    const params = { grant_type: TOKEN_EXCHANGE, subject_token: token, subject_token_type: 'urn:ietf:params:oauth:token-type:access_token' };
    const url = `${broker.url}/oauth/token`;
    const basicInBody = await bare(url, { ...params, client_id: 'cli', client_secret: 's3cret' });
    expect({ status: basicInBody.status, error: basicInBody.body.error }).toEqual({ status: 401, error: 'invalid_client' });
    const postAsBasic = await postForm(url, params, { authorization: basic('poster', 'p0st-s3cret') });
    expect({ status: postAsBasic.status, error: postAsBasic.body.error }).toEqual({ status: 401, error: 'invalid_client' });
    // Each in its own method is accepted.
    expect((await postForm(url, params, { authorization: basic('cli', 's3cret') })).status).toBe(200);
    expect((await bare(url, { ...params, client_id: 'poster', client_secret: 'p0st-s3cret' })).status).toBe(200);
    expect((await bare(url, { ...params, client_id: 'mobile-app' })).status).toBe(200);
  });

  it('finding 1: the metadata advertises the methods configured', async () => {
    const doc = (await (await fetch(`${broker.url}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
    expect(doc.token_endpoint_auth_methods_supported).toEqual(['client_secret_basic', 'client_secret_post', 'none']);
    expect(doc.revocation_endpoint_auth_methods_supported).toEqual(['client_secret_basic', 'client_secret_post', 'none']);
  });
});

describe('finding 2: anyone could introspect any broker token', () => {
  let broker: BrokerProcess;
  beforeAll(async () => {
    broker = await startBroker(
      {
        rateLimit: { maxFailures: 0 },
        clients: [
          { clientId: 'cli', tokenEndpointAuthMethod: 'client_secret_basic', clientSecret: 's3cret' },
          { clientId: 'other', tokenEndpointAuthMethod: 'client_secret_basic', clientSecret: 'other-s3cret' },
          { clientId: 'rs', tokenEndpointAuthMethod: 'client_secret_post', clientSecret: 'rs-s3cret', introspects: ['cli'] },
          { clientId: 'mobile-app', tokenEndpointAuthMethod: 'none' },
        ],
        providers: [idpProvider()],
      },
      join(tempDir(), 'f2.db'),
    );
  }, 30_000);
  afterAll(async () => {
    await broker?.stop();
  });

  const introspectAs = async (token: string, auth: 'cli' | 'other' | 'rs' | 'mobile-app') => {
    const url = `${broker.url}/oauth/introspect`;
    const response =
      auth === 'cli'
        ? await postForm(url, { token }, { authorization: basic('cli', 's3cret') })
        : auth === 'other'
          ? await postForm(url, { token }, { authorization: basic('other', 'other-s3cret') })
          : auth === 'rs'
            ? await bare(url, { token, client_id: 'rs', client_secret: 'rs-s3cret' })
            : await bare(url, { token, client_id: 'mobile-app' });
    expect(response.status).toBe(200);
    return response.body;
  };

  it('finding 2: only the client a token was issued to, or a resource server listing that client, may introspect it; everyone else gets {"active":false}', async () => {
    const issued = await exchange(broker.url, { token: await idp.accessToken({ sub: 'f2-user' }) });
    expect(issued.status).toBe(200);
    const token = issued.body.access_token as string;
    expect(await introspectAs(token, 'cli')).toMatchObject({ active: true, client_id: 'cli' });
    expect(await introspectAs(token, 'rs')).toMatchObject({ active: true, client_id: 'cli' });
    expect(await introspectAs(token, 'other')).toEqual({ active: false });
    expect(await introspectAs(token, 'mobile-app')).toEqual({ active: false });

    // A public client may not introspect even its own token.
    const own = await bare(`${broker.url}/oauth/token`, {
      grant_type: TOKEN_EXCHANGE,
      subject_token: await idp.accessToken({ sub: 'f2-user' }),
      subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
      client_id: 'mobile-app',
    });
    expect(own.status).toBe(200);
    expect(await introspectAs(own.body.access_token as string, 'mobile-app')).toEqual({ active: false });
    // The resource server sees only the clients it lists.
    expect(await introspectAs(own.body.access_token as string, 'rs')).toEqual({ active: false });

    const doc = (await (await fetch(`${broker.url}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
    expect(doc.introspection_endpoint_auth_methods_supported).toEqual(['client_secret_basic', 'client_secret_post']);
    expect(doc.token_endpoint_auth_methods_supported).toContain('none');
  });

  it('finding 2: `introspects` must name configured clients and belongs to confidential clients only', () => {
    const doc = (clients: unknown[]) => ({ clients, providers: [{ id: 'idp', type: 'jwt', issuer: 'https://idp.example.com', audience: 'cli' }] });
    expect(configMessage(doc([{ clientId: 'rs', tokenEndpointAuthMethod: 'client_secret_basic', clientSecret: 'x', introspects: ['nobody'] }]))).toContain(
      'clients[0].introspects[0]: no client "nobody" is configured',
    );
    expect(configMessage(doc([{ clientId: 'rs', tokenEndpointAuthMethod: 'none', introspects: ['rs'] }]))).toContain(
      'clients[0].introspects: only a confidential client (client_secret_basic, client_secret_post or private_key_jwt) may introspect',
    );
  });

  it('finding 2: with a public broker client the CLI checks the session at /userinfo, and `introspect --broker` says it needs a confidential client', async () => {
    const issued = await bare(`${broker.url}/oauth/token`, {
      grant_type: TOKEN_EXCHANGE,
      subject_token: await idp.accessToken({ sub: 'f2-cli' }),
      subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
      client_id: 'mobile-app',
    });
    const token = issued.body.access_token as string;
    const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { sub: string; exp: number };
    const env: Record<string, string> = { ...isolatedEnv(), AUTHBRIDGE_BROKER_URL: broker.url, AUTHBRIDGE_BROKER_CLIENT_ID: 'mobile-app' };
    const cacheDir = join(env.XDG_CACHE_HOME!, 'authbridge');
    mkdirSync(cacheDir, { recursive: true, mode: 0o700 });
    const now = Date.now();
    writeFileSync(
      join(cacheDir, 'default.json'),
      JSON.stringify({
        version: 1,
        profile: 'default',
        issuer: idp.issuer,
        client_id: 'app',
        scopes: [],
        obtained_at: now,
        broker: { url: broker.url, issuer: broker.url, access_token: token, expires_at: claims.exp * 1000, subject: claims.sub, obtained_at: now },
      }),
      { mode: 0o600 },
    );

    const live = await runCli(['status', '--check', '--json'], { env });
    expect(JSON.parse(live.stdout).check.broker, live.stderr).toMatchObject({ live: true });

    const introspected = await runCli(['introspect', '--broker'], { env });
    expect(introspected.code).toBe(2);
    expect(introspected.stderr.split('\n')[0]).toMatch(/^authbridge: could not introspect at the broker: it answers introspection only to confidential clients/);

    expect((await bare(`${broker.url}/oauth/revoke`, { token, client_id: 'mobile-app' })).status).toBe(200);
    const ended = await runCli(['status', '--check', '--json'], { env });
    expect(JSON.parse(ended.stdout).check.broker, ended.stderr).toMatchObject({ live: false });
  });
});

describe('finding 3: all_sessions=true let any holder of a token end every session of the customer', () => {
  let broker: BrokerProcess;
  beforeAll(async () => {
    broker = await startBroker(
      {
        rateLimit: { maxFailures: 0 },
        clients: [
          { clientId: 'cli', tokenEndpointAuthMethod: 'client_secret_basic', clientSecret: 's3cret' },
          { clientId: 'mobile-app', tokenEndpointAuthMethod: 'none' },
        ],
        providers: [idpProvider()],
      },
      join(tempDir(), 'f3.db'),
    );
  }, 30_000);
  afterAll(async () => {
    await broker?.stop();
  });

  const login = async (auth: 'basic' | 'public') => {
    const response = await exchange(broker.url, { token: await idp.accessToken({ sub: 'f3-user' }), auth });
    expect(response.status).toBe(200);
    return response.body.access_token as string;
  };
  const revoke = (token: string, auth: 'basic' | 'public', allSessions: boolean) =>
    auth === 'basic'
      ? postForm(`${broker.url}/oauth/revoke`, { token, ...(allSessions ? { all_sessions: 'true' } : {}) }, { authorization: basic('cli', 's3cret') })
      : bare(`${broker.url}/oauth/revoke`, { token, client_id: 'mobile-app', ...(allSessions ? { all_sessions: 'true' } : {}) });
  const live = async (token: string) => (await fetch(`${broker.url}/userinfo`, { headers: { authorization: `Bearer ${token}` } })).status === 200;

  it('finding 3: all_sessions from a public client, or with a token no longer live, ends only that token\'s session; a confidential client\'s live token ends them all', async () => {
    const [a, b, m] = [await login('basic'), await login('basic'), await login('public')];
    // A public client: its own session ends, nobody else's.
    expect((await revoke(m, 'public', true)).status).toBe(200);
    expect(await live(m)).toBe(false);
    expect([await live(a), await live(b)]).toEqual([true, true]);

    // A token whose session has ended already cannot sign the customer out everywhere.
    expect((await revoke(a, 'basic', false)).status).toBe(200);
    expect(await live(a)).toBe(false);
    expect((await revoke(a, 'basic', true)).status).toBe(200);
    expect(await live(b)).toBe(true);

    // A live token, presented by the confidential client it was issued to: every session ends.
    const [c, n] = [await login('basic'), await login('public')];
    expect((await revoke(b, 'basic', true)).status).toBe(200);
    expect([await live(b), await live(c), await live(n)]).toEqual([false, false, false]);
  });
});

describe('finding 4: the broker trusted plain HTTP to remote IdPs, JWKS and backends', () => {
  /**
   * An IdP on loopback whose discovery names a JWKS and a userinfo endpoint on plain HTTP at
   * another host (127.0.0.2: not loopback by the project's rule, yet reachable from this test).
   */
  let split: { issuer: string; remote: string; close(): Promise<void> };
  let brokers: BrokerProcess[] = [];
  beforeAll(async () => {
    const { createServer } = await import('node:http');
    const remoteServer = createServer((req, res) => {
      res.setHeader('content-type', 'application/json');
      if (req.url === '/jwks') return void res.end(JSON.stringify({ keys: [idp.key.publicJwk] }));
      if (req.url === '/userinfo') return void res.end(JSON.stringify({ sub: 'f4-user', email: 'f4@remote.test' }));
      res.statusCode = 404;
      res.end('{}');
    });
    await new Promise<void>((r) => remoteServer.listen(0, '127.0.0.2', r));
    const remote = `http://127.0.0.2:${(remoteServer.address() as import('node:net').AddressInfo).port}`;
    split = { issuer: idp.issuer, remote, close: () => new Promise((r) => remoteServer.close(() => r())) };
  });
  afterAll(async () => {
    await Promise.all(brokers.map((b) => b.stop()));
    await split?.close();
  });

  const doc = (provider: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
    ...extra,
    clients: [{ clientId: 'cli', tokenEndpointAuthMethod: 'client_secret_basic', clientSecret: 's3cret' }],
    providers: [{ id: 'p', type: 'jwt', issuer: 'https://idp.example.com', audience: 'cli', ...provider }],
  });

  it('finding 4: a provider issuer, jwksUri or callback url on plain HTTP to a remote host is refused at start with the field named, unless "allowInsecureHttp" is set', async () => {
    const rule = 'expected an https URL (http only on 127.0.0.1/localhost, or "allowInsecureHttp": true for development)';
    expect(configMessage(doc({ issuer: 'http://idp.example.com' }))).toContain(`providers[0].issuer: ${rule}`);
    expect(configMessage(doc({ jwksUri: 'http://idp.example.com/jwks' }))).toContain(`providers[0].jwksUri: ${rule}`);
    const callback = { ...doc({}), providers: [{ id: 'b', type: 'callback', url: 'http://backend.example.com/me' }] };
    expect(configMessage(callback)).toContain(`providers[0].url: ${rule}`);
    expect(configMessage(doc({ issuer: 'http://127.0.0.1:9', jwksUri: 'http://localhost:9/jwks' }))).toBe('accepted');
    expect(configMessage(doc({ issuer: 'http://idp.example.com' }, { allowInsecureHttp: true }))).toBe('accepted');

    const dir = tempDir();
    const file = join(dir, 'insecure.json');
    writeFileSync(file, JSON.stringify(doc({ issuer: 'http://idp.example.com' })));
    const result = await runCli(['broker', 'serve', '--config', file, '--port', '0', '--db', join(dir, 'x.db')]);
    expect(result.code).toBe(2);
    expect(result.stderr.split('\n')[0]).toMatch(/^authbridge: could not load broker config .*: providers\[0\]\.issuer: expected an https URL/);

    // With the development switch the broker starts, and says so.
    const dev = await startBroker(doc({ issuer: 'http://idp.example.com' }, { allowInsecureHttp: true }), join(dir, 'dev.db'));
    brokers.push(dev);
    expect(dev.stderr()).toMatch(/^warning: allowInsecureHttp is on: .*plain HTTP/m);
  });

  it('finding 4: a discovered jwks_uri or userinfo_endpoint on plain HTTP to a remote host makes that provider answer 503 temporarily_unavailable, and the broker logs why', async () => {
    // Two issuers on one loopback server: /a discovers its keys on plain HTTP elsewhere; /b has
    // its keys configured (loopback) but discovers its userinfo on plain HTTP elsewhere.
    const server = (await import('node:http')).createServer((req, res) => {
      res.setHeader('content-type', 'application/json');
      if (req.url === '/a/.well-known/openid-configuration') {
        return void res.end(JSON.stringify({ issuer: `${base}/a`, jwks_uri: `${split.remote}/jwks`, userinfo_endpoint: `${base}/a/userinfo` }));
      }
      if (req.url === '/b/.well-known/openid-configuration') {
        return void res.end(JSON.stringify({ issuer: `${base}/b`, jwks_uri: `${base}/b/jwks`, userinfo_endpoint: `${split.remote}/userinfo` }));
      }
      if (req.url === '/b/jwks') return void res.end(JSON.stringify({ keys: [idp.key.publicJwk] }));
      res.statusCode = 404;
      res.end('{}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as import('node:net').AddressInfo).port}`;
    try {
      const broker = await startBroker(
        {
          rateLimit: { maxFailures: 0 },
          clients: [{ clientId: 'cli', tokenEndpointAuthMethod: 'client_secret_basic', clientSecret: 's3cret' }],
          providers: [
            { id: 'keys-by-discovery', type: 'jwt', issuer: `${base}/a`, audience: 'cli', algorithms: ['ES256'] },
            { id: 'userinfo-by-discovery', type: 'jwt', issuer: `${base}/b`, jwksUri: `${base}/b/jwks`, audience: 'cli', algorithms: ['ES256'], mapping: { email: '/email' } },
          ],
        },
        join(tempDir(), 'f4.db'),
      );
      brokers.push(broker);
      const { sign } = await import('../helpers/keys.js');
      const token = (iss: string) => sign(idp.key, { iss, aud: 'cli', sub: 'f4-user' }, { header: { typ: 'at+jwt' } });
      for (const issuer of [`${base}/a`, `${base}/b`]) {
        const refused = await exchange(broker.url, { token: await token(issuer) });
        expect({ issuer, status: refused.status, error: refused.body.error }).toEqual({ issuer, status: 503, error: 'temporarily_unavailable' });
      }
      await new Promise((r) => setTimeout(r, 100));
      expect(broker.stderr()).toMatch(/"level":"error".*"provider":"keys-by-discovery".*jwks_uri .*is not https/);
      expect(broker.stderr()).toMatch(/"level":"error".*"provider":"userinfo-by-discovery".*userinfo_endpoint .*is not https/);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});

describe('finding 5: the failure rate limit locked out a whole address (NAT, reverse proxy)', () => {
  const clients = [
    { clientId: 'cli', tokenEndpointAuthMethod: 'client_secret_basic', clientSecret: 's3cret' },
    { clientId: 'noisy', tokenEndpointAuthMethod: 'client_secret_basic', clientSecret: 'n0isy' },
    { clientId: 'mobile-app', tokenEndpointAuthMethod: 'none' },
  ];
  const brokers: BrokerProcess[] = [];
  afterAll(async () => {
    await Promise.all(brokers.map((b) => b.stop()));
  });
  const start = async (extra: Record<string, unknown>) => {
    const broker = await startBroker({ ...extra, clients, providers: [idpProvider()] }, join(tempDir(), 'f5.db'));
    brokers.push(broker);
    return broker;
  };
  const good = () => idp.accessToken({ sub: 'f5-user' });
  const forged = () => idp.accessToken({ sub: 'f5-user', aud: 'someone-else' });
  /** An exchange as `auth`, optionally saying it was forwarded for `forwardedFor`. */
  const send = async (url: string, token: string, auth: { authorization: string } | 'public', forwardedFor?: string) => {
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
    const form = new URLSearchParams({ grant_type: TOKEN_EXCHANGE, subject_token: token, subject_token_type: 'urn:ietf:params:oauth:token-type:access_token' });
    if (auth === 'public') form.set('client_id', 'mobile-app');
    else headers.authorization = auth.authorization;
    if (forwardedFor) headers['x-forwarded-for'] = forwardedFor;
    const response = await fetch(`${url}/oauth/token`, { method: 'POST', headers, body: form.toString() });
    return { status: response.status, headers: response.headers, body: (await response.json()) as Record<string, unknown> };
  };
  const cli = { authorization: basic('cli', 's3cret') };

  it('finding 5: failed authentications counted against an address never refuse a client that authenticates correctly from it', async () => {
    const broker = await start({ rateLimit: { maxFailures: 3, windowSeconds: 60 } });
    // Someone behind the address guesses one client's secret: that client is locked at that
    // address, the right secret included.
    for (let i = 0; i < 3; i++) expect((await send(broker.url, await good(), { authorization: basic('noisy', `guess-${i}`) })).status).toBe(401);
    expect((await send(broker.url, await good(), { authorization: basic('noisy', 'n0isy') })).status).toBe(429);
    // The address is past the limit: further failed authentications from it, for any client id, are 429.
    const over = await send(broker.url, await good(), { authorization: basic('mallory', 'guess') });
    expect(over.status).toBe(429);
    expect(over.headers.get('retry-after')).toMatch(/^\d+$/);
    // Everyone else at that address who authenticates is served.
    expect((await send(broker.url, await good(), cli)).status).toBe(200);
    expect((await send(broker.url, await good(), 'public')).status).toBe(200);

    // Without trustProxy, X-Forwarded-For is not believed: a limited client cannot step around it.
    for (let i = 0; i < 3; i++) expect((await send(broker.url, await forged(), 'public')).status).toBe(400);
    expect((await send(broker.url, await good(), 'public', '198.51.100.7')).status).toBe(429);
  });

  it('finding 5: behind a trusted proxy (trustProxy) failures count against the client\'s own address', async () => {
    const broker = await start({ trustProxy: ['127.0.0.1'], rateLimit: { maxFailures: 3, windowSeconds: 60 } });
    for (let i = 0; i < 3; i++) expect((await send(broker.url, await forged(), cli, '203.0.113.1')).status).toBe(400);
    expect((await send(broker.url, await good(), cli, '203.0.113.1')).status).toBe(429);
    // The same client from another address behind the proxy is not limited.
    expect((await send(broker.url, await good(), cli, '203.0.113.2')).status).toBe(200);
  });

  it('finding 5: rateLimit.maxRequestsPerClient limits a client\'s successful requests per window (429 with Retry-After)', async () => {
    const broker = await start({ rateLimit: { maxRequestsPerClient: 2, windowSeconds: 60 } });
    expect((await send(broker.url, await good(), cli)).status).toBe(200);
    expect((await send(broker.url, await good(), cli)).status).toBe(200);
    const limited = await send(broker.url, await good(), cli);
    expect(limited.status).toBe(429);
    expect(limited.body.error).toBe('temporarily_unavailable');
    const retryAfter = Number(limited.headers.get('retry-after'));
    expect(retryAfter >= 1 && retryAfter <= 60).toBe(true);
    expect((await send(broker.url, await good(), 'public')).status).toBe(200);
  });

  it('finding 5: trustProxy takes proxy addresses or CIDRs, never "trust everyone"', () => {
    const doc = (trustProxy: unknown) => ({ trustProxy, clients, providers: [{ id: 'idp', type: 'jwt', issuer: 'https://idp.example.com', audience: 'cli' }] });
    expect(configMessage(doc(['10.0.0.0/8', '127.0.0.1', '::1', 'fd00::/8']))).toBe('accepted');
    expect(configMessage(doc(false))).toBe('accepted');
    expect(configMessage(doc(true))).toContain('trustProxy: expected false or a list of proxy addresses');
    expect(configMessage(doc(['10.0.0.0/33']))).toContain('trustProxy[0]: expected an IP address or CIDR');
  });
});

describe('finding 6: the caller\'s subject_token_type could send a trusted JWT to a backend, or a non-login JWT to a provider', () => {
  let broker: BrokerProcess;
  let lenientIdp: TestIdp;
  beforeAll(async () => {
    lenientIdp = await startIdp('RS256');
    broker = await startBroker(
      {
        rateLimit: { maxFailures: 0 },
        clients: [
          { clientId: 'cli', tokenEndpointAuthMethod: 'client_secret_basic', clientSecret: 's3cret' },
          { clientId: 'sdk', apiKey: 'sdk-api-key' },
        ],
        providers: [
          idpProvider(),
          { id: 'lenient', type: 'jwt', issuer: lenientIdp.issuer, audience: 'cli', algorithms: ['RS256'], acceptedTypes: { accessToken: ['at+jwt', 'JWT'] } },
          { id: 'backend', type: 'callback', url: `${backend.url}/me`, subjectPointer: '/id', timeoutMs: 2000 },
        ],
      },
      join(tempDir(), 'f6.db'),
    );
  }, 30_000);
  afterAll(async () => {
    await broker?.stop();
    await lenientIdp?.close();
  });

  const synerise = async (token: string) => {
    const response = await fetch(`${broker.url}/sauth/v3/auth/login/client`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ apiKey: 'sdk-api-key', identityProvider: 'OAUTH', identityProviderToken: token }),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  it('finding 6: a JWT of a trusted issuer sent as urn:authbridge:token-type:<callback provider> is refused and never reaches the backend', async () => {
    const trusted = await idp.accessToken({ sub: 'f6-victim' });
    // The backend would accept anything it is shown: the point is that it is never shown this.
    backend.users.set(trusted, { id: 'f6-victim' });
    const before = backend.seen.length;
    const refused = await exchange(broker.url, { token: trusted, type: 'urn:authbridge:token-type:backend' });
    expect({ status: refused.status, error: refused.body.error }).toEqual({ status: 400, error: 'invalid_request' });
    expect(backend.seen.length).toBe(before);

    // A JWT of an issuer the broker does not trust (the backend's own, say) still goes to the backend.
    const { makeKey, sign } = await import('../helpers/keys.js');
    const own = await sign(await makeKey('ES256', 'backend-key'), { iss: 'https://backend.example.test', sub: 'f6-own' });
    backend.users.set(own, { id: 'f6-own' });
    expect((await exchange(broker.url, { token: own, type: 'urn:authbridge:token-type:backend' })).status).toBe(200);
    expect(backend.seen.length).toBe(before + 1);
  });

  it('finding 6: logout, security-event and DPoP JWTs of a trusted issuer are refused whatever the subject_token_type, while access and ID tokens are accepted as before', async () => {
    const { sign } = await import('../helpers/keys.js');
    const claims = { iss: idp.issuer, aud: 'cli', sub: 'f6-user' };
    const kinds = ['urn:ietf:params:oauth:token-type:jwt', 'urn:ietf:params:oauth:token-type:id_token', 'urn:ietf:params:oauth:token-type:access_token', 'urn:authbridge:token-type:idp', 'synerise'];
    for (const typ of ['logout+jwt', 'application/logout+jwt', 'secevent+jwt', 'dpop+jwt', 'token-introspection+jwt']) {
      const token = await sign(idp.key, claims, { header: { typ } });
      for (const kind of kinds) {
        const response = kind === 'synerise' ? await synerise(token) : await exchange(broker.url, { token, type: kind });
        expect({ typ, kind, status: response.status, error: response.body.error }).toEqual({ typ, kind, status: 400, error: 'invalid_request' });
      }
    }
    // A back-channel logout token that does not say what it is (no typ) is known by its `events` claim.
    const logout = await sign(idp.key, { ...claims, events: { 'http://schemas.openid.net/event/backchannel-logout': {} } });
    for (const kind of kinds.filter((k) => !k.endsWith('access_token'))) {
      const response = kind === 'synerise' ? await synerise(logout) : await exchange(broker.url, { token: logout, type: kind });
      expect({ kind, status: response.status, error: response.body.error }).toEqual({ kind, status: 400, error: 'invalid_request' });
    }

    // Today's behaviour for the tokens one signs in with.
    const access = await idp.accessToken({ sub: 'f6-user' });
    const idToken = await idp.idToken({ sub: 'f6-user' });
    const untyped = await sign(idp.key, claims);
    expect((await exchange(broker.url, { token: access })).status).toBe(200);
    expect((await exchange(broker.url, { token: access, type: 'urn:ietf:params:oauth:token-type:jwt' })).status).toBe(200);
    expect((await exchange(broker.url, { token: idToken, type: 'urn:ietf:params:oauth:token-type:id_token' })).status).toBe(200);
    expect((await exchange(broker.url, { token: untyped, type: 'urn:ietf:params:oauth:token-type:id_token' })).status).toBe(200);
    expect((await exchange(broker.url, { token: idToken, type: 'urn:ietf:params:oauth:token-type:jwt' })).status).toBe(200);
    expect((await exchange(broker.url, { token: idToken })).status).toBe(400);
    expect((await synerise(access)).status).toBe(200);
  });

  it('finding 6: acceptedTypes per provider widens what it takes as an access token, and never takes a non-login type', async () => {
    const typedJwt = await lenientIdp.accessToken({ sub: 'f6-lenient' }, { typ: 'JWT' });
    expect((await exchange(broker.url, { token: typedJwt })).status).toBe(200);
    // The default provider takes access tokens typed "JWT" (Keycloak, Okta, Entra ID, Auth0,
    // LemonLDAP::NG) when their claims say access token, and still refuses an ID token as one.
    const typed = (claims: Record<string, unknown>) => idp.accessToken({ sub: 'f6-user', ...claims }, { typ: 'JWT' });
    const rows: Array<[string, Record<string, unknown>, number]> = [
      ['Keycloak-like (scope, typ claim Bearer)', { scope: 'openid email', typ: 'Bearer', azp: 'cli' }, 200],
      ['Okta-like (scp, cid)', { scp: ['openid'], cid: 'cli' }, 200],
      ['Auth0/LemonLDAP-like (scope, client_id)', { scope: 'openid', client_id: 'cli' }, 200],
      ['Entra-like app token (roles)', { roles: ['Reader'] }, 200],
      ['no scope, scp, client_id, cid or roles (an ID token)', {}, 400],
      ['a scope but a nonce (an ID token)', { scope: 'openid', nonce: 'n' }, 400],
      ['a scope but at_hash (an ID token)', { scope: 'openid', at_hash: 'x' }, 400],
      ['Keycloak ID token (typ claim ID)', { scope: 'openid', typ: 'ID' }, 400],
    ];
    for (const [name, claims, status] of rows) {
      const response = await exchange(broker.url, { token: await typed(claims) });
      expect({ name, status: response.status, error: response.body.error }, String(response.body.error_description)).toEqual({ name, status, error: status === 200 ? undefined : 'invalid_request' });
    }
    const idAsAccess = await exchange(broker.url, { token: await idp.idToken({ sub: 'f6-user' }) });
    expect(idAsAccess.body.error_description).toMatch(/it is not an access token \(typ "JWT" without scope, scp, client_id, cid, roles, or with nonce, at_hash, c_hash: an ID token\?\)/);

    const doc = (acceptedTypes: unknown) => ({
      clients: [{ clientId: 'cli', tokenEndpointAuthMethod: 'none' }],
      providers: [{ id: 'idp', type: 'jwt', issuer: 'https://idp.example.com', audience: 'cli', acceptedTypes }],
    });
    expect(configMessage(doc({ accessToken: ['logout+jwt'] }))).toContain('providers[0].acceptedTypes.accessToken[0]: "logout+jwt" is never accepted: it is not a token to sign in with');
    expect(configMessage(doc({ idToken: ['application/secevent+jwt'] }))).toContain('providers[0].acceptedTypes.idToken[0]: "application/secevent+jwt" is never accepted');
    expect(configMessage(doc({ accessToken: [] }))).toContain('providers[0].acceptedTypes.accessToken: expected at least one type');
    expect(configMessage(doc({ accessToken: ['at+jwt', 'JWT'], idToken: ['JWT', null] }))).toBe('accepted');
  });
});

describe('finding 7: malformed opaque tokens went to the backend, or came back as a 503 that looks like an outage', () => {
  let broker: BrokerProcess;
  beforeAll(async () => {
    broker = await startBroker(
      {
        rateLimit: { maxFailures: 0 },
        clients: [{ clientId: 'cli', tokenEndpointAuthMethod: 'client_secret_basic', clientSecret: 's3cret' }],
        providers: [
          idpProvider(),
          { id: 'bearer', type: 'callback', url: `${backend.url}/me`, subjectPointer: '/id', timeoutMs: 2000 },
          { id: 'introspection', type: 'callback', method: 'POST', url: `${backend.url}/introspect`, subjectPointer: '/id', timeoutMs: 2000 },
        ],
      },
      join(tempDir(), 'f7.db'),
    );
  }, 30_000);
  afterAll(async () => {
    await broker?.stop();
  });

  it('finding 7: an opaque token with CR/LF, NUL, spaces, non-ASCII, or over 8 KiB is 400 invalid_request and never reaches the backend', async () => {
    const malformed = [
      'abc\r\nX-Injected: yes',
      'abc\ndef',
      'abc\u0000def',
      'abc def',
      'abc\tdef',
      'tök',
      'key-\u{1F511}',
      'a'.repeat(8 * 1024 + 1),
    ];
    const before = backend.seen.length;
    for (const provider of ['bearer', 'introspection']) {
      for (const token of malformed) {
        const response = await exchange(broker.url, { token, type: `urn:authbridge:token-type:${provider}` });
        expect({ provider, token: JSON.stringify(token.slice(0, 24)), status: response.status, error: response.body.error }).toEqual({
          provider,
          token: JSON.stringify(token.slice(0, 24)),
          status: 400,
          error: 'invalid_request',
        });
      }
    }
    expect(backend.seen.length).toBe(before);
    // A well-formed opaque token of the same length limit still goes through.
    const long = `ok-${'b'.repeat(8 * 1024 - 3)}`;
    backend.users.set(long, { id: 'f7-long' });
    expect((await exchange(broker.url, { token: long, type: 'urn:authbridge:token-type:bearer' })).status).toBe(200);
    expect(backend.seen.length).toBe(before + 1);
  });
});

describe('finding 8: slow clients could hold connections for a long time, without a cap', () => {
  const brokers: BrokerProcess[] = [];
  afterAll(async () => {
    await Promise.all(brokers.map((b) => b.stop()));
  });
  const start = async (extra: Record<string, unknown> = {}) => {
    const broker = await startBroker(
      { ...extra, clients: [{ clientId: 'cli', tokenEndpointAuthMethod: 'client_secret_basic', clientSecret: 's3cret' }], providers: [idpProvider()] },
      join(tempDir(), 'f8.db'),
    );
    brokers.push(broker);
    return broker;
  };
  /** A raw TCP connection to the broker, once connected. */
  const open = async (url: string) => {
    const { hostname, port } = new URL(url);
    const socket = connect(Number(port), hostname);
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    socket.on('error', () => {});
    return socket;
  };

  it('finding 8: a slowloris client (headers a byte a second) is cut after about 10 s, and others are served meanwhile', async () => {
    const broker = await start();
    const socket = await open(broker.url);
    const startedAt = Date.now();
    const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now() - startedAt)));
    socket.write('POST /oauth/token HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ');
    const drip = setInterval(() => socket.writable && socket.write('a'), 1000);
    try {
      const served: number[] = [];
      const probe = async () => {
        const t = Date.now();
        expect((await fetch(`${broker.url}/healthz`)).status).toBe(200);
        served.push(Date.now() - t);
      };
      await new Promise((r) => setTimeout(r, 2000));
      await probe();
      const cutAfter = await Promise.race([closed, new Promise<number>((r) => setTimeout(() => r(Infinity), 16_000))]);
      expect(cutAfter).toBeGreaterThanOrEqual(9_000);
      expect(cutAfter).toBeLessThan(16_000);
      await probe();
      expect(Math.max(...served)).toBeLessThan(2000);
    } finally {
      clearInterval(drip);
      socket.destroy();
    }
  }, 40_000);

  it('finding 8: maxConnections caps the open connections; past it new ones are closed, and served again once some go', async () => {
    const broker = await start({ maxConnections: 4 });
    const sockets = await Promise.all(Array.from({ length: 4 }, () => open(broker.url)));
    await new Promise((r) => setTimeout(r, 300));
    try {
      await expect(fetch(`${broker.url}/healthz`)).rejects.toThrow();
    } finally {
      for (const s of sockets) s.destroy();
    }
    await new Promise((r) => setTimeout(r, 300));
    expect((await fetch(`${broker.url}/healthz`)).status).toBe(200);
    expect(configMessage({ maxConnections: 0, clients: [{ clientId: 'c', tokenEndpointAuthMethod: 'none' }], providers: [{ id: 'i', type: 'jwt', issuer: 'https://i.test', audience: 'a' }] })).toContain(
      'maxConnections: at least 1',
    );
  });
});

describe('finding 9: sessions and customer fields grew without bound', () => {
  const brokers: BrokerProcess[] = [];
  afterAll(async () => {
    await Promise.all(brokers.map((b) => b.stop()));
  });
  const start = async (extra: Record<string, unknown>, db = join(tempDir(), 'f9.db')) => {
    const broker = await startBroker(
      {
        rateLimit: { maxFailures: 0 },
        ...extra,
        clients: [
          { clientId: 'cli', tokenEndpointAuthMethod: 'client_secret_basic', clientSecret: 's3cret' },
          { clientId: 'mobile-app', tokenEndpointAuthMethod: 'none' },
        ],
        providers: [
          idpProvider(),
          {
            id: 'backend',
            type: 'callback',
            url: `${backend.url}/me`,
            subjectPointer: '/id',
            timeoutMs: 2000,
            mapping: { bio: '/bio', a: '/a', b: '/b', c: '/c', d: '/d', e: '/e' },
          },
        ],
      },
      db,
    );
    brokers.push(broker);
    return broker;
  };
  const introspectActive = async (url: string, token: string) =>
    (await postForm(`${url}/oauth/introspect`, { token }, { authorization: basic('cli', 's3cret') })).body.active;

  it('finding 9: a customer holds at most sessions.maxPerClient (default 100) live sessions at one client; past it the oldest are ended, down to three quarters', async () => {
    const broker = await start({});
    const subjectToken = await idp.accessToken({ sub: 'f9-many' });
    const tokens: string[] = [];
    for (let i = 0; i < 101; i++) {
      const response = await exchange(broker.url, { token: subjectToken });
      expect(response.status).toBe(200);
      tokens.push(response.body.access_token as string);
    }
    const other = await exchange(broker.url, { token: subjectToken, auth: 'public' });
    // The 101st login ended the 26 oldest: 75 stay, the newest among them.
    expect(await introspectActive(broker.url, tokens[0]!)).toBe(false);
    expect(await introspectActive(broker.url, tokens[25]!)).toBe(false);
    expect(await introspectActive(broker.url, tokens[26]!)).toBe(true);
    expect(await introspectActive(broker.url, tokens[100]!)).toBe(true);
    // Another client's sessions are counted apart.
    expect((await fetch(`${broker.url}/userinfo`, { headers: { authorization: `Bearer ${other.body.access_token as string}` } })).status).toBe(200);
  });

  it('finding 9: ended sessions are purged after sessions.retentionSeconds, by a timer in the broker', async () => {
    const db = join(tempDir(), 'f9-purge.db');
    const broker = await start({ sessions: { retentionSeconds: 0, purgeIntervalSeconds: 1, maxPerClient: 2 } }, db);
    const subjectToken = await idp.accessToken({ sub: 'f9-purge' });
    const [a, b, c] = [await exchange(broker.url, { token: subjectToken }), await exchange(broker.url, { token: subjectToken }), await exchange(broker.url, { token: subjectToken })];
    const sid = (r: typeof a) => JSON.parse(Buffer.from((r.body.access_token as string).split('.')[1]!, 'base64url').toString()).sid as string;
    // The cap (2) ended a and b at c's login, down to one; revoking b again changes nothing; c stays.
    expect((await postForm(`${broker.url}/oauth/revoke`, { token: b.body.access_token as string }, { authorization: basic('cli', 's3cret') })).status).toBe(200);
    const { default: Database } = await import('better-sqlite3');
    const sids = () => {
      const handle = new Database(db, { readonly: true });
      try {
        return (handle.prepare('SELECT sid FROM sessions').all() as Array<{ sid: string }>).map((r) => r.sid);
      } finally {
        handle.close();
      }
    };
    let left = sids();
    for (let i = 0; i < 40 && left.length > 1; i++) {
      await new Promise((r) => setTimeout(r, 100));
      left = sids();
    }
    expect(left).toEqual([sid(c)]);
    expect(await introspectActive(broker.url, c.body.access_token as string)).toBe(true);
    expect(await introspectActive(broker.url, a.body.access_token as string)).toBe(false);
  });

  it('finding 9: a mapped field over 4 KiB, or fields over 16 KiB in all, refuse the login (400) and store nothing', async () => {
    const db = join(tempDir(), 'f9-fields.db');
    const broker = await start({}, db);
    const backendType = 'urn:authbridge:token-type:backend';
    backend.users.set('f9-big-field', { id: 'f9-big-field', bio: 'x'.repeat(4097) });
    const chunk = 'y'.repeat(3500);
    backend.users.set('f9-big-fields', { id: 'f9-big-fields', a: chunk, b: chunk, c: chunk, d: chunk, e: chunk });
    backend.users.set('f9-fits', { id: 'f9-fits', bio: 'z'.repeat(4000), a: chunk, b: chunk, c: chunk });
    for (const token of ['f9-big-field', 'f9-big-fields']) {
      const response = await exchange(broker.url, { token, type: backendType });
      expect({ token, status: response.status, error: response.body.error }).toEqual({ token, status: 400, error: 'invalid_request' });
    }
    const { default: Database } = await import('better-sqlite3');
    const handle = new Database(db, { readonly: true });
    try {
      expect(handle.prepare("SELECT count(*) AS n FROM customers WHERE subject IN ('f9-big-field', 'f9-big-fields')").get()).toEqual({ n: 0 });
    } finally {
      handle.close();
    }
    const fits = await exchange(broker.url, { token: 'f9-fits', type: backendType });
    expect(fits.status).toBe(200);
    const info = (await (await fetch(`${broker.url}/userinfo`, { headers: { authorization: `Bearer ${fits.body.access_token as string}` } })).json()) as Record<string, unknown>;
    expect((info.bio as string).length).toBe(4000);
  });
});

describe('finding 10: the broker accepted high-S (malleable) ES256 signatures of its own tokens', () => {
  /** The order of P-256 (SEC 2 §2.4.2). */
  const N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
  const toBig = (bytes: Buffer) => BigInt(`0x${bytes.toString('hex')}`);
  const fromBig = (n: bigint) => Buffer.from(n.toString(16).padStart(64, '0'), 'hex');
  /** The token with the other of its two valid signatures: (r, s) → (r, n - s). */
  const twin = (token: string) => {
    const [h, p, sig] = token.split('.') as [string, string, string];
    const raw = Buffer.from(sig, 'base64url');
    const s = toBig(raw.subarray(32));
    return `${h}.${p}.${Buffer.concat([raw.subarray(0, 32), fromBig(N - s)]).toString('base64url')}`;
  };
  const highS = (token: string) => toBig(Buffer.from(token.split('.')[2]!, 'base64url').subarray(32)) > N / 2n;

  let broker: BrokerProcess;
  beforeAll(async () => {
    broker = await startBroker(
      { rateLimit: { maxFailures: 0 }, clients: [{ clientId: 'cli', tokenEndpointAuthMethod: 'client_secret_basic', clientSecret: 's3cret' }], providers: [idpProvider()] },
      join(tempDir(), 'f10.db'),
    );
  }, 30_000);
  afterAll(async () => {
    await broker?.stop();
  });

  it('finding 10: a broker token whose ES256 signature is rewritten to its high-S twin is not active, and the broker signs low-S only', async () => {
    const tokens: string[] = [];
    for (let i = 0; i < 12; i++) tokens.push((await exchange(broker.url, { token: await idp.accessToken({ sub: `f10-${i}` }) })).body.access_token as string);
    for (const token of tokens) {
      // Both signatures verify mathematically; only the low-S one may be honoured.
      const malleated = highS(token) ? token : twin(token);
      const canonical = highS(token) ? twin(token) : token;
      expect(highS(malleated)).toBe(true);
      const asCli = { authorization: basic('cli', 's3cret') };
      expect((await postForm(`${broker.url}/oauth/introspect`, { token: malleated }, asCli)).body).toEqual({ active: false });
      expect((await fetch(`${broker.url}/userinfo`, { headers: { authorization: `Bearer ${malleated}` } })).status).toBe(401);
      // A revocation with the twin does not count either.
      expect((await postForm(`${broker.url}/oauth/revoke`, { token: malleated }, asCli)).status).toBe(200);
      expect((await postForm(`${broker.url}/oauth/introspect`, { token: canonical }, asCli)).body.active).toBe(true);
    }
    // Every token the broker issued is in the low-S form.
    expect(tokens.filter(highS)).toEqual([]);
  });
});
