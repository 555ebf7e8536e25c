/**
 * A secret too large for one keychain item, stored as numbered items of {@link CHUNK_CHARS}
 * characters each, named `<profile>/<generation>/<index>`. Windows' Credential Manager caps an item
 * at 2560 bytes (a string is stored as UTF-16: 1280 characters) and macOS' keychain has refused
 * large items to other tools (kubelogin), so every platform gets the same safe size.
 *
 * The manifest (generation, count, SHA-256 of the whole) is kept by the caller in the cache
 * directory's entry file, which is replaced atomically: a write makes the chunks of a new
 * generation, then the caller switches the manifest, then the old generation is deleted. A crash
 * leaves either the old or the new secret readable, never half of one; leftover chunks of a
 * generation no manifest names are removed at the next write ({@link deleteStaleChunks}).
 */
import type { Keychain } from './keychain.js';

/** Characters per keychain item: under Windows' 2560-byte blob as UTF-16, with room to spare. */
export const CHUNK_CHARS = 1024;

/** Which keychain items hold a profile's secret, as the entry file records it. */
export interface ChunkManifest {
  generation: string;
  chunks: number;
  /** Hex SHA-256 of the whole text: a replaced or truncated item is detected, not parsed. */
  sha256: string;
}

/** Whether `value` is a manifest as {@link writeChunks} makes them. */
export function isManifest(value: unknown): value is ChunkManifest {
  if (value === null || typeof value !== 'object') return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v.generation === 'string' &&
    /^[0-9a-f]{16}$/.test(v.generation) &&
    Number.isSafeInteger(v.chunks) &&
    (v.chunks as number) >= 1 &&
    typeof v.sha256 === 'string'
  );
}

function chunkAccount(profile: string, generation: string, index: number): string {
  return `${profile}/${generation}/${index}`;
}

function sha256(text: string): string {
  // Loaded on use, as atomic-file.ts does: reading commands on a file entry never need it.
  return process.getBuiltinModule('node:crypto').createHash('sha256').update(text).digest('hex');
}

/** `text` as ASCII only (JSON's `\uXXXX` for the rest), so a character is never split across items. */
export function asciiJson(value: unknown): string {
  return JSON.stringify(value).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * Writes `text` (ASCII) as the chunks of a new generation; nothing refers to them until the caller
 * records the manifest. On failure the chunks written so far are deleted (best effort) and the
 * error rethrown.
 * @throws KeychainUnavailableError
 */
export function writeChunks(keychain: Keychain, profile: string, text: string): ChunkManifest {
  const generation = process.getBuiltinModule('node:crypto').randomBytes(8).toString('hex');
  const count = Math.max(1, Math.ceil(text.length / CHUNK_CHARS));
  let written = 0;
  try {
    for (; written < count; written++) {
      keychain.write(chunkAccount(profile, generation, written), text.slice(written * CHUNK_CHARS, (written + 1) * CHUNK_CHARS));
    }
  } catch (err) {
    for (let i = 0; i < written; i++) {
      try {
        keychain.delete(chunkAccount(profile, generation, i));
      } catch {
        // The keychain went away mid-write: the next write's stale sweep removes them.
      }
    }
    throw err;
  }
  return { generation, chunks: count, sha256: sha256(text) };
}

/**
 * The text of a manifest's chunks; undefined when one is missing or the whole does not match the
 * manifest's hash (an item deleted or replaced outside authbridge).
 * @throws KeychainUnavailableError (locked, no Secret Service)
 */
export function readChunks(keychain: Keychain, profile: string, manifest: ChunkManifest): string | undefined {
  // One item: read it alone; more: all the service's items at once (a connection per item is slower).
  const items = manifest.chunks > 1 ? keychain.items() : undefined;
  let text = '';
  for (let i = 0; i < manifest.chunks; i++) {
    const account = chunkAccount(profile, manifest.generation, i);
    const part = items ? items.get(account) : keychain.read(account);
    if (part === undefined || part === null) return undefined;
    text += part;
  }
  return sha256(text) === manifest.sha256 ? text : undefined;
}

/**
 * Deletes the profile's chunks of every generation but `keep` (the current one, if any). Best
 * effort: false when the keychain could not be asked or an item not deleted.
 */
export function deleteStaleChunks(keychain: Keychain, profile: string, keep?: string): boolean {
  try {
    const prefix = `${profile}/`;
    for (const account of keychain.items().keys()) {
      if (!account.startsWith(prefix)) continue;
      const generation = account.slice(prefix.length).split('/')[0];
      if (generation !== keep) keychain.delete(account);
    }
    return true;
  } catch {
    return false;
  }
}
