// Figure 2: `verify --batch --jwks FILE` throughput against a plain single-threaded node:crypto
// verify() loop over the same tokens, in the same run. Also peak RSS, for 2,000 and 20,000 tokens.
import { createPublicKey, verify } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AUDIENCE, ISSUER, makeKeyPair, writeTokens } from './fixtures.mjs';
import { BIN, ensureBuilt, fmt, median, record, runMeasured } from './lib.mjs';

const COUNT = Number(process.env.BENCH_TOKENS ?? 20_000);
const SMALL = Math.max(1, Math.floor(COUNT / 10));
const RUNS = Number(process.env.BENCH_RUNS ?? 3);

/** The physical baseline: parse, decode, verify with node:crypto, one thread. */
function rawVerifyLoop(tokens, pair) {
  const key = createPublicKey({ key: pair.jwks.keys[0], format: 'jwk' });
  const start = process.hrtime.bigint();
  let ok = 0;
  for (const token of tokens) {
    const dot = token.lastIndexOf('.');
    const data = Buffer.from(token.slice(0, dot));
    const sig = Buffer.from(token.slice(dot + 1), 'base64url');
    const valid =
      pair.alg === 'RS256' ? verify('sha256', data, key, sig) : verify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, sig);
    if (valid) ok++;
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (ok !== tokens.length) throw new Error('baseline failed to verify its own tokens');
  return tokens.length / seconds;
}

ensureBuilt();
const dir = mkdtempSync(join(tmpdir(), 'authbridge-bench-'));
const results = {};
for (const alg of ['RS256', 'ES256']) {
  const pair = makeKeyPair(alg);
  const jwksFile = join(dir, `${alg}.jwks.json`);
  writeFileSync(jwksFile, JSON.stringify(pair.jwks));
  const bigFile = join(dir, `${alg}-big.txt`);
  const smallFile = join(dir, `${alg}-small.txt`);
  const tokens = writeTokens(bigFile, pair, COUNT);
  writeFileSync(smallFile, `${tokens.slice(0, SMALL).join('\n')}\n`);
  const args = ['verify', '--batch', '--jwks', jwksFile, '--issuer', ISSUER, '--audience', AUDIENCE];

  rawVerifyLoop(tokens.slice(0, 500), pair); // warm-up
  const baseline = median(Array.from({ length: RUNS }, () => rawVerifyLoop(tokens, pair)));
  await runMeasured([BIN, ...args], { stdinFile: smallFile }); // warm-up (disk cache)
  const runs = [];
  for (let i = 0; i < RUNS; i++) {
    const r = await runMeasured([BIN, ...args], { stdinFile: bigFile });
    if (r.code !== 0 || r.lines !== COUNT) throw new Error(`batch run failed (exit ${r.code}, ${r.lines} lines): ${r.stderr}`);
    runs.push(r);
  }
  const small = await runMeasured([BIN, ...args], { stdinFile: smallFile });
  const perSecond = median(runs.map((r) => COUNT / (r.ms / 1000)));
  const rss = median(runs.map((r) => r.rss));
  const ratio = perSecond / baseline;
  results[alg] = {
    tokens: COUNT,
    cli_tokens_per_s: Math.round(perSecond),
    baseline_tokens_per_s: Math.round(baseline),
    ratio: Number(ratio.toFixed(3)),
    budget: 0.5,
    peak_rss_mib: Number((rss / 2 ** 20).toFixed(1)),
    peak_rss_mib_small: Number((small.rss / 2 ** 20).toFixed(1)),
    small_tokens: SMALL,
  };
  console.log(
    `verify --batch ${alg}: ${fmt(perSecond, 0)} tokens/s vs node:crypto loop ${fmt(baseline, 0)} tokens/s → ${fmt(ratio, 2)}x (budget ≥ 0.5x); ` +
      `peak RSS ${fmt(rss / 2 ** 20)} MiB for ${COUNT} tokens, ${fmt(small.rss / 2 ** 20)} MiB for ${SMALL}`,
  );
}
await record('verify_batch', results);
