/**
 * A "browser" for `BROWSER=…`: the CLI runs a tiny node script with the authorize URL; the
 * script hands the URL to this test process, where an HTTP driver follows the redirects, keeps
 * cookies, submits oidc-provider's devInteractions login and consent forms and finally requests
 * the loopback callback (as kubelogin's integration tests do). Chromium tests reuse the hook
 * and drive a real browser instead.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, type RunResult } from './cli.js';

/**
 * The status of a GET of `url` sent with the Host header `host`, as a page on a rebound DNS name
 * would send it (fetch does not let one set Host). A connection of its own (no keep-alive agent).
 */
export function statusWithHost(url: string, host: string): Promise<number> {
  return new Promise((resolveStatus, reject) => {
    const req = request(url, { headers: { host }, agent: false }, (res) => {
      res.resume();
      resolveStatus(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

export interface HttpAnswer {
  status: number;
  body: string;
}

export interface HttpBrowserBehaviour {
  /** The account to sign in as. Default `alice`. */
  login?: string;
  /** `deny` aborts the interaction (the IdP redirects with error=access_denied). Default `login`. */
  action?: 'login' | 'deny';
  /**
   * Runs just before the real callback is requested, with that callback URL: forge a wrong
   * state, hit another path… Answers it collects end up in `DriveResult.extra`.
   */
  beforeCallback?: (callback: URL, get: (url: string) => Promise<HttpAnswer>) => Promise<HttpAnswer[]>;
  /** Request the real callback a second time after the first (expect a refusal). */
  replayCallback?: boolean;
  /** Stop at the callback without requesting it (the test pastes it, as with --no-browser). */
  stopAtCallback?: boolean;
}

export interface DriveResult {
  /** The authorize URL the CLI opened. */
  authorizeUrl: URL;
  /** The callback URL the IdP redirected to (with code or error). */
  callbackUrl: URL;
  /** The loopback server's answer (absent with `stopAtCallback`). */
  callback?: HttpAnswer;
  replay?: HttpAnswer;
  extra: HttpAnswer[];
}

async function get(url: string): Promise<HttpAnswer> {
  const response = await fetch(url, { redirect: 'manual' });
  return { status: response.status, body: await response.text() };
}

function attribute(tag: string, name: string): string | undefined {
  return new RegExp(`${name}="([^"]*)"`).exec(tag)?.[1]?.replace(/&amp;/g, '&');
}

/**
 * One request as a browser makes it, redirects not followed: the `cookies` jar sent to its own
 * `origin` only, and every `Set-Cookie` of the answer kept in it.
 */
export async function fetchKeepingCookies(url: URL, init: RequestInit, cookies: Map<string, string>, origin: string): Promise<Response> {
  const headers = new Headers(init.headers);
  if (url.origin === origin && cookies.size) headers.set('cookie', [...cookies].map(([k, v]) => `${k}=${v}`).join('; '));
  const response = await fetch(url, { ...init, headers, redirect: 'manual' });
  for (const line of response.headers.getSetCookie()) {
    const [pair] = line.split(';');
    const eq = pair!.indexOf('=');
    cookies.set(pair!.slice(0, eq).trim(), pair!.slice(eq + 1).trim());
  }
  return response;
}

/** Follows the authorize URL through the IdP's pages to the loopback callback. */
export async function driveLogin(authorizeUrl: string, behaviour: HttpBrowserBehaviour = {}): Promise<DriveResult> {
  const start = new URL(authorizeUrl);
  const redirectUri = start.searchParams.get('redirect_uri');
  if (!redirectUri) throw new Error(`no redirect_uri in ${authorizeUrl}`);
  const cookies = new Map<string, string>();
  let url = start;
  let init: RequestInit = { method: 'GET' };
  for (let step = 0; step < 30; step++) {
    if (url.href.startsWith(`${redirectUri}?`)) {
      if (behaviour.stopAtCallback) return { authorizeUrl: start, callbackUrl: url, extra: [] };
      const extra = behaviour.beforeCallback ? await behaviour.beforeCallback(url, get) : [];
      const callback = await get(url.href);
      // The CLI closes its server once answered: a replay meets a 409 or a closed port (status 0).
      const replay = behaviour.replayCallback
        ? await get(url.href).catch((err: unknown) => ({ status: 0, body: String(err) }))
        : undefined;
      return { authorizeUrl: start, callbackUrl: url, callback, replay, extra };
    }
    const response = await fetchKeepingCookies(url, init, cookies, start.origin);
    const location = response.headers.get('location');
    if (response.status >= 300 && response.status < 400 && location) {
      await response.body?.cancel();
      url = new URL(location, url);
      init = { method: 'GET' };
      continue;
    }
    const html = await response.text();
    if (response.status !== 200) throw new Error(`the IdP answered ${response.status} at ${url.pathname}: ${html.slice(0, 300)}`);
    if (behaviour.action === 'deny') {
      const abort = /href="([^"]*\/abort)"/.exec(html)?.[1];
      if (!abort) throw new Error(`no abort link at ${url.pathname}`);
      url = new URL(abort.replace(/&amp;/g, '&'), url);
      init = { method: 'GET' };
      continue;
    }
    const form = /<form[^>]*>([\s\S]*?)<\/form>/.exec(html);
    if (!form) throw new Error(`no form at ${url.pathname}: ${html.slice(0, 300)}`);
    const action = attribute(form[0].slice(0, form[0].indexOf('>') + 1), 'action');
    const fields = new URLSearchParams();
    for (const input of form[1]!.match(/<input[^>]*>/g) ?? []) {
      const name = attribute(input, 'name');
      if (!name) continue;
      if (name === 'login') fields.set(name, behaviour.login ?? 'alice');
      else if (name === 'password') fields.set(name, 'any-password');
      else fields.set(name, attribute(input, 'value') ?? '');
    }
    url = new URL(action ?? url.href, url);
    init = { method: 'POST', body: fields, headers: { 'content-type': 'application/x-www-form-urlencoded' } };
  }
  throw new Error('too many steps between the authorize URL and the callback');
}

export interface BrowserHook<T> {
  /** The value for the `BROWSER` env var. */
  command: string;
  /** One entry a URL the CLI opened, in order: the handler's outcome. */
  visits: Array<Promise<T>>;
  /** Resolves with the outcome of the `index`-th visit (waits for it to start). */
  visit(index?: number): Promise<T>;
  close(): Promise<void>;
}

/**
 * Starts a hook that `BROWSER` points to: each URL the CLI opens is handed to `handler` in this
 * process. `handler` defaults to {@link driveLogin} with `behaviour`.
 */
export async function startBrowserHook<T = DriveResult>(handler?: (url: string) => Promise<T>): Promise<BrowserHook<T>> {
  const handle = handler ?? ((url: string) => driveLogin(url) as Promise<T>);
  const visits: Array<Promise<T>> = [];
  const waiters: Array<() => void> = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = Buffer.concat(chunks).toString('utf8');
      const outcome = handle(url);
      outcome.catch(() => {});
      visits.push(outcome);
      for (const w of waiters.splice(0)) w();
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const hookUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/open`;
  const dir = mkdtempSync(join(tmpdir(), 'authbridge-browser-'));
  const script = join(dir, 'browser.mjs');
  writeFileSync(
    script,
    `// Hands the URL the CLI opens to the test process.\n` +
      `await fetch(${JSON.stringify(hookUrl)}, { method: 'POST', body: process.argv[2] ?? '' });\n`,
  );
  return {
    command: `${process.execPath} ${script}`,
    visits,
    async visit(index = 0) {
      while (visits.length <= index) await new Promise<void>((resolve) => waiters.push(resolve));
      return visits[index]!;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface RunningCli {
  child: ChildProcessWithoutNullStreams;
  /** Resolves when the process ends. */
  done: Promise<RunResult>;
  /** Resolves with the first match of `pattern` in stderr so far or to come. */
  waitForStderr(pattern: RegExp): Promise<RegExpMatchArray>;
}

/**
 * Starts the built CLI and keeps its stdin open, for `--no-browser` (read the URL from stderr,
 * paste the redirect on stdin) and SIGINT tests. `runCli` from ./cli.ts is simpler otherwise.
 */
export function startCli(args: string[], env: Record<string, string>, timeoutMs = 30_000): RunningCli {
  const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const waiters: Array<() => void> = [];
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString('utf8');
    for (const w of waiters.splice(0)) w();
  });
  child.stdin.on('error', () => {});
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  let closed = false;
  const done = new Promise<RunResult>((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      closed = true;
      for (const w of waiters.splice(0)) w();
      resolve({ code, signal, stdout, stderr });
    });
  });
  return {
    child,
    done,
    async waitForStderr(pattern) {
      for (;;) {
        const match = pattern.exec(stderr);
        if (match) return match;
        if (closed) throw new Error(`the CLI ended without printing ${pattern} on stderr:\n${stderr}`);
        await new Promise<void>((resolve) => waiters.push(resolve));
      }
    },
  };
}
