// Bundles the CLI and the library with esbuild (code-split, so each command's chunk loads only
// when that command runs), then emits type declarations for the library.
//
// Files are replaced one by one (temp + rename), chunks before the entry points that import
// them, and stale chunks are removed only once old enough that no running process still needs
// them: a build never pulls dist/ from under a CLI process or a test run using it.
import { build } from 'esbuild';
import { mkdirSync, readdirSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join, relative, resolve } from 'node:path';

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
const result = await build({
  entryPoints: { cli: 'src/cli.ts', index: 'src/index.ts', 'verify-worker': 'src/flows/verify-worker.ts' },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external,
  chunkNames: 'chunks/[name]-[hash]',
  sourcemap: 'linked',
  legalComments: 'none',
  logLevel: 'warning',
  write: false,
  // Bundled CommonJS dependencies (commander) call require() for Node built-ins.
  banner: { js: "import { createRequire as __abCreateRequire } from 'node:module'; const require = __abCreateRequire(import.meta.url);" },
});

const isEntry = (path) => /^(cli|index|verify-worker)\.js(\.map)?$/.test(relative(outdir, path));
const ordered = [...result.outputFiles.filter((f) => !isEntry(f.path)), ...result.outputFiles.filter((f) => isEntry(f.path))];
for (const file of ordered) {
  mkdirSync(dirname(file.path), { recursive: true });
  const temp = `${file.path}.${process.pid}.tmp`;
  writeFileSync(temp, file.contents);
  renameSync(temp, file.path);
}

const current = new Set(result.outputFiles.map((f) => f.path));
const STALE_MS = 10 * 60 * 1000;
const chunks = join(outdir, 'chunks');
for (const name of readdirSync(chunks)) {
  const path = join(chunks, name);
  if (!current.has(path) && Date.now() - statSync(path).mtimeMs > STALE_MS) unlinkSync(path);
}

if (!process.argv.includes('--no-types')) {
  const tsc = spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json', '--emitDeclarationOnly'], {
    stdio: 'inherit',
  });
  if (tsc.status !== 0) process.exit(tsc.status ?? 1);
}
