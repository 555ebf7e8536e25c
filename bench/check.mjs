// `npm run bench:check`: exits non-zero when bench/results.json misses a budget.
import { existsSync, readFileSync } from 'node:fs';
import { RESULTS } from './lib.mjs';

if (!existsSync(RESULTS)) {
  console.error('bench/results.json not found: run `npm run bench` first');
  process.exit(2);
}
const r = JSON.parse(readFileSync(RESULTS, 'utf8'));
const checks = [];
for (const name of ['decode', 'status', 'verify_jwks_file']) {
  if (r.startup?.[name]) checks.push([`start-up ${name}`, r.startup[name].ratio, '<=', 1.3]);
}
for (const alg of ['RS256', 'ES256']) {
  if (r.verify_batch?.[alg]) checks.push([`verify --batch ${alg}`, r.verify_batch[alg].ratio, '>=', 0.5]);
}
if (r.broker_exchange) checks.push(['broker exchange', r.broker_exchange.ratio, '>=', 0.4]);
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
