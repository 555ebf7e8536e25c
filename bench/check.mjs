// `npm run bench:check`: exits non-zero when bench/results.json misses a budget.
import { existsSync, readFileSync } from 'node:fs';
import { RESULTS } from './lib.mjs';

if (!existsSync(RESULTS)) {
  console.error('bench/results.json not found: run `npm run bench` first');
  process.exit(2);
}
const r = JSON.parse(readFileSync(RESULTS, 'utf8'));
const checks = [];
const STARTUP = 1.15;
for (const run of r.startup ? [r.startup, ...(r.startup.others ?? [])] : []) {
  for (const name of ['decode', 'status', 'token', 'verify_jwks_file']) {
    if (run[name]) checks.push([`start-up ${name} (Node ${run.node ?? 'of the bench'})`, run[name].ratio, '<=', STARTUP]);
  }
}
for (const alg of ['RS256', 'ES256', 'EdDSA']) {
  const b = r.verify_batch?.[alg];
  if (!b) continue;
  // The lean output is the throughput mode: 1.0x of one raw node:crypto thread; the full JSON keeps the old 0.5x.
  if (b.lean_ratio !== undefined) checks.push([`verify --batch --output valid ${alg}, ${r.verify_batch.tokens} tokens with start-up`, b.lean_ratio, '>=', 1.0]);
  checks.push([`verify --batch ${alg} (JSON)`, b.ratio, '>=', 0.5]);
  // Flat memory: a million tokens within 1.5x of the peak RSS at ten thousand.
  if (b.million_peak_rss_mib) checks.push([`verify --batch peak RSS ${b.million_tokens} / ${r.verify_batch.tokens} tokens`, Number((b.million_peak_rss_mib / b.peak_rss_mib).toFixed(2)), '<=', 1.5]);
}
if (r.broker_exchange) {
  checks.push(['broker exchange, existing customers', r.broker_exchange.ratio, '>=', 0.6]);
  checks.push(['broker exchange, 50% first-time customers', r.broker_exchange.ratio_first_time_50pct, '>=', 0.4]);
}
if (r.broker_stores?.sqlite) checks.push([`broker exchange slowdown with ${r.broker_stores.sqlite.rows} SQLite rows`, r.broker_stores.sqlite.slowdown, '<=', 0.2]);
if (r.login) checks.push(['login overhead (ms)', r.login.overhead_ms, '<=', 150]);
let missed = 0;
for (const [name, value, op, budget] of checks) {
  const ok = op === '<=' ? value <= budget : value >= budget;
  if (!ok) missed++;
  console.log(`${ok ? '✓' : '✗'} ${name}: ${value} (budget ${op} ${budget})`);
}
if (checks.length === 0) {
  console.error('no figures in bench/results.json');
  process.exit(2);
}
process.exitCode = missed ? 1 : 0;
