/**
 * Finding 1 of the second review: terminal injection. Strings that a token, an IdP, a broker or a
 * planted cache entry controls (kid, iss, aud, sub, email, claim values, `error_description`, a
 * discovery `issuer`, a broker's error text) reach the terminal through `verify`, `decode`,
 * `status`, `introspect`, `login`, `doctor`, `exchange` and the error line. Each is fed control
 * sequences — clear screen, an OSC title, a C1 CSI, a carriage return, a right-to-left override —
 * and must come out as visible escapes: no raw control byte in stdout or stderr.
 */
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isolatedEnv, runCli, type RunResult } from '../helpers/cli.js';
import { jwks, makeKey, sign, type TestKey } from '../helpers/keys.js';
import { sendJson, startServer, type TestServer } from '../jwt/fixtures.js';

/** Clear screen, cursor home, an OSC window title, a carriage return, a C1 CSI, RLO, DEL. */
const EVIL = 'x\x1b[2J\x1b[H\x1b]0;pwned\x07\r\x9b32m\u202eevil\x7f';
/** How safeText shows EVIL. */
const SHOWN = 'x\\x1b[2J\\x1b[H\\x1b]0;pwned\\x07\\x0d\\x9b32m\\u{202e}evil\\x7f';
/** How JSON (decode's view, --json) shows EVIL: JSON escapes, which parse back to EVIL. */
const SHOWN_JSON = 'x\\u001b[2J\\u001b[H\\u001b]0;pwned\\u0007\\r\\u009b32m\\u202eevil\\u007f';
/** Anything a terminal would act on, line feeds aside. */
const RAW_CONTROL = /[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/u;

function expectNoRawControl(result: RunResult): void {
  expect(result.stdout, 'stdout').not.toMatch(RAW_CONTROL);
  expect(result.stderr, 'stderr').not.toMatch(RAW_CONTROL);
}

let server: TestServer;
let key: TestKey;
let evilKey: TestKey;
let dir: string;
let browser: string;
/** Nonces the `welcome` tenant saw at its authorization endpoint, by code. */
const nonces = new Map<string, string>();

const base = (tenant: string) => `${server.url}/${tenant}`;

async function readBody(req: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

/**
 * A hostile IdP and broker, one tenant a path prefix:
 * - `deny`: the authorization endpoint sends the browser back with `error_description` EVIL;
 * - `refuse`: a code comes back, the token endpoint refuses it with `error_description` EVIL;
 * - `welcome`: signs anyone in with an ID token whose `sub` and `email` are EVIL;
 * - `introspect`: an introspection answer full of EVIL, in keys and values;
 * - `impostor`: discovery names the issuer EVIL;
 * - `broker`: an RFC 8414 broker whose token endpoint refuses with `error_description` EVIL.
 */
async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', server.url);
  const [, tenant, ...rest] = url.pathname.split('/');
  const path = `/${rest.join('/')}`;
  const issuer = base(tenant!);
  if (path === '/.well-known/openid-configuration') {
    return sendJson(res, {
      issuer: tenant === 'impostor' ? EVIL : issuer,
      authorization_endpoint: `${issuer}/authorize`,
      token_endpoint: `${issuer}/token`,
      jwks_uri: `${issuer}/jwks`,
      introspection_endpoint: `${issuer}/introspect`,
    });
  }
  if (path === '/.well-known/oauth-authorization-server') {
    return sendJson(res, { issuer, token_endpoint: `${issuer}/token`, jwks_uri: `${issuer}/jwks`, grant_types_supported: ['urn:ietf:params:oauth:grant-type:token-exchange'] });
  }
  if (path === '/jwks') return sendJson(res, jwks(key));
  if (path === '/authorize') {
    const back = new URL(url.searchParams.get('redirect_uri')!);
    back.searchParams.set('state', url.searchParams.get('state')!);
    if (tenant === 'deny') {
      back.searchParams.set('error', 'access_denied');
      back.searchParams.set('error_description', EVIL);
    } else {
      const code = `code-${nonces.size}`;
      nonces.set(code, url.searchParams.get('nonce') ?? '');
      back.searchParams.set('code', code);
    }
    res.writeHead(302, { location: back.href }).end();
    return;
  }
  if (path === '/token') {
    const body = await readBody(req);
    if (tenant === 'welcome') {
      const id_token = await sign(key, { iss: issuer, aud: 'cli', sub: EVIL, email: EVIL, nonce: nonces.get(body.get('code') ?? '') });
      return sendJson(res, { access_token: 'opaque-access-token', token_type: 'Bearer', expires_in: 3600, id_token, scope: 'openid email' });
    }
    return sendJson(res, { error: tenant === 'broker' ? 'invalid_request' : 'invalid_grant', error_description: EVIL }, 400);
  }
  if (path === '/introspect') {
    return sendJson(res, { active: true, sub: EVIL, username: EVIL, scope: EVIL, [EVIL]: 'key', ext: { nested: EVIL }, exp: 4_102_444_800 });
  }
  sendJson(res, { error: 'not_found' }, 404);
}

beforeAll(async () => {
  [key, evilKey] = await Promise.all([makeKey('RS256', 'idp-key'), makeKey('ES256', EVIL)]);
  server = await startServer((req, res) => void handle(req, res).catch(() => res.writeHead(500).end()));
  dir = mkdtempSync(join(tmpdir(), 'authbridge-injection-'));
  writeFileSync(join(dir, 'evil-jwks.json'), JSON.stringify(jwks(evilKey)));
  // A "browser" that follows the authorization endpoint's redirect back to the loopback server.
  browser = join(dir, 'follow.mjs');
  writeFileSync(browser, 'fetch(process.argv[2]).catch(() => {});\n');
});
afterAll(async () => {
  await server?.close();
});

function idpEnv(tenant: string, extra: Record<string, string> = {}): Record<string, string> {
  return { ...isolatedEnv(), AUTHBRIDGE_ISSUER: base(tenant), AUTHBRIDGE_CLIENT_ID: 'cli', BROWSER: `${process.execPath} ${browser}`, ...extra };
}

describe('terminal injection (finding 1 of the second review)', () => {
  it('verify: a crafted kid, sub and claims cannot clear the screen or forge the verdict; --json stays exact', async () => {
    const token = await sign(evilKey, { iss: 'https://idp.test', aud: 'cli', sub: EVIL, name: EVIL });
    const args = ['verify', '--jwks', join(dir, 'evil-jwks.json'), '--issuer', 'https://idp.test', '--audience', 'cli', token];
    const human = await runCli(args);
    expect(human.code, human.stderr).toBe(0);
    expectNoRawControl(human);
    expect(human.stdout).toContain(`kid "${SHOWN}"`);
    expect(human.stdout).toContain(`Token is valid (sub "${SHOWN}").`);

    const json = await runCli(['--json', ...args]);
    expectNoRawControl(json);
    const doc = JSON.parse(json.stdout) as { payload: { sub: string }; header: { kid: string } };
    expect(doc.payload.sub).toBe(EVIL);
    expect(doc.header.kid).toBe(EVIL);
  });

  it('verify: a crafted iss and aud are shown escaped in the failing checks', async () => {
    const token = await sign(evilKey, { iss: EVIL, aud: EVIL, sub: 'alice' });
    const result = await runCli(['verify', '--jwks', join(dir, 'evil-jwks.json'), '--issuer', 'https://idp.test', '--audience', 'cli', token]);
    expect(result.code).toBe(1);
    expectNoRawControl(result);
    expect(result.stdout).toContain(SHOWN);
    expect(result.stdout).toMatch(/Token is NOT valid: wrong_issuer\./);
  });

  it('decode: header and payload show JSON escapes, never the raw bytes', async () => {
    const token = await sign(evilKey, { sub: EVIL, [EVIL]: [EVIL, { deep: EVIL }] });
    const result = await runCli(['decode', token]);
    expect(result.code, result.stderr).toBe(0);
    expectNoRawControl(result);
    expect(result.stdout).toContain(`"sub": "${SHOWN_JSON}"`);
    expect(result.stdout).toContain(`"kid": "${SHOWN_JSON}"`);
    const json = await runCli(['decode', '--json', token]);
    expectNoRawControl(json);
    expect((JSON.parse(json.stdout) as { payload: Record<string, unknown> }).payload[EVIL]).toEqual([EVIL, { deep: EVIL }]);
  });

  it('status: a cache entry whose issuer, email, subject, scopes and broker carry control sequences', async () => {
    const env = isolatedEnv();
    const cache = join(env.XDG_CACHE_HOME!, 'authbridge');
    mkdirSync(cache, { recursive: true, mode: 0o700 });
    chmodSync(cache, 0o700);
    const entry = {
      version: 1,
      profile: 'default',
      issuer: EVIL,
      client_id: 'cli',
      access_token: 'at',
      subject: EVIL,
      email: EVIL,
      scopes: [EVIL],
      obtained_at: Date.now(),
      access_token_expires_at: Date.now() + 3600_000,
      broker: { url: 'https://broker.test', issuer: EVIL, subject: EVIL, access_token: 'bt', expires_at: Date.now() + 3600_000, obtained_at: Date.now() },
    };
    writeFileSync(join(cache, 'default.json'), JSON.stringify(entry), { mode: 0o600 });
    const result = await runCli(['status'], { env });
    expect(result.code, result.stderr).toBe(0);
    expectNoRawControl(result);
    expect(result.stdout).toContain(`signed in as ${SHOWN} (sub ${SHOWN})`);
    const json = await runCli(['status', '--json'], { env });
    expectNoRawControl(json);
    expect((JSON.parse(json.stdout) as { subject: string }).subject).toBe(EVIL);
  });

  it("introspect: the IdP's answer, keys and values, is shown escaped", async () => {
    const result = await runCli(['introspect', 'some-token'], { env: idpEnv('introspect') });
    expect(result.code, result.stderr).toBe(0);
    expectNoRawControl(result);
    expect(result.stdout).toMatch(new RegExp(`^  sub +${SHOWN.replace(/[\\[\]{}().*+?^$|]/g, '\\$&')}$`, 'm'));
    expect(result.stdout).toContain(SHOWN_JSON);
  });

  it("login: the IdP's error_description in the callback ends the login as one escaped error line", async () => {
    const result = await runCli(['login', '--timeout', '20'], { env: idpEnv('deny') });
    expect(result.code, result.stderr).toBe(5);
    expectNoRawControl(result);
    expect(result.stderr).toContain(`authbridge: could not sign in: access_denied: ${SHOWN}\n`);
  });

  it("login: the token endpoint's error_description is one escaped error line", async () => {
    const result = await runCli(['login', '--timeout', '20'], { env: idpEnv('refuse') });
    expect(result.code, result.stderr).toBe(5);
    expectNoRawControl(result);
    expect(result.stderr).toContain(`authbridge: could not exchange the authorization code: invalid_grant: ${SHOWN} (HTTP 400 at the token endpoint)\n`);
  });

  it('login: the "signed in as" line shows an ID token\'s crafted sub and email escaped', async () => {
    const env = idpEnv('welcome');
    const result = await runCli(['login', '--timeout', '20'], { env });
    expect(result.code, result.stderr).toBe(0);
    expectNoRawControl(result);
    expect(result.stderr).toContain(`Signed in to ${base('welcome')} as ${SHOWN} (sub ${SHOWN})`);
  });

  it("a discovery document's issuer: the error line of verify and doctor's report", async () => {
    const token = await sign(key, { iss: base('impostor') });
    const verify = await runCli(['verify', '--issuer', base('impostor'), '--audience', 'cli', token]);
    expect(verify.code).toBe(2);
    expectNoRawControl(verify);
    expect(verify.stderr).toContain(`names the issuer "${SHOWN}"`);

    const doctor = await runCli(['doctor'], { env: idpEnv('impostor') });
    expect(doctor.code).toBe(2);
    expectNoRawControl(doctor);
    expect(doctor.stdout).toContain(`names the issuer "${SHOWN}"`);
    const json = await runCli(['doctor', '--json'], { env: idpEnv('impostor') });
    expectNoRawControl(json);
  });

  it("exchange: a broker's error text is one escaped error line, on stderr and in --json", async () => {
    const args = ['exchange', '--broker-url', base('broker'), '--broker-client-id', 'cli', '--subject-token', 'x'];
    const result = await runCli(args);
    expect(result.code, result.stderr).toBe(5);
    expectNoRawControl(result);
    expect(result.stderr).toContain(`invalid_request: ${SHOWN} (HTTP 400 at the token endpoint)`);
    const json = await runCli(['--json', ...args]);
    expectNoRawControl(json);
    expect((JSON.parse(json.stdout) as { error: { message: string } }).error.message).toContain(`invalid_request: ${SHOWN}`);
  });
});
