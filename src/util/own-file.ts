/**
 * Opening the files that decide where credentials go (the config file, the token cache) the way
 * OpenSSH's StrictModes reads `~/.ssh`: never through a symlink, never a FIFO or device (opened
 * non-blocking, so a planted FIFO cannot hang the command), and only what the current user owns.
 */
import { constants, type Stats } from 'node:fs';
import { lstat, open, type FileHandle } from 'node:fs/promises';

/** Why a path was not opened: a symlink, not a regular file / directory, or another user's. */
export type UnsafeReason = 'symlink' | 'not_regular' | 'not_directory' | 'foreign_owner';

/** A path that {@link openOwnFile} or {@link openOwnDirectory} will not use. */
export class UnsafePathError extends Error {
  constructor(
    readonly path: string,
    readonly reason: UnsafeReason,
    /** The owner's uid, for `foreign_owner`. */
    readonly uid?: number,
  ) {
    super(describeUnsafe(reason, uid));
    this.name = 'UnsafePathError';
  }
}

/** The user's uid; undefined where there are none (Windows), and then ownership is not checked. */
export function currentUid(): number | undefined {
  return process.getuid?.();
}

/** `it is a symlink, which is never followed`, `it is owned by uid 4242, not by you (uid 1000)`… */
export function describeUnsafe(reason: UnsafeReason, uid?: number): string {
  switch (reason) {
    case 'symlink':
      return 'it is a symlink, which is never followed';
    case 'not_regular':
      return 'it is not a regular file';
    case 'not_directory':
      return 'it is not a directory';
    case 'foreign_owner':
      return `it is owned by uid ${uid}, not by you (uid ${currentUid()})`;
  }
}

function checkOwner(path: string, info: Stats): void {
  const me = currentUid();
  if (me !== undefined && info.uid !== me) throw new UnsafePathError(path, 'foreign_owner', info.uid);
}

async function openChecked(path: string, flags: number, kind: (info: Stats) => UnsafeReason | undefined): Promise<{ handle: FileHandle; info: Stats }> {
  let handle: FileHandle;
  try {
    // O_NOFOLLOW: the last component is never a symlink (ELOOP; EMLINK on FreeBSD).
    // O_NONBLOCK: a FIFO opens at once instead of waiting for a writer; it is refused below.
    handle = await open(path, flags | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ELOOP' || code === 'EMLINK') throw new UnsafePathError(path, 'symlink');
    if (code === 'ENOTDIR' && flags & constants.O_DIRECTORY) {
      // Linux answers O_DIRECTORY|O_NOFOLLOW on a symlink with ENOTDIR, not ELOOP.
      const link = await lstat(path).then((info) => info.isSymbolicLink(), () => false);
      throw new UnsafePathError(path, link ? 'symlink' : 'not_directory');
    }
    throw err;
  }
  try {
    const info = await handle.stat();
    const wrong = kind(info);
    if (wrong) throw new UnsafePathError(path, wrong);
    checkOwner(path, info);
    return { handle, info };
  } catch (err) {
    await handle.close().catch(() => {});
    throw err;
  }
}

/**
 * Opens `path` for reading: a regular file the current user owns, not through a symlink, without
 * blocking on a FIFO. The caller closes the handle; checks on the mode are the caller's.
 * @throws UnsafePathError for a symlink, anything but a regular file, or another user's file;
 *   the `open` error (ENOENT …) otherwise.
 */
export function openOwnFile(path: string): Promise<{ handle: FileHandle; info: Stats }> {
  return openChecked(path, constants.O_RDONLY, (info) => (info.isFile() ? undefined : 'not_regular'));
}

/**
 * Opens the directory `path` itself (not a symlink to one) that the current user owns; its
 * handle changes that very directory (`handle.chmod`), so no swap between check and change is
 * possible. The caller closes the handle.
 * @throws UnsafePathError for a symlink, anything but a directory, or another user's directory;
 *   the `open` error (ENOENT …) otherwise.
 */
export function openOwnDirectory(path: string): Promise<{ handle: FileHandle; info: Stats }> {
  return openChecked(path, constants.O_RDONLY | constants.O_DIRECTORY, (info) => (info.isDirectory() ? undefined : 'not_directory'));
}
