// Figure 4: what `authbridge login` adds to the browser's own work. The demo IdP runs in this
// process; the "browser" is the demo's headless HTTP driver as a BROWSER script. Baseline: the
// same script alone doing the same HTTP steps (authorize, sign-in and consent pages, callback)
// against a bare loopback server. CLI: `authbridge login` with that script as BROWSER.
import { build } from 'esbuild';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, ROOT, ensureBuilt, fmt, median, record } from './lib.mjs';

const RUNS = Number(process.env.BENCH_RUNS_LOGIN ?? 10);
ensureBuilt();
const dir = mkdtempSync(join(tmpdir(), 'authbridge-bench-login-'));
// Inside node_modules/.cache, so the bundle resolves oidc-provider from the project.
const cacheDir = join(ROOT, 'node_modules', '.cache', 'authbridge-bench');
mkdirSync(cacheDir, { recursive: true });
const demo = join(cacheDir, 'demo.mjs');
await build({
  stdin: {
    contents: "export { startDemoIdp, DEMO_CLIENT_ID } from './idp.ts'; export { headlessLogin } from './headless.ts';",
    resolveDir: join(ROOT, 'src', 'demo'),
    loader: 'ts',
  },
  bundle: true,
  format: 'esm',
  platform: 'node',
  outfile: demo,
  external: ['oidc-provider'],
  nodePaths: [join(ROOT, 'node_modules')],
  logLevel: 'error',
});
const browser = join(dir, 'browser.mjs');
writeFileSync(
  browser,
  `import { headlessLogin } from ${JSON.stringify(demo)};
   const result = await headlessLogin(process.argv[2], { fetch });
   if (result.callbackStatus !== 200) process.exit(1);`,
);
const { startDemoIdp, DEMO_CLIENT_ID } = await import(demo);
const idp = await startDemoIdp();

function timed(args, env) {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`${args.join(' ')} exited ${code}: ${stderr.slice(-400)}`));
      else resolve(Number(process.hrtime.bigint() - start) / 1e6);
    });
  });
}

// Baseline: the browser script's HTTP steps alone, ending at a bare loopback server.
const loopback = createServer((req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('ok'));
await new Promise((r) => loopback.listen(0, '127.0.0.1', r));
const redirectUri = `http://127.0.0.1:${loopback.address().port}/callback`;
function authorizeUrl() {
  const verifier = randomBytes(32).toString('base64url');
  const url = new URL(`${idp.issuer}/auth`);
  url.search = new URLSearchParams({
    client_id: DEMO_CLIENT_ID,
    response_type: 'code',
    redirect_uri: redirectUri,
    scope: 'openid profile email offline_access',
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
    state: randomBytes(16).toString('base64url'),
    nonce: randomBytes(16).toString('base64url'),
    prompt: 'consent',
  }).toString();
  return url.href;
}

const env = (i) => ({
  PATH: process.env.PATH,
  HOME: join(dir, `home-${i}`),
  XDG_CONFIG_HOME: join(dir, `home-${i}`, 'config'),
  XDG_CACHE_HOME: join(dir, `home-${i}`, 'cache'),
  NO_COLOR: '1',
  AUTHBRIDGE_ISSUER: idp.issuer,
  AUTHBRIDGE_CLIENT_ID: DEMO_CLIENT_ID,
  BROWSER: `${process.execPath} ${browser}`,
});

await timed([browser, authorizeUrl()], process.env); // warm-up
await timed([BIN, 'login'], env('warm'));
const baseline = [];
const cli = [];
for (let i = 0; i < RUNS; i++) {
  baseline.push(await timed([browser, authorizeUrl()], process.env));
  cli.push(await timed([BIN, 'login'], env(i)));
}
loopback.close();
await idp.close();

const b = median(baseline);
const c = median(cli);
console.log(`browser script alone: ${fmt(b, 0)} ms; authbridge login with it: ${fmt(c, 0)} ms → the CLI adds ${fmt(c - b, 0)} ms (budget ≤ 150 ms), median of ${RUNS}`);
await record('login', { runs: RUNS, baseline_ms: Number(b.toFixed(1)), login_ms: Number(c.toFixed(1)), overhead_ms: Number((c - b).toFixed(1)), budget_ms: 150 });
rmSync(dir, { recursive: true, force: true });
