// Loads dist/cli.cjs synchronously as a vm.Script with a V8 code cache beside it
// (dist/cli.cjs.cache): the program's JavaScript is not parsed and compiled again on every start.
// A missing or foreign cache (another Node version) is rejected by V8 and the code compiled as usual.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Script } from 'node:vm';

export const CLI_FILE = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'cli.cjs');
export const CACHE_FILE = `${CLI_FILE}.cache`;

/**
 * Compiles and runs dist/cli.cjs. Returns its exports and the Script (for `createCachedData`).
 * `useCache: false` compiles from source (the build's warm-up writes a fresh cache).
 */
export function loadCli({ useCache = true } = {}) {
  let cachedData;
  if (useCache) {
    try {
      cachedData = readFileSync(CACHE_FILE);
    } catch {
      cachedData = undefined;
    }
  }
  const script = new Script(
    `(function (exports, require, module, __filename, __dirname, __abImport, __abModuleUrl) {${readFileSync(CLI_FILE, 'utf8')}\n})`,
    { filename: CLI_FILE, cachedData },
  );
  const url = pathToFileURL(CLI_FILE);
  // The bundle's dynamic imports (command modules, packages loaded on demand) resolve from here.
  const importer = (specifier) => import(specifier.startsWith('.') ? new URL(specifier, url).href : specifier);
  const cli = { exports: {} };
  script.runInThisContext()(cli.exports, createRequire(CLI_FILE), cli, CLI_FILE, dirname(CLI_FILE), importer, url.href);
  return { exports: cli.exports, script, cached: cachedData !== undefined && !script.cachedDataRejected };
}

/** Writes the code cache of `script` (atomically); a read-only install simply keeps none. */
export function saveCache(script) {
  try {
    const temp = `${CACHE_FILE}.${process.pid}.tmp`;
    writeFileSync(temp, script.createCachedData());
    renameSync(temp, CACHE_FILE);
  } catch {
    // Not writable (a system-wide install): start without a cache.
  }
}
