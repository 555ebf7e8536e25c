// Builds dist/ with esbuild:
// - dist/cli.cjs: the program (commander, main) and the commands scripts run thousands of times
//   (decode, verify, status, token, config) as one CommonJS file, which bin/authbridge.js loads
//   synchronously and compiles with a V8 code cache: the start-up budget;
// - dist/lazy/*.cjs: what only some runs of those commands need (openid-client for a refresh or
//   `status --check`, proper-lockfile for a write): the named imports of src/runtime/lazy.ts,
//   required on first use so that cli.cjs and its code cache stay small;
// - dist/commands/<name>.js: every other command of src/main.ts's table as an ES module,
//   code-split into dist/chunks/, imported only when that command runs;
// - dist/index.js (the library) and the worker threads' scripts (`WORKERS`);
// - dist/errors.cjs: src/errors.ts, emitted once and required by every other bundle, so each error
//   class exists once per process and `instanceof` holds whichever bundle threw it. dist/cli.cjs
//   carries its own copy (one file less to load at start-up) and bin/authbridge.js registers that
//   copy as dist/errors.cjs in the module cache before anything else can load it.
// Files are replaced one by one (temp + rename), and stale files are removed only once old enough
// that no running process still needs them: a build never pulls dist/ from under a CLI or a test.
// `--if-stale` (npm's prepare and pretest) builds only when a source changed since the last build:
// `npx authbridge` in a checkout runs prepare again, and must not rebuild under running CLIs.
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const external = [
  // Native, or loading files relative to their own package at run time: kept as packages.
  'better-sqlite3',
  'oidc-provider',
  'fastify',
  'open',
  'playwright-core',
  'undici',
  // The OS keychain binding: a native addon, loaded only when a session lives in the keychain.
  '@napi-rs/keyring',
];
const outdir = resolve('dist');
const withTypes = !process.argv.includes('--no-types');
const STAMP = join(outdir, '.build-stamp.json');

/** What a build depends on: every source file's newest modification, and how many there are. */
function inputs() {
  const files = [];
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else files.push(path);
    }
  };
  for (const dir of ['src', 'scripts', 'bin']) walk(resolve(dir));
  for (const file of ['package.json', 'package-lock.json', 'tsconfig.json']) files.push(resolve(file));
  return { node: process.version, files: files.length, newest: Math.max(...files.map((f) => statSync(f).mtimeMs)) };
}

if (process.argv.includes('--if-stale')) {
  try {
    const stamp = JSON.parse(readFileSync(STAMP, 'utf8'));
    const now = inputs();
    const fresh =
      stamp.node === now.node && stamp.files === now.files && stamp.newest >= now.newest && (stamp.types || !withTypes) &&
      statSync(join(outdir, 'cli.cjs.cache')).isFile();
    if (fresh) process.exit(0);
  } catch {
    // No stamp (never built, or an older build): build.
  }
}
// Taken before building: a source edited during the build makes the next --if-stale build again.
const stamp = inputs();
rmSync(STAMP, { force: true });
/** Command modules inside dist/cli.cjs; the rest load from dist/commands/ when run. */
const HOT = new Set(['decode', 'verify', 'status', 'token', 'config']);
// The command modules are those of main.ts's table (`name: () => import('./commands/<file>.js')`).
const commands = [...readFileSync('src/main.ts', 'utf8').matchAll(/import\('\.\/commands\/([a-z-]+)\.js'\)/g)].map((m) => m[1]);
if (commands.length === 0) throw new Error('src/main.ts: no command modules found in its table');
const commandsApart = {
  name: 'commands-apart',
  setup(b) {
    b.onResolve({ filter: /^\.\/commands\/[a-z-]+\.js$/ }, (args) =>
      HOT.has(args.path.slice('./commands/'.length, -'.js'.length)) ? undefined : { path: args.path, external: true },
    );
  },
};

/** The imports of src/runtime/lazy.ts that go to dist/lazy/ (the file name there). */
const LAZY = { '../oidc/client.js': 'oidc-client', '../oidc/broker-client.js': 'broker-client', '../oidc/synerise.js': 'synerise', 'proper-lockfile': 'proper-lockfile' };
const LAZY_IMPORTER = resolve('src/runtime/lazy.ts');
const lazyApart = {
  name: 'lazy-apart',
  setup(b) {
    b.onResolve({ filter: /.*/ }, (args) =>
      args.importer === LAZY_IMPORTER && LAZY[args.path] ? { path: `./lazy/${LAZY[args.path]}.cjs`, external: true } : undefined,
    );
  },
};

/** src/errors.ts, once: every bundle but cli.cjs requires dist/errors.cjs (the placeholder is made relative below). */
const ERRORS_SOURCE = resolve('src/errors.ts');
const ERRORS_SPECIFIER = 'authbridge:errors';
const ERRORS_FILE = join(outdir, 'errors.cjs');
const errorsOnce = {
  name: 'errors-once',
  setup(b) {
    b.onResolve({ filter: /(^|\/)errors\.js$/ }, (args) =>
      resolve(args.resolveDir, args.path.replace(/\.js$/, '.ts')) === ERRORS_SOURCE ? { path: ERRORS_SPECIFIER, external: true } : undefined,
    );
  },
};

/** The worker threads' scripts (dist/<name>.js), as src/runtime/worker.ts names them. */
const WORKERS = {
  'verify-worker': 'src/flows/verify-worker.ts',
  'checkpoint-worker': 'src/broker/checkpoint-worker.ts',
  'crypto-worker': 'src/broker/crypto-worker.ts',
};
const common = { bundle: true, platform: 'node', target: 'node20', external, legalComments: 'none', logLevel: 'warning', write: false, plugins: [errorsOnce] };
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

// commander requires node:child_process when loaded, for executable subcommands (this program has
// none): required on first use instead, which spares every start a dozen Node built-in modules.
const lazyChildProcess = {
  name: 'lazy-child-process',
  setup(b) {
    b.onLoad({ filter: /[\\/]commander[\\/]lib[\\/]command\.js$/ }, (args) => {
      const source = readFileSync(args.path, 'utf8');
      const eager = "const childProcess = require('node:child_process');";
      if (!source.includes(eager)) throw new Error(`${args.path}: no "${eager}" left to make lazy`);
      const lazy = "const childProcess = { get spawn() { return require('node:child_process').spawn; } };";
      return { contents: source.replace(eager, lazy), loader: 'js' };
    });
  },
};
// chalk's supports-color guesses a colour level for chalk's default instances when loaded, which
// loads node:tty and node:os and asks the terminal: every start paid for it. This program never uses
// those instances (src/output/ makes each Chalk with the level it decided, `colorLevel`), so the
// guess is replaced by "no colour".
const noColorGuess = {
  name: 'no-color-guess',
  setup(b) {
    b.onResolve({ filter: /^#supports-color$/ }, () => ({ path: 'supports-color', namespace: 'no-color-guess' }));
    b.onLoad({ filter: /.*/, namespace: 'no-color-guess' }, () => ({
      contents: 'export function createSupportsColor() { return false; }\nexport default { stdout: false, stderr: false };\n',
      loader: 'js',
    }));
  },
};
const lazyCjs = { ...common, format: 'cjs', outdir: join(outdir, 'lazy'), outExtension: { '.js': '.cjs' } };

const results = await Promise.all([
  build({
    ...common,
    format: 'cjs',
    entryPoints: ['src/cli.ts'],
    outfile: join(outdir, 'cli.cjs'),
    plugins: [commandsApart, lazyApart, lazyChildProcess, noColorGuess],
    // bin/authbridge.js passes the file's URL in, as CommonJS has no import.meta.
    define: { 'import.meta.url': '__abModuleUrl' },
    // Whitespace and syntax only (names stay, for --debug's stack): 290 KB become 180 KB, which
    // V8 reads, scans and checks against the code cache at every start (~2 ms less).
    minifyWhitespace: true,
    minifySyntax: true,
  }),
  build({ ...esm, entryPoints: Object.fromEntries(commands.filter((c) => !HOT.has(c)).map((c) => [`commands/${c}`, `src/commands/${c}.ts`])) }),
  build({ ...lazyCjs, entryPoints: { 'oidc-client': 'src/oidc/client.ts', 'broker-client': 'src/oidc/broker-client.ts', synerise: 'src/oidc/synerise.ts' } }),
  // As an ES module's namespace, the shape `await import('proper-lockfile')` gives.
  build({ ...lazyCjs, stdin: { contents: "export { default } from 'proper-lockfile';", resolveDir: resolve('.') }, outfile: join(outdir, 'lazy', 'proper-lockfile.cjs'), outdir: undefined }),
  build({ ...esm, entryPoints: { index: 'src/index.ts', ...WORKERS }, chunkNames: 'lib/[name]-[hash]' }),
  build({ ...common, plugins: [], format: 'cjs', entryPoints: [ERRORS_SOURCE], outfile: join(outdir, 'errors.cjs') }),
]);
const outputs = results.flatMap((r) => r.outputFiles);

// Code compiled with vm.Script (for the code cache) has no import() of its own on Node 20: the
// CLI bundle's dynamic imports go through the `__abImport` that bin/authbridge.js passes in.
const cli = outputs.find((f) => f.path.endsWith('cli.cjs'));
const rewritten = cli.text.replace(/\bimport\("/g, '__abImport("');
if (/\bimport\(/.test(rewritten)) throw new Error('cli.cjs: an import() that is not import("…") was left');
Object.defineProperty(cli, 'contents', { value: new TextEncoder().encode(rewritten) });

for (const file of outputs.filter((f) => /\.(c?js)$/.test(f.path))) {
  // Each bundle's import of the shared errors module, as a path relative to that file.
  let relativePath = relative(dirname(file.path), ERRORS_FILE);
  if (!relativePath.startsWith('.')) relativePath = `./${relativePath}`;
  const text = file.text
    .replaceAll(`"${ERRORS_SPECIFIER}"`, JSON.stringify(relativePath))
    // ASCII only. One character above U+00FF anywhere (esbuild keeps comments, and an em dash in
    // one sufficed) makes V8 hold the whole source as a two-byte string: for dist/cli.cjs, reading,
    // scanning and checking it against the code cache cost 2 ms more at every start. `\uXXXX`
    // means the same in a string, a template, a regular expression, an identifier or a comment.
    .replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  if (text.includes(ERRORS_SPECIFIER)) throw new Error(`${file.path}: an import of the errors module was not rewritten`);
  Object.defineProperty(file, 'contents', { value: new TextEncoder().encode(text) });
}

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
for (const dir of ['chunks', 'lib', 'commands', 'lazy'].map((d) => join(outdir, d))) {
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

if (withTypes) {
  const tsc = spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json', '--emitDeclarationOnly'], {
    stdio: 'inherit',
  });
  if (tsc.status !== 0) process.exit(tsc.status ?? 1);
}

writeFileSync(STAMP, `${JSON.stringify({ ...stamp, types: withTypes })}\n`);
