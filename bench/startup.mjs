// Figure 1: start-up of `decode TOKEN`, `status` and `verify TOKEN --jwks FILE` against a bare
// `node -e ''`, median of RUNS runs each after a warm-up, interleaved so drift hits all alike.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AUDIENCE, ISSUER, makeKeyPair, writeTokens } from './fixtures.mjs';
import { BIN, ensureBuilt, fmt, median, record, timeRun } from './lib.mjs';

const RUNS = Number(process.env.BENCH_RUNS_STARTUP ?? 20);
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
  verify_jwks_file: { args: [BIN, 'verify', token, '--jwks', jwksFile, '--issuer', ISSUER, '--audience', AUDIENCE], status: 0 },
};
const times = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
for (const [, c] of Object.entries(cases)) timeRun(process.execPath, c.args, { env, expectStatus: c.status }); // warm-up
for (let i = 0; i < RUNS; i++) {
  for (const [name, c] of Object.entries(cases)) times[name].push(timeRun(process.execPath, c.args, { env, expectStatus: c.status }));
}
const base = median(times.baseline);
const out = { runs: RUNS, baseline_ms: Number(base.toFixed(1)), budget: 1.3 };
console.log(`node -e '' (baseline): ${fmt(base)} ms median of ${RUNS}`);
for (const name of Object.keys(cases).filter((n) => n !== 'baseline')) {
  const m = median(times[name]);
  out[name] = { ms: Number(m.toFixed(1)), ratio: Number((m / base).toFixed(3)) };
  console.log(`${name}: ${fmt(m)} ms → ${fmt(m / base, 2)}x of bare node (budget ≤ 1.3x)`);
}
await record('startup', out);
