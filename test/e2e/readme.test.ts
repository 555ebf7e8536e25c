/**
 * The README's Quick start, taken from README.md literally, so the two never drift: the commands
 * are there exactly, and the demo part runs (as `sh -c` would run it, from the checkout) with
 * exit 0. `npm ci` itself is not run here: the test suite already runs on an installed tree.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isolatedEnv, type RunResult } from '../helpers/cli.js';

const ROOT = resolve(import.meta.dirname, '../..');
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');

/** The lines of the first ```sh block under the "Quick start" heading. */
function quickStart(): string[] {
  const section = /^#{2,3} Quick start\s*$([\s\S]*?)(?=^#{1,3} )/m.exec(`${README}\n# end`)?.[1];
  expect(section, 'README.md has a "Quick start" section').toBeDefined();
  const block = /^```(?:sh|bash|shell)\n([\s\S]*?)^```/m.exec(section!)?.[1];
  expect(block, 'the Quick start has a ```sh block').toBeDefined();
  return block!.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
}

function sh(command: string, env: Record<string, string>, timeoutMs: number): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn('sh', ['-c', command], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, stdout, stderr });
    });
  });
}

describe('README Quick start', () => {
  it('holds exactly the two commands a newcomer runs', () => {
    const lines = quickStart();
    expect(lines).toContain('npm ci && npx authbridge demo --headless');
    expect(lines).toContain('npm test');
  });

  it('runs its demo command from the checkout with exit 0', async () => {
    const line = quickStart().find((l) => l.includes('authbridge demo'))!;
    // Everything after `npm ci &&`, as written.
    const command = line.replace(/^npm ci\s*&&\s*/, '');
    expect(command).toBe('npx authbridge demo --headless');
    const env = {
      ...isolatedEnv(),
      TMPDIR: mkdtempSync(join(tmpdir(), 'authbridge-readme-')),
      // npx from a fresh HOME: no update check, nothing fetched (the package is this checkout).
      npm_config_update_notifier: 'false',
      npm_config_offline: 'true',
      npm_config_cache: mkdtempSync(join(tmpdir(), 'authbridge-readme-npm-')),
    };
    const result = await sh(command, env, 60_000);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/✓ Every step worked\./);
  }, 60_000);
});
