/**
 * The bad-input catalogue: every command with malformed flags, unreadable and malformed files,
 * wrong types in config files, empty and huge stdin. Each row runs the built CLI and asserts the
 * exit code, one `authbridge: …` line on stderr (plus at most one hint line), no stack trace,
 * and that the pre-populated token cache and config file are byte-for-byte unchanged.
 */
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { isolatedEnv, runCli } from '../helpers/cli.js';

interface Row {
  name: string;
  args: string[];
  /** `huge`: 9 MB of `a`. */
  stdin?: string | 'huge';
  env?: Record<string, string>;
  code: number;
  message: RegExp;
  /** The hint line, when the row is about it. */
  hint?: RegExp;
}

let env: Record<string, string>;
let dir: string;
let huge: Buffer;
const file = (name: string) => join(dir, name);

beforeAll(() => {
  env = isolatedEnv();
  dir = join(env.HOME!, 'files');
  mkdirSync(dir);
  huge = Buffer.alloc(9 * 1024 * 1024, 'a');
  // A cache and a config file that no failing command may touch.
  const cache = join(env.XDG_CACHE_HOME!, 'authbridge');
  mkdirSync(cache, { recursive: true, mode: 0o700 });
  const session = {
    version: 1,
    profile: 'work',
    issuer: 'https://idp.example.test',
    client_id: 'cli',
    access_token: 'cached-access-token',
    refresh_token: 'cached-refresh-token',
    scopes: ['openid'],
    obtained_at: 1_700_000_000_000,
    access_token_expires_at: 4_102_444_800_000,
  };
  writeFileSync(join(cache, 'work.json'), `${JSON.stringify(session, null, 2)}\n`, { mode: 0o600 });
  const config = join(env.XDG_CONFIG_HOME!, 'authbridge');
  mkdirSync(config, { recursive: true });
  writeFileSync(join(config, 'config.json'), JSON.stringify({ profiles: { work: { issuer: 'https://idp.example.test', clientId: 'cli' } } }), { mode: 0o600 });

  writeFileSync(file('not-json.json'), '{"keys": [1, 2');
  writeFileSync(file('jwks-keys-number.json'), JSON.stringify({ keys: 5 }));
  writeFileSync(file('jwks-no-keys.json'), JSON.stringify({ keys: [{ kty: 5 }, null, 'x'] }));
  writeFileSync(file('jwks-empty.json'), '');
  writeFileSync(file('unreadable.json'), '{}');
  chmodSync(file('unreadable.json'), 0o000);
  writeFileSync(file('config-issuer-number.json'), JSON.stringify({ profiles: { default: { issuer: 5, clientId: 'cli' } } }));
  writeFileSync(file('config-scopes-string.json'), JSON.stringify({ profiles: { default: { issuer: 'https://i.test', clientId: 'c', scopes: 7 } } }));
  writeFileSync(file('config-port-text.json'), JSON.stringify({ profiles: { default: { issuer: 'https://i.test', clientId: 'c', redirectPort: 'eighty' } } }));
  writeFileSync(file('config-array.json'), '[]');
  writeFileSync(file('config-broker-number.json'), JSON.stringify({ profiles: { default: { issuer: 'https://i.test', clientId: 'c', broker: 42 } } }));
  writeFileSync(file('broker-clients-string.json'), JSON.stringify({ clients: 'cli', providers: [] }));
  writeFileSync(
    file('broker-ttl-text.json'),
    JSON.stringify({ tokenTtl: '1h', clients: [{ clientId: 'cli', tokenEndpointAuthMethod: 'none' }], providers: [{ id: 'i', type: 'jwt', issuer: 'https://i.test', audience: 'a' }] }),
  );
  writeFileSync(
    file('broker-unknown-key.json'),
    JSON.stringify({ clients: [{ clientId: 'cli', tokenEndpointAuthMethod: 'none' }], providers: [{ id: 'i', type: 'jwt', issuer: 'https://i.test', audience: 'a' }], debug: true }),
  );
  writeFileSync(
    file('broker-rate-limit.json'),
    JSON.stringify({
      clients: [{ clientId: 'cli', tokenEndpointAuthMethod: 'none' }],
      providers: [{ id: 'i', type: 'jwt', issuer: 'https://i.test', audience: 'a' }],
      rateLimit: { maxFailures: -1 },
    }),
  );
  writeFileSync(file('not-a-cert.pem'), 'hello\n');
});

/** Names, modes and contents of every file under `root`. */
function snapshot(root: string): string {
  const hash = createHash('sha256');
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const path = join(d, name);
      const info = statSync(path);
      hash.update(`${path}:${info.mode}\n`);
      if (info.isDirectory()) walk(path);
      else if (info.mode & 0o444) hash.update(readFileSync(path));
    }
  };
  walk(root);
  return hash.digest('hex');
}

const ISS = ['--issuer', 'https://idp.example.test', '--audience', 'api'];
const JWT = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln';

const rows: Row[] = [
  // decode
  { name: 'decode: unknown flag', args: ['decode', '--bogus'], code: 2, message: /^invalid usage: unknown option '--bogus'$/ },
  { name: 'decode: empty stdin', args: ['decode', '-'], stdin: '', code: 1, message: /empty input/ },
  { name: 'decode: huge stdin', args: ['decode'], stdin: 'huge', code: 2, message: /^could not read stdin: more than \d+ bytes$/ },
  { name: 'decode: binary garbage', args: ['decode', '\u0001\u0002.\u00ff.x'], code: 1, message: /not a JWT/ },
  { name: 'decode: payload an array', args: ['decode', `eyJhbGciOiJSUzI1NiJ9.${Buffer.from('[1]').toString('base64url')}.c2ln`], code: 1, message: /not a JWT/ },
  // verify
  { name: 'verify: no issuer', args: ['verify', '--audience', 'a', JWT], code: 2, message: /issuer/ },
  { name: 'verify: bad --clock-tolerance', args: ['verify', ...ISS, '--clock-tolerance', 'soon', JWT], code: 2, message: /^--clock-tolerance must be/ },
  { name: 'verify: bad --now', args: ['verify', ...ISS, '--now', 'yesterday', JWT], code: 2, message: /^--now must be/ },
  { name: 'verify: negative --max-age', args: ['verify', ...ISS, '--max-age', '-5', JWT], code: 2, message: /^--max-age must be/ },
  { name: 'verify: --algorithms none', args: ['verify', ...ISS, '--algorithms', 'none', '--jwks', '/dev/null', JWT], code: 2, message: /"none" is never accepted/ },
  { name: 'verify: unknown algorithm', args: ['verify', ...ISS, '--algorithms', 'XX999', JWT], code: 2, message: /unknown algorithm "XX999"/ },
  { name: 'verify: --claim without =', args: ['verify', ...ISS, '--claim', 'scope', JWT], code: 2, message: /^--claim must be NAME=VALUE/ },
  { name: 'verify: --type outside its choices', args: ['verify', ...ISS, '--type', 'refresh', JWT], code: 2, message: /argument 'refresh' is invalid/ },
  { name: 'verify: two key sources', args: ['verify', ...ISS, '--jwks', '/dev/null', '--secret', 'x', JWT], code: 2, message: /choose one key source/ },
  { name: 'verify: --jwks-uri not http', args: ['verify', ...ISS, '--jwks-uri', 'file:///etc/passwd', JWT], code: 2, message: /--jwks-uri must be an http\(s\) URL/ },
  { name: 'verify: --jwks missing file', args: ['verify', ...ISS, '--jwks', '/nonexistent/keys.json', JWT], code: 2, message: /could not read --jwks .*ENOENT/ },
  { name: 'verify: --jwks a directory', args: ['verify', ...ISS, '--jwks', '/tmp', JWT], code: 2, message: /could not read --jwks \/tmp/ },
  { name: 'verify: --jwks not JSON', args: ['verify', ...ISS, '--jwks', '@files/not-json.json', JWT], code: 2, message: /not JSON/ },
  { name: 'verify: --jwks empty file', args: ['verify', ...ISS, '--jwks', '@files/jwks-empty.json', JWT], code: 2, message: /could not use --jwks/ },
  { name: 'verify: --jwks keys is a number', args: ['verify', ...ISS, '--jwks', '@files/jwks-keys-number.json', JWT], code: 2, message: /not a JWKS/ },
  { name: 'verify: --jwks without a usable key', args: ['verify', ...ISS, '--jwks', '@files/jwks-no-keys.json', JWT], code: 2, message: /no usable signature verification key/ },
  { name: 'verify: huge stdin', args: ['verify', ...ISS, '--secret', 'k', '-'], stdin: 'huge', code: 2, message: /^could not read stdin: more than/ },
  { name: 'verify: negative --timeout', args: ['verify', ...ISS, '--timeout', '-1', JWT], code: 2, message: /^--timeout must be/ },
  { name: 'verify: zero --timeout', args: ['verify', ...ISS, '--timeout', '0', JWT], code: 2, message: /^--timeout must be a positive number of seconds/ },
  // config
  { name: 'config: unknown action', args: ['config', 'frobnicate'], code: 2, message: /unknown config action "frobnicate"/ },
  { name: 'config: get without KEY', args: ['config', 'get'], code: 2, message: /^config get needs a KEY$/ },
  { name: 'config: unknown key', args: ['config', 'set', 'colour', 'blue'], code: 2, message: /unknown config key "colour"/ },
  { name: 'config: set without VALUE', args: ['config', 'set', 'issuer'], code: 2, message: /missing VALUE/ },
  { name: 'config: issuer not a URL', args: ['config', 'set', 'issuer', 'idp'], code: 2, message: /expected an http\(s\) URL/ },
  { name: 'config: redirectPort text', args: ['config', 'set', 'redirectPort', 'eighty'], code: 2, message: /expected a port number/ },
  { name: 'config: too many arguments', args: ['config', 'set', 'issuer', 'https://i.test', 'extra'], code: 2, message: /too many arguments/ },
  { name: 'config: list of a malformed file', args: ['--config', '@files/not-json.json', 'config', 'list'], code: 2, message: /not valid JSON/ },
  { name: 'config: list of an unreadable file', args: ['--config', '/tmp', 'config', 'list'], code: 2, message: /could not read config \/tmp/ },
  { name: 'config: a config that is an array', args: ['--config', '@files/config-array.json', 'config', 'list'], code: 2, message: /could not load config/ },
  // login
  { name: 'login: issuer a number in config', args: ['--config', '@files/config-issuer-number.json', 'login'], code: 2, message: /profiles\.default\.issuer/ },
  { name: 'login: scopes a number in config', args: ['--config', '@files/config-scopes-string.json', 'login'], code: 2, message: /profiles\.default\.scopes/ },
  { name: 'login: redirectPort text in config', args: ['--config', '@files/config-port-text.json', 'login'], code: 2, message: /profiles\.default\.redirectPort/ },
  { name: 'login: broker a number in config', args: ['--config', '@files/config-broker-number.json', 'login'], code: 2, message: /profiles\.default\.broker/ },
  { name: 'login: no issuer', args: ['login', '--client-id', 'cli'], code: 2, message: /issuer/ },
  { name: 'login: plain-HTTP issuer', args: ['login', '--issuer', 'http://idp.example.test', '--client-id', 'c'], code: 2, message: /must be an https URL/ },
  { name: 'login: bad --port', args: ['login', '--port', '99999'], code: 2, message: /--port/ },
  { name: 'login: bad --timeout', args: ['login', '--timeout', 'forever'], code: 2, message: /^--timeout must be/ },
  { name: 'login: bad env value', args: ['login'], env: { AUTHBRIDGE_ISSUER: 'not a url', AUTHBRIDGE_CLIENT_ID: 'c' }, code: 2, message: /AUTHBRIDGE_ISSUER/ },
  { name: 'login: bad --profile', args: ['--profile', '../../etc', 'login'], code: 2, message: /^--profile must be/ },
  { name: 'login: --ca-file missing', args: ['--ca-file', '/nonexistent.pem', 'login'], code: 2, message: /could not read --ca-file/ },
  { name: 'login: --ca-file not PEM', args: ['--ca-file', '@files/not-a-cert.pem', 'login'], code: 2, message: /no PEM certificate/ },
  // status
  { name: 'status: unknown flag', args: ['status', '--bogus'], code: 2, message: /unknown option '--bogus'/ },
  { name: 'status: malformed config', args: ['--config', '@files/not-json.json', 'status'], code: 2, message: /could not load config/ },
  { name: 'status: wrong types in config', args: ['--config', '@files/config-issuer-number.json', 'status'], code: 2, message: /profiles\.default\.issuer/ },
  { name: 'status --all: unreadable config', args: ['--config', '/tmp', 'status', '--all'], code: 2, message: /could not read config/ },
  // token
  { name: 'token: --type outside its choices', args: ['token', '--type', 'session'], code: 2, message: /argument 'session' is invalid/ },
  { name: 'token: wrong types in config', args: ['--config', '@files/config-issuer-number.json', 'token'], code: 2, message: /profiles\.default\.issuer/ },
  { name: 'token: not signed in', args: ['token'], code: 4, message: /not signed in/ },
  // refresh
  { name: 'refresh: extra argument', args: ['refresh', 'now'], code: 2, message: /too many arguments/ },
  { name: 'refresh: malformed config', args: ['--config', '@files/not-json.json', 'refresh'], code: 2, message: /could not load config/ },
  { name: 'refresh: not signed in', args: ['refresh'], code: 4, message: /not signed in/ },
  // introspect
  { name: 'introspect: empty stdin', args: ['introspect', '-'], stdin: '', code: 2, message: /TOKEN must not be empty/ },
  { name: 'introspect: huge stdin', args: ['introspect', '-'], stdin: 'huge', code: 2, message: /^could not read stdin: more than/ },
  { name: 'introspect: --type outside its choices', args: ['introspect', '--type', 'id'], code: 2, message: /argument 'id' is invalid/ },
  { name: 'introspect --broker: no broker', args: ['introspect', '--broker', 'abc'], code: 2, message: /no broker configured/ },
  {
    name: 'introspect: an opaque token beginning with "-"',
    args: ['introspect', '-Qx3fZ0a9_TkLm2pR7sV4wY6bN8cD1eF'],
    code: 2,
    message: /^invalid usage: unknown option '-Qx3fZ0a9_TkLm2pR7sV4wY6bN8cD1eF'$/,
    hint: /^A token or key id that begins with "-" goes after "--": authbridge introspect -- -Qx3fZ0a…$/,
  },
  // logout
  { name: 'logout: unknown flag', args: ['logout', '--everything'], code: 2, message: /unknown option '--everything'/ },
  { name: 'logout: bad --profile', args: ['--profile', 'a/b', 'logout'], code: 2, message: /^--profile must be/ },
  { name: 'logout: extra argument', args: ['logout', 'work'], code: 2, message: /too many arguments/ },
  // exchange
  { name: 'exchange: no broker', args: ['exchange', '--subject-token', 'x'], code: 2, message: /no broker configured/ },
  { name: 'exchange: --broker-url not a URL', args: ['exchange', '--broker-url', 'broker', '--subject-token', 'x'], code: 2, message: /--broker-url/ },
  { name: 'exchange: --broker-protocol outside its choices', args: ['exchange', '--broker-protocol', 'soap'], code: 2, message: /argument 'soap' is invalid/ },
  { name: 'exchange: --subject-token-type neither a short name nor an absolute URI', args: ['exchange', '--subject-token-type', 'saml'], code: 2, message: /--subject-token-type: expected access_token, id_token, jwt or an absolute URI/ },
  { name: 'exchange: zero --timeout', args: ['exchange', '--broker-url', 'http://127.0.0.1:9', '--broker-client-id', 'c', '--subject-token', 'x', '--timeout', '0'], code: 2, message: /^--timeout must be a positive/ },
  { name: 'exchange: bad --timeout', args: ['exchange', '--broker-url', 'http://127.0.0.1:9', '--broker-client-id', 'c', '--subject-token', 'x', '--timeout', 'abc'], code: 2, message: /^--timeout must be/ },
  // broker serve
  { name: 'broker serve: no --config', args: ['broker', 'serve'], code: 2, message: /needs a config file/ },
  { name: 'broker serve: missing config', args: ['--config', '/nonexistent/broker.json', 'broker', 'serve'], code: 2, message: /could not load broker config .*ENOENT/ },
  { name: 'broker serve: unreadable config', args: ['--config', '@files/unreadable.json', 'broker', 'serve', '--port', '0'], code: 2, message: /could not load broker config/ },
  { name: 'broker serve: config not JSON', args: ['--config', '@files/not-json.json', 'broker', 'serve'], code: 2, message: /not valid JSON/ },
  { name: 'broker serve: clients a string', args: ['--config', '@files/broker-clients-string.json', 'broker', 'serve'], code: 2, message: /clients: expected an array/ },
  { name: 'broker serve: tokenTtl text', args: ['--config', '@files/broker-ttl-text.json', 'broker', 'serve'], code: 2, message: /tokenTtl: expected seconds/ },
  { name: 'broker serve: unknown key', args: ['--config', '@files/broker-unknown-key.json', 'broker', 'serve'], code: 2, message: /debug: unknown key/ },
  { name: 'broker serve: negative rate limit', args: ['--config', '@files/broker-rate-limit.json', 'broker', 'serve'], code: 2, message: /rateLimit\.maxFailures/ },
  { name: 'broker serve: bad --port', args: ['--config', '@files/broker-ttl-text.json', 'broker', 'serve', '--port', 'http'], code: 2, message: /--port must be/ },
  { name: 'broker serve: huge config file', args: ['--config', '@files/huge.json', 'broker', 'serve'], code: 2, message: /not valid JSON/ },
  // anything
  { name: 'unknown command', args: ['sign-in'], code: 2, message: /unknown command 'sign-in'/ },
];

/** Runs rows a few at a time: each is its own process. */
async function inBatches<T, R>(items: T[], size: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  for (let i = 0; i < items.length; i += size) results.push(...(await Promise.all(items.slice(i, i + size).map(fn))));
  return results;
}

describe('bad input to every command', () => {
  it('exits with the contract code, one error line, no stack trace, and touches neither cache nor config', async () => {
    writeFileSync(file('huge.json'), huge);
    const before = snapshot(env.HOME!);
    const failures: string[] = [];
    await inBatches(rows, 4, async (row) => {
      const args = row.args.map((a) => (a.startsWith('@files/') ? file(a.slice(7)) : a));
      const result = await runCli(args, {
        env: { ...env, ...row.env },
        input: row.stdin === 'huge' ? huge : (row.stdin ?? ''),
      });
      const lines = result.stderr.trimEnd().split('\n').filter((l) => !l.startsWith('warning: '));
      const problems: string[] = [];
      if (result.code !== row.code) problems.push(`exit ${result.code}, expected ${row.code}`);
      const first = lines[0] ?? '';
      if (!first.startsWith('authbridge: ')) problems.push(`first stderr line is not "authbridge: …"`);
      else if (!row.message.test(first.slice('authbridge: '.length))) problems.push(`message does not match ${row.message}`);
      if (lines.length > 2) problems.push(`${lines.length} stderr lines`);
      if (row.hint && !row.hint.test(lines[1] ?? '')) problems.push(`hint does not match ${row.hint}`);
      if (/\n\s+at |Error: /.test(result.stderr)) problems.push('a stack trace or raw error');
      if (row.code !== 0 && result.stdout !== '') problems.push('output on stdout');
      if (problems.length) failures.push(`${row.name}: ${problems.join('; ')}\n    stderr: ${result.stderr.trim().replace(/\n/g, '\n            ')}`);
    });
    expect(failures).toEqual([]);
    expect(snapshot(env.HOME!)).toBe(before);
  }, 120_000);

  it('--json turns each of these errors into one JSON document on stdout', async () => {
    const sample = rows.filter((_, i) => i % 7 === 0);
    await inBatches(sample, 4, async (row) => {
      const args = row.args.map((a) => (a.startsWith('@files/') ? file(a.slice(7)) : a));
      const result = await runCli(['--json', ...args], { env: { ...env, ...row.env }, input: row.stdin === 'huge' ? huge : (row.stdin ?? '') });
      expect(result.code, row.name).toBe(row.code);
      const doc = JSON.parse(result.stdout) as { error: { code: string; message: string } };
      expect(doc.error.message, row.name).toMatch(row.message);
    });
  }, 60_000);
});
