/**
 * The broker as a client meets it: a real `authbridge broker serve` process, a real IdP (JWKS,
 * discovery, userinfo) and a real app backend, all on 127.0.0.1.
 */
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyToken } from '../../src/index.js';
import { makeKey, sign } from '../helpers/keys.js';
import {
  ACCESS_TOKEN,
  ID_TOKEN,
  JWT_TYPE,
  TOKEN_EXCHANGE,
  basic,
  claimsOf,
  deadPort,
  exchange,
  introspect,
  postForm,
  startBackend,
  startBroker,
  startIdp,
  tempDir,
  userinfo,
  type BrokerProcess,
  type TestBackend,
  type TestIdp,
} from './helpers.js';

let idp: TestIdp;
let partner: TestIdp;
let backend: TestBackend;
let broker: BrokerProcess;
let dbPath: string;
let url: string;
let offlineIssuer: string;

beforeAll(async () => {
  [idp, partner, backend] = await Promise.all([startIdp('RS256'), startIdp('ES256'), startBackend()]);
  const offline = await deadPort();
  offlineIssuer = `http://127.0.0.1:${offline}`;
  dbPath = `${tempDir()}/broker.db`;
  broker = await startBroker(
    {
      tokenTtl: 3600,
      clients: [
        { clientId: 'cli', tokenEndpointAuthMethod: 'client_secret_basic', clientSecret: 's3cret' },
        { clientId: 'cli-post', tokenEndpointAuthMethod: 'client_secret_post', clientSecret: 's3cret' },
        { clientId: 'mobile-app', tokenEndpointAuthMethod: 'none' },
        { clientId: 'sdk', apiKey: 'sdk-api-key' },
      ],
      providers: [
        {
          id: 'idp',
          type: 'jwt',
          issuer: idp.issuer,
          audience: ['cli', 'https://api.example.com/'],
          algorithms: ['RS256', 'ES256'],
          mapping: { email: '/email', firstName: '/given_name', lastName: '/family_name' },
          updatePolicy: 'each-login',
          registration: 'auto',
        },
        {
          id: 'partner',
          type: 'jwt',
          issuer: partner.issuer,
          jwksUri: partner.jwksUri,
          audience: 'cli',
          registration: 'existing-only',
        },
        { id: 'offline-idp', type: 'jwt', issuer: offlineIssuer, audience: 'cli', timeoutMs: 1000 },
        {
          id: 'backend',
          type: 'callback',
          url: `${backend.url}/me`,
          headers: { 'x-api-key': 'backend-key' },
          subjectPointer: '/id',
          timeoutMs: 1000,
          mapping: { email: '/email', firstName: '/name/first' },
          updatePolicy: 'first-login',
        },
        { id: 'offline-backend', type: 'callback', url: `http://127.0.0.1:${offline}/me`, timeoutMs: 1000 },
      ],
    },
    dbPath,
  );
  url = broker.url;
});

afterAll(async () => {
  await broker?.stop();
  await Promise.all([idp?.close(), partner?.close(), backend?.close()]);
});

describe('metadata and keys', () => {
  it('publishes RFC 8414 metadata naming its endpoints and the token-exchange grant', async () => {
    const response = await fetch(`${url}/.well-known/oauth-authorization-server`);
    expect(response.status).toBe(200);
    const doc = (await response.json()) as Record<string, unknown>;
    expect(doc).toMatchObject({
      issuer: url,
      token_endpoint: `${url}/oauth/token`,
      jwks_uri: `${url}/jwks.json`,
      introspection_endpoint: `${url}/oauth/introspect`,
      revocation_endpoint: `${url}/oauth/revoke`,
      userinfo_endpoint: `${url}/userinfo`,
    });
    expect(doc.grant_types_supported).toContain(TOKEN_EXCHANGE);
  });

  it('publishes one ES256 public key with a kid, and no private part', async () => {
    const doc = (await (await fetch(`${url}/jwks.json`)).json()) as { keys: Array<Record<string, unknown>> };
    expect(doc.keys).toHaveLength(1);
    expect(doc.keys[0]).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig', kid: expect.any(String) });
    expect(doc.keys[0]).not.toHaveProperty('d');
  });

  it('answers /healthz', async () => {
    const response = await fetch(`${url}/healthz`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ok' });
  });
});

describe('token exchange with a JWT provider', () => {
  it('registers the customer on first login, then finds them; the token verifies against /jwks.json', async () => {
    const subjectToken = await idp.accessToken({ sub: 'alice', email: 'alice@example.test', given_name: 'Alice', family_name: 'Liddell' });
    const first = await exchange(url, { token: subjectToken });
    expect(first.status).toBe(200);
    expect(first.headers.get('cache-control')).toBe('no-store');
    expect(first.body).toMatchObject({
      issued_token_type: ACCESS_TOKEN,
      token_type: 'Bearer',
      expires_in: 3600,
      account_status: 'created',
    });
    const second = await exchange(url, { token: subjectToken });
    expect(second.body.account_status).toBe('existing');

    const token = first.body.access_token as string;
    const result = await verifyToken(token, { issuer: url, audience: url, jwksUri: `${url}/jwks.json`, type: 'access' });
    expect(result.checks.filter((c) => !c.ok)).toEqual([]);
    expect(result.valid).toBe(true);
    expect(result.header).toMatchObject({ typ: 'at+jwt', alg: 'ES256', kid: expect.any(String) });
    expect(result.payload).toMatchObject({ iss: url, aud: url, client_id: 'cli', idp: 'idp' });
    for (const claim of ['sub', 'iat', 'exp', 'jti', 'sid']) expect(result.payload).toHaveProperty(claim);
    expect(result.payload!.sub).not.toBe('alice');
    expect(claimsOf(second.body.access_token as string).sub).toBe(result.payload!.sub);
    expect(claimsOf(second.body.access_token as string).sid).not.toBe(result.payload!.sid);

    const info = await userinfo(url, token);
    expect(info.status).toBe(200);
    expect(info.body).toMatchObject({ sub: result.payload!.sub, email: 'alice@example.test', firstName: 'Alice', lastName: 'Liddell' });
    expect(Date.parse(info.body.created_at as string)).not.toBeNaN();
  });

  it('authenticates clients by client_secret_post and public clients by client_id', async () => {
    const subjectToken = await idp.accessToken({ sub: 'bob' });
    const post = await exchange(url, { token: subjectToken, auth: 'post' });
    expect(post.status).toBe(200);
    const pub = await exchange(url, { token: subjectToken, auth: 'public' });
    expect(pub.status).toBe(200);
    expect(claimsOf(pub.body.access_token as string).client_id).toBe('mobile-app');
  });

  it('accepts an ID token as id_token and any JWT as jwt', async () => {
    const idToken = await idp.idToken({ sub: 'ida', email: 'ida@example.test' });
    expect((await exchange(url, { token: idToken, type: ID_TOKEN })).status).toBe(200);
    expect((await exchange(url, { token: idToken, type: JWT_TYPE })).status).toBe(200);
  });

  it('each-login updates the stored fields; a claim the token lacks comes from the IdP userinfo', async () => {
    idp.userinfo.set('una', { family_name: 'From-Userinfo' });
    const first = await exchange(url, { token: await idp.accessToken({ sub: 'una', email: 'una@old.test', given_name: 'Una' }) });
    expect((await userinfo(url, first.body.access_token as string)).body).toMatchObject({
      email: 'una@old.test',
      firstName: 'Una',
      lastName: 'From-Userinfo',
    });
    const second = await exchange(url, { token: await idp.accessToken({ sub: 'una', email: 'una@new.test', given_name: 'Una' }) });
    expect(second.body.account_status).toBe('existing');
    const info = await userinfo(url, second.body.access_token as string);
    expect(info.body).toMatchObject({ email: 'una@new.test', firstName: 'Una', lastName: 'From-Userinfo' });
    expect(Date.parse(info.body.updated_at as string)).toBeGreaterThanOrEqual(Date.parse(info.body.created_at as string));
  });

  it('registration existing-only refuses a person it does not know, and stores nothing', async () => {
    const response = await exchange(url, { token: await partner.accessToken({ sub: 'stranger' }) });
    expect(response.status).toBe(400);
    expect(response.body.error).toBe('registration_required');
    const db = new Database(dbPath, { readonly: true });
    try {
      expect(db.prepare("SELECT count(*) AS n FROM customers WHERE provider = 'partner'").get()).toEqual({ n: 0 });
    } finally {
      db.close();
    }
  });

  it('50 concurrent first logins of one new person create exactly one customer', async () => {
    const subjectToken = await idp.accessToken({ sub: 'dave', email: 'dave@example.test' });
    const responses = await Promise.all(Array.from({ length: 50 }, () => exchange(url, { token: subjectToken })));
    expect(responses.map((r) => r.status)).toEqual(Array(50).fill(200));
    expect(responses.filter((r) => r.body.account_status === 'created')).toHaveLength(1);
    const subs = new Set(responses.map((r) => claimsOf(r.body.access_token as string).sub));
    expect(subs.size).toBe(1);
    const db = new Database(dbPath, { readonly: true });
    try {
      expect(db.prepare("SELECT count(*) AS n FROM customers WHERE provider = 'idp' AND subject = 'dave'").get()).toEqual({ n: 1 });
      expect(db.prepare('SELECT count(*) AS n FROM sessions WHERE customer_id = ?').get([...subs][0])).toEqual({ n: 50 });
    } finally {
      db.close();
    }
  });
});

describe('token exchange with a callback provider', () => {
  const backendType = 'urn:authbridge:token-type:backend';

  it('asks the backend with the bearer token and its headers; first-login keeps the first fields', async () => {
    backend.users.set('carol-1', { id: 'carol', email: 'carol@first.test', name: { first: 'Carol' } });
    const first = await exchange(url, { token: 'carol-1', type: backendType });
    expect(first.status).toBe(200);
    expect(first.body.account_status).toBe('created');
    expect(backend.seen.at(-1)).toEqual({ method: 'GET', path: '/me', apiKey: 'backend-key' });

    backend.users.set('carol-2', { id: 'carol', email: 'carol@second.test', name: { first: 'Caroline' } });
    const second = await exchange(url, { token: 'carol-2', type: backendType });
    expect(second.body.account_status).toBe('existing');
    const info = await userinfo(url, second.body.access_token as string);
    expect(info.body).toMatchObject({ email: 'carol@first.test', firstName: 'Carol' });
    expect(claimsOf(second.body.access_token as string).idp).toBe('backend');
  });

  it('waits for a slow but timely backend', async () => {
    const response = await exchange(url, { token: 'slowish', type: backendType });
    expect(response.status).toBe(200);
  });
});

describe('sessions: introspection, userinfo, revocation', () => {
  async function login(sub: string): Promise<string> {
    const response = await exchange(url, { token: await idp.accessToken({ sub, email: `${sub}@example.test` }) });
    expect(response.status).toBe(200);
    return response.body.access_token as string;
  }

  it('introspection says active with the token claims, and false for anything else', async () => {
    const token = await login('ivy');
    const claims = claimsOf(token);
    expect(await introspect(url, token)).toMatchObject({ active: true, sub: claims.sub, client_id: 'cli', sid: claims.sid, exp: claims.exp });
    expect(await introspect(url, 'not-a-token')).toEqual({ active: false });
    const forged = `${token.split('.').slice(0, 2).join('.')}.${Buffer.alloc(64).toString('base64url')}`;
    expect(await introspect(url, forged)).toEqual({ active: false });
  });

  it('introspection requires client authentication', async () => {
    const token = await login('ivy');
    const response = await postForm(`${url}/oauth/introspect`, { token }, { authorization: basic('cli', 'wrong') });
    expect(response.status).toBe(401);
    expect(response.body.error).toBe('invalid_client');
  });

  it('revocation ends that session only: /userinfo 401 and introspection inactive', async () => {
    const token = await login('jack');
    const other = await login('jack');
    expect((await userinfo(url, token)).status).toBe(200);
    const revoked = await postForm(`${url}/oauth/revoke`, { token, token_type_hint: 'access_token' });
    expect(revoked.status).toBe(200);
    const info = await userinfo(url, token);
    expect(info.status).toBe(401);
    expect(info.body.error).toBe('invalid_token');
    expect((await introspect(url, token)).active).toBe(false);
    expect((await introspect(url, other)).active).toBe(true);
    // RFC 7009 §2.2: revoking again, or revoking garbage, is still 200.
    expect((await postForm(`${url}/oauth/revoke`, { token })).status).toBe(200);
    expect((await postForm(`${url}/oauth/revoke`, { token: 'garbage' })).status).toBe(200);
  });

  it('all_sessions=true ends every session of the customer', async () => {
    const tokens = [await login('kim'), await login('kim'), await login('kim')];
    const bystander = await login('lee');
    expect((await postForm(`${url}/oauth/revoke`, { token: tokens[0]!, all_sessions: 'true' })).status).toBe(200);
    for (const token of tokens) expect((await introspect(url, token)).active).toBe(false);
    expect((await introspect(url, bystander)).active).toBe(true);
  });

  it('a client cannot revoke a session issued to another client', async () => {
    const token = await login('max');
    expect((await postForm(`${url}/oauth/revoke`, { token }, 'public')).status).toBe(200);
    expect((await introspect(url, token)).active).toBe(true);
  });

  it('/userinfo without a token is 401 with a Bearer challenge', async () => {
    const response = await fetch(`${url}/userinfo`);
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toMatch(/^Bearer /);
  });
});

describe('bad input and faults', () => {
  type Response = { status: number; body: Record<string, unknown>; headers?: Headers };
  type Case = { name: string; send: () => Promise<Response>; status: number; error: string };
  const backendType = 'urn:authbridge:token-type:backend';
  type Auth = Parameters<typeof exchange>[1]['auth'];
  /** Builds the subject token only when the case runs (the servers start in beforeAll). */
  const ex =
    (token: () => Promise<string> | string, type = ACCESS_TOKEN, auth?: Auth, extra?: Record<string, string>) =>
    async () =>
      exchange(url, { token: await token(), type, auth, extra });
  const form = (params: Record<string, string>, auth?: Auth) => async () => postForm(`${url}/oauth/token`, params, auth);
  const raw = (init: RequestInit) => async () => {
    const response = await fetch(`${url}/oauth/token`, { method: 'POST', ...init });
    return { status: response.status, headers: response.headers, body: (await response.json()) as Record<string, unknown> };
  };
  const now = () => Math.floor(Date.now() / 1000);
  const good = () => idp.accessToken({ sub: 'nina' });
  const foreign = (kid: string, iss = () => idp.issuer) => async () =>
    sign(await makeKey('RS256', kid), { iss: iss(), sub: 'nina' }, { header: { typ: 'at+jwt' } });
  const formHeaders = { 'content-type': 'application/x-www-form-urlencoded', authorization: basic('cli', 's3cret') };
  const grant = `grant_type=${encodeURIComponent(TOKEN_EXCHANGE)}`;

  const cases: Case[] = [
    { name: 'wrong client secret', send: ex(good, ACCESS_TOKEN, { authorization: basic('cli', 'nope') }), status: 401, error: 'invalid_client' },
    { name: 'unknown client', send: ex(good, ACCESS_TOKEN, { authorization: basic('mallory', 's3cret') }), status: 401, error: 'invalid_client' },
    { name: 'no client authentication', send: form({ grant_type: TOKEN_EXCHANGE }, { authorization: '' }), status: 401, error: 'invalid_client' },
    { name: 'a public client sending a secret', send: ex(good, ACCESS_TOKEN, { authorization: basic('mobile-app', 'x') }), status: 401, error: 'invalid_client' },
    { name: 'another grant type', send: form({ grant_type: 'authorization_code', code: 'x' }), status: 400, error: 'unsupported_grant_type' },
    { name: 'no grant_type', send: form({ subject_token: 'x' }), status: 400, error: 'invalid_request' },
    { name: 'no subject_token', send: form({ grant_type: TOKEN_EXCHANGE, subject_token_type: ACCESS_TOKEN }), status: 400, error: 'invalid_request' },
    { name: 'no subject_token_type', send: form({ grant_type: TOKEN_EXCHANGE, subject_token: 'x' }), status: 400, error: 'invalid_request' },
    { name: 'an unsupported subject_token_type', send: ex(good, 'urn:ietf:params:oauth:token-type:saml2'), status: 400, error: 'invalid_request' },
    { name: 'a provider type naming no provider', send: ex(() => 'opaque', 'urn:authbridge:token-type:nope'), status: 400, error: 'invalid_request' },
    { name: 'another audience', send: ex(good, ACCESS_TOKEN, 'basic', { audience: 'https://elsewhere.test' }), status: 400, error: 'invalid_target' },
    { name: 'another resource', send: ex(good, ACCESS_TOKEN, 'basic', { resource: 'https://elsewhere.test/' }), status: 400, error: 'invalid_target' },
    { name: 'a JWT from an untrusted issuer', send: ex(foreign('rogue', () => 'https://rogue.test')), status: 400, error: 'invalid_request' },
    { name: 'the trusted issuer signed by another key (same kid)', send: ex(foreign('rs256-idp')), status: 400, error: 'invalid_request' },
    { name: 'the trusted issuer signed by another key (unknown kid)', send: ex(foreign('other-kid')), status: 400, error: 'invalid_request' },
    { name: 'an expired subject token', send: ex(() => idp.accessToken({ sub: 'nina', iat: now() - 7200, exp: now() - 3600 })), status: 400, error: 'invalid_request' },
    { name: 'a not-yet-valid subject token', send: ex(() => idp.accessToken({ sub: 'nina', nbf: now() + 3600 })), status: 400, error: 'invalid_request' },
    { name: 'a subject token for another audience', send: ex(() => idp.accessToken({ sub: 'nina', aud: 'someone-else' })), status: 400, error: 'invalid_request' },
    { name: 'a subject token without a subject', send: ex(() => idp.accessToken({ sub: undefined })), status: 400, error: 'invalid_request' },
    { name: 'an ID token offered as an access token', send: ex(() => idp.idToken({ sub: 'nina' })), status: 400, error: 'invalid_request' },
    { name: 'an access token offered as an ID token', send: ex(good, ID_TOKEN), status: 400, error: 'invalid_request' },
    { name: 'an opaque token offered as an ID token', send: ex(() => 'opaque-token', ID_TOKEN), status: 400, error: 'invalid_request' },
    {
      name: 'an HS256 token naming the trusted issuer',
      send: ex(async () => {
        const { SignJWT } = await import('jose');
        return new SignJWT({ iss: idp.issuer, aud: 'cli', sub: 'nina', exp: now() + 600 })
          .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt' })
          .sign(new TextEncoder().encode('a-shared-secret-of-thirty-two-bytes!'));
      }),
      status: 400,
      error: 'invalid_request',
    },
    { name: 'an opaque token with two backends configured', send: ex(() => 'some-opaque-token'), status: 400, error: 'invalid_request' },
    { name: 'a backend answering 401', send: ex(() => 'status-401', backendType), status: 400, error: 'invalid_request' },
    { name: 'a backend answering 500', send: ex(() => 'status-500', backendType), status: 400, error: 'invalid_request' },
    { name: 'a backend answering HTML', send: ex(() => 'html', backendType), status: 400, error: 'invalid_request' },
    { name: 'a backend answering after the timeout', send: ex(() => 'slow', backendType), status: 503, error: 'temporarily_unavailable' },
    { name: 'a backend that is down', send: ex(() => 'anything', 'urn:authbridge:token-type:offline-backend'), status: 503, error: 'temporarily_unavailable' },
    { name: 'an IdP whose discovery and JWKS are unreachable', send: ex(foreign('k', () => offlineIssuer)), status: 503, error: 'temporarily_unavailable' },
    {
      name: 'a 3 MiB body',
      send: raw({ headers: formHeaders, body: `${grant}&subject_token=${'a'.repeat(3 * 1024 * 1024)}` }),
      status: 413,
      error: 'invalid_request',
    },
    {
      name: 'JSON sent to the form endpoint',
      send: raw({
        headers: { ...formHeaders, 'content-type': 'application/json' },
        body: JSON.stringify({ grant_type: TOKEN_EXCHANGE, subject_token: 'x', subject_token_type: ACCESS_TOKEN }),
      }),
      status: 400,
      error: 'invalid_request',
    },
    { name: 'text sent to the form endpoint', send: raw({ headers: { ...formHeaders, 'content-type': 'text/plain' }, body: 'grant_type=x' }), status: 400, error: 'invalid_request' },
    { name: 'an unknown content type', send: raw({ headers: { ...formHeaders, 'content-type': 'application/xml' }, body: '<grant/>' }), status: 415, error: 'invalid_request' },
    { name: 'a parameter given twice', send: raw({ headers: formHeaders, body: `${grant}&${grant}` }), status: 400, error: 'invalid_request' },
    { name: 'Basic and client_secret at once', send: raw({ headers: formHeaders, body: `${grant}&client_secret=s3cret` }), status: 400, error: 'invalid_request' },
  ];

  it.each(cases)('$name → $status $error', async ({ send, status, error }) => {
    const response = await send();
    expect({ status: response.status, error: response.body.error }).toEqual({ status, error });
    expect(typeof response.body.error_description).toBe('string');
    if (status === 401) expect(response.headers?.get('www-authenticate')).toMatch(/^Basic /);
  });

  it('stored nothing for refused logins, is still up, and never answered 500', async () => {
    const db = new Database(dbPath, { readonly: true });
    try {
      expect(db.prepare("SELECT count(*) AS n FROM customers WHERE subject IN ('nina', 'slow', 'anything', 'x')").get()).toEqual({ n: 0 });
    } finally {
      db.close();
    }
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    expect(broker.stderr()).not.toMatch(/"status":50[0-2]/);
  });
});

describe('Synerise-compatible login', () => {
  const call = async (body: unknown) => {
    const response = await fetch(`${url}/sauth/v3/auth/login/client`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  it('exchanges an IdP JWT and answers in the SDK shape', async () => {
    const before = Date.now();
    const response = await call({
      apiKey: 'sdk-api-key',
      identityProvider: 'OAUTH',
      identityProviderToken: await idp.accessToken({ sub: 'olga', email: 'olga@example.test' }),
      authId: 'auth-1',
      uuid: '07243772-008a-42e3-a8da-5a5f3a3c1f0b',
      deviceId: 'device-1',
    });
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ origin: 'OAUTH', realm: 'client', customId: 'olga', token: expect.any(String) });
    expect(response.body.expiration).toBe(claimsOf(response.body.token as string).exp);
    expect(response.body.created as number).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);
    expect(claimsOf(response.body.token as string).client_id).toBe('sdk');
    expect((await userinfo(url, response.body.token as string)).body.email).toBe('olga@example.test');
  });

  it('cannot route an opaque token when two backends are configured', async () => {
    backend.users.set('pat-token', { id: 'pat', email: 'pat@example.test' });
    const response = await call({ apiKey: 'sdk-api-key', identityProvider: 'OAUTH', identityProviderToken: 'pat-token' });
    // Two callback providers are configured here, so an opaque token cannot be routed.
    expect(response.status).toBe(400);
    expect(response.body.error).toBe('invalid_request');
  });

  it.each([
    { name: 'a wrong apiKey', body: { apiKey: 'nope', identityProvider: 'OAUTH', identityProviderToken: 'x' }, status: 401, error: 'invalid_client' },
    { name: 'another identityProvider', body: { apiKey: 'sdk-api-key', identityProvider: 'FACEBOOK', identityProviderToken: 'x' }, status: 400, error: 'invalid_request' },
    { name: 'no token', body: { apiKey: 'sdk-api-key', identityProvider: 'OAUTH' }, status: 400, error: 'invalid_request' },
    { name: 'an expired token', body: 'expired', status: 400, error: 'invalid_request' },
  ])('refuses $name with $status', async ({ body, status, error }) => {
    const payload =
      body === 'expired'
        ? {
            apiKey: 'sdk-api-key',
            identityProvider: 'OAUTH',
            identityProviderToken: await idp.accessToken({ sub: 'olga', iat: Math.floor(Date.now() / 1000) - 7200, exp: Math.floor(Date.now() / 1000) - 3600 }),
          }
        : body;
    const response = await call(payload);
    expect({ status: response.status, error: response.body.error }).toEqual({ status, error });
    expect(response.body.status).toBe(status);
  });
});

describe('request log', () => {
  it('writes one JSON line a request, with the client id and no token', async () => {
    const subjectToken = await idp.accessToken({ sub: 'quinn' });
    const response = await exchange(url, { token: subjectToken });
    // The line is written once the response has gone out: wait for it.
    let lines: Array<Record<string, unknown>> = [];
    for (let i = 0; i < 100; i++) {
      lines = broker
        .stderr()
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      if (lines.at(-1)?.path === '/oauth/token') break;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(lines.at(-1)).toMatchObject({ method: 'POST', path: '/oauth/token', status: 200, client_id: 'cli', ms: expect.any(Number) });
    expect(broker.stderr()).not.toContain(subjectToken);
    expect(broker.stderr()).not.toContain(response.body.access_token as string);
    expect(broker.stderr()).not.toContain('s3cret');
  });
});
