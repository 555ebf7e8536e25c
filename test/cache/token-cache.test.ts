import { execFile } from 'node:child_process';
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { TokenCache } from '../../src/cache/token-cache.js';
import type { CachedSession } from '../../src/cache/types.js';
import { bundleModule } from '../helpers/bundle.js';

const run = promisify(execFile);

function session(profile: string, extra: Partial<CachedSession> = {}): CachedSession {
  return {
    version: 1,
    profile,
    issuer: 'https://idp.test',
    client_id: 'cli',
    access_token: `at-${profile}`,
    scopes: ['openid'],
    obtained_at: 1_700_000_000_000,
    ...extra,
  };
}

function newCache() {
  const dir = join(mkdtempSync(join(tmpdir(), 'ab-cache-')), 'authbridge');
  const warnings: string[] = [];
  return { dir, warnings, cache: new TokenCache(dir, { warn: (m) => warnings.push(m) }) };
}

describe('TokenCache', () => {
  it('writes a 0600 file in a 0700 directory and reads it back', async () => {
    const { dir, cache } = newCache();
    await cache.update('default', () => session('default'));
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(join(dir, 'default.json')).mode & 0o777).toBe(0o600);
    expect(await cache.get('default')).toEqual(session('default'));
    expect(await cache.profiles()).toEqual(['default']);
  });

  it('deletes an entry when mutate returns undefined, and remove() says whether there was one', async () => {
    const { cache } = newCache();
    await cache.update('a', () => session('a'));
    expect(await cache.remove('a')).toBe(true);
    expect(await cache.remove('a')).toBe(false);
    expect(await cache.get('a')).toBeUndefined();
  });

  it('reports a corrupt file, returns nothing, and the next write replaces it', async () => {
    const { dir, cache, warnings } = newCache();
    await cache.update('p', () => session('p'));
    writeFileSync(join(dir, 'p.json'), '{"version":1, truncated', { mode: 0o600 });
    expect(await cache.get('p')).toBeUndefined();
    expect(warnings.join('\n')).toMatch(/corrupt/);
    await cache.update('p', (current) => current ?? session('p', { email: 'new@x' }));
    expect((await cache.get('p'))?.email).toBe('new@x');
  });

  it('tightens a file left readable by others', async () => {
    const { dir, cache, warnings } = newCache();
    await cache.update('p', () => session('p'));
    chmodSync(join(dir, 'p.json'), 0o644);
    expect(await cache.get('p')).toEqual(session('p'));
    expect(statSync(join(dir, 'p.json')).mode & 0o777).toBe(0o600);
    expect(warnings.join('\n')).toMatch(/tightened/);
  });

  it('never follows a symlinked cache file', async () => {
    const { dir, cache, warnings } = newCache();
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const target = join(dir, '..', 'elsewhere.json');
    writeFileSync(target, JSON.stringify(session('p')));
    symlinkSync(target, join(dir, 'p.json'));
    expect(await cache.get('p')).toBeUndefined();
    expect(warnings.join('\n')).toMatch(/symlink/);
    await cache.update('p', () => session('p', { email: 'mine' }));
    expect(lstatSync(join(dir, 'p.json')).isSymbolicLink()).toBe(false);
    expect(JSON.parse(readFileSync(target, 'utf8')).email).toBeUndefined();
  });

  it('refuses profile names that could escape the directory', async () => {
    const { cache } = newCache();
    await expect(cache.get('../x')).rejects.toThrow(/invalid profile name/);
  });

  it('loses no update when many writers in this process race on one profile', async () => {
    const { cache } = newCache();
    await Promise.all(
      Array.from({ length: 25 }, () =>
        cache.update('count', (c) => session('count', { obtained_at: (c?.obtained_at ?? 0) + 1 })),
      ),
    );
    expect((await cache.get('count'))?.obtained_at).toBe(25);
  });

  it('loses nothing when separate processes write in parallel, on one profile and on many', async () => {
    const { dir, cache } = newCache();
    const script = await bundleModule(
      'src/cache/token-cache.ts',
      `import { TokenCache } from './token-cache.js';
       const [dir, own] = process.argv.slice(2);
       const cache = new TokenCache(dir);
       const base = { version: 1, issuer: 'https://idp.test', client_id: 'cli', scopes: ['openid'] };
       for (let i = 0; i < 5; i++) {
         await cache.update('shared', (c) => ({ ...base, profile: 'shared', obtained_at: (c?.obtained_at ?? 0) + 1 }));
       }
       await cache.update(own, () => ({ ...base, profile: own, obtained_at: 1, access_token: 'at-' + own }));`,
    );
    const writers = 10;
    await Promise.all(Array.from({ length: writers }, (_, i) => run(process.execPath, [script, dir, `p${i}`])));
    expect((await cache.get('shared'))?.obtained_at).toBe(writers * 5);
    const profiles = await cache.profiles();
    for (let i = 0; i < writers; i++) expect(profiles).toContain(`p${i}`);
  }, 60_000);

  it('leaves the previous content intact when a writer is killed mid-write', async () => {
    const { dir, cache } = newCache();
    await cache.update('p', () => session('p', { email: 'before' }));
    const script = await bundleModule(
      'src/cache/token-cache.ts',
      `import { TokenCache } from './token-cache.js';
       const cache = new TokenCache(process.argv[2]);
       const big = 'x'.repeat(200_000);
       for (;;) {
         await cache.update('p', () => ({ version: 1, profile: 'p', issuer: 'https://idp.test', client_id: 'cli', scopes: [], obtained_at: 2, email: 'after', access_token: big }));
       }`,
    );
    for (let round = 0; round < 5; round++) {
      const child = execFile(process.execPath, [script, dir]);
      await new Promise((r) => setTimeout(r, 150 + round * 37));
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      const entry = await cache.get('p');
      expect(entry).toBeDefined();
      expect(['before', 'after']).toContain(entry!.email);
    }
    // The next writer recovers the dead writer's lock and clears its temp files.
    await cache.update('p', (c) => ({ ...c!, email: 'recovered' }));
    expect((await cache.get('p'))?.email).toBe('recovered');
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  }, 60_000);
});
