/**
 * Real servers for the broker tests: a JWKS/discovery/userinfo "IdP", an app backend that
 * validates opaque tokens, and the broker itself as a spawned `authbridge broker serve`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JWTPayload } from 'jose';
import { BIN, isolatedEnv } from '../helpers/cli.js';
import { jwks, makeKey, sign, type TestKey } from '../helpers/keys.js';

export const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';
export const ID_TOKEN = 'urn:ietf:params:oauth:token-type:id_token';
export const JWT_TYPE = 'urn:ietf:params:oauth:token-type:jwt';

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'authbridge-broker-'));
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

function close(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

/** A port nothing listens on (bound, then released). */
export async function deadPort(): Promise<number> {
  const server = createServer();
  const port = await listen(server);
  await close(server);
  return port;
}

export interface TestIdp {
  /** `http://127.0.0.1:PORT`, the `iss` of its tokens. */
  issuer: string;
  jwksUri: string;
  key: TestKey;
  /** What /userinfo answers for a subject (claims an access token leaves out). */
  userinfo: Map<string, Record<string, unknown>>;
  /** An RFC 9068 access token (`typ: at+jwt`) with audience `cli` unless `claims` say otherwise. */
  accessToken(claims?: JWTPayload, header?: Record<string, unknown>): Promise<string>;
  /** An ID token (`typ: JWT`). */
  idToken(claims?: JWTPayload): Promise<string>;
  close(): Promise<void>;
}

/** An IdP that publishes discovery, a JWKS and userinfo, and signs test tokens. */
export async function startIdp(alg: 'RS256' | 'ES256' = 'RS256'): Promise<TestIdp> {
  const key = await makeKey(alg, `${alg.toLowerCase()}-idp`);
  const userinfo = new Map<string, Record<string, unknown>>();
  let issuer = '';
  const server = createServer((req, res) => {
    if (req.url === '/.well-known/openid-configuration') {
      return json(res, 200, { issuer, jwks_uri: `${issuer}/jwks`, userinfo_endpoint: `${issuer}/userinfo` });
    }
    if (req.url === '/jwks') return json(res, 200, jwks(key));
    if (req.url === '/userinfo') {
      // A test IdP: it trusts the token's own `sub` (the broker verified the token already).
      const token = (req.headers.authorization ?? '').replace(/^Bearer /, '');
      const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString() || '{}') as { sub?: string };
      const info = payload.sub ? userinfo.get(payload.sub) : undefined;
      return info ? json(res, 200, { sub: payload.sub, ...info }) : json(res, 401, { error: 'invalid_token' });
    }
    json(res, 404, { error: 'not_found' });
  });
  const port = await listen(server);
  issuer = `http://127.0.0.1:${port}`;
  return {
    issuer,
    jwksUri: `${issuer}/jwks`,
    key,
    userinfo,
    accessToken: (claims = {}, header = {}) => sign(key, { iss: issuer, aud: 'cli', ...claims }, { header: { typ: 'at+jwt', ...header } }),
    idToken: (claims = {}) => sign(key, { iss: issuer, aud: 'cli', ...claims }, { header: { typ: 'JWT' } }),
    close: () => close(server),
  };
}

export interface TestBackend {
  url: string;
  /** Opaque token → the JSON the backend answers for it (GET /me, and POST /introspect as active). */
  users: Map<string, Record<string, unknown>>;
  /** Requests seen: method, path, and the headers that matter. */
  seen: Array<{ method: string; path: string; apiKey: string | undefined }>;
  close(): Promise<void>;
}

/**
 * The app's backend. `GET /me` with a bearer token answers the user JSON; special tokens
 * misbehave: `status-401`, `status-500`, `html`, `slow` (3 s), `slowish` (400 ms, then OK).
 * `POST /introspect` is RFC 7662 (`active: false` for unknown tokens; `slowish` answers after 400 ms).
 */
export async function startBackend(): Promise<TestBackend> {
  const users = new Map<string, Record<string, unknown>>();
  const seen: TestBackend['seen'] = [];
  const timers = new Set<NodeJS.Timeout>();
  const later = (ms: number, fn: () => void) => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
  };
  const server = createServer(async (req, res) => {
    const path = (req.url ?? '').split('?')[0]!;
    seen.push({ method: req.method ?? '', path, apiKey: req.headers['x-api-key'] as string | undefined });
    if (req.method === 'POST' && path === '/introspect') {
      const token = new URLSearchParams(await readBody(req)).get('token') ?? '';
      if (token === 'slowish') return later(400, () => json(res, 200, { active: true, id: 'slowish' }));
      const user = users.get(token);
      return json(res, 200, user ? { active: true, ...user } : { active: false });
    }
    if (req.method !== 'GET' || path !== '/me') return json(res, 404, { error: 'not_found' });
    const token = (req.headers.authorization ?? '').replace(/^Bearer /, '');
    if (token === 'status-401') return json(res, 401, { error: 'invalid_token' });
    if (token === 'status-500') return json(res, 500, { error: 'boom' });
    if (token === 'html') return void res.writeHead(200, { 'content-type': 'text/html' }).end('<html><body>Login</body></html>');
    if (token === 'slow') return later(3000, () => json(res, 200, { id: 'slow' }));
    if (token === 'slowish') return later(400, () => json(res, 200, { id: 'slowish', email: 'slowish@example.test' }));
    const user = users.get(token);
    return user ? json(res, 200, user) : json(res, 401, { error: 'invalid_token' });
  });
  const port = await listen(server);
  return {
    url: `http://127.0.0.1:${port}`,
    users,
    seen,
    close: async () => {
      for (const t of timers) clearTimeout(t);
      await close(server);
    },
  };
}

export interface BrokerProcess {
  url: string;
  child: ChildProcess;
  /** Everything written to stderr so far. */
  stderr(): string;
  /** Sends `signal` and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Writes `config` to a file and starts `authbridge broker serve --port 0` on `db`. */
export async function startBroker(config: unknown, db: string, dir = tempDir()): Promise<BrokerProcess> {
  const configFile = join(dir, `broker-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(configFile, JSON.stringify(config, null, 2));
  const child = spawn(process.execPath, [BIN, 'broker', 'serve', '--config', configFile, '--port', '0', '--db', db], {
    env: isolatedEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`broker did not start:\n${stderr}`)), 15_000);
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString('utf8');
      const match = /broker listening on (http:\/\/\S+)/.exec(stderr);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`broker exited with ${code} before listening:\n${stderr}`));
    });
  });
  return {
    url,
    child,
    stderr: () => stderr,
    stop: (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

export interface ExchangeOptions {
  token: string;
  type?: string;
  /** `basic` (default, cli:s3cret), `post` (cli-post:s3cret in the body), `public` (mobile-app), or a raw Authorization header. */
  auth?: 'basic' | 'post' | 'public' | { authorization: string };
  extra?: Record<string, string>;
}

export function basic(id: string, secret: string): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
}

/** POSTs a form to the broker, authenticated as `cli` by default. */
export async function postForm(
  url: string,
  params: Record<string, string>,
  auth: ExchangeOptions['auth'] = 'basic',
): Promise<{ status: number; headers: Headers; body: Record<string, unknown> }> {
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  const form = new URLSearchParams(params);
  if (auth === 'basic') headers.authorization = basic('cli', 's3cret');
  else if (auth === 'post') {
    form.set('client_id', 'cli-post');
    form.set('client_secret', 's3cret');
  } else if (auth === 'public') form.set('client_id', 'mobile-app');
  else headers.authorization = auth.authorization;
  const response = await fetch(url, { method: 'POST', headers, body: form.toString() });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

export function exchange(broker: string, options: ExchangeOptions) {
  return postForm(
    `${broker}/oauth/token`,
    { grant_type: TOKEN_EXCHANGE, subject_token: options.token, subject_token_type: options.type ?? ACCESS_TOKEN, ...options.extra },
    options.auth,
  );
}

export async function userinfo(broker: string, token: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${broker}/userinfo`, { headers: { authorization: `Bearer ${token}` } });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

export async function introspect(broker: string, token: string): Promise<Record<string, unknown>> {
  const { status, body } = await postForm(`${broker}/oauth/introspect`, { token });
  if (status !== 200) throw new Error(`introspection answered ${status}: ${JSON.stringify(body)}`);
  return body;
}

/** The payload of a JWT, unverified. */
export function claimsOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
}
