// Figure 3: the broker's token endpoint (RFC 8693 exchange of JWT subject tokens) under 50
// concurrent connections with autocannon, against a bare node:http server answering a fixed
// JSON body, both as separate processes measured the same way in the same run. Two mixes:
// existing customers only, and 50% first-time customers. Also the CPU time each server process
// (all its threads) spends per request, which a busy machine disturbs less than requests/s.
import autocannon from 'autocannon';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, ensureBuilt, fmt, record } from './lib.mjs';
import { exchangeForm, startBenchIdp } from './upstream.mjs';

const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
ensureBuilt();
const dir = mkdtempSync(join(tmpdir(), 'authbridge-bench-broker-'));

const idp = await startBenchIdp();
const { accessToken } = idp;
const form = exchangeForm;

function startProcess(args, readyPattern) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    const onData = (d) => {
      stderr += d;
      const m = readyPattern.exec(stderr);
      if (!m) return;
      // From here on, one log line a request: read and dropped, not kept and searched (that
      // would cost the load generator, on the same cores, more with every request).
      child.stderr.off('data', onData);
      child.stderr.on('data', () => {});
      resolve({ child, url: m[1] });
    };
    child.stderr.on('data', onData);
    child.on('exit', (code) => reject(new Error(`exited ${code}: ${stderr.slice(-500)}`)));
  });
}

function load(url, bodies, { path = '/', method = 'GET', headers = {} } = {}) {
  let i = 0;
  return autocannon({
    url,
    connections: CONNECTIONS,
    duration: DURATION,
    requests: [
      {
        method,
        path,
        headers,
        setupRequest: (req) => (bodies ? { ...req, body: bodies(i++) } : req),
      },
    ],
  });
}

/**
 * CPU seconds (user + system, every thread) a process has used so far, from /proc on Linux;
 * undefined elsewhere. CPU per request is steadier than requests/s on a busy machine.
 */
function cpuSeconds(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}

/** Runs `fn` (a load) and adds the microseconds of CPU `pid` spent per request during it. */
async function measured(pid, fn) {
  const before = cpuSeconds(pid);
  const result = await fn();
  const after = cpuSeconds(pid);
  result.cpuPerRequestUs = before === undefined || after === undefined ? undefined : ((after - before) * 1e6) / result.requests.total;
  return result;
}

const summary = (r) => ({
  requests_per_s: Math.round(r.requests.average),
  p50_ms: r.latency.p50,
  p99_ms: r.latency.p99,
  non_2xx: r.non2xx,
  errors: r.errors,
  cpu_us_per_request: r.cpuPerRequestUs === undefined ? null : Math.round(r.cpuPerRequestUs),
});

// Baseline: a bare node:http server answering a fixed JSON body of the same size.
const baselineScript = join(dir, 'bare.mjs');
writeFileSync(
  baselineScript,
  `import { createServer } from 'node:http';
   const body = JSON.stringify({ access_token: 'x'.repeat(520), issued_token_type: 'urn:ietf:params:oauth:token-type:access_token', token_type: 'Bearer', expires_in: 3600, account_status: 'existing' });
   const server = createServer((req, res) => { req.resume(); req.on('end', () => { res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }); res.end(body); }); });
   server.listen(0, '127.0.0.1', () => process.stderr.write('listening on http://127.0.0.1:' + server.address().port + '\\n'));`,
);
const bare = await startProcess([baselineScript], /listening on (http:\S+)/);
const existingPool = Array.from({ length: 500 }, (_, i) => accessToken(`existing-${i}`));
await load(bare.url, (i) => form(existingPool[i % existingPool.length]), { method: 'POST' }); // warm-up
const baseline = await measured(bare.child.pid, () =>
  load(bare.url, (i) => form(existingPool[i % existingPool.length]), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  }),
);
bare.child.kill('SIGTERM');

// The broker, a real `authbridge broker serve` process on a fresh SQLite file.
const configFile = join(dir, 'broker.json');
writeFileSync(
  configFile,
  JSON.stringify({
    clients: [{ clientId: 'cli', tokenEndpointAuthMethod: 'client_secret_basic', clientSecret: 's3cret' }],
    providers: [idp.provider],
  }),
);
// BENCH_NODE_ARGS (e.g. --cpu-prof) goes to the broker process, for profiling under load.
const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
const broker = await startProcess([...nodeArgs, BIN, 'broker', 'serve', '--config', configFile, '--port', '0', '--db', join(dir, 'broker.db')], /broker listening on (http:\S+)/);
const headers = { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from('cli:s3cret').toString('base64')}` };
const tokenPath = { method: 'POST', path: '/oauth/token', headers };
// Registers the pool's customers and warms the broker up.
await load(broker.url, (i) => form(existingPool[i % existingPool.length]), tokenPath);
const existing = await measured(broker.child.pid, () => load(broker.url, (i) => form(existingPool[i % existingPool.length]), tokenPath));
// 50% first-time customers: every other request carries a subject the broker has never seen.
const fresh = Array.from({ length: Math.ceil((existing.requests.total || 50_000) * 0.75) }, () => accessToken(`new-${randomUUID()}`));
const mixed = await measured(broker.child.pid, () =>
  load(broker.url, (i) => form(i % 2 ? fresh[(i >> 1) % fresh.length] : existingPool[i % existingPool.length]), tokenPath),
);
broker.child.kill('SIGTERM');
idp.close();
rmSync(dir, { recursive: true, force: true });

const ratio = existing.requests.average / baseline.requests.average;
const ratioMixed = mixed.requests.average / baseline.requests.average;
const cpu = (r) => (r.cpuPerRequestUs === undefined ? '' : `, ${fmt(r.cpuPerRequestUs, 0)} µs CPU a request`);
console.log(`bare node:http: ${fmt(baseline.requests.average, 0)} req/s (p50 ${baseline.latency.p50} ms, p99 ${baseline.latency.p99} ms${cpu(baseline)})`);
console.log(
  `broker POST /oauth/token, existing customers: ${fmt(existing.requests.average, 0)} req/s (p50 ${existing.latency.p50} ms, p99 ${existing.latency.p99} ms, non-2xx ${existing.non2xx}${cpu(existing)}) → ${fmt(ratio, 2)}x (budget ≥ 0.6x)`,
);
console.log(
  `broker POST /oauth/token, 50% first-time: ${fmt(mixed.requests.average, 0)} req/s (p50 ${mixed.latency.p50} ms, p99 ${mixed.latency.p99} ms, non-2xx ${mixed.non2xx}${cpu(mixed)}) → ${fmt(ratioMixed, 2)}x (budget ≥ 0.4x)`,
);
await record('broker_exchange', {
  connections: CONNECTIONS,
  duration_s: DURATION,
  baseline: summary(baseline),
  existing: summary(existing),
  first_time_50pct: summary(mixed),
  ratio: Number(ratio.toFixed(3)),
  ratio_first_time_50pct: Number(ratioMixed.toFixed(3)),
  budget: 0.6,
  budget_first_time_50pct: 0.4,
});
