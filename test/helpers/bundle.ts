/** Bundles one source module to a temp .mjs so child processes (real, separate) can run it. */
import { build } from 'esbuild';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export async function bundleModule(sourcePath: string, contents: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'authbridge-bundle-'));
  const outfile = join(dir, 'entry.mjs');
  await build({
    stdin: { contents, resolveDir: resolve(import.meta.dirname, '../..', sourcePath, '..'), sourcefile: 'entry.ts', loader: 'ts' },
    bundle: true,
    format: 'esm',
    platform: 'node',
    outfile,
    logLevel: 'error',
    nodePaths: [resolve(import.meta.dirname, '../../node_modules')],
    banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
  });
  return outfile;
}
