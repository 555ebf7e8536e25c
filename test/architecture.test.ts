/**
 * The structure of src/ as docs/architecture.md describes it: no import cycle, imports flowing one
 * way (.dependency-cruiser.cjs), and the "where is …" table pointing at code that is there.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..');

interface Violation {
  from: string;
  to: string;
  rule: { name: string };
  cycle?: Array<{ name: string }>;
}

describe('the import graph of src/', () => {
  it('has no cycle and keeps every layer rule', async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [join(ROOT, 'node_modules/dependency-cruiser/bin/dependency-cruise.mjs'), 'src', '--config', '.dependency-cruiser.cjs', '--output-type', 'json'],
      { cwd: ROOT, maxBuffer: 64 * 1024 * 1024 },
    ).catch((err: { stdout?: string }) => ({ stdout: err.stdout ?? '' }));
    const summary = (JSON.parse(stdout) as { summary: { violations: Violation[]; totalCruised: number } }).summary;
    const described = summary.violations.map((v) => `${v.rule.name}: ${v.from} → ${v.to}${v.cycle ? ` (${v.cycle.map((c) => c.name).join(' → ')})` : ''}`);
    expect(described).toEqual([]);
    expect(summary.totalCruised).toBeGreaterThan(80);
  }, 60_000);
});

describe('docs/architecture.md', () => {
  const doc = readFileSync(join(ROOT, 'docs/architecture.md'), 'utf8');
  // Rows of the "Where is …" table: | what | `path` | `symbol` |
  const rows = [...doc.matchAll(/^\| ([^|]+?) \| `(src\/[^`]+)` \| `([^`]+)` \|$/gm)].map((m) => ({ what: m[1]!, path: m[2]!, symbol: m[3]! }));

  it('names a file and a symbol for every place a newcomer looks for', () => {
    expect(rows.length).toBeGreaterThanOrEqual(10);
  });

  it.each(rows)('$what: $symbol is in $path', ({ path, symbol }) => {
    const file = join(ROOT, path);
    expect(existsSync(file), path).toBe(true);
    expect(readFileSync(file, 'utf8')).toContain(symbol);
  });
});
