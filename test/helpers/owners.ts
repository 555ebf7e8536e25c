/**
 * Files and directories owned by another user, whether or not the tests run as root: as root, a
 * fresh one is `chown`ed to a uid nobody uses; as anyone else (who cannot chown), a root-owned
 * one of the system is used — refused before it is ever read.
 */
import { chownSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A uid no account has. */
export const OTHER_UID = 4242;

export const isRoot = process.getuid?.() === 0;

/** The uid that owns what {@link foreignFile} and {@link foreignDir} return. */
export const FOREIGN_UID = isRoot ? OTHER_UID : 0;

/** A file with `content` owned by another user (mode 0644: only its owner may write it). */
export function foreignFile(content: string): string {
  if (!isRoot) return '/etc/passwd';
  const file = join(mkdtempSync(join(tmpdir(), 'ab-foreign-')), 'config.json');
  writeFileSync(file, content, { mode: 0o644 });
  chownSync(file, OTHER_UID, OTHER_UID);
  return file;
}

/** A directory owned by another user, mode 0700. */
export function foreignDir(): string {
  if (!isRoot) return '/';
  const dir = join(mkdtempSync(join(tmpdir(), 'ab-foreign-')), 'authbridge');
  mkdirSync(dir, { mode: 0o700 });
  chownSync(dir, OTHER_UID, OTHER_UID);
  return dir;
}
