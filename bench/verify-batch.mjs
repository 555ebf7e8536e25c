// Figure 2: `verify --batch --jwks FILE` over 10,000 tokens (start-up included) against a plain
// single-threaded node:crypto verify() loop over the same tokens, in the same run, for RS256,
// ES256 and EdDSA; with the default NDJSON output and the lean `--output valid`. The peers a user
// would pick instead, same tokens, same run, start-up included: a Node script with
// jose.jwtVerify, PyJWT in a Python loop, and (RS256) one `authbridge verify` process per token.
// Peak RSS at 10,000 tokens and at 1,000,000 (RS256; BENCH_MILLION=0 skips it, ~1 minute).
import { spawnSync } from 'node:child_process';
import { createPublicKey, verify } from 'node:crypto';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AUDIENCE, HASH, ISSUER, makeKeyPair, writeTokens } from './fixtures.mjs';
import { BIN, ROOT, ensureBuilt, fmt, median, record, runMeasured, timeRun } from './lib.mjs';

const COUNT = Number(process.env.BENCH_TOKENS ?? 10_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const PER_PROCESS = Number(process.env.BENCH_PER_PROCESS_TOKENS ?? 200);
const MILLION = process.env.BENCH_MILLION !== '0';
const JOSE_PEER = join(ROOT, 'bench', 'peers', 'jose-verify.mjs');
const PYJWT_PEER = join(ROOT, 'bench', 'peers', 'pyjwt-verify.py');

/** The physical baseline: parse, decode, verify with node:crypto, one thread, key imported once. */
function rawVerifyLoop(tokens, pair) {
  const key = createPublicKey({ key: pair.jwks.keys[0], format: 'jwk' });
  const keyInput = pair.alg === 'ES256' ? { key, dsaEncoding: 'ieee-p1363' } : key;
  const hash = HASH[pair.alg];
  const start = process.hrtime.bigint();
  let ok = 0;
  for (const token of tokens) {
    const dot = token.lastIndexOf('.');
    const data = Buffer.from(token.slice(0, dot));
    const sig = Buffer.from(token.slice(dot + 1), 'base64url');
    if (verify(hash, data, keyInput, sig)) ok++;
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (ok !== tokens.length) throw new Error('baseline failed to verify its own tokens');
  return tokens.length / seconds;
}

/** A Python with PyJWT and cryptography, or undefined (with one line saying how to get it). */
function findPython() {
  for (const python of [process.env.BENCH_PYTHON, 'python3', '/usr/bin/python3'].filter(Boolean)) {
    const r = spawnSync(python, ['-c', 'import jwt, cryptography'], { stdio: 'ignore' });
    if (r.status === 0) return python;
  }
  console.log('PyJWT peer skipped: no python3 with PyJWT (Debian: apt-get install -y python3-jwt; or BENCH_PYTHON=/path/to/python3)');
  return undefined;
}

/** Median tokens/s of RUNS runs of `args` (a process over the whole file), checking its lines. */
async function throughput(args, file, options = {}) {
  const runs = [];
  await runMeasured(args, { stdinFile: file, ...options }); // warm-up (disk cache, code cache)
  for (let i = 0; i < RUNS; i++) {
    const r = await runMeasured(args, { stdinFile: file, ...options });
    if (r.code !== 0 || r.lines !== COUNT) throw new Error(`${args.join(' ')} failed (exit ${r.code}, ${r.lines} lines): ${r.stderr}`);
    runs.push(r);
  }
  return { perSecond: median(runs.map((r) => COUNT / (r.ms / 1000))), rss: median(runs.map((r) => r.rss)) };
}

const mib = (bytes) => Number((bytes / 2 ** 20).toFixed(1));
const ratio = (a, b) => Number((a / b).toFixed(3));

ensureBuilt();
const python = findPython();
const dir = mkdtempSync(join(tmpdir(), 'authbridge-bench-'));
const results = { tokens: COUNT, runs: RUNS, budget: 1.0 };
for (const alg of ['RS256', 'ES256', 'EdDSA']) {
  const pair = makeKeyPair(alg);
  const jwksFile = join(dir, `${alg}.jwks.json`);
  writeFileSync(jwksFile, JSON.stringify(pair.jwks));
  const file = join(dir, `${alg}.txt`);
  const tokens = writeTokens(file, pair, COUNT);
  const args = ['verify', '--batch', '--jwks', jwksFile, '--issuer', ISSUER, '--audience', AUDIENCE];

  rawVerifyLoop(tokens.slice(0, 500), pair); // warm-up
  const baseline = median(Array.from({ length: RUNS }, () => rawVerifyLoop(tokens, pair)));
  const json = await throughput([BIN, ...args], file);
  const lean = await throughput([BIN, ...args, '--output', 'valid'], file);
  const jose = await throughput([JOSE_PEER, file, jwksFile, ISSUER, AUDIENCE]);
  const pyjwt = python ? await throughput([PYJWT_PEER, file, jwksFile, ISSUER, AUDIENCE], undefined, { command: python }) : undefined;
  const entry = {
    baseline_tokens_per_s: Math.round(baseline),
    cli_tokens_per_s: Math.round(json.perSecond),
    ratio: ratio(json.perSecond, baseline),
    lean_tokens_per_s: Math.round(lean.perSecond),
    lean_ratio: ratio(lean.perSecond, baseline),
    peak_rss_mib: mib(json.rss),
    lean_peak_rss_mib: mib(lean.rss),
    jose_tokens_per_s: Math.round(jose.perSecond),
    vs_jose: ratio(json.perSecond, jose.perSecond),
    pyjwt_tokens_per_s: pyjwt ? Math.round(pyjwt.perSecond) : null,
    vs_pyjwt: pyjwt ? ratio(json.perSecond, pyjwt.perSecond) : null,
  };
  console.log(
    `verify --batch ${alg}, ${COUNT} tokens with start-up: ${fmt(json.perSecond, 0)} tokens/s (--output valid: ${fmt(lean.perSecond, 0)}) ` +
      `vs node:crypto loop ${fmt(baseline, 0)} tokens/s → ${fmt(entry.ratio, 2)}x (lean ${fmt(entry.lean_ratio, 2)}x; budget ≥ 1.0x); ` +
      `peak RSS ${fmt(mib(json.rss))} MiB (lean ${fmt(mib(lean.rss))} MiB)`,
  );
  console.log(
    `  peers: jose.jwtVerify script ${fmt(jose.perSecond, 0)} tokens/s (authbridge ${fmt(entry.vs_jose, 2)}x)` +
      (pyjwt ? `, PyJWT loop ${fmt(pyjwt.perSecond, 0)} tokens/s (authbridge ${fmt(entry.vs_pyjwt, 2)}x)` : ''),
  );

  if (alg === 'RS256') {
    // One `authbridge verify TOKEN` process per token, as a shell loop would do it.
    const single = [BIN, 'verify', '--jwks', jwksFile, '--issuer', ISSUER, '--audience', AUDIENCE];
    timeRun(process.execPath, [...single, tokens[0]]); // warm-up
    let ms = 0;
    for (const token of tokens.slice(0, PER_PROCESS)) ms += timeRun(process.execPath, [...single, token]);
    const perSecond = PER_PROCESS / (ms / 1000);
    entry.per_process_tokens = PER_PROCESS;
    entry.per_process_tokens_per_s = Number(perSecond.toFixed(1));
    entry.vs_per_process = ratio(json.perSecond, perSecond);
    console.log(`  one \`authbridge verify\` process per token (${PER_PROCESS} tokens): ${fmt(perSecond)} tokens/s (--batch ${fmt(entry.vs_per_process, 0)}x)`);

    if (MILLION) {
      // The same tokens again and again: RSS is what is measured, not the signing of a million.
      const big = join(dir, `${alg}-million.txt`);
      const block = readFileSync(file);
      const copies = Math.ceil(1_000_000 / COUNT);
      writeFileSync(big, '');
      for (let i = 0; i < copies; i++) appendFileSync(big, block);
      const r = await runMeasured([BIN, ...args], { stdinFile: big });
      if (r.code !== 0 || r.lines !== copies * COUNT) throw new Error(`million run failed (exit ${r.code}, ${r.lines} lines): ${r.stderr}`);
      entry.million_tokens = copies * COUNT;
      entry.million_peak_rss_mib = mib(r.rss);
      entry.million_tokens_per_s = Math.round((copies * COUNT) / (r.ms / 1000));
      console.log(`  ${copies * COUNT} tokens: peak RSS ${fmt(mib(r.rss))} MiB (${COUNT}: ${fmt(mib(json.rss))} MiB), ${entry.million_tokens_per_s} tokens/s`);
    }
  }
  results[alg] = entry;
}
await record('verify_batch', results);
rmSync(dir, { recursive: true, force: true });
