import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthorizationRefusedError, RemoteError, UsageError } from '../../src/errors.js';
import { LoopbackServer } from '../../src/loopback/server.js';
import { chooseClientAuth, connectIdp, type IdpClient } from '../../src/oidc/client.js';
import { formEncodedBasic } from '../../src/oidc/connection.js';
import { maskParams, maskUrl } from '../../src/oidc/trace.js';
import { driveLogin } from '../helpers/http-browser.js';
import {
  CONFIDENTIAL_CLIENT_ID,
  CONFIDENTIAL_CLIENT_SECRET,
  POST_CLIENT_ID,
  POST_CLIENT_SECRET,
  PUBLIC_CLIENT_ID,
  startIdp,
  type Idp,
} from '../helpers/idp.js';

let idp: Idp;
beforeAll(async () => {
  idp = await startIdp();
});
afterAll(async () => {
  await idp?.close();
});

const connect = (clientId = PUBLIC_CLIENT_ID, clientSecret?: string, trace?: (l: string) => void) =>
  connectIdp({ issuer: idp.issuer, clientId, clientSecret, fetch, now: Date.now, trace });

/** One full authorization code flow through the HTTP browser. */
async function signIn(client: IdpClient, scopes = ['openid', 'email', 'offline_access']) {
  const server = await LoopbackServer.listen();
  try {
    const request = await client.authorizationRequest({ redirectUri: server.redirectUri, scopes, extra: { prompt: 'consent' } });
    const wait = server.waitForCallback(request.state, (url) => client.exchangeCode(url, request));
    const drive = await driveLogin(request.url.href);
    return { tokens: await wait, request, drive };
  } finally {
    await server.close();
  }
}

describe('connectIdp', () => {
  it('discovers the IdP and builds a PKCE S256 authorization URL with state, nonce and no prompt of its own', async () => {
    const client = await connect();
    expect(client.clientAuthMethod).toBe('none');
    const request = await client.authorizationRequest({ redirectUri: 'http://127.0.0.1:1234/callback', scopes: ['openid', 'offline_access'] });
    const params = request.url.searchParams;
    expect(`${request.url.origin}${request.url.pathname}`).toBe(`${idp.issuer}/auth`);
    expect(params.get('code_challenge_method')).toBe('S256');
    expect(params.get('code_challenge')).toMatch(/^[\w-]{43}$/);
    expect(params.get('code_challenge')).not.toBe(request.codeVerifier);
    expect(params.get('state')).toBe(request.state);
    expect(params.get('nonce')).toBe(request.nonce);
    // offline_access no longer forces a consent screen at every login.
    expect(params.has('prompt')).toBe(false);
    expect(params.get('client_id')).toBe(PUBLIC_CLIENT_ID);
    expect(params.get('response_type')).toBe('code');
    // Extra parameters are sent, but never replace the flow's own.
    const extra = await client.authorizationRequest({
      redirectUri: 'http://127.0.0.1:1/callback',
      scopes: ['openid'],
      extra: { prompt: 'select_account', access_type: 'offline', state: 'forged', audience: 'https://api.example.test' },
    });
    expect(extra.url.searchParams.get('prompt')).toBe('select_account');
    expect(extra.url.searchParams.get('access_type')).toBe('offline');
    expect(extra.url.searchParams.get('audience')).toBe('https://api.example.test');
    expect(extra.url.searchParams.get('state')).toBe(extra.state);
  });

  it('refuses a discovery document naming another issuer', async () => {
    const err = await connectIdp({ issuer: `${idp.issuer}/`, clientId: 'x', fetch, now: Date.now }).catch((e: unknown) => e);
    // A configuration error (exit 2) with the exact fix, as in verify and doctor.
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toContain(`it names the issuer "${idp.issuer}"`);
    expect((err as UsageError).hint).toBe(
      `Set the issuer to "${idp.issuer}" exactly (the trailing slash matters): --issuer, AUTHBRIDGE_ISSUER or \`authbridge config set issuer ${idp.issuer}\`.`,
    );
  });

  it('refuses a plain-HTTP issuer that is not loopback', async () => {
    await expect(connectIdp({ issuer: 'http://idp.example.com', clientId: 'x', fetch, now: Date.now })).rejects.toBeInstanceOf(UsageError);
  });

  describe('faults', () => {
    let fake: Server;
    let base: string;
    let answer: { status: number; type: string; body: string };
    beforeAll(async () => {
      fake = createServer((_req, res) => res.writeHead(answer.status, { 'content-type': answer.type }).end(answer.body));
      await new Promise<void>((r) => fake.listen(0, '127.0.0.1', r));
      base = `http://127.0.0.1:${(fake.address() as AddressInfo).port}`;
    });
    afterAll(() => new Promise<void>((r) => fake.close(() => r())));

    it.each([
      ['HTML', { status: 200, type: 'text/html', body: '<html>login</html>' }, 'the answer is not JSON'],
      ['a 500', { status: 500, type: 'application/json', body: '{}' }, 'HTTP 500'],
      ['a JSON array', { status: 200, type: 'application/json', body: '[]' }, 'not a JSON object'],
    ])('discovery answering %s is a remote failure', async (_name, a, why) => {
      answer = a;
      const err = await connectIdp({ issuer: base, clientId: 'x', fetch, now: Date.now }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RemoteError);
      expect((err as Error).message).toMatch(/^could not fetch the discovery document from /);
      expect((err as Error).message).toContain(why);
    });

    it('an unreachable IdP is a remote failure', async () => {
      const closed = createServer();
      await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
      const port = (closed.address() as AddressInfo).port;
      await new Promise<void>((r) => closed.close(() => r()));
      const err = await connectIdp({ issuer: `http://127.0.0.1:${port}`, clientId: 'x', fetch, now: Date.now }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RemoteError);
      expect((err as Error).message).toContain('ECONNREFUSED');
    });
  });
});

describe('client authentication', () => {
  it.each([
    [undefined, undefined, undefined, 'none'],
    // Glewlwyd, Google: `none` is not listed, a public client still sends none.
    [undefined, ['client_secret_basic', 'client_secret_post'], undefined, 'none'],
    ['s', undefined, undefined, 'client_secret_basic'],
    ['s', ['client_secret_basic', 'client_secret_post'], undefined, 'client_secret_basic'],
    // The IdP's own order wins (Okta and Cognito list post first for some apps).
    ['s', ['client_secret_post', 'client_secret_basic'], undefined, 'client_secret_post'],
    ['s', ['private_key_jwt', 'client_secret_post'], undefined, 'client_secret_post'],
    ['s', ['private_key_jwt'], undefined, 'client_secret_basic'],
    // The profile's clientAuthMethod wins over the IdP's list.
    ['s', ['client_secret_basic'], 'client_secret_post', 'client_secret_post'],
    ['s', ['client_secret_basic'], 'none', 'none'],
  ] as const)('secret %s, IdP methods %j, configured %s → %s', (secret, supported, configured, method) => {
    expect(chooseClientAuth(secret, supported, configured).method).toBe(method);
  });

  it.each([
    ['private_key_jwt', 's', '--client-auth-method private_key_jwt needs a client key'],
    ['client_secret_basic', undefined, '--client-auth-method client_secret_basic needs a client secret'],
  ] as const)('configured %s with secret %s is a usage error', (configured, secret, message) => {
    expect(() => chooseClientAuth(secret, undefined, configured)).toThrow(UsageError);
    expect(() => chooseClientAuth(secret, undefined, configured)).toThrow(message);
  });

  it.each([
    // Only what application/x-www-form-urlencoded requires is encoded: `-`, `.`, `_`, `*` stay as they are.
    ['authbridge-cli.conf-1', 'se-cret.value_1*', 'authbridge-cli.conf-1:se-cret.value_1*'],
    ['a b', 'p:w/~!', 'a+b:p%3Aw%2F%7E%21'],
    ['ü', "it's(1)", "%C3%BC:it%27s%281%29"],
  ])('client_secret_basic sends %s / %s as Basic %s', (id, secret, decoded) => {
    const headers = new Headers();
    formEncodedBasic(secret)({ issuer: 'x' }, { client_id: id }, new URLSearchParams(), headers);
    const value = headers.get('authorization')!;
    expect(value.startsWith('Basic ')).toBe(true);
    expect(Buffer.from(value.slice(6), 'base64').toString('utf8')).toBe(decoded);
  });
});

describe('the authorization code flow against oidc-provider', () => {
  it('exchanges the code, refreshes, introspects, fetches userinfo and revokes (public client)', async () => {
    const client = await connect();
    const { tokens, drive } = await signIn(client);
    expect(drive.callbackUrl.searchParams.get('iss')).toBe(idp.issuer);
    expect(tokens.access_token).toBeTruthy();
    expect(tokens.id_token).toBeTruthy();
    expect(tokens.refresh_token).toBeTruthy();
    const info = await client.userinfo(tokens.access_token, 'alice');
    expect(info.email).toBe('alice@example.test');
    expect(await client.introspect(tokens.refresh_token!, 'refresh_token')).toMatchObject({ active: true, sub: 'alice' });
    const refreshed = await client.refresh(tokens.refresh_token!);
    expect(refreshed.access_token).not.toBe(tokens.access_token);
    // Public clients get a rotated refresh token; the old one is consumed.
    await expect(client.refresh(tokens.refresh_token!)).rejects.toBeInstanceOf(AuthorizationRefusedError);
    const latest = refreshed.refresh_token ?? tokens.refresh_token!;
    await client.revoke(latest, 'refresh_token');
    expect((await client.introspect(latest, 'refresh_token')).active).toBe(false);
    const err = await client.refresh(latest).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthorizationRefusedError);
    expect((err as Error).message).toMatch(/^could not refresh the session: invalid_grant/);
  });

  it.each([
    [CONFIDENTIAL_CLIENT_ID, CONFIDENTIAL_CLIENT_SECRET],
    [POST_CLIENT_ID, POST_CLIENT_SECRET],
  ])('signs in a confidential client (%s)', async (clientId, secret) => {
    const client = await connect(clientId, secret);
    const { tokens } = await signIn(client, ['openid']);
    expect(tokens.id_token).toBeTruthy();
    expect((await client.introspect(tokens.access_token)).active).toBe(true);
  });

  it('a wrong client secret is refused with invalid_client', async () => {
    const client = await connect(CONFIDENTIAL_CLIENT_ID, 'wrong');
    const err = await client.introspect('anything').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthorizationRefusedError);
    expect((err as Error).message).toContain('invalid_client');
  });

  it('error=access_denied at the callback is a refusal carrying the description', async () => {
    const client = await connect();
    const server = await LoopbackServer.listen();
    try {
      const request = await client.authorizationRequest({ redirectUri: server.redirectUri, scopes: ['openid'] });
      const wait = server.waitForCallback(request.state, (url) => client.exchangeCode(url, request));
      wait.catch(() => {});
      const drive = await driveLogin(request.url.href, { action: 'deny' });
      expect(drive.callback?.status).toBe(400);
      const err = await wait.catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AuthorizationRefusedError);
      expect((err as Error).message).toBe('could not sign in: access_denied: End-User aborted interaction');
    } finally {
      await server.close();
    }
  });

  it('a token endpoint error is reported with its OAuth error (4xx: refused, 5xx: remote)', async () => {
    const client = await connect();
    idp.faults.token = { status: 400, body: { error: 'invalid_grant', error_description: 'grant request is invalid' } };
    try {
      await expect(client.refresh('x')).rejects.toThrow('could not refresh the session: invalid_grant: grant request is invalid (HTTP 400 at the token endpoint)');
      idp.faults.token = { status: 503, body: { error: 'temporarily_unavailable' } };
      await expect(client.refresh('x')).rejects.toBeInstanceOf(RemoteError);
      idp.faults.token = { status: 502, body: 'bad gateway' };
      await expect(client.refresh('x')).rejects.toBeInstanceOf(RemoteError);
    } finally {
      delete idp.faults.token;
    }
  });

  it('--verbose traces mask codes, verifiers, tokens and secrets', async () => {
    const lines: string[] = [];
    const client = await connect(CONFIDENTIAL_CLIENT_ID, CONFIDENTIAL_CLIENT_SECRET, (l) => lines.push(l));
    const { tokens, request } = await signIn(client, ['openid', 'offline_access']);
    await client.refresh(tokens.refresh_token!);
    const text = lines.join('\n');
    expect(text).toContain('> POST');
    expect(text).toContain('code=***');
    expect(text).toContain('code_verifier=***');
    expect(text).toContain('refresh_token=***');
    expect(text).toContain('[authorization: Basic ***]');
    for (const secret of [request.codeVerifier, tokens.refresh_token!, tokens.access_token, CONFIDENTIAL_CLIENT_SECRET]) {
      expect(text).not.toContain(secret);
    }
  });
});

describe('masking', () => {
  it('masks secret parameters in forms and URLs', () => {
    expect(maskParams(new URLSearchParams('grant_type=refresh_token&refresh_token=abc&client_secret=s'))).toBe(
      'grant_type=refresh_token&refresh_token=***&client_secret=***',
    );
    expect(maskUrl('http://127.0.0.1:1/callback?code=abc&state=s')).toBe('http://127.0.0.1:1/callback?code=***&state=s');
  });
});
