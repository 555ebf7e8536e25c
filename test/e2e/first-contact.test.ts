/**
 * "First contact": the mistakes a new user makes get an answer. Each case runs the CLI in this
 * process (`main`) with a HOME of its own and asserts what the user sees: the exit code and the
 * stderr lines.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseBrokerConfig } from '../../src/broker/config.js';
import { BROKER_CONFIG_EXAMPLE } from '../../src/commands/broker/help.js';
import { main } from '../../src/main.js';
import { testContext } from '../helpers/context.js';

const homes: string[] = [];
afterAll(() => {
  for (const home of homes) rmSync(home, { recursive: true, force: true });
});

type Env = Record<string, string | undefined>;

/** A fresh HOME, removed after the file's tests. */
function home(extra: Env = {}): Env {
  const dir = mkdtempSync(join(tmpdir(), 'authbridge-first-'));
  homes.push(dir);
  return { HOME: dir, XDG_CONFIG_HOME: join(dir, 'config'), XDG_CACHE_HOME: join(dir, 'cache'), XDG_DATA_HOME: join(dir, 'data'), NO_COLOR: '1', ...extra };
}

async function cli(args: string[], env: Env, stdin?: string) {
  const ctx = testContext({ env, now: Date.now(), stdin });
  const code = await main(['node', 'authbridge', ...args], ctx);
  return { code, stdout: ctx.out(), stderr: ctx.err() };
}

/** A HOME with two profiles in its config file: `default` and `work`. */
async function twoProfiles(extra: Env = {}): Promise<Env> {
  const env = home();
  expect((await cli(['config', 'set', 'issuer', 'https://idp.example.com'], env)).code).toBe(0);
  const created = await cli(['config', 'set', 'clientId', 'work-cli', '--profile', 'work', '--create'], env);
  expect(created.code, created.stderr).toBe(0);
  expect(created.stderr).toMatch(/^Created profile "work"\.$/m);
  return { ...env, ...extra };
}

const configFile = (env: Env) => join(env.XDG_CONFIG_HOME!, 'authbridge', 'config.json');

describe('a profile that exists nowhere', () => {
  it.each([
    ['-p nope status', ['-p', 'nope', 'status'], {}, /^To create it: authbridge config set issuer URL --profile nope --create$/m],
    ['AUTHBRIDGE_PROFILE=nope status', ['status'], { AUTHBRIDGE_PROFILE: 'nope' }, /The name comes from AUTHBRIDGE_PROFILE\./],
    ['token -p nope', ['token', '-p', 'nope'], {}, /--create/],
    ['logout -p nope', ['logout', '-p', 'nope'], {}, /--create/],
    ['config get issuer -p nope', ['config', 'get', 'issuer', '-p', 'nope'], {}, /--create/],
  ])('%s: exit 2, "profile \'nope\' not found (profiles: default, work)"', async (_name, args, extra, hint) => {
    const env = await twoProfiles(extra);
    const result = await cli(args, env);
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr.split('\n')[0]).toBe("authbridge: profile 'nope' not found (profiles: default, work)");
    expect(result.stderr).toMatch(hint);
  });

  it('a mistyped name gets the closest one', async () => {
    const env = await twoProfiles();
    const result = await cli(['-p', 'wrok', 'status'], env);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^Did you mean 'work'\?/m);
  });

  it('config set --profile wrok creates nothing without --create; with it, says so', async () => {
    const env = await twoProfiles();
    const before = readFileSync(configFile(env), 'utf8');
    const refused = await cli(['config', 'set', 'clientId', 'x', '--profile', 'wrok'], env);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toBe(
      "authbridge: profile 'wrok' not found (profiles: default, work)\n" +
        "Did you mean 'work'? To create it, add --create: authbridge config set clientId … --profile wrok --create\n",
    );
    expect(readFileSync(configFile(env), 'utf8')).toBe(before);
    const made = await cli(['config', 'set', 'clientId', 'x', '--profile', 'wrok', '--create'], env);
    expect(made.code).toBe(0);
    expect(made.stderr).toMatch(/^Created profile "wrok"\.$/m);
    expect((await cli(['config', 'profiles'], env)).stdout).toBe('default\nwork\nwrok\n');
  });

  it('login with the IdP on the command line makes a new profile (no refusal before the browser)', async () => {
    const env = home();
    // No IdP answers at this address: the run gets past the profile check and fails reaching it.
    const result = await cli(['login', '-p', 'fresh', '--issuer', 'http://127.0.0.1:9', '--client-id', 'cli', '--timeout', '5'], env);
    expect(result.stderr).not.toMatch(/not found \(profiles/);
    expect(result.code).toBe(3);
  });
});

describe('did you mean', () => {
  it.each([
    ['a command', ['verfy'], "Did you mean 'verify'? Run 'authbridge --help' for usage."],
    ['an option', ['verify', '--issur', 'x'], "Did you mean '--issuer'? Run 'authbridge verify --help' for usage."],
    ['a config key', ['config', 'set', 'isuer', 'x'], 'Did you mean "issuer"? Keys: '],
    ['a config action', ['config', 'sett'], 'Did you mean "set"?'],
  ])('%s: exit 2 and the closest name', async (_name, args, hint) => {
    const result = await cli(args, home());
    expect(result.code).toBe(2);
    expect(result.stderr.split('\n')[1]).toContain(hint);
  });
});

describe('help', () => {
  it('a subcommand\'s help lists the inherited global options', async () => {
    const result = await cli(['verify', '--help'], home());
    expect(result.code).toBe(0);
    const global = result.stdout.slice(result.stdout.indexOf('Global Options:'));
    expect(global).toMatch(/^ {2}-p, --profile <name> +profile to use/m);
    expect(global).toMatch(/^ {2}--json /m);
  });

  it('numeric defaults are shown as numbers', async () => {
    const verify = (await cli(['verify', '--help'], home())).stdout;
    expect(verify).toMatch(/\(default: 10\)/);
    expect(verify).toMatch(/\(default: 0\)/);
    expect(verify).not.toMatch(/\(default: "\d+"\)/);
    expect((await cli(['login', '--help'], home())).stdout).toMatch(/\(default: 300\)/);
    expect((await cli(['broker', 'serve', '--help'], home())).stdout).toMatch(/\(default: 8787\)/);
  });

  it('broker serve --help documents --config with an example the broker accepts', async () => {
    const result = await cli(['broker', 'serve', '--help'], home());
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^Config \(--config FILE or env AUTHBRIDGE_BROKER_CONFIG; required\)/m);
    expect(result.stdout).toContain(BROKER_CONFIG_EXAMPLE.replace(/^/gm, '  '));
    expect(() => parseBrokerConfig(JSON.parse(BROKER_CONFIG_EXAMPLE), 'broker.json')).not.toThrow();
  });
});

describe('tokens as people paste them', () => {
  const b64u = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const token = `${b64u({ alg: 'RS256', typ: 'JWT' })}.${b64u({ sub: 'alice', exp: Math.floor(Date.now() / 1000) + 3600 })}.c2ln`;

  it.each([
    ['quotes', `'${token}'`],
    ['a JSON string', JSON.stringify(token)],
    ['an Authorization header', `Authorization: Bearer ${token}`],
    ['a redirect URL fragment', `http://127.0.0.1:8080/callback#id_token=${token}&state=xyz`],
  ])('decode takes the token out of %s', async (_name, pasted) => {
    const result = await cli(['decode', '--json'], home(), pasted);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout).payload.sub).toBe('alice');
  });

  it('a token response is named, with the jq to use: exit 1 (not a JWT)', async () => {
    const result = await cli(['decode'], home(), JSON.stringify({ access_token: token, id_token: token }));
    expect(result.code).toBe(1);
    expect(result.stderr.split('\n')[0]).toBe(
      'authbridge: could not decode token: not a JWT (opaque token?): a JSON object with access_token, id_token (a token response?): pass one of them, e.g. jq -r .id_token',
    );
  });
});

describe('decode marks time claims against now', () => {
  const b64u = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const at = (claims: Record<string, number>) => `${b64u({ alg: 'RS256' })}.${b64u({ sub: 'a', ...claims })}.c2ln`;
  const now = () => Math.floor(Date.now() / 1000);

  it.each([
    ['an expired token: EXPIRED 1h ago', { exp: now() - 3600 - 30 }, /^ {2}exp +\d{4}-\S+Z \(EXPIRED 1h ago\)$/m],
    ['a token not valid yet: NOT YET VALID', { nbf: now() + 3600 + 30, exp: now() + 7200 }, /^ {2}nbf +\S+ \(NOT YET VALID, in 1h\)$/m],
    ['a live token: no marker', { exp: now() + 3600 + 30 }, /^ {2}exp +\S+ \(in 1h\)$/m],
  ])('%s', async (_name, claims, line) => {
    const result = await cli(['decode', at(claims)], home());
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(line);
  });

  it('in colour, EXPIRED is red, and every line resets its colour before the newline', async () => {
    const result = await cli(['decode', at({ exp: now() - 60, iat: now() - 3600 })], home({ NO_COLOR: undefined, FORCE_COLOR: '1' }));
    expect(result.stdout).toContain('\x1b[31m\x1b[1mEXPIRED 1m ago\x1b[22m\x1b[39m');
    for (const line of `${result.stdout}${result.stderr}`.split('\n')) {
      const codes = [...line.matchAll(/\x1b\[(\d+)m/g)].map((m) => Number(m[1]));
      const opened = codes.filter((c) => c !== 0 && c !== 22 && c !== 39).length;
      const closed = codes.filter((c) => c === 0 || c === 22 || c === 39).length;
      expect(closed, JSON.stringify(line)).toBeGreaterThanOrEqual(opened);
    }
  });
});
