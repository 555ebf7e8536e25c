// `verify --batch` of two builds side by side, interleaved in the same run, each run against the
// single-threaded node:crypto loop measured just before it: ratios, and the after/before ratio of
// each pair (on a busy machine the pairs say more than the medians).
//   node bench/ab-batch.mjs DIR_BEFORE DIR_AFTER   (BENCH_ALG=RS256|ES256|EdDSA, BENCH_OUTPUT=valid|reason|json,
//                                                  BENCH_TOKENS=10000, BENCH_RUNS=5)
import { createPublicKey, verify } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { AUDIENCE, HASH, ISSUER, makeKeyPair, writeTokens } from './fixtures.mjs';
import { median, runMeasured } from './lib.mjs';

const alg = process.env.BENCH_ALG ?? 'RS256';
const COUNT = Number(process.env.BENCH_TOKENS ?? 10_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const output = process.env.BENCH_OUTPUT ?? 'valid';
const trees = process.argv.slice(2);
if (trees.length === 0) {
  console.error('usage: node bench/ab-batch.mjs DIR [DIR …]');
  process.exit(2);
}
const dir = mkdtempSync(join(tmpdir(), 'authbridge-ab-'));
const pair = makeKeyPair(alg);
const jwksFile = join(dir, 'jwks.json');
writeFileSync(jwksFile, JSON.stringify(pair.jwks));
const file = join(dir, 'tokens.txt');
const tokens = writeTokens(file, pair, COUNT);

function rawLoop() {
  const key = createPublicKey({ key: pair.jwks.keys[0], format: 'jwk' });
  const keyInput = alg === 'ES256' ? { key, dsaEncoding: 'ieee-p1363' } : key;
  const start = process.hrtime.bigint();
  for (const token of tokens) {
    const dot = token.lastIndexOf('.');
    verify(HASH[alg], Buffer.from(token.slice(0, dot)), keyInput, Buffer.from(token.slice(dot + 1), 'base64url'));
  }
  return COUNT / (Number(process.hrtime.bigint() - start) / 1e9);
}

const args = ['verify', '--batch', '--jwks', jwksFile, '--issuer', ISSUER, '--audience', AUDIENCE, ...(output === 'json' ? [] : ['--output', output])];
rawLoop(); // warm-up
const ratios = trees.map(() => []);
for (let i = 0; i < RUNS; i++) {
  const raw = rawLoop();
  for (const [t, tree] of trees.entries()) {
    const r = await runMeasured([join(tree, 'bin', 'authbridge.js'), ...args], { stdinFile: file });
    if (r.code !== 0 || r.lines !== COUNT) throw new Error(`${tree}: exit ${r.code}, ${r.lines} lines: ${r.stderr}`);
    ratios[t].push(COUNT / (r.ms / 1000) / raw);
  }
}
console.log(`${alg}, ${COUNT} tokens, --output ${output}, ${RUNS} runs: ratio to the node:crypto loop of the same run`);
for (const [t, tree] of trees.entries()) {
  console.log(`  ${basename(tree)}: median ${median(ratios[t]).toFixed(3)}x (runs ${ratios[t].map((r) => r.toFixed(2)).join(' ')})`);
}
if (trees.length === 2) {
  const pairs = ratios[1].map((r, i) => r / ratios[0][i]);
  console.log(`  after/before, each pair: ${pairs.map((r) => r.toFixed(2)).join(' ')} (median ${median(pairs).toFixed(2)})`);
}
rmSync(dir, { recursive: true, force: true });
