/**
 * The token cache: one JSON file per profile in a 0700 directory, each file 0600, replaced
 * atomically under an inter-process lock, so parallel invocations never corrupt or lose an entry.
 * The directory must be the user's own and not a symlink; an entry must be a regular file of the
 * user's, opened without following a symlink or blocking on a FIFO.
 */
import { lstat, mkdir, readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { UsageError, describeError, isAuthbridgeError } from '../errors.js';
import { withFileLock, writeFileAtomic } from '../util/atomic-file.js';
import { UnsafePathError, openOwnDirectory, openOwnFile } from '../util/own-file.js';
import { PROFILE_NAME } from '../config/types.js';
import type { CachedSession } from './types.js';

const MAX_ENTRY_BYTES = 1024 * 1024;

export interface TokenCacheOptions {
  /** Where warnings go (a corrupt file, loose permissions). Default: ignored. */
  warn?: (message: string) => void;
}

function isSession(value: unknown, profile: string): value is CachedSession {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const v = value as Record<string, unknown>;
  return (
    v.version === 1 &&
    v.profile === profile &&
    typeof v.issuer === 'string' &&
    typeof v.client_id === 'string' &&
    Array.isArray(v.scopes) &&
    typeof v.obtained_at === 'number' &&
    ['access_token', 'id_token', 'refresh_token'].every((k) => v[k] === undefined || typeof v[k] === 'string')
  );
}

export class TokenCache {
  /** `dir`: the cache directory (created 0700 on the first write). */
  constructor(
    readonly dir: string,
    private readonly options: TokenCacheOptions = {},
  ) {}

  private file(profile: string): string {
    if (!PROFILE_NAME.test(profile)) throw new UsageError(`invalid profile name "${profile}"`);
    return join(this.dir, `${profile}.json`);
  }

  /**
   * Checks the directory itself: a directory (not a symlink to one) that the user owns. With
   * `create`, a missing one is made 0700 and a looser one tightened, through the handle of the
   * directory checked, so nothing a symlink points to is ever changed. False when it does not exist.
   * @throws UsageError for a symlink, a file, another user's directory, or an unusable one.
   */
  private async checkDir(create: boolean): Promise<boolean> {
    try {
      if (create) await mkdir(this.dir, { recursive: true, mode: 0o700 });
      const { handle, info } = await openOwnDirectory(this.dir);
      try {
        if (create && (info.mode & 0o077) !== 0) {
          await handle.chmod(0o700);
          this.options.warn?.(`tightened the permissions of ${this.dir} to 0700`);
        }
      } finally {
        await handle.close();
      }
      return true;
    } catch (err) {
      if (!create && (err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      const hint =
        err instanceof UnsafePathError
          ? err.reason === 'foreign_owner'
            ? 'Use a cache directory of your own (AUTHBRIDGE_CACHE_DIR, XDG_CACHE_HOME).'
            : `Replace it with a directory of your own: rm ${this.dir} && mkdir -m 700 ${this.dir}`
          : undefined;
      throw new UsageError(`could not use the token cache ${this.dir}: ${describeError(err)}`, { cause: err, hint });
    }
  }

  private async ensureDir(): Promise<void> {
    await this.checkDir(true);
  }

  /**
   * Reads a profile's entry. A missing entry is `undefined`; so is a corrupt, unreadable or
   * symlinked one, a FIFO or another user's file, with a warning (the next login replaces it).
   * @throws UsageError when the directory is a symlink or another user's.
   */
  async get(profile: string): Promise<CachedSession | undefined> {
    const path = this.file(profile);
    if (!(await this.checkDir(false))) return undefined;
    let text: string;
    try {
      // Never through a symlink, never blocking on a FIFO, only a regular file of the user's.
      const { handle, info } = await openOwnFile(path);
      try {
        if ((info.mode & 0o077) !== 0) {
          await handle.chmod(0o600);
          this.options.warn?.(`${path} was readable by others; tightened to 0600`);
        }
        if (info.size > MAX_ENTRY_BYTES) throw new Error('larger than 1 MiB');
        text = await handle.readFile('utf8');
      } finally {
        await handle.close();
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      const why = describeError(err);
      this.options.warn?.(`ignored the cached session of profile "${profile}" (${path}): ${why}; \`authbridge login\` replaces it`);
      return undefined;
    }
    try {
      const value: unknown = JSON.parse(text);
      if (isSession(value, profile)) return value;
    } catch {
      // reported below
    }
    this.options.warn?.(`ignored the cached session of profile "${profile}" (${path}): the file is corrupt; \`authbridge login\` replaces it`);
    return undefined;
  }

  /**
   * Read-modify-write of one profile's entry under the lock. `mutate` gets the current entry
   * (undefined when absent or corrupt) and returns the new one, or undefined to delete it.
   */
  async update(
    profile: string,
    mutate: (current: CachedSession | undefined) => CachedSession | undefined | Promise<CachedSession | undefined>,
  ): Promise<CachedSession | undefined> {
    const path = this.file(profile);
    await this.ensureDir();
    try {
      return await withFileLock(path, async () => {
        const next = await mutate(await this.get(profile));
        if (next === undefined) {
          await unlink(path).catch((err: NodeJS.ErrnoException) => {
            if (err.code !== 'ENOENT') throw err;
          });
        } else {
          await writeFileAtomic(path, `${JSON.stringify(next, null, 2)}\n`, 0o600);
        }
        return next;
      });
    } catch (err) {
      if (isAuthbridgeError(err)) throw err;
      throw new UsageError(`could not write the token cache ${path}: ${describeError(err)}`, { cause: err });
    }
  }

  /** Deletes a profile's entry; true when there was one. */
  async remove(profile: string): Promise<boolean> {
    let existed = false;
    const path = this.file(profile);
    try {
      await lstat(path);
      existed = true;
    } catch {
      return false;
    }
    await this.update(profile, () => undefined);
    return existed;
  }

  /**
   * The profiles with an entry in the cache, sorted.
   * @throws UsageError when the directory is a symlink or another user's.
   */
  async profiles(): Promise<string[]> {
    if (!(await this.checkDir(false))) return [];
    try {
      return (await readdir(this.dir))
        .filter((f) => f.endsWith('.json') && PROFILE_NAME.test(f.slice(0, -5)))
        .map((f) => f.slice(0, -5))
        .sort();
    } catch {
      return [];
    }
  }
}
