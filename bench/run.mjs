// `npm run bench`: every figure, one script each, results merged into bench/results.json.
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, RESULTS } from './lib.mjs';

const only = process.argv.slice(2);
const scripts = ['startup', 'verify-batch', 'broker', 'broker-stores', 'login'].filter((s) => only.length === 0 || only.includes(s));
if (only.length === 0) rmSync(RESULTS, { force: true });
spawnSync(process.execPath, [join(ROOT, 'scripts', 'build.mjs'), '--no-types'], { stdio: 'inherit' });
let failed = false;
for (const name of scripts) {
  console.log(`\n## ${name}`);
  const r = spawnSync(process.execPath, [join(ROOT, 'bench', `${name}.mjs`)], { stdio: 'inherit' });
  if (r.status !== 0) failed = true;
}
console.log(`\nresults: ${RESULTS}`);
process.exitCode = failed ? 1 : 0;
