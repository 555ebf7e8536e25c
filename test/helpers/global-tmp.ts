/**
 * vitest's globalSetup: the whole run's temporary files go under one directory of its own, removed
 * when the run ends, so `npm test` leaves nothing in /tmp. TMPDIR is set before the workers start:
 * they, `os.tmpdir()` in every test, and the CLIs the tests spawn (test/helpers/cli.ts passes
 * TMPDIR on) all use it.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default function setup(): () => void {
  const previous = process.env.TMPDIR;
  const dir = mkdtempSync(join(tmpdir(), 'authbridge-vitest-'));
  // Others may pass through (not list it): the PostgreSQL server the tests start runs as the
  // `postgres` user, in a data directory of its own under this one (test/helpers/postgres.ts).
  chmodSync(dir, 0o711);
  process.env.TMPDIR = dir;
  return () => {
    if (previous === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = previous;
    rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  };
}
