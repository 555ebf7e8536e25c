/**
 * Finding 4 of the second review: plain HTTP. `verify` fetched its keys over plain HTTP from any
 * host with only a warning, and endpoints found by discovery were used whatever their scheme (a
 * `javascript:` authorization endpoint was an "internal error"). Now one rule holds for both:
 * https, or http on this machine's loopback; `verify --allow-insecure-http` is the development
 * switch for keys (still warned about). A discovered endpoint that breaks the rule is a remote
 * failure (exit 3) naming the IdP or broker and the field, and `login` never opens it.
 *
 * Hosts other than loopback are reached through a recording forward proxy that sends every
 * request to 127.0.0.1, so `idp.test` is a real "other machine" to the CLI.
 */
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isolatedEnv, runCli, type RunResult } from '../helpers/cli.js';
import { jwks, makeKey, sign, type TestKey } from '../helpers/keys.js';

const ENDPOINTS = ['authorization_endpoint', 'token_endpoint', 'jwks_uri', 'userinfo_endpoint', 'introspection_endpoint', 'revocation_endpoint'];

const servers: Server[] = [];
const sockets = new Set<Socket>();
let key: TestKey;
let port: number;
/** `http://127.0.0.1:PORT`: loopback, plain HTTP allowed. */
let local: string;
/** `http://idp.test:PORT`: the same server as another machine, through the proxy. */
let remote: string;
let proxy: { url: string; seen: string[] };
let dir: string;

async function listen(server: Server): Promise<number> {
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

function json(res: ServerResponse, body: unknown, status = 200): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

/**
 * Tenants by path prefix. `/good`: discovery and JWKS, endpoints on the host asked for.
 * `/remote-jwks`: discovery on loopback naming a jwks_uri on idp.test. `/bad-<field>` and
 * `/plain-<field>`: a full IdP whose <field> is `javascript:alert(1)` / plain http on idp.test.
 * `/broker-plain-jwks`: RFC 8414 metadata whose jwks_uri is plain http on idp.test.
 */
function handle(req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', `http://${req.headers.host}`);
  const [, tenant, ...rest] = url.pathname.split('/');
  const path = `/${rest.join('/')}`;
  const issuer = `${url.origin}/${tenant}`;
  if (path === '/jwks') return json(res, jwks(key));
  if (path === '/.well-known/openid-configuration') {
    const doc: Record<string, string> = { issuer };
    for (const field of ENDPOINTS) doc[field] = `${issuer}/${field}`;
    doc.jwks_uri = `${issuer}/jwks`;
    if (tenant === 'remote-jwks') doc.jwks_uri = `${remote}/good/jwks`;
    const m = /^(bad|plain)-(.+)$/.exec(tenant!);
    if (m) doc[m[2]!] = m[1] === 'bad' ? 'javascript:alert(1)' : `${remote}/good/${m[2]}`;
    return json(res, doc);
  }
  if (path === '/.well-known/oauth-authorization-server') {
    return json(res, {
      issuer,
      token_endpoint: `${issuer}/token`,
      jwks_uri: tenant === 'broker-plain-jwks' ? `${remote}/good/jwks` : `${issuer}/jwks`,
      grant_types_supported: ['urn:ietf:params:oauth:grant-type:token-exchange'],
    });
  }
  json(res, { error: 'not_found' }, 404);
}

/** A forward proxy (CONNECT tunnels and absolute-form requests), each recorded, all sent to 127.0.0.1. */
async function startProxy(): Promise<{ url: string; seen: string[] }> {
  const seen: string[] = [];
  const server = createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    const target = new URL(req.url ?? '');
    const upstream = httpRequest({ host: '127.0.0.1', port: target.port, path: `${target.pathname}${target.search}`, method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => res.writeHead(502).end());
    req.pipe(upstream);
  });
  server.on('connect', (req: IncomingMessage, client: Socket, head: Buffer) => {
    seen.push(`CONNECT ${req.url}`);
    const upstream = connect(Number((req.url ?? '').split(':').pop()), '127.0.0.1', () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    }
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  return { url: `http://127.0.0.1:${await listen(server)}`, seen };
}

beforeAll(async () => {
  key = await makeKey('ES256', 'k1');
  port = await listen(createServer(handle));
  local = `http://127.0.0.1:${port}`;
  remote = `http://idp.test:${port}`;
  proxy = await startProxy();
  dir = mkdtempSync(join(tmpdir(), 'authbridge-insecure-'));
});
afterAll(async () => {
  for (const s of sockets) s.destroy();
  for (const s of servers) s.closeAllConnections();
  await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
});

function expectError(result: RunResult, code: number, message: RegExp): void {
  expect(result.code, result.stderr).toBe(code);
  const lines = result.stderr.trim().split('\n').filter((l) => !l.startsWith('warning: '));
  expect(lines[0]).toMatch(/^authbridge: /);
  expect(lines[0]).toMatch(message);
  expect(lines.length).toBeLessThanOrEqual(2);
}

const viaProxy = () => ({ ...isolatedEnv(), HTTP_PROXY: proxy.url });
const WARNING = /^warning: the keys come over plain HTTP from idp\.test:\d+: anyone on the way can swap them; use https$/m;

async function verify(issuer: string, extra: string[] = []): Promise<RunResult> {
  const token = await sign(key, { iss: issuer, aud: 'cli' });
  return runCli(['verify', '--issuer', issuer, '--audience', 'cli', ...extra, token], { env: viaProxy() });
}

describe('plain HTTP (finding 4 of the second review)', () => {
  describe("verify's keys: https, or http on loopback, or --allow-insecure-http", () => {
    it('refuses --jwks-uri on plain http to another host (exit 2), naming the switch; nothing is fetched', async () => {
      proxy.seen.length = 0;
      const result = await verify('https://idp.example', ['--jwks-uri', `${remote}/good/jwks`]);
      expectError(result, 2, /^authbridge: --jwks-uri must be an https URL \(http only on 127\.0\.0\.1\/localhost\), got "http:\/\/idp\.test:\d+\/good\/jwks"$/);
      expect(result.stderr).toMatch(/--allow-insecure-http/);
      expect(proxy.seen).toEqual([]);
    });

    it('refuses an issuer on plain http to another host when the keys come from its discovery (exit 2)', async () => {
      proxy.seen.length = 0;
      const result = await verify(`${remote}/good`);
      expectError(result, 2, /^authbridge: --issuer must be an https URL \(http only on 127\.0\.0\.1\/localhost\), got "http:\/\/idp\.test:\d+\/good"$/);
      expect(proxy.seen).toEqual([]);
    });

    it('refuses a jwks_uri that discovery names on plain http to another host (exit 3), naming the IdP and the field', async () => {
      proxy.seen.length = 0;
      const result = await verify(`${local}/remote-jwks`);
      expectError(result, 3, /^authbridge: could not use the discovery document of http:\/\/127\.0\.0\.1:\d+\/remote-jwks: its jwks_uri is plain http to a host other than this machine/);
      expect(proxy.seen).toEqual([]);
    });

    it('--allow-insecure-http lets a development setup through, still with the warning', async () => {
      for (const result of [
        await verify(`${remote}/good`, ['--allow-insecure-http']),
        await verify('https://idp.example', ['--jwks-uri', `${remote}/good/jwks`, '--allow-insecure-http']),
        await verify(`${local}/remote-jwks`, ['--allow-insecure-http']),
      ]) {
        expect(result.code, result.stderr).toBe(0);
        expect(result.stderr).toMatch(WARNING);
        expect(result.stderr.match(/^warning: /gm)).toHaveLength(1);
      }
    });

    it('loopback needs no switch and gets no warning', async () => {
      const result = await verify(`${local}/good`);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stderr).toBe('');
    });
  });

  describe('endpoints found by discovery', () => {
    it.each(ENDPOINTS.flatMap((field) => [[field, 'bad'] as const, [field, 'plain'] as const]))(
      'login refuses a discovered %s that is %s (exit 3), naming the IdP and the field, and opens nothing',
      async (field, kind) => {
        const opened = join(dir, `opened-${field}-${kind}`);
        const browser = join(dir, `browser-${field}-${kind}.mjs`);
        writeFileSync(browser, `import { writeFileSync } from 'node:fs'; writeFileSync(${JSON.stringify(opened)}, process.argv[2]);\n`);
        const issuer = `${local}/${kind}-${field}`;
        const env = { ...viaProxy(), AUTHBRIDGE_ISSUER: issuer, AUTHBRIDGE_CLIENT_ID: 'cli', BROWSER: `${process.execPath} ${browser}` };
        const result = await runCli(['login', '--timeout', '5'], { env });
        const why = kind === 'bad' ? 'is not an http\\(s\\) URL: "javascript:alert\\(1\\)"' : 'is plain http to a host other than this machine';
        expectError(result, 3, new RegExp(`^authbridge: could not use the discovery document of ${issuer.replace(/[.]/g, '\\.')}: its ${field} ${why}`));
        expect(existsSync(opened)).toBe(false);
      },
    );

    it("exchange refuses a broker whose metadata names a plain-http jwks_uri on another host (exit 3), naming the broker and the field", async () => {
      const result = await runCli(['exchange', '--broker-url', `${local}/broker-plain-jwks`, '--broker-client-id', 'cli', '--subject-token', 'x'], { env: viaProxy() });
      expectError(result, 3, /^authbridge: could not use the broker metadata of http:\/\/127\.0\.0\.1:\d+\/broker-plain-jwks: its jwks_uri is plain http to a host other than this machine/);
    });

    it("doctor's discovery check fails on such an endpoint, naming the field", async () => {
      const env = { ...viaProxy(), AUTHBRIDGE_ISSUER: `${local}/bad-authorization_endpoint`, AUTHBRIDGE_CLIENT_ID: 'cli' };
      const result = await runCli(['doctor', '--json'], { env });
      expect(result.code).toBe(3);
      const checks = (JSON.parse(result.stdout) as { checks: Array<{ name: string; status: string; kind: string; detail: string }> }).checks;
      expect(checks.find((c) => c.name === 'discovery')).toMatchObject({
        status: 'fail',
        kind: 'remote',
        detail: expect.stringMatching(/its authorization_endpoint is not an http\(s\) URL: "javascript:alert\(1\)"/),
      });
    });
  });
});
