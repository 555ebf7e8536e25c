/**
 * `authbridge doctor` against a real OpenID provider: a healthy profile, and one broken thing
 * at a time, each with its exit code (2 configuration or this machine, 3 remote) and its fix.
 */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isolatedEnv, runCli } from '../helpers/cli.js';
import { idpEnv, startIdp, type Idp } from '../helpers/idp.js';
import { closedPort as pickClosedPort } from '../jwt/fixtures.js';

interface Check {
  name: string;
  status: 'ok' | 'fail' | 'skip';
  kind: 'config' | 'remote';
  detail: string;
  fix?: string;
}

let idp: Idp;
let closedPort: number;
let busy: Server;
let busyPort: number;

beforeAll(async () => {
  idp = await startIdp();
  closedPort = await pickClosedPort();
  busy = createServer();
  await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
  busyPort = (busy.address() as { port: number }).port;
});

afterAll(async () => {
  await idp?.close();
  await new Promise<void>((resolve) => (busy ? busy.close(() => resolve()) : resolve()));
});

function healthyEnv(extra: Record<string, string | undefined> = {}): Record<string, string> {
  return idpEnv(idp, isolatedEnv(), extra);
}

async function doctor(env: Record<string, string>, args: string[] = []) {
  const human = await runCli(['doctor', ...args], { env });
  const json = await runCli(['doctor', '--json', ...args], { env });
  expect(json.code).toBe(human.code);
  const doc = JSON.parse(json.stdout) as { ok: boolean; exit_code: number; profile: string; checks: Check[] };
  expect(doc.exit_code).toBe(json.code);
  const check = (name: string) => doc.checks.find((c) => c.name === name)!;
  return { code: human.code, stdout: human.stdout, stderr: human.stderr, doc, check };
}

describe('doctor', () => {
  it('passes a healthy profile: exit 0, a ✓ for every check', async () => {
    const env = healthyEnv();
    // A cache with the right modes, as login leaves it.
    const cache = join(env.XDG_CACHE_HOME!, 'authbridge');
    mkdirSync(cache, { recursive: true, mode: 0o700 });
    writeFileSync(join(cache, 'default.json'), '{}', { mode: 0o600 });
    const { code, stdout, doc, check } = await doctor(env);
    expect(code, stdout).toBe(0);
    expect(doc.ok).toBe(true);
    expect(doc.checks.map((c) => c.name)).toEqual(['config', 'profile', 'discovery', 'jwks', 'pkce', 'redirect uri', 'authorization', 'clock', 'cache']);
    // A free port each login (AUTHBRIDGE_REDIRECT_PORT=0): a note, not a failure.
    expect(doc.checks.filter((c) => c.status !== 'ok').map((c) => [c.name, c.status])).toEqual([['redirect uri', 'warn']]);
    expect(check('authorization').detail).toMatch(/^the IdP accepts client cli with http:\/\/127\.0\.0\.1:\d+\/callback/);
    expect(check('discovery').detail).toContain(`names the issuer ${idp.issuer}`);
    expect(check('jwks').detail).toMatch(/^1 signing key \(RS256 kid "idp-rs256"\)/);
    expect(check('clock').detail).toMatch(/in step with the IdP/);
    expect(stdout).toMatch(/^✓ discovery /m);
    expect(stdout).toMatch(/All checks passed\. Read the note marked ! \(redirect uri\)\./);
  });

  it.each([
    ['an unreachable IdP', 3, () => healthyEnv({ AUTHBRIDGE_ISSUER: `http://127.0.0.1:${closedPort}` }), 'discovery', /could not fetch the discovery document .*ECONNREFUSED/, /curl -i/],
    ['an issuer that differs from what the IdP calls itself', 2, () => healthyEnv({ AUTHBRIDGE_ISSUER: `${idp.issuer}/` }), 'discovery', /names the issuer "http:\/\/127\.0\.0\.1:\d+", not/, /authbridge config set issuer http:\/\/127\.0\.0\.1:\d+ /],
    ['no issuer at all', 2, () => ({ ...isolatedEnv() }), 'profile', /missing issuer and client id/, /authbridge config set issuer/],
    // The same rule as login's: plain http only on this machine.
    ['a plain-http issuer elsewhere', 2, () => healthyEnv({ AUTHBRIDGE_ISSUER: 'http://idp.example.com' }), 'profile', /^the issuer http:\/\/idp\.example\.com is not https .*login refuses it$/, /authbridge config set issuer https:\/\/idp\.example\.com/],
    ['a redirect port in use', 2, () => healthyEnv({ AUTHBRIDGE_REDIRECT_PORT: String(busyPort) }), 'redirect uri', /port \d+ cannot be used now \(EADDRINUSE\)/, /choose another port/],
    ['a broker that is down', 3, () => healthyEnv({ AUTHBRIDGE_BROKER_URL: `http://127.0.0.1:${closedPort}` }), 'broker', /could not fetch the broker's metadata/, /curl -i/],
  ])('%s → exit %i, the check fails and names the fix', async (_name, exit, makeEnv, name, detail, fix) => {
    const { code, stdout, check, doc } = await doctor(makeEnv() as Record<string, string>);
    expect(code, stdout).toBe(exit);
    expect(check(name)).toMatchObject({ status: 'fail', detail: expect.stringMatching(detail), fix: expect.stringMatching(fix) });
    expect(doc.ok).toBe(false);
    expect(stdout).toMatch(new RegExp(`^✗ ${name} `, 'm'));
    expect(stdout).toMatch(/^ +fix: /m);
  });

  it('skips what an unreachable IdP cannot tell', async () => {
    const { check } = await doctor(healthyEnv({ AUTHBRIDGE_ISSUER: `http://127.0.0.1:${closedPort}` }));
    expect(check('jwks').status).toBe('skip');
    expect(check('clock').status).toBe('skip');
    expect(check('cache').status).toBe('ok');
  });

  it.each([
    ['an hour ahead', '+', /3[56]\d\d s ahead of the IdP/, /expired/],
    ['an hour behind', '-', /3[56]\d\d s behind the IdP/, /not yet valid/],
  ])('fails the clock check when this machine is %s (--now)', async (_name, sign, phrase, consequence) => {
    const now = new Date(Date.now() + (sign === '+' ? 1 : -1) * 3600_000).toISOString();
    const { code, check } = await doctor(healthyEnv(), ['--now', now]);
    expect(code).toBe(2);
    expect(check('clock')).toMatchObject({ status: 'fail', kind: 'config', detail: expect.stringMatching(phrase), fix: expect.stringMatching(/clock/) });
    expect(check('clock').detail).toMatch(consequence);
    expect(check('discovery').status).toBe('ok');
  });

  it('accepts a small skew within the tolerance', async () => {
    const { code, check } = await doctor(healthyEnv(), ['--now', String(Math.floor(Date.now() / 1000) + 10)]);
    expect(code).toBe(0);
    expect(check('clock').status).toBe('ok');
  });

  it.each([
    ['the cache directory is 0755', 0o755, undefined, /has mode 0755: other users can reach the tokens/, (dir: string) => `chmod 700 ${dir}`],
    ['a cache file is 0644', 0o700, 0o644, /readable by others: .*default\.json/, (dir: string) => `chmod 600 ${join(dir, 'default.json')}`],
  ])('fails the cache check when %s, naming the fix', async (_name, dirMode, fileMode, detail, fix) => {
    const env = healthyEnv();
    const dir = join(env.XDG_CACHE_HOME!, 'authbridge');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'default.json'), '{}');
    chmodSync(join(dir, 'default.json'), fileMode ?? 0o600);
    chmodSync(dir, dirMode);
    const { code, stdout, check } = await doctor(env);
    expect(code).toBe(2);
    expect(check('cache')).toMatchObject({ status: 'fail', kind: 'config', detail: expect.stringMatching(detail), fix: fix(dir) });
    expect(stdout).toContain(`fix: ${fix(dir)}`);
  });

  it('refuses a bad --now with exit 2', async () => {
    const result = await runCli(['doctor', '--now', 'yesterday'], { env: healthyEnv() });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^authbridge: --now must be an ISO-8601 time or epoch seconds/);
  });
});
