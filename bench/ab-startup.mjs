// Start-up of two builds side by side, interleaved in the same run (a busy machine moves every
// time; the two move alike): `decode`, `status`, `token` and `verify --jwks FILE` of each checkout
// against a bare `node -e ''`. Each directory needs bin/ and a built dist/ (a copy of a checkout's
// bin, dist and package.json with a node_modules link will do).
//   node bench/ab-startup.mjs DIR_BEFORE DIR_AFTER      (BENCH_RUNS=30, BENCH_NODE=/path/to/node)
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { AUDIENCE, ISSUER, makeKeyPair, writeTokens } from './fixtures.mjs';
import { median } from './lib.mjs';

const node = process.env.BENCH_NODE ?? process.execPath;
const RUNS = Number(process.env.BENCH_RUNS ?? 30);
const trees = process.argv.slice(2);
if (trees.length === 0) {
  console.error('usage: node bench/ab-startup.mjs DIR [DIR …]');
  process.exit(2);
}
const dir = mkdtempSync(join(tmpdir(), 'authbridge-ab-'));
const pair = makeKeyPair('ES256');
const jwks = join(dir, 'jwks.json');
writeFileSync(jwks, JSON.stringify(pair.jwks));
const [token] = writeTokens(join(dir, 'tokens.txt'), pair, 1);
const env = { ...process.env, HOME: dir, XDG_CONFIG_HOME: join(dir, 'config'), XDG_CACHE_HOME: join(dir, 'cache'), NO_COLOR: '1' };
const commands = { decode: ['decode', token], status: ['status'], token: ['token'], verify: ['verify', token, '--jwks', jwks, '--issuer', ISSUER, '--audience', AUDIENCE] };
const cases = { bare: ['-e', ''] };
for (const [i, tree] of trees.entries()) {
  for (const [name, args] of Object.entries(commands)) cases[`${i}:${basename(tree)} ${name}`] = [join(tree, 'bin', 'authbridge.js'), ...args];
}
const run = (args) => {
  const start = process.hrtime.bigint();
  const r = spawnSync(node, args, { env, stdio: ['pipe', 'ignore', 'pipe'] });
  if (r.status !== 0 && r.status !== 4) throw new Error(`${args.join(' ')}: exit ${r.status}: ${r.stderr}`);
  return Number(process.hrtime.bigint() - start) / 1e6;
};
// Warm-up: each build writes its code cache for this Node.
for (const args of Object.values(cases)) run(args);
const times = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
for (let i = 0; i < RUNS; i++) for (const [name, args] of Object.entries(cases)) times[name].push(run(args));
const bare = median(times.bare);
console.log(`${spawnSync(node, ['--version']).stdout.toString().trim()}: node -e '' ${bare.toFixed(1)} ms, median of ${RUNS}`);
for (const name of Object.keys(cases).slice(1)) {
  const m = median(times[name]);
  console.log(`${name.padEnd(28)} ${m.toFixed(1).padStart(7)} ms  ${(m / bare).toFixed(3)}x  (+${(m - bare).toFixed(1)} ms)`);
}
rmSync(dir, { recursive: true, force: true });
