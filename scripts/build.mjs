// Builds dist/ with esbuild:
// - dist/cli.cjs: the program (commander, main) and the commands scripts run thousands of times
//   (decode, verify, status, token, config) as one CommonJS file, which bin/authbridge.js loads
//   synchronously and compiles with a V8 code cache: the start-up budget;
// - dist/commands/<name>.js: every other command as an ES module, code-split into dist/chunks/,
//   imported only when that command runs;
// - dist/index.js (the library), dist/verify-worker.js and dist/checkpoint-worker.js.
// Files are replaced one by one (temp + rename), and stale files are removed only once old enough
// that no running process still needs them: a build never pulls dist/ from under a CLI or a test.
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

const external = [
  // Native, or loading files relative to their own package at run time: kept as packages.
  'better-sqlite3',
  'oidc-provider',
  'fastify',
  'open',
  'playwright-core',
  'undici',
];
const outdir = resolve('dist');
const common = { bundle: true, platform: 'node', target: 'node20', external, legalComments: 'none', logLevel: 'warning', write: false };
const esm = {
  ...common,
  format: 'esm',
  splitting: true,
  outdir,
  chunkNames: 'chunks/[name]-[hash]',
  sourcemap: 'linked',
  // Bundled CommonJS dependencies call require() for Node built-ins.
  banner: { js: "import { createRequire as __abCreateRequire } from 'node:module'; const require = __abCreateRequire(import.meta.url);" },
};

/** Commands inside dist/cli.cjs; the rest load from dist/commands/ when run. */
const HOT = new Set(['decode', 'verify', 'status', 'token', 'config']);
const commands = readdirSync('src/commands')
  .filter((f) => f.endsWith('.ts') && f !== 'input.ts')
  .map((f) => f.slice(0, -3));
const commandsApart = {
  name: 'commands-apart',
  setup(b) {
    b.onResolve({ filter: /^\.\/commands\/[a-z-]+\.js$/ }, (args) =>
      HOT.has(args.path.slice('./commands/'.length, -'.js'.length)) ? undefined : { path: args.path, external: true },
    );
  },
};

const results = await Promise.all([
  build({
    ...common,
    format: 'cjs',
    entryPoints: ['src/cli.ts'],
    outfile: join(outdir, 'cli.cjs'),
    plugins: [commandsApart],
    // bin/authbridge.js passes the file's URL in, as CommonJS has no import.meta.
    define: { 'import.meta.url': '__abModuleUrl' },
  }),
  build({ ...esm, entryPoints: Object.fromEntries(commands.filter((c) => !HOT.has(c)).map((c) => [`commands/${c}`, `src/commands/${c}.ts`])) }),
  build({ ...esm, entryPoints: { index: 'src/index.ts', 'verify-worker': 'src/flows/verify-worker.ts', 'checkpoint-worker': 'src/broker/checkpoint-worker.ts' }, chunkNames: 'lib/[name]-[hash]' }),
]);
const outputs = results.flatMap((r) => r.outputFiles);

// Code compiled with vm.Script (for the code cache) has no import() of its own on Node 20: the
// CLI bundle's dynamic imports go through the `__abImport` that bin/authbridge.js passes in.
const cli = outputs.find((f) => f.path.endsWith('cli.cjs'));
const rewritten = cli.text.replace(/\bimport\("/g, '__abImport("');
if (/\bimport\(/.test(rewritten)) throw new Error('cli.cjs: an import() that is not import("…") was left');
Object.defineProperty(cli, 'contents', { value: new TextEncoder().encode(rewritten) });

// Chunks before the files that import them; the CLI entry last.
const rank = (path) => (path.endsWith('cli.cjs') ? 2 : /[\\/](chunks|lib)[\\/]/.test(path) ? 0 : 1);
for (const file of [...outputs].sort((a, b) => rank(a.path) - rank(b.path))) {
  mkdirSync(dirname(file.path), { recursive: true });
  const temp = `${file.path}.${process.pid}.tmp`;
  writeFileSync(temp, file.contents);
  renameSync(temp, file.path);
}
// A new cli.cjs makes its code cache stale.
rmSync(join(outdir, 'cli.cjs.cache'), { force: true });

const current = new Set(outputs.map((f) => f.path));
const STALE_MS = 10 * 60 * 1000;
for (const dir of ['chunks', 'lib', 'commands'].map((d) => join(outdir, d))) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (!current.has(path) && Date.now() - statSync(path).mtimeMs > STALE_MS) unlinkSync(path);
  }
}
// The earlier layout's entry (an ES module dist/cli.js) goes at once.
for (const name of ['cli.js', 'cli.js.map']) rmSync(join(outdir, name), { force: true });

// Write the code cache now, with the hot commands compiled, so the first real run starts fast.
const warm = spawnSync(process.execPath, [resolve('scripts/warm-cache.mjs')], { stdio: 'inherit' });
if (warm.status !== 0) process.exit(warm.status ?? 1);

if (!process.argv.includes('--no-types')) {
  const tsc = spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json', '--emitDeclarationOnly'], {
    stdio: 'inherit',
  });
  if (tsc.status !== 0) process.exit(tsc.status ?? 1);
}
