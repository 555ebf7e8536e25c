/**
 * The token cache: one JSON file per profile in a 0700 directory, each file 0600, replaced
 * atomically under an inter-process lock, so parallel invocations never corrupt or lose an entry.
 * The directory must be the user's own and not a symlink; an entry must be a regular file of the
 * user's, opened without following a symlink or blocking on a FIFO.
 *
 * Where the tokens go is the storage (`--token-storage`): `file` keeps the whole session in the
 * entry file; `keychain` keeps the entry file (lock, metadata, the manifest) and puts the secrets
 * (access, ID, refresh and broker tokens of every account) in the OS keychain
 * (keychain-blob.ts); `auto` uses the keychain when it answers, else the file. A read finds a
 * session in either; every write puts it where the storage says and removes it from the other.
 *
 * A profile holds one active account (what `get` returns, what every flow reads) and the other
 * accounts signed in to it, stashed in the same entry (`accounts`, see accounts.ts).
 */
import { lstat, mkdir, readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { UsageError, describeError, isAuthbridgeError } from '../errors.js';
import { withFileLock, writeFileAtomic } from '../util/atomic-file.js';
import { UnsafePathError, openOwnDirectory, openOwnFile } from '../util/own-file.js';
import { PROFILE_NAME } from '../config/types.js';
import { replaceActive, type ProfileAccounts } from './accounts.js';
import { KeychainUnavailableError, keychainFailure, type Keychain } from './keychain.js';
import { asciiJson, deleteStaleChunks, isManifest, readChunks, writeChunks, type ChunkManifest } from './keychain-blob.js';
import type { CachedSession } from './types.js';

const MAX_ENTRY_BYTES = 1024 * 1024;

/** The `--token-storage` values. */
export const TOKEN_STORAGES = ['auto', 'keychain', 'file'] as const;
export type TokenStorage = (typeof TOKEN_STORAGES)[number];

/** Where a session's tokens are: the OS keychain, or the entry file itself. */
export type StoredIn = 'keychain' | 'file';

export interface TokenCacheOptions {
  /** Where warnings go (a corrupt file, loose permissions). Default: ignored. */
  warn?: (message: string) => void;
  /** Where tokens are written (a function: resolved on first use). Default: `file`. */
  storage?: TokenStorage | (() => Promise<TokenStorage>);
  /** Opens the OS keychain (keychain.ts `openKeychain`); called at most once. Default: none reachable. */
  keychain?: () => Promise<Keychain>;
  /**
   * `auto` wrote to the file because the keychain cannot be used. `moved` is true when the
   * session was not in the file before (a login, or a move): the moment worth telling the user.
   */
  fellBack?: (reason: KeychainUnavailableError, moved: boolean) => void;
}

/** A profile's accounts and where their tokens are. */
export interface StoredAccounts extends ProfileAccounts {
  storedIn: StoredIn;
}

/** The secrets of one session, as the keychain holds them. */
interface Secrets {
  access_token?: string;
  id_token?: string;
  refresh_token?: string;
  broker_access_token?: string;
}

/** The keychain's item: the secrets of the active session and of each stashed one, in order. */
interface SecretsBlob {
  v: 1;
  active: Secrets;
  accounts: Secrets[];
}

/** The entry file as stored: the active session, the stashed ones, and the keychain manifest. */
interface StoredEntry extends CachedSession {
  accounts?: unknown[];
  keychain?: ChunkManifest;
}

/** What one read of an entry found (under the lock, the manifest the next write replaces). */
interface Loaded {
  accounts?: ProfileAccounts;
  storedIn?: StoredIn;
  manifest?: ChunkManifest;
}

const SECRET_KEYS = ['access_token', 'id_token', 'refresh_token'] as const;

function secretsOf(session: CachedSession): Secrets {
  const secrets: Secrets = {};
  for (const key of SECRET_KEYS) if (session[key] !== undefined) secrets[key] = session[key];
  if (session.broker) secrets.broker_access_token = session.broker.access_token;
  return secrets;
}

/** The session without its secrets, as the entry file holds it under keychain storage. */
function withoutSecrets(session: CachedSession): CachedSession {
  const copy: CachedSession = { ...session };
  for (const key of SECRET_KEYS) delete copy[key];
  if (copy.broker) {
    const { access_token: _token, ...broker } = copy.broker;
    copy.broker = broker as CachedSession['broker'];
  }
  return copy;
}

function withSecrets(session: Record<string, unknown>, secrets: Secrets | undefined): Record<string, unknown> {
  if (!secrets) return session;
  const copy: Record<string, unknown> = { ...session };
  for (const key of SECRET_KEYS) if (typeof secrets[key] === 'string') copy[key] = secrets[key];
  if (copy.broker && typeof copy.broker === 'object' && typeof secrets.broker_access_token === 'string') {
    copy.broker = { ...(copy.broker as object), access_token: secrets.broker_access_token };
  }
  return copy;
}

function isSecretsBlob(value: unknown): value is SecretsBlob {
  if (value === null || typeof value !== 'object') return false;
  const v = value as Record<string, unknown>;
  return v.v === 1 && v.active !== null && typeof v.active === 'object' && Array.isArray(v.accounts);
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
    ['access_token', 'id_token', 'refresh_token'].every((k) => v[k] === undefined || typeof v[k] === 'string') &&
    (v.broker === undefined || (v.broker !== null && typeof v.broker === 'object' && typeof (v.broker as Record<string, unknown>).access_token === 'string'))
  );
}

/** A session as `get` returns it: the stored fields but the cache's own (`accounts`, `keychain`). */
function sessionOnly(value: CachedSession): CachedSession {
  const { accounts: _accounts, keychain: _keychain, ...session } = value as StoredEntry;
  return session;
}

export class TokenCache {
  private storage?: Promise<TokenStorage>;
  private keychainHandle?: Promise<Keychain>;

  /** `dir`: the cache directory (created 0700 on the first write). */
  constructor(
    readonly dir: string,
    private readonly options: TokenCacheOptions = {},
  ) {}

  private file(profile: string): string {
    if (!PROFILE_NAME.test(profile)) throw new UsageError(`invalid profile name "${profile}"`);
    return join(this.dir, `${profile}.json`);
  }

  /** The storage setting, resolved once. */
  private mode(): Promise<TokenStorage> {
    const { storage = 'file' } = this.options;
    this.storage ??= typeof storage === 'function' ? storage() : Promise.resolve(storage);
    return this.storage;
  }

  /** The keychain, opened once. @throws KeychainUnavailableError */
  private keychain(): Promise<Keychain> {
    const open = this.options.keychain ?? (() => Promise.reject(new KeychainUnavailableError('no keychain was configured', 'use --token-storage file')));
    this.keychainHandle ??= open();
    return this.keychainHandle.catch((err: unknown) => {
      throw keychainFailure(err);
    });
  }

  /** The keychain's failure as the exit-2 error of an explicit `--token-storage keychain`. */
  private keychainRequired(err: unknown): UsageError {
    const failure = keychainFailure(err);
    return new UsageError(`could not use the keychain (--token-storage keychain): ${failure.reason}`, { cause: err, hint: `To fix: ${failure.fix}.` });
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

  /** The entry file's JSON; undefined when absent or unusable (warned). */
  private async readFile(profile: string): Promise<StoredEntry | undefined> {
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
      if (value !== null && typeof value === 'object' && !Array.isArray(value)) return value as StoredEntry;
    } catch {
      // reported below
    }
    this.corrupt(profile, 'the file is corrupt');
    return undefined;
  }

  private corrupt(profile: string, why: string): void {
    this.options.warn?.(`ignored the cached session of profile "${profile}" (${this.file(profile)}): ${why}; \`authbridge login\` replaces it`);
  }

  /**
   * The secrets an entry file's manifest names; undefined (warned) when the keychain cannot be
   * used, or a chunk is missing or altered. A reader racing a writer may find the chunks of the
   * manifest it read already deleted: it reads the file again while the manifest keeps changing.
   * @throws UsageError under an explicit `keychain` storage when the keychain cannot be used.
   */
  private async readSecrets(profile: string, entry: StoredEntry): Promise<{ entry: StoredEntry; blob?: SecretsBlob }> {
    let keychain: Keychain;
    try {
      keychain = await this.keychain();
    } catch (err) {
      if ((await this.mode()) === 'keychain') throw this.keychainRequired(err);
      const failure = keychainFailure(err);
      this.options.warn?.(`the tokens of profile "${profile}" are in the keychain, which cannot be used: ${failure.reason}; ${failure.fix}`);
      return { entry };
    }
    for (let attempt = 0; ; attempt++) {
      const manifest = entry.keychain!;
      let text: string | undefined;
      try {
        text = readChunks(keychain, profile, manifest);
      } catch (err) {
        if ((await this.mode()) === 'keychain') throw this.keychainRequired(err);
        const failure = keychainFailure(err);
        this.options.warn?.(`the tokens of profile "${profile}" are in the keychain, which cannot be used: ${failure.reason}; ${failure.fix}`);
        return { entry };
      }
      if (text !== undefined) {
        try {
          const blob: unknown = JSON.parse(text);
          if (isSecretsBlob(blob)) return { entry, blob };
        } catch {
          // reported below
        }
      }
      const again = attempt < 3 ? await this.readFile(profile) : undefined;
      if (again?.keychain && isManifest(again.keychain) && again.keychain.generation !== manifest.generation) {
        entry = again;
        continue;
      }
      this.options.warn?.(
        `ignored the cached session of profile "${profile}": its keychain items (service "authbridge", account "${profile}/${manifest.generation}/…") are missing or altered; \`authbridge login\` replaces it`,
      );
      return { entry };
    }
  }

  /** The profile's accounts and where they are stored; corrupt parts warned and left out. */
  private async load(profile: string): Promise<Loaded> {
    const entry = await this.readFile(profile);
    if (!entry) return {};
    let stored = entry;
    let blob: SecretsBlob | undefined;
    const storedIn: StoredIn = entry.keychain === undefined ? 'file' : 'keychain';
    if (storedIn === 'keychain') {
      if (!isManifest(entry.keychain)) {
        this.corrupt(profile, 'its keychain manifest is corrupt');
        return {};
      }
      ({ entry: stored, blob } = await this.readSecrets(profile, entry));
      if (!blob) return { manifest: stored.keychain, storedIn };
    }
    const { accounts, keychain: manifest, ...active } = stored;
    const session = withSecrets(active, blob?.active);
    if (!isSession(session, profile)) {
      this.corrupt(profile, 'the file is corrupt');
      return { manifest, storedIn };
    }
    const stashed: CachedSession[] = [];
    (Array.isArray(accounts) ? accounts : []).forEach((account, i) => {
      const value = account !== null && typeof account === 'object' ? withSecrets(account as Record<string, unknown>, blob?.accounts[i]) : account;
      if (isSession(value, profile)) stashed.push(sessionOnly(value));
      else this.options.warn?.(`ignored stashed account ${i + 1} of profile "${profile}" (${this.file(profile)}): it is corrupt`);
    });
    return { accounts: { active: session, stashed }, manifest, storedIn };
  }

  /**
   * Reads a profile's entry: its active account. A missing entry is `undefined`; so is a corrupt,
   * unreadable or symlinked one, a FIFO or another user's file, or tokens in a keychain that
   * cannot be used or whose items are missing, with a warning (the next login replaces it).
   * Under an explicit storage (`keychain` or `file`), an entry found in the other one is moved.
   * @throws UsageError when the directory is a symlink or another user's; under `keychain`, when
   *   the keychain cannot be used.
   */
  async get(profile: string): Promise<CachedSession | undefined> {
    const mode = await this.mode();
    if (mode === 'keychain') {
      try {
        await this.keychain();
      } catch (err) {
        throw this.keychainRequired(err);
      }
    }
    const loaded = await this.load(profile);
    const session = loaded.accounts?.active;
    if (session && mode !== 'auto' && loaded.storedIn !== mode) {
      // Moved now rather than at the next refresh: the user asked for this storage.
      return this.update(profile, (current) => current);
    }
    return session;
  }

  /** The profile's accounts (active and stashed) and where they are stored; undefined when signed out. */
  async accounts(profile: string): Promise<StoredAccounts | undefined> {
    const loaded = await this.load(profile);
    return loaded.accounts && { ...loaded.accounts, storedIn: loaded.storedIn! };
  }

  /**
   * Read-modify-write of one profile's entry under the lock. `mutate` gets the current entry
   * (undefined when absent or corrupt) and returns the new one, or undefined to delete it.
   * A session of another account (issuer, subject) replaces the active one and stashes it; a
   * deleted one makes the most recently active stashed account active (accounts.ts).
   * @throws UsageError when the cache cannot be written, or under `keychain` storage when the
   *   keychain cannot be used.
   */
  async update(
    profile: string,
    mutate: (current: CachedSession | undefined) => CachedSession | undefined | Promise<CachedSession | undefined>,
  ): Promise<CachedSession | undefined> {
    let result: CachedSession | undefined;
    await this.modify(profile, async (current) => {
      const active = current ? structuredClone(current.active) : undefined;
      result = await mutate(active);
      return replaceActive(current, result && sessionOnly(result));
    });
    return result;
  }

  /**
   * Read-modify-write of a profile's accounts under the lock: `mutate` returns the new accounts,
   * or undefined to delete the entry (every account). Returns what it returned.
   * @throws UsageError as {@link update}, or what `mutate` throws (nothing is written then).
   */
  async modify(
    profile: string,
    mutate: (current: ProfileAccounts | undefined) => ProfileAccounts | undefined | Promise<ProfileAccounts | undefined>,
  ): Promise<ProfileAccounts | undefined> {
    const path = this.file(profile);
    await this.ensureDir();
    try {
      return await withFileLock(path, async () => {
        const loaded = await this.load(profile);
        const next = await mutate(loaded.accounts);
        // Unchanged (a switch to the active account): nothing to write, no keychain items remade.
        if (next === undefined || next !== loaded.accounts) await this.write(profile, next, loaded);
        return next;
      });
    } catch (err) {
      if (isAuthbridgeError(err)) throw err;
      throw new UsageError(`could not write the token cache ${path}: ${describeError(err)}`, { cause: err });
    }
  }

  /** Writes `next` where the storage says (the lock held), then removes what `previous` left elsewhere. */
  private async write(profile: string, next: ProfileAccounts | undefined, previous: Loaded): Promise<void> {
    const path = this.file(profile);
    if (next === undefined) {
      await unlink(path).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err;
      });
      if (previous.manifest) await this.sweep(profile);
      return;
    }
    const mode = await this.mode();
    let manifest: ChunkManifest | undefined;
    if (mode !== 'file') {
      try {
        const keychain = await this.keychain();
        const blob: SecretsBlob = { v: 1, active: secretsOf(next.active), accounts: next.stashed.map(secretsOf) };
        manifest = writeChunks(keychain, profile, asciiJson(blob));
      } catch (err) {
        if (mode === 'keychain') throw this.keychainRequired(err);
        this.options.fellBack?.(keychainFailure(err), previous.storedIn !== 'file');
      }
    }
    const strip = manifest ? withoutSecrets : (s: CachedSession) => s;
    const entry: StoredEntry = { ...strip(next.active) };
    if (next.stashed.length > 0) entry.accounts = next.stashed.map(strip);
    if (manifest) entry.keychain = manifest;
    // The switch: the new manifest (or the tokens themselves) in one atomic replace.
    await writeFileAtomic(path, `${JSON.stringify(entry, null, 2)}\n`, 0o600);
    if (manifest || previous.manifest) await this.sweep(profile, manifest?.generation);
  }

  /** Deletes the profile's keychain items but those of generation `keep`; warns when it cannot. */
  private async sweep(profile: string, keep?: string): Promise<void> {
    let done = false;
    try {
      done = deleteStaleChunks(await this.keychain(), profile, keep);
    } catch {
      done = false;
    }
    if (!done) {
      this.options.warn?.(`could not delete the old keychain items of profile "${profile}" (service "authbridge"); the next write tries again`);
    }
  }

  /** Deletes a profile's entry, every account; true when there was one. */
  async remove(profile: string): Promise<boolean> {
    let existed = false;
    const path = this.file(profile);
    try {
      await lstat(path);
      existed = true;
    } catch {
      return false;
    }
    await this.modify(profile, () => undefined);
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
