/**
 * fast-check properties for the parsers the existing suites do not cover: JWKS documents, the
 * loopback server's callback query strings (and pasted redirect URLs), and the broker's form and
 * JSON bodies, POSTed at a real broker process.
 */
import { request } from 'node:http';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseBrokerConfig } from '../../src/broker/config.js';
import { UsageError } from '../../src/errors.js';
import { localKeySet, parseJwks } from '../../src/jwt/keys.js';
import { LoopbackServer } from '../../src/loopback/server.js';
import { basic, startBroker, startIdp, tempDir, type BrokerProcess, type TestIdp } from '../broker/helpers.js';
import { makeKey } from '../helpers/keys.js';

class Refused extends Error {}
const refuse = (why: string): never => {
  throw new Refused(why);
};

/** JSON values shaped like JWKs: the right names with values of any JSON type. */
const jwkLike = fc.record(
  {
    kty: fc.oneof(fc.constantFrom('RSA', 'EC', 'OKP', 'oct', 'rsa', ''), fc.jsonValue()),
    kid: fc.oneof(fc.string(), fc.jsonValue()),
    alg: fc.oneof(fc.constantFrom('RS256', 'ES256', 'EdDSA', 'none', 'HS256'), fc.jsonValue()),
    use: fc.oneof(fc.constantFrom('sig', 'enc'), fc.jsonValue()),
    key_ops: fc.oneof(fc.constant(['verify']), fc.jsonValue()),
    crv: fc.oneof(fc.constantFrom('P-256', 'P-384', 'Ed25519', 'X25519', 'secp256k1'), fc.jsonValue()),
    n: fc.oneof(fc.base64String(), fc.jsonValue()),
    e: fc.oneof(fc.constantFrom('AQAB', 'AA', ''), fc.jsonValue()),
    x: fc.oneof(fc.base64String(), fc.jsonValue()),
    y: fc.oneof(fc.base64String(), fc.jsonValue()),
    k: fc.oneof(fc.base64String(), fc.jsonValue()),
    d: fc.base64String(),
  },
  { requiredKeys: [] },
);
const jwksLike = fc.oneof(fc.jsonValue(), fc.record({ keys: fc.array(fc.oneof(jwkLike, fc.jsonValue()), { maxLength: 5 }) }));

describe('parseJwks (property)', () => {
  it('either refuses through its callback or keeps only key objects with a kty; never throws anything else', () => {
    fc.assert(
      fc.property(jwksLike, (doc) => {
        let keys: unknown[];
        try {
          keys = parseJwks(doc, refuse);
        } catch (err) {
          expect(err).toBeInstanceOf(Refused);
          return;
        }
        expect(keys.length).toBeGreaterThan(0);
        for (const key of keys) expect(typeof (key as { kty: unknown }).kty).toBe('string');
      }),
      { numRuns: 2000 },
    );
  });

  it('a key set of arbitrary keys answers candidates() for any header without throwing, and never offers a private key', async () => {
    const real = await makeKey('ES256', 'real');
    await fc.assert(
      fc.asyncProperty(
        fc.array(jwkLike, { maxLength: 4 }),
        fc.record({ alg: fc.oneof(fc.constantFrom('RS256', 'ES256', 'EdDSA', 'HS256', 'none'), fc.jsonValue()), kid: fc.oneof(fc.string(), fc.jsonValue()) }, { requiredKeys: [] }),
        async (keys, header) => {
          let set;
          try {
            set = localKeySet({ keys: [...keys, real.publicJwk] as never });
          } catch (err) {
            expect(err).toBeInstanceOf(UsageError);
            return;
          }
          const candidates = await set.candidates(header);
          for (const c of candidates) expect(c.key.type).toBe('public');
          await set.algorithms();
        },
      ),
      // The first counterexample it found: a header whose alg is an object that cannot become a string.
      { numRuns: 500, examples: [[[], { alg: JSON.parse('{"toString":null}') as fc.JsonValue }]] },
    );
  });
});

describe('parseBrokerConfig (property)', () => {
  const provider = fc.record(
    {
      id: fc.oneof(fc.constantFrom('idp', 'a.b', 'bad id'), fc.jsonValue()),
      type: fc.oneof(fc.constantFrom('jwt', 'callback'), fc.jsonValue()),
      issuer: fc.oneof(fc.constantFrom('https://idp.test', 'http://127.0.0.1:1', 'http://idp.test', 'ftp://x', 'not a url'), fc.jsonValue()),
      audience: fc.oneof(fc.constantFrom('cli', ''), fc.array(fc.string(), { maxLength: 2 }), fc.jsonValue()),
      url: fc.oneof(fc.constant('https://backend.test/me'), fc.jsonValue()),
      algorithms: fc.oneof(fc.constant(['RS256']), fc.constant(['HS256']), fc.constant(['none']), fc.jsonValue()),
      mapping: fc.oneof(fc.constant({ email: '/email' }), fc.constant({ sub: '/x' }), fc.constant({ email: 'email' }), fc.jsonValue()),
      leeway: fc.oneof(fc.integer({ min: -5, max: 100 }), fc.jsonValue()),
      timeoutMs: fc.oneof(fc.integer({ min: -1, max: 100_000 }), fc.jsonValue()),
      headers: fc.oneof(fc.constant({ 'x-api-key': 'k' }), fc.jsonValue()),
      acceptedTypes: fc.oneof(
        fc.record({ accessToken: fc.oneof(fc.constant(['at+jwt', 'JWT']), fc.constant(['logout+jwt']), fc.jsonValue()), idToken: fc.oneof(fc.constant(['JWT', null]), fc.jsonValue()) }, { requiredKeys: [] }),
        fc.jsonValue(),
      ),
    },
    { requiredKeys: [] },
  );
  const doc = fc.oneof(
    fc.jsonValue(),
    fc.record(
      {
        issuer: fc.oneof(fc.constant('https://broker.test'), fc.jsonValue()),
        audience: fc.oneof(fc.constant('app'), fc.jsonValue()),
        tokenTtl: fc.oneof(fc.integer({ min: 0, max: 10_000_000 }), fc.jsonValue()),
        rateLimit: fc.oneof(fc.record({ maxFailures: fc.jsonValue(), windowSeconds: fc.jsonValue(), maxRequestsPerClient: fc.jsonValue() }, { requiredKeys: [] }), fc.jsonValue()),
        allowInsecureHttp: fc.oneof(fc.boolean(), fc.jsonValue()),
        trustProxy: fc.oneof(fc.constant(false), fc.constant(['10.0.0.0/8', '::1']), fc.array(fc.string({ maxLength: 20 }), { maxLength: 2 }), fc.jsonValue()),
        maxConnections: fc.oneof(fc.integer({ min: -1, max: 2_000_000 }), fc.jsonValue()),
        sessions: fc.oneof(
          fc.record({ maxPerClient: fc.jsonValue(), retentionSeconds: fc.jsonValue(), purgeIntervalSeconds: fc.jsonValue() }, { requiredKeys: [] }),
          fc.jsonValue(),
        ),
        clients: fc.oneof(
          fc.array(
            fc.record(
              {
                clientId: fc.oneof(fc.constantFrom('cli', ''), fc.jsonValue()),
                tokenEndpointAuthMethod: fc.oneof(fc.constantFrom('client_secret_basic', 'client_secret_post', 'none'), fc.jsonValue()),
                clientSecret: fc.jsonValue(),
                apiKey: fc.jsonValue(),
                introspects: fc.oneof(fc.constant(['cli']), fc.jsonValue()),
              },
              { requiredKeys: [] },
            ),
            { maxLength: 3 },
          ),
          fc.jsonValue(),
        ),
        providers: fc.oneof(fc.array(provider, { maxLength: 3 }), fc.jsonValue()),
      },
      { requiredKeys: [] },
    ),
  );

  it('accepts a document or refuses it with one UsageError line naming a field; never anything else', () => {
    fc.assert(
      fc.property(doc, (value) => {
        try {
          const config = parseBrokerConfig(value, 'broker.json');
          expect(config.clients.length).toBeGreaterThan(0);
          expect(config.providers.length).toBeGreaterThan(0);
        } catch (err) {
          expect(err).toBeInstanceOf(UsageError);
          expect((err as UsageError).message).toMatch(/^could not load broker config broker\.json: [^\n]+$/);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

/** A raw GET through node:http, so the query string reaches the server exactly as generated. */
function rawGet(port: number, path: string, host = `127.0.0.1:${port}`): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'GET', headers: { host }, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Query strings: random names and values, percent-encoded or raw junk (`%zz`, `&&`, `==`). */
const queryPart = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 12 }).map(encodeURIComponent),
  fc.constantFrom('%', '%zz', '%00', '&', '=', '==', '+', '%E0%A4%A', 'state', 'code', 'error', 'iss', ';'),
);
const queryString = fc.array(fc.tuple(queryPart, queryPart), { maxLength: 6 }).map((pairs) => pairs.map(([k, v]) => `${k}=${v}`).join('&'));
const pathPart = fc.oneof(fc.constantFrom('/callback', '/callback/', '/Callback', '//callback', '/callback%00', '/', '/favicon.ico'), queryPart.map((p) => `/${p}`));

describe('the loopback server with arbitrary callbacks (property)', () => {
  it('answers every request without ending the wait, and completes only on the exact state', async () => {
    const server = await LoopbackServer.listen(0);
    try {
      const handled: URL[] = [];
      const wait = server.waitForCallback('the-state', async (url) => {
        handled.push(url);
        return url.searchParams.get('code');
      });
      await fc.assert(
        fc.asyncProperty(pathPart, queryString, fc.boolean(), async (path, query, foreignHost) => {
          fc.pre(!/(^|&)state=the-state(&|$)/.test(query));
          const status = await rawGet(server.port, `${path}?${query}`, foreignHost ? `evil.example:${server.port}` : undefined);
          expect([400, 404, 405, 409]).toContain(status);
        }),
        { numRuns: 300 },
      );
      for (const pasted of fc.sample(fc.oneof(fc.string(), queryString.map((q) => `http://127.0.0.1:${server.port}/callback?${q}`)), 300)) {
        if (pasted.includes('state=the-state')) continue;
        expect((await server.submit(pasted)).accepted).toBe(false);
      }
      expect(handled).toEqual([]);
      expect(await rawGet(server.port, '/callback?code=c-1&state=the-state')).toBe(200);
      await expect(wait).resolves.toBe('c-1');
      expect(await rawGet(server.port, '/callback?code=c-2&state=the-state')).toBe(409);
    } finally {
      await server.close();
    }
  }, 60_000);
});

describe('the broker with arbitrary bodies (property)', () => {
  let idp: TestIdp;
  let broker: BrokerProcess;

  beforeAll(async () => {
    idp = await startIdp();
    broker = await startBroker(
      {
        // Every refusal would count towards the limit: switched off to test the parsers alone.
        rateLimit: { maxFailures: 0 },
        clients: [
          { clientId: 'cli', tokenEndpointAuthMethod: 'client_secret_basic', clientSecret: 's3cret' },
          { clientId: 'mobile-app', tokenEndpointAuthMethod: 'none' },
          { clientId: 'sdk', apiKey: 'sdk-key' },
        ],
        providers: [{ id: 'idp', type: 'jwt', issuer: idp.issuer, audience: 'cli', algorithms: ['RS256'] }],
      },
      join(tempDir(), 'broker.db'),
    );
  }, 30_000);
  afterAll(async () => {
    await broker?.stop();
    await idp?.close();
  });

  const FORM_NAMES = [
    'grant_type',
    'subject_token',
    'subject_token_type',
    'client_id',
    'client_secret',
    'audience',
    'resource',
    'scope',
    'requested_token_type',
    'actor_token',
    'token',
    'token_type_hint',
    'all_sessions',
  ];
  /** Tokens shaped like JWTs whose header and claims hold any JSON: the broker parses them to route them. */
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v) ?? 'null').toString('base64url');
  const jwtish = fc
    .tuple(
      fc.record({ alg: fc.oneof(fc.constantFrom('RS256', 'none'), fc.jsonValue()), typ: fc.oneof(fc.constant('at+jwt'), fc.jsonValue()), kid: fc.jsonValue() }, { requiredKeys: [] }),
      fc.record(
        {
          iss: fc.oneof(fc.constant('IDP'), fc.jsonValue(), fc.constant(JSON.parse('{"toString":null}') as fc.JsonValue)),
          aud: fc.oneof(fc.constant('cli'), fc.jsonValue()),
          exp: fc.oneof(fc.integer(), fc.jsonValue()),
          sub: fc.jsonValue(),
        },
        { requiredKeys: [] },
      ),
      fc.base64String({ maxLength: 20 }),
    )
    .map(([header, payload, sig]) => `${b64(header)}.${b64(payload.iss === 'IDP' ? { ...payload, iss: idp.issuer } : payload)}.${sig}`);
  const formValue = fc.oneof(
    jwtish,
    fc.string({ unit: 'binary', maxLength: 40 }),
    fc.constantFrom(
      'urn:ietf:params:oauth:grant-type:token-exchange',
      'urn:ietf:params:oauth:token-type:access_token',
      'urn:ietf:params:oauth:token-type:jwt',
      'urn:authbridge:token-type:idp',
      'urn:authbridge:token-type:nope',
      'cli',
      'mobile-app',
      's3cret',
      'true',
      'eyJhbGciOiJub25lIn0.eyJpc3MiOiJ4In0.',
      'a.b.c',
      '',
    ),
  );
  const formBody = fc.oneof(
    fc.array(fc.tuple(fc.oneof(fc.constantFrom(...FORM_NAMES), fc.string({ maxLength: 8 })), formValue), { maxLength: 8 }).map((pairs) => {
      const form = new URLSearchParams();
      for (const [k, v] of pairs) form.append(k, v);
      return form.toString();
    }),
    fc.string({ unit: 'binary', maxLength: 200 }),
    queryString,
  );
  const jsonBody = fc.oneof(
    fc.record(
      {
        apiKey: fc.oneof(fc.constant('sdk-key'), fc.jsonValue()),
        identityProvider: fc.oneof(fc.constant('OAUTH'), fc.jsonValue()),
        identityProviderToken: fc.oneof(fc.constantFrom('a.b.c', 'opaque'), fc.jsonValue()),
        authId: fc.jsonValue(),
        uuid: fc.jsonValue(),
        deviceId: fc.jsonValue(),
      },
      { requiredKeys: [] },
    ).map((o) => JSON.stringify(o)),
    fc.jsonValue().map((v) => JSON.stringify(v)),
    fc.string({ maxLength: 100 }),
  );
  const contentType = fc.constantFrom(
    'application/x-www-form-urlencoded',
    'application/x-www-form-urlencoded; charset=utf-8',
    'application/json',
    'text/plain',
    'multipart/form-data; boundary=x',
    'application/x-www-form-urlencoded;;;',
    '',
  );
  const authorization = fc.oneof(
    fc.constant(undefined),
    fc.constant(basic('cli', 's3cret')),
    fc.constant(basic('cli', 'wrong')),
    fc.string({ maxLength: 30 }).map((s) => `Basic ${Buffer.from(s).toString('base64')}`),
    fc.constantFrom('Basic', 'Basic ====', 'Bearer x', 'basic Og=='),
  );
  const endpoint = fc.constantFrom('/oauth/token', '/oauth/revoke', '/oauth/introspect', '/sauth/v3/auth/login/client');

  it('never answers 5xx, and every refusal is an RFC 6749 error JSON', async () => {
    await fc.assert(
      fc.asyncProperty(endpoint, contentType, fc.oneof(formBody, jsonBody), authorization, async (path, type, body, auth) => {
        const headers: Record<string, string> = {};
        if (type) headers['content-type'] = type;
        if (auth) headers.authorization = auth;
        const response = await fetch(`${broker.url}${path}`, { method: 'POST', headers, body });
        const text = await response.text();
        expect(response.status, `${path} ${type} ${JSON.stringify(body)} → ${text}`).toBeLessThan(500);
        if (response.status >= 400) {
          const doc = JSON.parse(text) as Record<string, unknown>;
          expect(typeof doc.error).toBe('string');
          expect(typeof doc.error_description).toBe('string');
          expect(text).not.toMatch(/\n\s+at |stack/i);
        }
      }),
      { numRuns: 400 },
    );
    // Still serving after all of it.
    expect((await fetch(`${broker.url}/healthz`)).status).toBe(200);
  }, 90_000);

  it('refuses well-formed exchanges of arbitrary JWT-shaped subject tokens with a 400, never a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(
        jwtish,
        fc.constantFrom('access_token', 'id_token', 'jwt').map((t) => `urn:ietf:params:oauth:token-type:${t}`),
        async (token, type) => {
          const form = new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange', subject_token: token, subject_token_type: type });
          const response = await fetch(`${broker.url}/oauth/token`, {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic('cli', 's3cret') },
            body: form.toString(),
          });
          const doc = (await response.json()) as Record<string, unknown>;
          expect(response.status, JSON.stringify(doc)).toBe(400);
          expect(doc.error).toBe('invalid_request');
        },
      ),
      { numRuns: 300 },
    );
  }, 60_000);

  it.each([
    ['a 1 MB form', '/oauth/token', 'application/x-www-form-urlencoded', `subject_token=${'a'.repeat(1024 * 1024)}`, 413],
    ['a 1 MB JSON body', '/sauth/v3/auth/login/client', 'application/json', JSON.stringify({ identityProviderToken: 'a'.repeat(1024 * 1024) }), 413],
    ['__proto__ in JSON', '/sauth/v3/auth/login/client', 'application/json', '{"__proto__":{"admin":true},"apiKey":"sdk-key"}', 400],
    ['constructor.prototype in JSON', '/sauth/v3/auth/login/client', 'application/json', '{"constructor":{"prototype":{"admin":true}}}', 400],
    ['JSON nested 10 000 deep', '/sauth/v3/auth/login/client', 'application/json', `${'['.repeat(10_000)}${']'.repeat(10_000)}`, 400],
    ['invalid UTF-8', '/oauth/token', 'application/x-www-form-urlencoded', Buffer.from([0x67, 0x3d, 0xff, 0xfe, 0xc3]), 400],
    ['gzip-encoded body', '/oauth/token', 'application/x-www-form-urlencoded', Buffer.from([0x1f, 0x8b, 0x08, 0x00]), 400],
  ])('%s is refused with an RFC 6749 error, not a crash', async (_name, path, type, body, status) => {
    const headers: Record<string, string> = { 'content-type': type, authorization: basic('cli', 's3cret') };
    if (_name.startsWith('gzip')) headers['content-encoding'] = 'gzip';
    const response = await fetch(`${broker.url}${path}`, { method: 'POST', headers, body });
    const doc = (await response.json()) as Record<string, unknown>;
    expect(response.status, JSON.stringify(doc)).toBe(status);
    expect(response.status).toBeLessThan(500);
    expect(typeof doc.error).toBe('string');
    expect((await fetch(`${broker.url}/healthz`)).status).toBe(200);
  });
});
