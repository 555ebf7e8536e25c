/**
 * The token cache's keychain storage against a real gnome-keyring on a private D-Bus session bus
 * (test/helpers/keyring.ts): secrets in the keychain, none in the cache directory; chunked large
 * tokens; the manifest switch; locked and absent keychains; parallel writers.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openKeychain, type Keychain } from '../../src/cache/keychain.js';
import { CHUNK_CHARS } from '../../src/cache/keychain-blob.js';
import { TokenCache, type TokenCacheOptions, type TokenStorage } from '../../src/cache/token-cache.js';
import type { CachedSession } from '../../src/cache/types.js';
import { UsageError } from '../../src/errors.js';
import { bundleModule } from '../helpers/bundle.js';
import { startKeyring, type TestKeyring } from '../helpers/keyring.js';

const run = promisify(execFile);
/** The bundled scripts run from a temp dir: the native binding is required from the checkout's node_modules. */
const NODE_MODULES = join(import.meta.dirname, '../../node_modules');

let keyring: TestKeyring;
let keychain: Keychain;
const saved: Record<string, string | undefined> = {};

beforeAll(async () => {
  keyring = await startKeyring();
  // The native library reads this process's environment: this file's process only.
  for (const [name, value] of Object.entries(keyring.env)) {
    saved[name] = process.env[name];
    process.env[name] = value;
  }
  keychain = await openKeychain(keyring.env);
}, 30_000);

afterAll(async () => {
  for (const [name, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  await keyring?.stop();
});

function session(profile: string, extra: Partial<CachedSession> = {}): CachedSession {
  return {
    version: 1,
    profile,
    issuer: 'https://idp.test',
    client_id: 'cli',
    access_token: `at-${profile}-secret`,
    refresh_token: `rt-${profile}-secret`,
    id_token: `idt-${profile}-secret`,
    subject: 'alice',
    email: 'alice@example.com',
    scopes: ['openid'],
    obtained_at: 1_700_000_000_000,
    ...extra,
  };
}

function newCache(storage: TokenStorage = 'keychain', options: TokenCacheOptions = {}) {
  const dir = join(mkdtempSync(join(tmpdir(), 'ab-keychain-')), 'authbridge');
  const warnings: string[] = [];
  const fellBack: string[] = [];
  const cache = new TokenCache(dir, {
    storage,
    warn: (m) => void warnings.push(m),
    keychain: () => openKeychain(keyring.env),
    fellBack: (failure, moved) => void fellBack.push(`${moved ? 'moved' : 'again'}: ${failure.reason} / ${failure.fix}`),
    ...options,
  });
  return { dir, cache, warnings, fellBack };
}

/** Every file of the cache directory, concatenated. */
function cacheDirText(dir: string): string {
  return readdirSync(dir)
    .filter((name) => name.endsWith('.json'))
    .map((name) => readFileSync(join(dir, name), 'utf8'))
    .join('\n');
}

/** The keychain items of a profile (service "authbridge"). */
function itemsOf(profile: string): string[] {
  return [...keychain.items().keys()].filter((a) => a.startsWith(`${profile}/`));
}

describe('TokenCache with keychain storage (real gnome-keyring)', () => {
  it('keeps the tokens in the keychain and none in the cache directory, and reads them back', async () => {
    const { dir, cache } = newCache();
    const profile = 'kc-basic';
    await cache.update(profile, () => session(profile, { broker: { url: 'https://b.test', issuer: 'https://b.test', access_token: 'bt-secret', expires_at: 1, subject: 's', obtained_at: 1 } }));
    const text = cacheDirText(dir);
    expect(text).not.toMatch(/secret/);
    expect(text).toContain('alice@example.com');
    expect(JSON.parse(readFileSync(join(dir, `${profile}.json`), 'utf8')).keychain).toMatchObject({ chunks: 1 });
    const items = itemsOf(profile);
    expect(items).toHaveLength(1);
    expect(keychain.read(items[0]!)).toContain(`rt-${profile}-secret`);
    const back = await cache.get(profile);
    expect(back?.access_token).toBe(`at-${profile}-secret`);
    expect(back?.broker?.access_token).toBe('bt-secret');
    expect(await cache.accounts(profile)).toMatchObject({ storedIn: 'keychain', stashed: [] });
  });

  it('stores a 64 KB token in chunks, switches the manifest and deletes the old chunks', async () => {
    const { cache } = newCache();
    const profile = 'kc-large';
    const big = 'A'.repeat(64 * 1024);
    await cache.update(profile, () => session(profile));
    const first = itemsOf(profile);
    await cache.update(profile, (c) => ({ ...c!, access_token: big }));
    const items = itemsOf(profile);
    expect(items.length).toBeGreaterThan((64 * 1024) / CHUNK_CHARS);
    expect(items.some((i) => first.includes(i))).toBe(false);
    expect(Math.max(...items.map((i) => keychain.read(i)!.length))).toBeLessThanOrEqual(CHUNK_CHARS);
    expect((await cache.get(profile))?.access_token).toBe(big);
  });

  it('treats an entry with a missing or altered chunk as absent, with a warning; the next login replaces it', async () => {
    const { cache, warnings } = newCache();
    const profile = 'kc-missing';
    await cache.update(profile, () => session(profile, { access_token: 'B'.repeat(5000) }));
    const items = itemsOf(profile).sort();
    keychain.delete(items[1]!);
    expect(await cache.get(profile)).toBeUndefined();
    expect(warnings.join('\n')).toMatch(/kc-missing.*keychain items .* missing or altered/);
    await cache.update(profile, () => session(profile));
    expect((await cache.get(profile))?.access_token).toBe(`at-${profile}-secret`);
    keychain.write(itemsOf(profile)[0]!, '{"v":1,"active":{"access_token":"forged"},"accounts":[]}');
    expect(await cache.get(profile)).toBeUndefined();
  });

  it('moves an entry between the file and the keychain when the storage is chosen explicitly', async () => {
    const inFile = newCache('file');
    const profile = 'kc-move';
    await inFile.cache.update(profile, () => session(profile));
    expect(cacheDirText(inFile.dir)).toContain('rt-kc-move-secret');
    const inKeychain = new TokenCache(inFile.dir, { storage: 'keychain', keychain: () => openKeychain(keyring.env) });
    expect((await inKeychain.get(profile))?.refresh_token).toBe(`rt-${profile}-secret`);
    expect(cacheDirText(inFile.dir)).not.toMatch(/secret/);
    expect(itemsOf(profile)).toHaveLength(1);
    const back = new TokenCache(inFile.dir, { storage: 'file', keychain: () => openKeychain(keyring.env) });
    expect((await back.get(profile))?.refresh_token).toBe(`rt-${profile}-secret`);
    expect(cacheDirText(inFile.dir)).toContain('rt-kc-move-secret');
    expect(itemsOf(profile)).toHaveLength(0);
  });

  it('removes the keychain items with the last account', async () => {
    const { cache } = newCache();
    const profile = 'kc-remove';
    await cache.update(profile, () => session(profile));
    await cache.update(profile, () => session(profile, { subject: 'bob', email: 'bob@example.com' }));
    expect(itemsOf(profile)).toHaveLength(1);
    expect(await cache.remove(profile)).toBe(true);
    expect(itemsOf(profile)).toEqual([]);
  });

  it('loses nothing when processes write in parallel, and a reader meanwhile always finds the session', async () => {
    const { dir, cache } = newCache();
    const profile = 'kc-parallel';
    await cache.update(profile, () => session(profile, { obtained_at: 0 }));
    const script = await bundleModule(
      'src/cache/token-cache.ts',
      `import { TokenCache } from './token-cache.js';
       import { openKeychain } from './keychain.js';
       const cache = new TokenCache(process.argv[2], { storage: 'keychain', keychain: () => openKeychain(process.env) });
       for (let i = 0; i < 2; i++) {
         await cache.update('${profile}', (c) => ({ ...c, obtained_at: c.obtained_at + 1, access_token: 'at-' + (c.obtained_at + 1) }));
       }`,
    );
    const writers = 4;
    let reads = 0;
    let writing = true;
    const reader = (async () => {
      while (writing) {
        const seen = await cache.get(profile);
        expect(seen?.access_token).toMatch(/^at-/);
        reads++;
      }
    })();
    await Promise.all(Array.from({ length: writers }, () => run(process.execPath, [script, dir], { env: { ...process.env, ...keyring.env, NODE_PATH: NODE_MODULES } })));
    writing = false;
    await reader;
    const final = await cache.get(profile);
    expect(final?.obtained_at).toBe(writers * 2);
    expect(final?.access_token).toBe(`at-${writers * 2}`);
    expect(reads).toBeGreaterThan(0);
    expect(itemsOf(profile)).toHaveLength(1);
  }, 60_000);
});

describe('TokenCache when the keychain cannot be used', () => {
  it('auto falls back to the file when there is no session bus; keychain explicitly refuses (exit 2)', async () => {
    const auto = newCache('auto', { keychain: () => openKeychain({}) });
    await auto.cache.update('nobus', () => session('nobus'));
    expect(cacheDirText(auto.dir)).toContain('rt-nobus-secret');
    expect(auto.fellBack).toEqual([expect.stringMatching(/^moved: no D-Bus session bus.* \/ .*dbus-run-session.*--token-storage file/)]);
    await auto.cache.update('nobus', (c) => c);
    expect(auto.fellBack[1]).toMatch(/^again:/);
    const strict = newCache('keychain', { keychain: () => openKeychain({}) });
    const err = await strict.cache.update('nobus', () => session('nobus')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as UsageError).exitCode).toBe(2);
    expect((err as UsageError).message).toMatch(/could not use the keychain .*no D-Bus session bus/);
    expect((err as UsageError).hint).toMatch(/--token-storage file/);
    await expect(strict.cache.get('nobus')).rejects.toThrow(/no D-Bus session bus/);
  });

  /**
   * The library keeps its D-Bus connection for the life of the process: another bus is tried in a
   * process of its own. Prints what the cache did as one JSON line.
   */
  async function inProcess(env: Record<string, string>, dir: string, storage: TokenStorage, op: 'update' | 'get', profile: string) {
    const script = await bundleModule(
      'src/cache/token-cache.ts',
      `import { TokenCache } from './token-cache.js';
       import { openKeychain } from './keychain.js';
       const [dir, storage, op, profile] = process.argv.slice(2);
       const said = { fellBack: [], warnings: [] };
       const cache = new TokenCache(dir, {
         storage,
         warn: (m) => said.warnings.push(m),
         keychain: () => openKeychain(process.env),
         fellBack: (f, moved) => said.fellBack.push((moved ? 'moved: ' : 'again: ') + f.reason + ' / ' + f.fix),
       });
       const base = { version: 1, profile, issuer: 'https://idp.test', client_id: 'cli', scopes: [], obtained_at: 1, subject: 'alice', access_token: 'at-' + profile + '-secret', refresh_token: 'rt-' + profile + '-secret' };
       try {
         const session = op === 'update' ? await cache.update(profile, () => base) : await cache.get(profile);
         console.log(JSON.stringify({ ...said, token: session?.access_token ?? null, storedIn: (await cache.accounts(profile))?.storedIn ?? null }));
       } catch (err) {
         console.log(JSON.stringify({ ...said, error: { message: err.message, hint: err.hint, exitCode: err.exitCode } }));
       }`,
    );
    const { stdout } = await run(process.execPath, [script, dir, storage, op, profile], { env: { PATH: process.env.PATH ?? '', NODE_PATH: NODE_MODULES, ...env } });
    return JSON.parse(stdout) as { fellBack: string[]; warnings: string[]; token?: string | null; storedIn?: string | null; error?: { message: string; hint?: string; exitCode: number } };
  }

  it('auto falls back when the bus has no Secret Service; keychain explicitly names it (exit 2)', async () => {
    const bare = await startKeyring({ secretService: false });
    try {
      const dir = join(mkdtempSync(join(tmpdir(), 'ab-keychain-')), 'authbridge');
      const auto = await inProcess(bare.env, dir, 'auto', 'update', 'nosvc');
      expect(auto).toMatchObject({ token: 'at-nosvc-secret', storedIn: 'file' });
      expect(auto.fellBack).toEqual([expect.stringMatching(/^moved: no Secret Service on the D-Bus session bus.*gnome-keyring-daemon/)]);
      const strict = await inProcess(bare.env, dir, 'keychain', 'update', 'nosvc2');
      expect(strict.error).toMatchObject({ exitCode: 2, message: expect.stringMatching(/could not use the keychain .*no Secret Service/) });
      expect(strict.error?.hint).toMatch(/start gnome-keyring-daemon.*--token-storage file/);
    } finally {
      await bare.stop();
    }
  }, 30_000);

  it('a locked keyring: auto falls back with a note, keychain explicitly refuses (exit 2), a stored entry is warned about', async () => {
    const locked = await startKeyring();
    try {
      const dir = join(mkdtempSync(join(tmpdir(), 'ab-keychain-')), 'authbridge');
      expect(await inProcess(locked.env, dir, 'keychain', 'update', 'locked')).toMatchObject({ storedIn: 'keychain' });
      await locked.lock();
      const auto = await inProcess(locked.env, dir, 'auto', 'get', 'locked');
      expect(auto.token).toBeNull();
      expect(auto.warnings.join('\n')).toMatch(/profile "locked" are in the keychain, which cannot be used: the keyring is locked/);
      const strict = await inProcess(locked.env, dir, 'keychain', 'get', 'locked');
      expect(strict.error).toMatchObject({ exitCode: 2, message: expect.stringMatching(/keyring is locked/) });
      const other = await inProcess(locked.env, dir, 'auto', 'update', 'other');
      expect(other).toMatchObject({ token: 'at-other-secret', storedIn: 'file' });
      expect(other.fellBack).toEqual([expect.stringMatching(/^moved: the keyring is locked/)]);
    } finally {
      await locked.stop();
    }
  }, 30_000);
});
