// Summarises a V8 .cpuprofile (`node --cpu-prof`; for the broker under load:
// BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=DIR" node bench/broker.mjs): self time by function, or
// by file/package with `--by file`, the largest first, as a share of the profile.
//   node bench/profile-summary.mjs FILE.cpuprofile [--top 30] [--by function|file] [--busy]
// `--busy` leaves out (idle) and (program) from the total: shares of the time the thread worked.
import { readFileSync } from 'node:fs';

const args = process.argv.slice(2);
const file = args.find((a) => a.endsWith('.cpuprofile'));
if (!file) {
  console.error('usage: node bench/profile-summary.mjs FILE.cpuprofile [--top N] [--by function|file] [--busy]');
  process.exit(2);
}
const option = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const top = Number(option('--top', 30));
const by = option('--by', 'function');
const busy = args.includes('--busy');

const profile = JSON.parse(readFileSync(file, 'utf8'));
const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
const self = new Map();
for (let i = 0; i < profile.samples.length; i++) {
  const node = nodes.get(profile.samples[i]);
  self.set(node, (self.get(node) ?? 0) + (profile.timeDeltas[i] ?? 0));
}
const totals = new Map();
for (const [node, us] of self) {
  const { functionName, url, lineNumber } = node.callFrame;
  const path = url.replace(/^file:\/\//, '');
  const key =
    by === 'file'
      ? path.replace(/.*node_modules\/((@[^/]+\/)?[^/]+).*/, 'npm:$1') || `(${functionName})`
      : `${functionName || '(anonymous)'} ${path.split('/').slice(-2).join('/')}${path ? `:${lineNumber + 1}` : ''}`;
  totals.set(key, (totals.get(key) ?? 0) + us);
}
const idle = (k) => /^\(+(idle|program)\)+$/.test(k);
const total = [...totals].filter(([k]) => !busy || !idle(k)).reduce((sum, [, us]) => sum + us, 0);
console.log(`${file}: ${(total / 1000).toFixed(1)} ms${busy ? ' busy' : ''} sampled`);
for (const [key, us] of [...totals].filter(([k]) => !busy || !idle(k)).sort((a, b) => b[1] - a[1]).slice(0, top)) {
  console.log(`${((100 * us) / total).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(1).padStart(8)} ms  ${key}`);
}
