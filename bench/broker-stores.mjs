// Figure 3b: the broker's token endpoint on its two stores. PostgreSQL (a real server started
// here, as the tests do) with one and with two `broker serve` instances on one database (the
// load split between them), existing and 50% first-time customers; and SQLite with
// BENCH_SQLITE_ROWS (default 1,000,000) customers and sessions in the file against an empty one.
// On a shared 2-core machine req/s is noisy: the CPU time per request (broker processes, and the
// PostgreSQL server's processes) is the steadier figure.
// Knobs: BENCH_DURATION (s a load, default 10), BENCH_CONNECTIONS (default 50),
// BENCH_SQLITE_ROWS (0 skips the SQLite part), BENCH_POSTGRES=0 skips the PostgreSQL part.
import autocannon from 'autocannon';
import Database from 'better-sqlite3';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as netServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, ensureBuilt, fmt, record } from './lib.mjs';
import { exchangeForm, startBenchIdp } from './upstream.mjs';

const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const WARMUP = Math.min(3, DURATION);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const SQLITE_ROWS = Number(process.env.BENCH_SQLITE_ROWS ?? 1_000_000);
const POSTGRES = process.env.BENCH_POSTGRES !== '0';
ensureBuilt();
const dir = mkdtempSync(join(tmpdir(), 'authbridge-bench-stores-'));

const idp = await startBenchIdp();
const { accessToken } = idp;
const form = exchangeForm;
const configFile = join(dir, 'broker.json');
writeFileSync(
  configFile,
  JSON.stringify({
    issuer: 'https://broker.bench.test',
    clients: [{ clientId: 'cli', tokenEndpointAuthMethod: 'client_secret_basic', clientSecret: 's3cret' }],
    providers: [idp.provider],
  }),
);
const headers = { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from('cli:s3cret').toString('base64')}` };

function startBroker(db) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'broker', 'serve', '--config', configFile, '--port', '0', '--db', db], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    const onData = (d) => {
      stderr += d;
      const m = /broker listening on (http:\S+)/.exec(stderr);
      if (!m) return;
      child.stderr.off('data', onData);
      child.stderr.on('data', () => {});
      resolve({ child, url: m[1], stop: () => new Promise((r) => (child.once('exit', r), child.kill('SIGTERM'))) });
    };
    child.stderr.on('data', onData);
    child.on('exit', (code) => reject(new Error(`broker exited ${code}: ${stderr.slice(-500)}`)));
  });
}

/** CPU seconds (user + system) of the processes `pids`, from /proc. */
function cpuSeconds(pids) {
  let total = 0;
  for (const pid of pids) {
    try {
      const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
      total += (Number(f[11]) + Number(f[12])) / 100;
    } catch {}
  }
  return total;
}
/** The PostgreSQL server's processes: the postmaster and its children (one backend a connection). */
function postgresPids(postmaster) {
  const pids = [postmaster];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (Number(readFileSync(`/proc/${entry}/stat`, 'utf8').split(') ')[1].split(' ')[1]) === postmaster) pids.push(Number(entry));
    } catch {}
  }
  return pids;
}

/** Loads every url in `urls` at once (connections split between them) for `duration` s; sums. */
async function load(urls, body, duration = DURATION) {
  let i = 0;
  const runs = await Promise.all(
    urls.map((url) =>
      autocannon({
        url,
        connections: Math.max(1, Math.round(CONNECTIONS / urls.length)),
        duration,
        requests: [{ method: 'POST', path: '/oauth/token', headers, setupRequest: (req) => ({ ...req, body: body(i++) }) }],
      }),
    ),
  );
  return {
    requests_per_s: runs.reduce((s, r) => s + r.requests.average, 0),
    total: runs.reduce((s, r) => s + r.requests.total, 0),
    p50_ms: Math.max(...runs.map((r) => r.latency.p50)),
    p99_ms: Math.max(...runs.map((r) => r.latency.p99)),
    non_2xx: runs.reduce((s, r) => s + r.non2xx, 0),
    errors: runs.reduce((s, r) => s + r.errors, 0),
  };
}
/** A load, with the CPU µs a request of the broker processes (`brokerPids`) and of the database's (`dbPids()`). */
async function measured(urls, body, brokerPids, dbPids = () => []) {
  const db0 = dbPids();
  const [b0, d0] = [cpuSeconds(brokerPids), cpuSeconds(db0)];
  const r = await load(urls, body);
  const db1 = dbPids();
  const [b1, d1] = [cpuSeconds(brokerPids), cpuSeconds(db1)];
  return {
    ...r,
    requests_per_s: Math.round(r.requests_per_s),
    broker_cpu_us_per_request: Math.round(((b1 - b0) * 1e6) / r.total),
    db_cpu_us_per_request: db0.length ? Math.round(((d1 - d0) * 1e6) / r.total) : null,
  };
}
const line = (label, r) =>
  console.log(
    `${label}: ${r.requests_per_s} req/s (p50 ${r.p50_ms} ms, p99 ${r.p99_ms} ms, non-2xx ${r.non_2xx}, broker ${r.broker_cpu_us_per_request} µs CPU a request${r.db_cpu_us_per_request === null ? '' : `, PostgreSQL ${r.db_cpu_us_per_request} µs`})`,
  );

const existingPool = Array.from({ length: 500 }, (_, i) => accessToken(`existing-${i}`));
const existingBody = (i) => form(existingPool[i % existingPool.length]);
const mixedBody = (i) => form(i % 2 ? accessToken(`new-${randomUUID()}`) : existingPool[i % existingPool.length]);
const results = { connections: CONNECTIONS, duration_s: DURATION };

// --- PostgreSQL -----------------------------------------------------------------------------
function postgresBin() {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const v = readdirSync(root).filter((x) => existsSync(join(root, x, 'bin', 'pg_ctl'))).sort((a, b) => Number(b) - Number(a))[0];
  return v && join(root, v, 'bin');
}
function asPostgres(bin, args) {
  const root = process.getuid?.() === 0;
  const r = spawnSync(root ? 'runuser' : bin, root ? ['-u', 'postgres', '--', bin, ...args] : args, { encoding: 'utf8', cwd: '/' });
  if (r.status !== 0) throw new Error(`${bin} failed: ${r.stderr}`);
}
const bin = postgresBin();
if (POSTGRES && bin) {
  const pgDir = mkdtempSync(join(tmpdir(), 'authbridge-bench-pg-'));
  if (process.getuid?.() === 0) {
    chownSync(pgDir, Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' })), Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' })));
  }
  const data = join(pgDir, 'data');
  asPostgres(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync', '--no-instructions']);
  const port = await new Promise((r) => {
    const s = netServer().listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => r(p));
    });
  });
  // Durable (fsync on, synchronous_commit on): the figures of a real deployment, on this disk.
  asPostgres(join(bin, 'pg_ctl'), ['-D', data, '-o', `-h 127.0.0.1 -p ${port} -k ${pgDir} -c max_connections=200`, '-l', join(pgDir, 'log'), '-w', 'start']);
  const postmaster = Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
  const dbPids = () => postgresPids(postmaster);
  try {
    for (const instances of [1, 2]) {
      const name = `bench${instances}`;
      spawnSync(join(bin, 'createdb'), ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', name]);
      const url = `postgres://postgres@127.0.0.1:${port}/${name}`;
      const brokers = [];
      for (let i = 0; i < instances; i++) brokers.push(await startBroker(url));
      const urls = brokers.map((b) => b.url);
      const pids = brokers.map((b) => b.child.pid);
      await load(urls, existingBody, WARMUP);
      const existing = await measured(urls, existingBody, pids, dbPids);
      const mixed = await measured(urls, mixedBody, pids, dbPids);
      line(`PostgreSQL, ${instances} instance${instances > 1 ? 's' : ''}, existing customers`, existing);
      line(`PostgreSQL, ${instances} instance${instances > 1 ? 's' : ''}, 50% first-time`, mixed);
      results[`postgres_${instances}_instance${instances > 1 ? 's' : ''}`] = { existing, first_time_50pct: mixed };
      await Promise.all(brokers.map((b) => b.stop()));
    }
  } finally {
    asPostgres(join(bin, 'pg_ctl'), ['-D', data, '-m', 'fast', '-w', 'stop']);
    rmSync(pgDir, { recursive: true, force: true });
  }
} else if (POSTGRES) {
  console.log('PostgreSQL is not installed (apt-get install postgresql): its figures are skipped');
}

// --- SQLite: an empty file against one with SQLITE_ROWS customers and sessions --------------
if (SQLITE_ROWS > 0) {
  const figures = {};
  for (const [label, rows] of [['empty', 0], [`rows_${SQLITE_ROWS}`, SQLITE_ROWS]]) {
    const db = join(dir, `sqlite-${rows}.db`);
    // The schema and key, as the broker makes them; then the rows, as a long-running broker would have them.
    const first = await startBroker(db);
    await first.stop();
    if (rows > 0) {
      const started = Date.now();
      const sqlite = new Database(db);
      const customer = sqlite.prepare("INSERT INTO customers (id, provider, subject, fields, created_at, updated_at) VALUES (?, 'idp', ?, ?, ?, ?)");
      const session = sqlite.prepare("INSERT INTO sessions (customer_id, sid, client_id, created_at, expires_at) VALUES (?, ?, 'cli', ?, ?)");
      const now = Date.now();
      // Random ids as the broker makes them, inserted in key order: the same b-trees, built in
      // seconds rather than minutes.
      const ids = Array.from({ length: rows }, () => randomUUID()).sort();
      sqlite.pragma('synchronous = OFF');
      sqlite.transaction(() => {
        ids.forEach((id, i) => {
          const subject = `seed-${String(i).padStart(9, '0')}`;
          customer.run(id, subject, `{"email":"${subject}@example.test"}`, now, now);
          session.run(id, randomUUID(), now, now + 3600_000);
        });
      })();
      sqlite.close();
      console.log(`seeded ${rows} customers and sessions in ${fmt((Date.now() - started) / 1000)} s`);
    }
    const broker = await startBroker(db);
    await load([broker.url], existingBody, WARMUP);
    const existing = await measured([broker.url], existingBody, [broker.child.pid]);
    const mixed = await measured([broker.url], mixedBody, [broker.child.pid]);
    await broker.stop();
    line(`SQLite, ${rows} rows, existing customers`, existing);
    line(`SQLite, ${rows} rows, 50% first-time`, mixed);
    figures[label] = { existing, first_time_50pct: mixed };
  }
  const big = figures[`rows_${SQLITE_ROWS}`];
  const slowdown = (key) => Number((1 - big[key].requests_per_s / figures.empty[key].requests_per_s).toFixed(3));
  const cpuGrowth = (key) => Number((big[key].broker_cpu_us_per_request / figures.empty[key].broker_cpu_us_per_request - 1).toFixed(3));
  results.sqlite = { rows: SQLITE_ROWS, ...figures, slowdown: slowdown('existing'), slowdown_first_time_50pct: slowdown('first_time_50pct'), cpu_growth: cpuGrowth('existing'), budget_slowdown: 0.2 };
  console.log(`SQLite with ${SQLITE_ROWS} rows against empty: ${fmt(results.sqlite.slowdown * 100)}% fewer req/s existing, ${fmt(results.sqlite.slowdown_first_time_50pct * 100)}% with 50% first-time; CPU a request ${fmt(results.sqlite.cpu_growth * 100)}% (budget: 20% slower at most)`);
}

idp.close();
rmSync(dir, { recursive: true, force: true });
await record('broker_stores', results);
