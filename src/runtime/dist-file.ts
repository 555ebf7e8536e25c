import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * A file the build puts at the top of dist/ (a worker thread's script), found from the bundle
 * running this code: dist/cli.cjs, or a module in dist/chunks/, dist/commands/, dist/lib/ or dist/lazy/.
 * Undefined when running from the TypeScript sources (tests), where there is no such file.
 */
export function distFile(name: string): string | undefined {
  const here = fileURLToPath(import.meta.url);
  if (!here.endsWith('.js') && !here.endsWith('.cjs')) return undefined;
  const dir = dirname(here);
  return join(/[\\/](chunks|commands|lib|lazy)$/.test(dir) ? dirname(dir) : dir, name);
}
