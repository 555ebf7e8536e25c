// Shared helpers for the benchmarks: timing, medians, the results file.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const BIN = join(ROOT, 'bin', 'authbridge.js');
export const RESULTS = join(ROOT, 'bench', 'results.json');
export const RSS_REPORTER = join(ROOT, 'bench', 'rss-reporter.mjs');

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function percentile(values, p) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** Wall-clock milliseconds of one synchronous run of a command. */
export function timeRun(cmd, args, options = {}) {
  const start = process.hrtime.bigint();
  const result = spawnSync(cmd, args, { stdio: ['pipe', 'ignore', 'pipe'], ...options });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (result.status !== (options.expectStatus ?? 0)) {
    throw new Error(`${cmd} ${args.join(' ')} exited ${result.status}: ${result.stderr?.toString().slice(0, 300)}`);
  }
  return ms;
}

/**
 * Runs a child with stdin read straight from a file and stdout written straight to a file (no
 * pipe through this process), and returns wall ms, its peak RSS (bytes, reported by
 * bench/rss-reporter.mjs on fd 3) and the number of lines it wrote.
 */
export function runMeasured(args, { stdinFile, env, command } = {}) {
  return new Promise((resolvePromise, reject) => {
    const outFile = join(mkdtempSync(join(tmpdir(), 'authbridge-bench-out-')), 'stdout');
    const stdin = stdinFile ? openSync(stdinFile, 'r') : 'ignore';
    const stdout = openSync(outFile, 'w');
    const start = process.hrtime.bigint();
    // `command`: another program (a peer); its RSS is not reported.
    const child = spawn(command ?? process.execPath, command ? args : ['--import', RSS_REPORTER, ...args], {
      stdio: [stdin, stdout, 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
    let rss = 0;
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.stdio[3].on('data', (d) => (rss = Number(String(d).trim())));
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      if (typeof stdin === 'number') closeSync(stdin);
      closeSync(stdout);
      const lines = countLines(outFile);
      rmSync(dirname(outFile), { recursive: true, force: true });
      resolvePromise({ code, ms, rss, lines, stderr });
    });
  });
}

/** Line feeds in `file`, read a megabyte at a time (a million tokens' output is ~800 MB). */
export function countLines(file) {
  const fd = openSync(file, 'r');
  const buf = Buffer.alloc(1 << 20);
  let lines = 0;
  try {
    for (let n = readSync(fd, buf); n > 0; n = readSync(fd, buf)) {
      for (let i = buf.indexOf(10); i !== -1 && i < n; i = buf.indexOf(10, i + 1)) lines++;
    }
  } finally {
    closeSync(fd);
  }
  return lines;
}

/** Merges `entry` under `name` into bench/results.json, with the machine it was taken on. */
export async function record(name, entry) {
  const { cpus, totalmem } = await import('node:os');
  const results = existsSync(RESULTS) ? JSON.parse(readFileSync(RESULTS, 'utf8')) : {};
  results.machine = {
    cpus: cpus().length,
    cpu: cpus()[0]?.model,
    memory_gib: Math.round(totalmem() / 2 ** 30),
    node: process.version,
  };
  results[name] = { ...entry, measured_at: new Date().toISOString() };
  writeFileSync(RESULTS, `${JSON.stringify(results, null, 2)}\n`);
}

export function fmt(n, digits = 1) {
  return Number(n).toFixed(digits);
}

export function ensureBuilt() {
  if (!existsSync(join(ROOT, 'dist', 'cli.cjs'))) {
    const r = spawnSync(process.execPath, [join(ROOT, 'scripts', 'build.mjs'), '--no-types'], { stdio: 'inherit', cwd: ROOT });
    if (r.status !== 0) process.exit(1);
  }
}
