/**
 * The CLI against servers that misbehave: discovery naming another issuer, a JWKS of 10 MB or one
 * that never ends, discovery redirected to another host, answers that never come, TLS with an
 * untrusted certificate; then a custom CA (`NODE_EXTRA_CA_CERTS`, `--ca-file`) against a real
 * HTTPS IdP on loopback, and HTTPS_PROXY / HTTP_PROXY / NO_PROXY through a recording proxy.
 */
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isolatedEnv, runCli, type RunResult } from '../helpers/cli.js';
import { driveLogin, startBrowserHook, type BrowserHook, type DriveResult } from '../helpers/http-browser.js';
import { idpEnv, startIdp, type Idp } from '../helpers/idp.js';
import { jwks, makeKey, sign, type TestKey } from '../helpers/keys.js';
import { makePki, type TestPki } from './tls.js';

const servers: Array<Server> = [];
const sockets = new Set<Socket>();

async function listen<T extends Server>(server: T): Promise<number> {
  servers.push(server);
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
});

function json(res: ServerResponse, body: unknown, status = 200): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

/** One error line `authbridge: …` plus at most a hint, and no stack trace. */
function expectError(result: RunResult, code: number, message: RegExp): void {
  expect(result.code, result.stderr).toBe(code);
  const lines = result.stderr.trim().split('\n').filter((l) => !l.startsWith('warning: '));
  expect(lines[0]).toMatch(/^authbridge: /);
  expect(lines[0]).toMatch(message);
  expect(lines.length).toBeLessThanOrEqual(2);
  expect(result.stderr).not.toMatch(/\n\s+at /);
}

let key: TestKey;
let hostile: string;
let hostilePort: number;
let pki: TestPki;
let caFile: string;

beforeAll(async () => {
  key = await makeKey('RS256', 'k1');
  pki = makePki();
  caFile = join(mkdtempSync(join(tmpdir(), 'authbridge-ca-')), 'ca.pem');
  writeFileSync(caFile, pki.caPem);

  const tenMb = Buffer.alloc(10 * 1024 * 1024, ' ');
  const server = createServer((req, res) => {
    const [, tenant, ...rest] = (req.url ?? '/').split('/');
    const path = `/${rest.join('/')}`;
    // Reached as idp.test through the test proxy too: the issuer is whatever host was asked for.
    const base = `http://${req.headers.host}`;
    const issuer = `${base}/${tenant}`;
    if (tenant === 'slow') return; // never answers
    if (tenant === 'auto') {
      // Signs anyone in at once, then never answers at its token endpoint.
      if (path === '/.well-known/openid-configuration') {
        return json(res, { issuer, authorization_endpoint: `${issuer}/authorize`, token_endpoint: `${issuer}/token`, jwks_uri: `${issuer}/jwks` });
      }
      if (path.startsWith('/authorize')) {
        const query = new URL(req.url ?? '/', base).searchParams;
        const back = new URL(query.get('redirect_uri')!);
        back.searchParams.set('code', 'auto-code');
        back.searchParams.set('state', query.get('state')!);
        res.writeHead(302, { location: back.href }).end();
        return;
      }
      if (path === '/token') return;
    }
    if (path === '/.well-known/openid-configuration') {
      if (tenant === 'redirect') {
        res.writeHead(302, { location: `${base.replace(/\/\/[^:/]+/, '//localhost')}/good/.well-known/openid-configuration` }).end();
        return;
      }
      return json(res, { issuer: tenant === 'other-issuer' ? 'https://idp.evil.example' : issuer, jwks_uri: `${issuer}/jwks` });
    }
    if (path === '/jwks') {
      if (tenant === 'huge') {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(tenMb.length + 12) });
        res.write('{"keys":[], ');
        res.end(tenMb);
        return;
      }
      if (tenant === 'huge-chunked') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"keys":[], "padding": "');
        for (let i = 0; i < 10; i++) res.write(tenMb.subarray(0, 1024 * 1024));
        res.end('"}');
        return;
      }
      if (tenant === 'endless') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"keys": [');
        const timer = setInterval(() => res.write(' '), 50);
        res.on('close', () => clearInterval(timer));
        return;
      }
      return json(res, jwks(key));
    }
    json(res, { error: 'not_found' }, 404);
  });
  const port = await listen(server);
  hostile = `http://127.0.0.1:${port}`;
  hostilePort = port;
});

const tokenFor = (issuer: string) => sign(key, { iss: issuer, aud: 'cli' });

async function verify(issuer: string, extra: string[] = [], env: Record<string, string> = isolatedEnv()) {
  return runCli(['verify', '--issuer', issuer, '--audience', 'cli', ...extra, await tokenFor(issuer)], { env });
}

describe('hostile servers', () => {
  it('a well-behaved IdP on the same server verifies (the baseline)', async () => {
    const result = await verify(`${hostile}/good`);
    expect(result.code, result.stderr).toBe(0);
  });

  it('discovery naming another issuer is refused (RFC 8414 §3.3) as a configuration error, exit 2 as in login and doctor', async () => {
    expectError(await verify(`${hostile}/other-issuer`), 2, /names the issuer "https:\/\/idp\.evil\.example"/);
  });

  it('a JWKS of 10 MB is refused at the size limit, announced or not', async () => {
    expectError(await verify(`${hostile}/huge`), 3, /could not fetch JWKS .*: the answer is larger than 1048576 bytes/);
    expectError(await verify(`${hostile}/huge-chunked`), 3, /could not fetch JWKS .*: the answer is larger than 1048576 bytes/);
  });

  it('a JWKS that never ends is abandoned at the time limit (--timeout)', async () => {
    expectError(await verify(`${hostile}/endless`, ['--timeout', '1']), 3, /could not fetch JWKS .*: no complete answer within 1000 ms/);
  });

  it('discovery redirected to another host is refused', async () => {
    expectError(await verify(`${hostile}/redirect`), 3, /redirected to another origin \(http:\/\/localhost:\d+\), refused/);
  });

  it('a discovery that never answers times out with a clear message: verify --timeout, login and status --check by AUTHBRIDGE_HTTP_TIMEOUT', async () => {
    expectError(await verify(`${hostile}/slow`, ['--timeout', '1']), 3, /could not fetch the discovery document .*: no answer within 1000 ms/);
    const env = { ...isolatedEnv(), AUTHBRIDGE_ISSUER: `${hostile}/slow`, AUTHBRIDGE_CLIENT_ID: 'cli', AUTHBRIDGE_HTTP_TIMEOUT: '1' };
    expectError(await runCli(['login', '--no-browser'], { env }), 3, /could not fetch the discovery document .*: no answer within 1000 ms/);
    expectError(
      await runCli(['exchange', '--broker-url', `${hostile}/slow`, '--broker-client-id', 'cli', '--subject-token', 'x', '--timeout', '1'], { env }),
      3,
      /could not fetch the broker metadata .*: no answer within 1000 ms/,
    );
    expectError(await runCli(['login'], { env: { ...env, AUTHBRIDGE_HTTP_TIMEOUT: 'soon' } }), 2, /^authbridge: AUTHBRIDGE_HTTP_TIMEOUT must be a positive number/);
  });

  it('a token endpoint that never answers ends the login at the time limit, and nothing is cached', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'authbridge-browser-'));
    const browser = join(dir, 'follow.mjs');
    // A "browser" that follows the redirects back to the loopback server, whatever it answers.
    writeFileSync(browser, 'fetch(process.argv[2]).catch(() => {});\n');
    const env: Record<string, string> = {
      ...isolatedEnv(),
      AUTHBRIDGE_ISSUER: `${hostile}/auto`,
      AUTHBRIDGE_CLIENT_ID: 'cli',
      AUTHBRIDGE_HTTP_TIMEOUT: '1',
      BROWSER: `${process.execPath} ${browser}`,
    };
    const result = await runCli(['login', '--timeout', '20'], { env });
    expect(result.code, result.stderr).toBe(3);
    expect(result.stderr).toMatch(/^authbridge: could not exchange the authorization code: no answer within 1 s$/m);
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(existsSync(join(env.XDG_CACHE_HOME!, 'authbridge', 'default.json'))).toBe(false);
  });
});

describe('TLS', () => {
  let issuer: string;
  let selfSigned: string;

  beforeAll(async () => {
    let base = '';
    const idp = createHttpsServer({ cert: pki.certPem, key: pki.keyPem }, (req, res) => {
      if (req.url === '/.well-known/openid-configuration') return json(res, { issuer: base, jwks_uri: `${base}/jwks` });
      if (req.url === '/jwks') return json(res, jwks(key));
      json(res, { error: 'not_found' }, 404);
    });
    base = `https://127.0.0.1:${await listen(idp)}`;
    issuer = base;
    const rogue = createHttpsServer({ cert: pki.selfSignedPem, key: pki.selfSignedKeyPem }, (_req, res) => json(res, { issuer: 'x' }));
    selfSigned = `https://127.0.0.1:${await listen(rogue)}`;
  });

  it('refuses a certificate no trusted CA signed', async () => {
    expectError(await verify(issuer), 3, /could not fetch the discovery document .*certificate/);
    expectError(await verify(selfSigned, ['--ca-file', caFile]), 3, /could not fetch the discovery document .*certificate/);
  });

  it('trusts the test CA given by NODE_EXTRA_CA_CERTS', async () => {
    const result = await verify(issuer, [], { ...isolatedEnv(), NODE_EXTRA_CA_CERTS: caFile });
    expect(result.code, result.stderr).toBe(0);
  });

  it('trusts the test CA given by --ca-file, and still the public CAs besides it', async () => {
    const result = await verify(issuer, ['--ca-file', caFile]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/✓ signature/);
  });
});

interface Proxy {
  url: string;
  /** `CONNECT host:port` or `GET http://…`, in order. */
  seen: string[];
}

/**
 * A forward proxy: CONNECT tunnels and absolute-form HTTP requests, each recorded. Every host it
 * is asked for is reached on 127.0.0.1, so `idp.test` works only through it.
 */
async function startProxy(): Promise<Proxy> {
  const seen: string[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    seen.push(`${req.method} ${req.url}`);
    const target = new URL(req.url ?? '');
    const upstream = httpRequest(
      { host: '127.0.0.1', port: target.port, path: `${target.pathname}${target.search}`, method: req.method, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.writeHead(502).end());
    req.pipe(upstream);
  });
  server.on('connect', (req: IncomingMessage, client: Socket, head: Buffer) => {
    seen.push(`CONNECT ${req.url}`);
    sockets.add(client);
    const port = Number((req.url ?? '').split(':').pop());
    const upstream = connect(port, '127.0.0.1', () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    sockets.add(upstream);
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  return { url: `http://127.0.0.1:${await listen(server)}`, seen };
}

describe('proxies', () => {
  let proxy: Proxy;
  let idp: Idp;
  let browser: BrowserHook<DriveResult>;
  /** The hostile server's well-behaved tenant, under a name only the proxy resolves. */
  let viaProxy: string;

  beforeAll(async () => {
    proxy = await startProxy();
    idp = await startIdp();
    browser = await startBrowserHook((url) => driveLogin(url));
    viaProxy = `http://idp.test:${hostilePort}/good`;
  });
  /** idp.test is plain http to another host: verify fetches keys from it only with the development switch (finding 4 of the second review). */
  const INSECURE = ['--allow-insecure-http'];
  afterAll(async () => {
    await browser?.close();
    await idp?.close();
  });

  it('HTTPS_PROXY carries verify to an HTTPS IdP (CONNECT), with --ca-file for the tunnelled TLS', async () => {
    let issuer = '';
    const tls = createHttpsServer({ cert: pki.certPem, key: pki.keyPem }, (req, res) => {
      if (req.url === '/.well-known/openid-configuration') return json(res, { issuer, jwks_uri: `${issuer}/jwks` });
      return json(res, jwks(key));
    });
    const port = await listen(tls);
    issuer = `https://idp.test:${port}`;
    proxy.seen.length = 0;
    const result = await verify(issuer, ['--ca-file', caFile], { ...isolatedEnv(), HTTPS_PROXY: proxy.url });
    expect(result.code, result.stderr).toBe(0);
    expect(proxy.seen).toContain(`CONNECT idp.test:${port}`);
  });

  it('HTTP_PROXY carries discovery and JWKS requests (and plain HTTP to another host is warned about)', async () => {
    proxy.seen.length = 0;
    const result = await verify(viaProxy, INSECURE, { ...isolatedEnv(), HTTP_PROXY: proxy.url });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/^warning: the keys come over plain HTTP from idp\.test:\d+: anyone on the way can swap them; use https$/m);
    expect(proxy.seen.length).toBeGreaterThan(0);
    expect(proxy.seen.every((line) => line === `CONNECT idp.test:${hostilePort}` || line.startsWith(`GET http://idp.test:${hostilePort}/`))).toBe(true);
  });

  it('a proxy given without a scheme is taken as http://, as curl does', async () => {
    proxy.seen.length = 0;
    const result = await verify(viaProxy, INSECURE, { ...isolatedEnv(), http_proxy: proxy.url.replace('http://', '') });
    expect(result.code, result.stderr).toBe(0);
    expect(proxy.seen.length).toBeGreaterThan(0);
  });

  it('NO_PROXY sends the listed hosts around the proxy', async () => {
    proxy.seen.length = 0;
    const result = await verify(viaProxy, INSECURE, { ...isolatedEnv(), HTTP_PROXY: proxy.url, NO_PROXY: 'example.com,idp.test' });
    // Reached directly, idp.test does not resolve: proof that the proxy was not asked.
    expectError(result, 3, /could not fetch the discovery document .*idp\.test/);
    expect(proxy.seen).toEqual([]);
  });

  it('loopback is always reached directly: a login against an IdP on 127.0.0.1 with HTTP_PROXY set never touches the proxy', async () => {
    proxy.seen.length = 0;
    const env = idpEnv(idp, isolatedEnv(), { BROWSER: browser.command, HTTP_PROXY: proxy.url, HTTPS_PROXY: proxy.url });
    const login = await runCli(['login'], { env });
    expect(login.code, login.stderr).toBe(0);
    const status = await runCli(['status', '--check'], { env });
    expect(status.code, status.stderr).toBe(0);
    expect(proxy.seen).toEqual([]);
  });

  it('a malformed proxy variable is a usage error naming it, its credentials masked; offline commands do not care', async () => {
    const env = { ...isolatedEnv(), HTTPS_PROXY: 'ftp://user:hunter2@proxy.example' };
    const result = await verify('https://idp.example.test', [], env);
    expectError(result, 2, /^authbridge: HTTPS_PROXY must be a proxy URL such as http:\/\/proxy\.example:3128, got "ftp:\/\/\*\*\*@proxy\.example"$/);
    expect(result.stderr).not.toContain('hunter2');
    expect((await runCli(['decode', await tokenFor('x')], { env })).code).toBe(0);
  });

  it('a proxy that cannot be reached is a remote failure (exit 3), not a silent direct connection', async () => {
    const result = await verify(viaProxy, INSECURE, { ...isolatedEnv(), HTTP_PROXY: 'http://127.0.0.1:9' });
    expectError(result, 3, /could not fetch the discovery document .*ECONNREFUSED 127\.0\.0\.1:9/);
  });
});
