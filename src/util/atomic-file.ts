import { mkdir, open, readdir, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { loadLockfile } from '../runtime/lazy.js';

/**
 * Replaces `path` with `data` atomically: a temp file in the same directory (created exclusively
 * with `mode`), fsync, rename over the target, fsync of the directory. A crash at any point leaves
 * either the old content or the new, never a mix; `rename` replaces a symlink, never follows it.
 */
export async function writeFileAtomic(path: string, data: string, mode: number): Promise<void> {
  const dir = dirname(path);
  // node:crypto is loaded on the first write, not with this module: reading commands (`status`,
  // `token` on a fresh cache) import it through the cache and config modules but never write.
  const { randomBytes } = process.getBuiltinModule('node:crypto');
  const temp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  const handle = await open(temp, 'wx', mode);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } catch (err) {
    await handle.close().catch(() => {});
    await unlink(temp).catch(() => {});
    throw err;
  }
  await handle.close();
  try {
    await rename(temp, path);
  } catch (err) {
    await unlink(temp).catch(() => {});
    throw err;
  }
  const dirHandle = await open(dir, 'r').catch(() => undefined);
  if (dirHandle) {
    await dirHandle.sync().catch(() => {});
    await dirHandle.close();
  }
}

/**
 * Runs `fn` holding an inter-process lock on `path` (a `path.lock` directory, proper-lockfile:
 * mkdir is atomic on every filesystem, and a lock whose holder died goes stale after 5 s).
 * Temp files a killed writer left behind for `path` are removed first: holding the lock, no one
 * else can be writing them.
 */
export async function withFileLock<T>(path: string, fn: () => Promise<T>): Promise<T> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  // Loaded on first use: reading commands (status, token on a fresh cache) never lock.
  const { default: lockfile } = await loadLockfile();
  const release = await lockfile.lock(path, {
    realpath: false,
    // proper-lockfile's smallest stale time: a crashed holder delays the next writer by at most 5 s.
    stale: 5_000,
    update: 1_000,
    retries: { retries: 200, factor: 1.2, minTimeout: 5, maxTimeout: 100, randomize: true },
  });
  try {
    await removeOrphanedTemps(path);
    return await fn();
  } finally {
    await release().catch(() => {});
  }
}

async function removeOrphanedTemps(path: string): Promise<void> {
  const prefix = `${basename(path)}.`;
  const names = await readdir(dirname(path)).catch(() => [] as string[]);
  await Promise.all(
    names
      .filter((n) => n.startsWith(prefix) && /\.[0-9a-f]{12}\.tmp$/.test(n))
      .map((n) => unlink(join(dirname(path), n)).catch(() => {})),
  );
}
