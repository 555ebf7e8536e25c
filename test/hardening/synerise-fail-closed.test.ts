/**
 * Finding 5 of the second review: the CLI's Synerise-compatible exchange accepted the broker's
 * token unverified when the broker's RFC 8414 metadata could not be fetched. It now fails closed:
 * without the broker's keys the exchange is a remote failure (exit 3) and nothing is cached.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isolatedEnv, runCli } from '../helpers/cli.js';
import { jwks, makeKey, sign, type TestKey } from '../helpers/keys.js';
import { b64u, sendJson, startServer, type TestServer } from '../jwt/fixtures.js';

let server: TestServer;
let key: TestKey;

/**
 * Synerise-compatible brokers, one a path prefix, each answering the login call with a token:
 * `no-metadata` publishes no RFC 8414 metadata (404) and answers an unsigned token;
 * `jwks-down` publishes metadata whose JWKS answers 500; `good` publishes both.
 */
function handle(req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', server.url);
  const [, tenant, ...rest] = url.pathname.split('/');
  const path = `/${rest.join('/')}`;
  const issuer = `${server.url}/${tenant}`;
  if (path === '/.well-known/oauth-authorization-server') {
    if (tenant === 'no-metadata') return sendJson(res, { error: 'not_found' }, 404);
    return sendJson(res, { issuer, token_endpoint: `${issuer}/oauth/token`, jwks_uri: `${issuer}/jwks.json` });
  }
  if (path === '/jwks.json') return tenant === 'jwks-down' ? sendJson(res, { error: 'down' }, 500) : sendJson(res, jwks(key));
  if (path === '/sauth/v3/auth/login/client' && req.method === 'POST') {
    req.resume();
    const exp = Math.floor(Date.now() / 1000) + 3600;
    const claims = { iss: issuer, sub: 'customer-1', aud: 'app', exp, iat: exp - 3600 };
    const done = (token: string) => sendJson(res, { token, expiration: exp, created: Date.now(), origin: 'OAUTH', customId: 'customer-1', realm: 'client' });
    if (tenant === 'no-metadata') return done(`${b64u({ alg: 'none', typ: 'at+jwt' })}.${b64u(claims)}.`);
    void sign(key, claims, { header: { typ: 'at+jwt' } }).then(done);
    return;
  }
  sendJson(res, { error: 'not_found' }, 404);
}

beforeAll(async () => {
  key = await makeKey('ES256', 'broker-key');
  server = await startServer(handle);
});
afterAll(async () => {
  await server?.close();
});

function env(tenant: string): Record<string, string> {
  return {
    ...isolatedEnv(),
    AUTHBRIDGE_BROKER_URL: `${server.url}/${tenant}`,
    AUTHBRIDGE_BROKER_PROTOCOL: 'synerise',
    AUTHBRIDGE_BROKER_API_KEY: 'sdk-key',
  };
}

function cachedBroker(e: Record<string, string>): unknown {
  const file = join(e.XDG_CACHE_HOME!, 'authbridge', 'default.json');
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { broker?: unknown }).broker : undefined;
}

describe('Synerise exchange fails closed (finding 5 of the second review)', () => {
  it("without the broker's metadata: exit 3, nothing cached, and the IdP token is not handed over", async () => {
    const e = env('no-metadata');
    const result = await runCli(['exchange', '--subject-token', 'idp-token'], { env: e });
    expect(result.code, result.stderr).toBe(3);
    expect(result.stderr).toMatch(/^authbridge: could not verify the broker's token: could not fetch the broker metadata from .*\/no-metadata\/\.well-known\/oauth-authorization-server: HTTP 404/m);
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(cachedBroker(e)).toBeUndefined();
    expect(server.hitsOf('/no-metadata/sauth/v3/auth/login/client')).toBe(0);
  });

  it("with metadata but a JWKS that fails: exit 3, nothing cached", async () => {
    const e = env('jwks-down');
    const result = await runCli(['exchange', '--subject-token', 'idp-token'], { env: e });
    expect(result.code, result.stderr).toBe(3);
    expect(result.stderr).toMatch(/^authbridge: could not fetch JWKS from .*\/jwks-down\/jwks\.json: HTTP 500/m);
    expect(cachedBroker(e)).toBeUndefined();
  });

  it('with metadata and keys: the verified token is cached (the baseline)', async () => {
    const e = env('good');
    const result = await runCli(['exchange', '--subject-token', 'idp-token', '--json'], { env: e });
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ subject: 'customer-1' });
    expect(cachedBroker(e)).toMatchObject({ subject: 'customer-1', issuer: `${server.url}/good` });
  });
});
