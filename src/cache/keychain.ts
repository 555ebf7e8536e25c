/**
 * The OS keychain (macOS Keychain, Windows Credential Manager, the Secret Service on Linux) through
 * `@napi-rs/keyring`, loaded on first use: a `token` whose entry lives in the file never loads it.
 * Items are strings under the service {@link KEYCHAIN_SERVICE}; on Linux the Secret Service is
 * required (the library would otherwise fall back to the kernel keyring, which a reboot empties).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Env } from '../context.js';
import { describeError } from '../errors.js';
import { loadKeyring } from '../runtime/lazy.js';

/** The keychain service every item of authbridge is stored under. */
export const KEYCHAIN_SERVICE = 'authbridge';

/** One keychain: string items by account name, under {@link KEYCHAIN_SERVICE}. */
export interface Keychain {
  /** The item's value, or null when there is none. @throws KeychainUnavailableError */
  read(account: string): string | null;
  /** Creates or replaces the item. @throws KeychainUnavailableError */
  write(account: string, value: string): void;
  /** Deletes the item; false when there was none. @throws KeychainUnavailableError */
  delete(account: string): boolean;
  /**
   * Every item of the service, account to value: one search and one batch of secrets over one
   * connection, where reading items one by one costs a connection each (about 6 ms on the
   * Secret Service). @throws KeychainUnavailableError
   */
  items(): Map<string, string>;
}

/** Why the keychain cannot be used, and what to do about it. */
export class KeychainUnavailableError extends Error {
  constructor(
    /** What is missing or refused, e.g. "the keyring is locked". */
    readonly reason: string,
    /** One sentence: how to make it reachable, or to do without. */
    readonly fix: string,
    options?: { cause?: unknown },
  ) {
    super(reason, options);
    this.name = 'KeychainUnavailableError';
  }
}

const WITHOUT = 'or use --token-storage file';

/** The library's error, as what is missing and how to fix it. */
export function keychainFailure(err: unknown, platform: NodeJS.Platform = process.platform): KeychainUnavailableError {
  if (err instanceof KeychainUnavailableError) return err;
  const text = describeError(err);
  if (platform === 'linux') {
    if (/DBUS_SESSION_BUS_ADDRESS|autolaunch|connect|No such file or directory|Connection refused/i.test(text) && !/ServiceUnknown|secrets/i.test(text)) {
      return new KeychainUnavailableError(`no D-Bus session bus (${text})`, `log in to a desktop session or start one (dbus-run-session), ${WITHOUT}`, { cause: err });
    }
    if (/ServiceUnknown|org\.freedesktop\.secrets|not provided by any \.service|NameHasNoOwner/i.test(text)) {
      return new KeychainUnavailableError(`no Secret Service on the D-Bus session bus (${text})`, `start gnome-keyring-daemon (or KeePassXC's Secret Service), ${WITHOUT}`, { cause: err });
    }
    if (/locked|unlock|prompt was dismissed/i.test(text)) {
      return new KeychainUnavailableError(`the keyring is locked (${text})`, `unlock it (e.g. log in to the desktop, or \`gnome-keyring-daemon --unlock\`), ${WITHOUT}`, { cause: err });
    }
  } else if (/locked|denied|interaction|user canceled/i.test(text)) {
    return new KeychainUnavailableError(`the keychain is locked or refused access (${text})`, `unlock it and allow authbridge, ${WITHOUT}`, { cause: err });
  }
  return new KeychainUnavailableError(`the keychain failed (${text})`, `fix the keychain, ${WITHOUT}`, { cause: err });
}

/**
 * Whether a session bus can exist at all (Linux): the library reads the process environment, which
 * in the CLI is `env`; checked first so a machine without one answers without loading the library.
 */
function busIn(env: Env): boolean {
  if (env.DBUS_SESSION_BUS_ADDRESS) return true;
  return Boolean(env.XDG_RUNTIME_DIR && existsSync(join(env.XDG_RUNTIME_DIR, 'bus')));
}

/**
 * Opens the keychain. Nothing is asked of it yet: a locked keyring shows at the first read of an
 * item or the first write.
 * @throws KeychainUnavailableError when there is no session bus (Linux) or the library cannot load.
 */
export async function openKeychain(env: Env, platform: NodeJS.Platform = process.platform): Promise<Keychain> {
  if (platform === 'linux' && !busIn(env)) {
    throw new KeychainUnavailableError('no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is not set)', `log in to a desktop session or start one (dbus-run-session), ${WITHOUT}`);
  }
  let keyring: Awaited<ReturnType<typeof loadKeyring>>;
  try {
    keyring = await loadKeyring();
  } catch (err) {
    throw new KeychainUnavailableError(`the keychain library could not load (${describeError(err)})`, `reinstall authbridge, ${WITHOUT}`, { cause: err });
  }
  const options = { linux: { store: 'secret-service' as const } };
  const entry = (account: string) => new keyring.Entry(KEYCHAIN_SERVICE, account, options);
  const guard = <T>(fn: () => T): T => {
    try {
      return fn();
    } catch (err) {
      throw keychainFailure(err, platform);
    }
  };
  return {
    read: (account) => guard(() => entry(account).getPassword() ?? null),
    write: (account, value) => guard(() => entry(account).setPassword(value)),
    delete: (account) => guard(() => entry(account).deleteCredential()),
    items: () => guard(() => new Map(keyring.findCredentials(KEYCHAIN_SERVICE).map((c) => [c.account, c.password]))),
  };
}
