// Writes dist/cli.cjs.cache after running the hot commands once in this process, so the V8 code
// cache holds their compiled functions, not only those of `--version`. Runs offline, in a
// temporary HOME, with output discarded.
import { generateKeyPairSync, sign } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';

// bin/authbridge.js is CommonJS and runs the CLI only when it is the main module.
const { loadCli, saveCache } = createRequire(import.meta.url)('../bin/authbridge.js');

const home = mkdtempSync(join(tmpdir(), 'authbridge-warm-'));
try {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwks = join(home, 'jwks.json');
  writeFileSync(jwks, JSON.stringify({ keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'k', alg: 'ES256' }] }));
  const b64 = (v) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const input = `${b64({ alg: 'ES256', kid: 'k' })}.${b64({ iss: 'https://idp.warm', aud: 'cli', sub: 'x', iat: now, exp: now + 60 })}`;
  const token = `${input}.${sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;

  const { exports: cli, script } = loadCli({ useCache: false });
  const env = { HOME: home, XDG_CONFIG_HOME: join(home, 'config'), XDG_CACHE_HOME: join(home, 'cache'), NO_COLOR: '1', PATH: process.env.PATH };
  const context = () => {
    const sink = () => Object.assign(new PassThrough(), { isTTY: false }).resume();
    const stdin = new PassThrough();
    stdin.end();
    return { ...cli.nodeContext(), stdin, stdout: sink(), stderr: sink(), env };
  };
  const runs = [
    ['--version'],
    ['decode', token],
    ['decode', '--json', token],
    ['verify', token, '--jwks', jwks, '--issuer', 'https://idp.warm', '--audience', 'cli'],
    ['verify', token, '--jwks', jwks, '--issuer', 'https://idp.warm', '--audience', 'cli', '--json'],
    ['status'],
    ['status', '--json'],
    ['token'],
    ['config', 'list'],
    ['decode', 'not-a-token'],
  ];
  for (const args of runs) await cli.main(['node', 'authbridge', ...args], context());
  saveCache(script);
} finally {
  rmSync(home, { recursive: true, force: true });
}
