#!/usr/bin/env node
// The executable. CommonJS (bin/package.json says so, the package itself being "type": "module"):
// a CommonJS entry starts without Node's ES module loader, a few milliseconds of the start-up budget.
//
// Loads dist/cli.cjs synchronously as a vm.Script with a V8 code cache beside it
// (dist/cli.cjs.cache): the program's JavaScript is not parsed and compiled again on every start.
// A missing or foreign cache (another Node version) is rejected by V8 and the code compiled as usual.
'use strict';
const { readFileSync, renameSync, writeFileSync } = require('node:fs');
const { Module, createRequire } = require('node:module');
const { dirname, join } = require('node:path');
const { pathToFileURL } = require('node:url');
const { Script } = require('node:vm');

const CLI_FILE = join(__dirname, '..', 'dist', 'cli.cjs');
const CACHE_FILE = `${CLI_FILE}.cache`;
const ERRORS_FILE = join(__dirname, '..', 'dist', 'errors.cjs');

/**
 * The error classes exist once per process, so `instanceof` holds whichever bundle threw: every
 * bundle but cli.cjs requires dist/errors.cjs, and here that file is answered from the module
 * cache with cli.cjs's own copy (loading the file would cost start-up time for nothing).
 */
function registerErrors(errors) {
  if (require.cache[ERRORS_FILE]) return;
  const shared = new Module(ERRORS_FILE, module);
  shared.filename = ERRORS_FILE;
  shared.exports = errors;
  shared.loaded = true;
  require.cache[ERRORS_FILE] = shared;
}

/**
 * Compiles and runs dist/cli.cjs. Returns its exports and the Script (for `createCachedData`).
 * `useCache: false` compiles from source (the build's warm-up writes a fresh cache).
 */
function loadCli({ useCache = true } = {}) {
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
  const cliRequire = createRequire(CLI_FILE);
  // The bundle's dynamic imports (command modules, packages loaded on demand) resolve from here;
  // its lazily loaded CommonJS parts (dist/lazy/*.cjs) are required, without the ES module loader.
  const importer = (specifier) =>
    specifier.endsWith('.cjs')
      ? Promise.resolve().then(() => cliRequire(specifier))
      : import(specifier.startsWith('.') ? new URL(specifier, url).href : specifier);
  const cli = { exports: {} };
  script.runInThisContext()(cli.exports, cliRequire, cli, CLI_FILE, dirname(CLI_FILE), importer, url.href);
  registerErrors(cli.exports.errors);
  return { exports: cli.exports, script, cached: cachedData !== undefined && !script.cachedDataRejected };
}

/** Writes the code cache of `script` (atomically); a read-only install simply keeps none. */
function saveCache(script) {
  try {
    const temp = `${CACHE_FILE}.${process.pid}.tmp`;
    writeFileSync(temp, script.createCachedData());
    renameSync(temp, CACHE_FILE);
  } catch {
    // Not writable (a system-wide install): start without a cache.
  }
}

module.exports = { CLI_FILE, CACHE_FILE, loadCli, saveCache };

// Run as the program (not required by scripts/warm-cache.mjs).
if (require.main === module) {
  const { exports: cli, script, cached } = loadCli();
  cli.main(process.argv, cli.nodeContext()).then((code) => {
    process.exitCode = code;
    // No usable cache (first run after an install or a Node upgrade): leave one for the next start.
    // Not from a run with V8 flags of its own (--cpu-prof, NODE_OPTIONS=…): V8 rejects a cache made
    // under other flags, so that one would be rejected, and replaced, by every plain run after it.
    if (!cached && process.execArgv.length === 0 && !process.env.NODE_OPTIONS) saveCache(script);
  });
}
