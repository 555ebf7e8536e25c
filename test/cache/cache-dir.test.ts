/**
 * Finding 3 of the second review: the cache directory and its files. A symlinked or foreign-owned
 * cache directory is refused (a write used to chmod whatever the link pointed to), and a cache
 * file must be a regular file of the user's, opened without blocking: a planted FIFO used to hang
 * every read.
 */
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TokenCache } from '../../src/cache/token-cache.js';
import type { CachedSession } from '../../src/cache/types.js';
import { UsageError } from '../../src/errors.js';
import { FOREIGN_UID, OTHER_UID, foreignDir, isRoot } from '../helpers/owners.js';

const session = (profile: string): CachedSession => ({
  version: 1,
  profile,
  issuer: 'https://idp.test',
  client_id: 'cli',
  access_token: `at-${profile}`,
  scopes: ['openid'],
  obtained_at: 1_700_000_000_000,
});

function cacheAt(dir: string) {
  const warnings: string[] = [];
  return { warnings, cache: new TokenCache(dir, { warn: (m) => warnings.push(m) }) };
}

describe('cache directory (finding 3 of the second review)', () => {
  it('refuses a symlinked cache directory: the target keeps its mode and gets no file', async () => {
    const home = mkdtempSync(join(tmpdir(), 'ab-cache-dir-'));
    const target = join(home, 'elsewhere');
    mkdirSync(target);
    chmodSync(target, 0o755);
    const dir = join(home, 'authbridge');
    symlinkSync(target, dir);
    const { cache } = cacheAt(dir);
    const err = await cache.update('default', () => session('default')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toContain(dir);
    expect((err as Error).message).toMatch(/is a symlink, which is never followed/);
    expect(statSync(target).mode & 0o777).toBe(0o755);
    expect(readdirSync(target)).toEqual([]);
    await expect(cache.get('default')).rejects.toThrow(/is a symlink/);
    await expect(cache.profiles()).rejects.toThrow(/is a symlink/);
  });

  it('refuses a cache directory owned by another user, for reads and writes', async () => {
    const dir = foreignDir();
    const { cache } = cacheAt(dir);
    const owned = new RegExp(`owned by uid ${FOREIGN_UID}, not by you`);
    await expect(cache.get('default')).rejects.toThrow(owned);
    await expect(cache.update('default', () => session('default'))).rejects.toThrow(owned);
    if (isRoot) expect(readdirSync(dir)).toEqual([]);
  });

  it('answers at once for a FIFO planted in place of an entry: ignored, with a warning', { timeout: 10_000 }, async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'ab-cache-dir-')), 'authbridge');
    mkdirSync(dir, { mode: 0o700 });
    execFileSync('mkfifo', ['-m', '600', join(dir, 'default.json')]);
    const { cache, warnings } = cacheAt(dir);
    expect(await cache.get('default')).toBeUndefined();
    expect(warnings.join('\n')).toMatch(/default\.json.*not a regular file/);
  });

  it('ignores an entry owned by another user, and does not chmod it', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'ab-cache-dir-')), 'authbridge');
    mkdirSync(dir, { mode: 0o700 });
    const file = join(dir, 'default.json');
    writeFileSync(file, JSON.stringify(session('default')), { mode: 0o644 });
    // As anyone but root the entry cannot be given away; the refusal is then shown by the directory test.
    if (isRoot) chownSync(file, OTHER_UID, OTHER_UID);
    const { cache, warnings } = cacheAt(dir);
    if (!isRoot) return void expect(await cache.get('default')).toEqual(session('default'));
    expect(await cache.get('default')).toBeUndefined();
    expect(warnings.join('\n')).toMatch(new RegExp(`owned by uid ${OTHER_UID}`));
    expect(statSync(file).mode & 0o777).toBe(0o644);
  });
});
