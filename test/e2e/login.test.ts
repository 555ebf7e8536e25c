/**
 * `login` through the built CLI against a real OpenID provider, with the HTTP "browser" that
 * `BROWSER` points to: the happy paths, then each bad input and fault with its exit code.
 * What the flow does inside (the authorize URL, confidential clients, forged and replayed
 * callbacks, a failed login keeping the cache, ID token checks) is tested in process in
 * test/flows/login.test.ts.
 */
import { readFileSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isolatedEnv, runCli } from '../helpers/cli.js';
import { driveLogin, startBrowserHook, startCli, type BrowserHook, type DriveResult, type HttpBrowserBehaviour } from '../helpers/http-browser.js';
import { idpEnv, startIdp, type Idp } from '../helpers/idp.js';

let idp: Idp;
let browser: BrowserHook<DriveResult>;
let behaviour: HttpBrowserBehaviour = {};

beforeAll(async () => {
  idp = await startIdp();
  browser = await startBrowserHook((url) => driveLogin(url, behaviour));
});
afterAll(async () => {
  await browser?.close();
  await idp?.close();
});

function env(extra: Record<string, string | undefined> = {}) {
  return idpEnv(idp, isolatedEnv(), { BROWSER: browser.command, ...extra });
}

function cacheFile(e: Record<string, string>, profile = 'default') {
  return join(e.XDG_CACHE_HOME!, 'authbridge', `${profile}.json`);
}

function readCache(e: Record<string, string>, profile = 'default') {
  return JSON.parse(readFileSync(cacheFile(e, profile), 'utf8')) as Record<string, unknown>;
}

/** The one line `authbridge: …` of an error, and at most one hint line. */
function expectOneLineError(stderr: string, message: string | RegExp) {
  const lines = stderr.trim().split('\n').filter((l) => !l.startsWith('warning:'));
  const error = lines.find((l) => l.startsWith('authbridge: '));
  expect(error, stderr).toBeDefined();
  if (typeof message === 'string') expect(error).toBe(`authbridge: ${message}`);
  else expect(error).toMatch(message);
  expect(lines.slice(lines.indexOf(error!) + 1).length).toBeLessThanOrEqual(1);
  expect(stderr).not.toMatch(/\n\s+at /);
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('login', () => {
  it('signs in through the browser, verifies the ID token and caches the tokens (0700 dir, 0600 file)', async () => {
    behaviour = {};
    const e = env();
    const started = performance.now();
    const result = await runCli(['login'], { env: e });
    const elapsed = performance.now() - started;
    expect(result.stderr).toContain('Opening the browser');
    expect(result.stderr).toContain('Signed in to');
    expect(result.stderr).toContain('alice@example.test (sub alice)');
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe('');
    const cached = readCache(e);
    expect(cached).toMatchObject({ version: 1, profile: 'default', issuer: idp.issuer, client_id: 'cli', subject: 'alice', email: 'alice@example.test' });
    for (const key of ['access_token', 'id_token', 'refresh_token']) expect(typeof cached[key]).toBe('string');
    expect(statSync(cacheFile(e)).mode & 0o777).toBe(0o600);
    expect(statSync(join(e.XDG_CACHE_HOME!, 'authbridge')).mode & 0o777).toBe(0o700);
    // No token reaches the terminal.
    for (const key of ['access_token', 'id_token', 'refresh_token']) {
      expect(result.stderr).not.toContain(cached[key]);
    }
    // The authorize URL itself (PKCE S256, state, nonce, prompt=consent): test/flows/login.test.ts.
    const visit = await browser.visit(browser.visits.length - 1);
    expect(visit.callback?.status).toBe(200);
    expect(visit.callback?.body).toContain('Signed in');
    process.stderr.write(`[measure] login start to cached token (HTTP browser): ${elapsed.toFixed(0)} ms\n`);
  });

  it('--json prints the contract document and nothing secret; --verbose masks what it traces', async () => {
    behaviour = { login: 'bob' };
    const e = env();
    const result = await runCli(['login', '--json', '--verbose', '--scopes', 'openid email offline_access'], { env: e });
    expect(result.code, result.stderr).toBe(0);
    const doc = JSON.parse(result.stdout) as Record<string, unknown>;
    expect(Object.keys(doc)).toEqual(['profile', 'issuer', 'subject', 'email', 'expires_at', 'scopes', 'claims']);
    expect(doc).toMatchObject({ profile: 'default', issuer: idp.issuer, subject: 'bob', email: 'bob@example.test' });
    expect(doc.expires_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(doc.scopes).toEqual(['openid', 'email', 'offline_access']);
    expect((doc.claims as Record<string, unknown>).aud).toBe('cli');
    expect(result.stderr).toContain('> POST');
    expect(result.stderr).toContain('code_verifier=***');
    const cached = readCache(e);
    for (const key of ['access_token', 'id_token', 'refresh_token']) {
      expect(result.stdout + result.stderr).not.toContain(cached[key]);
    }
    const code = (await browser.visit(browser.visits.length - 1)).callbackUrl.searchParams.get('code')!;
    expect(result.stderr).not.toContain(code);
  });

  it('--no-browser prints the URL on stderr and accepts the redirect URL pasted on stdin', async () => {
    const e = env({ BROWSER: undefined });
    const cli = startCli(['login', '--no-browser'], e);
    const [url] = await cli.waitForStderr(/http:\/\/127\.0\.0\.1:\d+\/auth\?\S+/);
    const drive = await driveLogin(url, { stopAtCallback: true });
    // A pasted URL from another login is refused; the wait goes on.
    const forged = new URL(drive.callbackUrl);
    forged.searchParams.set('state', 'forged');
    cli.child.stdin.write(`${forged.href}\n`);
    await cli.waitForStderr(/ignored the pasted URL: its state does not match/);
    cli.child.stdin.write(`${drive.callbackUrl.href}\n`);
    const result = await cli.done;
    expect(result.code, result.stderr).toBe(0);
    expect(readCache(e).subject).toBe('alice');
  });

  describe('bad input and faults', () => {
    it('error=access_denied at the callback: exit 5 with the IdP\'s description', async () => {
      behaviour = { action: 'deny' };
      const result = await runCli(['login'], { env: env() });
      expect(result.code).toBe(5);
      expectOneLineError(result.stderr, 'could not sign in: access_denied: End-User aborted interaction');
      const visit = await browser.visit(browser.visits.length - 1);
      expect(visit.callback?.status).toBe(400);
      expect(visit.callback?.body).toContain('Sign-in failed');
    });

    it.each([
      ['a 4xx OAuth error', { status: 400, body: { error: 'invalid_grant', error_description: 'grant request is invalid' } }, 5, 'could not exchange the authorization code: invalid_grant: grant request is invalid (HTTP 400 at the token endpoint)'],
      ['a 500', { status: 500, body: { error: 'server_error' } }, 3, 'could not exchange the authorization code: the IdP answered HTTP 500 at the token endpoint'],
      ['garbage', { status: 200, body: 'not a token response' }, 3, /^authbridge: could not exchange the authorization code: /],
      ['2 MiB', { status: 200, body: { access_token: 'x'.repeat(2 * 1024 * 1024), token_type: 'Bearer' } }, 3, /^authbridge: could not read the answer of .*\/token: it is larger than 1048576 bytes/],
    ])('the token endpoint answering %s', async (_name, fault, code, message) => {
      behaviour = {};
      const e = env();
      idp.faults.token = fault;
      try {
        const result = await runCli(['login'], { env: e });
        expect(result.code).toBe(code);
        expectOneLineError(result.stderr, message);
      } finally {
        delete idp.faults.token;
      }
      expect(() => statSync(cacheFile(e))).toThrow();
    });

    it.each([
      ['HTML', { status: 200, body: '<html><body>Sign in</body></html>', contentType: 'text/html' }, 'the answer is not JSON (content-type text/html)'],
      ['a 500', { status: 500, body: 'Internal Server Error', contentType: 'text/plain' }, 'HTTP 500'],
    ])('discovery answering %s: exit 3', async (_name, fault, why) => {
      idp.faults.discovery = fault;
      try {
        const result = await runCli(['login'], { env: env() });
        expect(result.code).toBe(3);
        expectOneLineError(result.stderr, `could not fetch the discovery document from ${idp.issuer}/.well-known/openid-configuration: ${why}`);
      } finally {
        delete idp.faults.discovery;
      }
    });

    it('the IdP unreachable: exit 3', async () => {
      const port = await freePort();
      const result = await runCli(['login'], { env: env({ AUTHBRIDGE_ISSUER: `http://127.0.0.1:${port}` }) });
      expect(result.code).toBe(3);
      expectOneLineError(result.stderr, /^authbridge: could not fetch the discovery document from .*ECONNREFUSED/);
    });

    it('the port taken: exit 2 naming the port', async () => {
      const blocker: Server = createServer();
      await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
      const port = (blocker.address() as AddressInfo).port;
      try {
        const result = await runCli(['login', '--port', String(port)], { env: env() });
        expect(result.code).toBe(2);
        expectOneLineError(result.stderr, `could not listen on 127.0.0.1:${port}: the port is already in use`);
      } finally {
        await new Promise<void>((r) => blocker.close(() => r()));
      }
    });

    it('nobody coming back before --timeout: exit 5, and the loopback port is closed', async () => {
      const port = await freePort();
      const result = await runCli(['login', '--timeout', '1', '--port', String(port)], { env: env({ BROWSER: 'true' }) });
      expect(result.code).toBe(5);
      expectOneLineError(result.stderr, `could not sign in: nobody came back to http://127.0.0.1:${port}/callback within 1 s`);
      await expect(fetch(`http://127.0.0.1:${port}/callback`)).rejects.toThrow();
    });

    it('SIGINT while waiting: exit 130, nothing cached, the loopback server closed', async () => {
      const e = env({ BROWSER: 'true' });
      const port = await freePort();
      const cli = startCli(['login', '--port', String(port)], e);
      await cli.waitForStderr(/Opening the browser/);
      expect((await fetch(`http://127.0.0.1:${port}/other`)).status).toBe(404);
      cli.child.kill('SIGINT');
      const result = await cli.done;
      expect(result.code).toBe(130);
      expectOneLineError(result.stderr, 'login interrupted (SIGINT)');
      expect(() => statSync(cacheFile(e))).toThrow();
      await expect(fetch(`http://127.0.0.1:${port}/callback`)).rejects.toThrow();
    });

    it.each([
      ['issuer', { AUTHBRIDGE_ISSUER: undefined }, 'missing issuer for profile "default"', '--issuer'],
      ['client id', { AUTHBRIDGE_CLIENT_ID: undefined }, 'missing client id for profile "default"', '--client-id'],
    ])('a missing %s: exit 2 naming the flag, env var and config key', async (_name, extra, message, flag) => {
      const result = await runCli(['login'], { env: env(extra) });
      expect(result.code).toBe(2);
      expectOneLineError(result.stderr, message);
      expect(result.stderr).toContain(flag);
    });

    it('a malformed config file: exit 2 naming the field', async () => {
      const e = env({ AUTHBRIDGE_ISSUER: undefined, AUTHBRIDGE_CLIENT_ID: undefined });
      mkdirSync(join(e.XDG_CONFIG_HOME!, 'authbridge'), { recursive: true });
      writeFileSync(join(e.XDG_CONFIG_HOME!, 'authbridge', 'config.json'), JSON.stringify({ profiles: { default: { issuer: 42 } } }));
      const result = await runCli(['login'], { env: e });
      expect(result.code).toBe(2);
      expectOneLineError(result.stderr, /^authbridge: could not load config .*config\.json: profiles\.default\.issuer: /);
    });

    it('errors under --json are also a JSON document on stdout', async () => {
      const result = await runCli(['login', '--json'], { env: env({ AUTHBRIDGE_ISSUER: undefined }) });
      expect(result.code).toBe(2);
      expect(JSON.parse(result.stdout)).toEqual({ error: { code: 'usage', message: 'missing issuer for profile "default"' } });
    });

    it('a non-positive --timeout is a usage error', async () => {
      const result = await runCli(['login', '--timeout', '0'], { env: env() });
      expect(result.code).toBe(2);
      expectOneLineError(result.stderr, '--timeout must be a positive number of seconds, got "0"');
    });
  });
});
