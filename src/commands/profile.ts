/**
 * The invocation's profile, config file and token cache: where the global options and the
 * environment meet the config and cache adapters (which take plain inputs).
 */
import { openKeychain } from '../cache/keychain.js';
import { TOKEN_STORAGES, TokenCache, type TokenStorage } from '../cache/token-cache.js';
import { readConfigFile, type ConfigFile, type ConfigWarning } from '../config/config-file.js';
import { configuredProfiles, loadProfile as resolveProfile, type ProfileOverrides } from '../config/profile.js';
import { PROFILE_NAME, type Profile } from '../config/types.js';
import { resolvePaths } from '../context.js';
import { UsageError } from '../errors.js';
import { safeText } from '../util/safe-text.js';
import { didYouMean } from '../util/suggest.js';
import type { Invocation } from './invocation.js';

type Inv = Pick<Invocation, 'ctx' | 'global'>;

/** The active profile's name: `--profile` > AUTHBRIDGE_PROFILE > `default`. */
export function profileName(inv: Inv): string {
  const name = inv.global.profile ?? inv.ctx.env.AUTHBRIDGE_PROFILE ?? 'default';
  if (!PROFILE_NAME.test(name)) {
    throw new UsageError(`--profile must be letters, digits, ".", "_" or "-" (at most 64), got "${name}"`);
  }
  return name;
}

/** The config file: `--config` > AUTHBRIDGE_CONFIG > `$XDG_CONFIG_HOME/authbridge/config.json`. */
export function configPath(inv: Inv): string {
  return resolvePaths(inv.ctx.env, inv.global.config).configFile;
}

const configWarnings = new WeakMap<Inv['ctx'], (warning: ConfigWarning) => void>();

/** Where the config file's warnings go: a `warning:` line on stderr, each once an invocation. */
export function configWarn(inv: Inv): (warning: ConfigWarning) => void {
  let warn = configWarnings.get(inv.ctx);
  if (!warn) {
    const said = new Set<string>();
    warn = ({ message, fix }) => {
      if (said.has(message)) return;
      said.add(message);
      inv.ctx.stderr.write(`warning: ${safeText(message)}; ${safeText(fix)}\n`);
    };
    configWarnings.set(inv.ctx, warn);
  }
  return warn;
}

/** The config file, read as `readConfigFile` does, its warnings on stderr. */
export function readConfig(inv: Inv): Promise<ConfigFile> {
  return readConfigFile(configPath(inv), { warn: configWarn(inv) });
}

export interface LoadProfileOptions {
  /**
   * Whether a profile that exists nowhere yet may be used, as resolved from flags and env alone
   * (`login --issuer … --client-id …` creates it by signing in). Default: never.
   */
  allowNew?: (profile: Profile) => boolean;
}

/**
 * The profile `name` (default: the active one) with the command line's `overrides`.
 * @throws UsageError "profile 'nope' not found (profiles: …)" for a name that is neither
 *   `default`, in the config file nor in the token cache (unless `options.allowNew` says yes).
 */
export async function loadProfile(inv: Inv, overrides?: ProfileOverrides, name = profileName(inv), options: LoadProfileOptions = {}): Promise<Profile> {
  const profile = await resolveProfile({ env: inv.ctx.env, configFile: configPath(inv), name, overrides, warn: configWarn(inv) });
  if (!options.allowNew?.(profile)) await requireProfile(inv, name);
  return profile;
}

/** Whether the profile `name` exists: `default` always; else in the config file or the token cache. */
export async function profileExists(inv: Inv, name: string): Promise<boolean> {
  if (name === 'default') return true;
  return (await listProfiles(inv)).includes(name);
}

/**
 * Refuses a profile that exists nowhere: a mistyped `--profile` or AUTHBRIDGE_PROFILE would
 * otherwise read as "not signed in", or `config set` would create it silently.
 * @throws UsageError `profile 'nope' not found (profiles: default, work)`, its hint the closest
 *   name, where the name came from, and `howToCreate`.
 */
export async function requireProfile(inv: Inv, name = profileName(inv), howToCreate = `To create it: authbridge config set issuer URL --profile ${name} --create`): Promise<void> {
  if (name === 'default') return;
  const names = await listProfiles(inv);
  if (names.includes(name)) return;
  const known = names.includes('default') ? names : ['default', ...names];
  const fromEnv = inv.global.profile === undefined && inv.ctx.env.AUTHBRIDGE_PROFILE === name;
  const hint = [
    didYouMean(name, known, (n) => `'${n}'`),
    fromEnv ? 'The name comes from AUTHBRIDGE_PROFILE.' : undefined,
    howToCreate,
  ];
  throw new UsageError(`profile '${name}' not found (profiles: ${known.join(', ')})`, { hint: hint.filter(Boolean).join(' ') });
}

/**
 * Where tokens are kept: `--token-storage` > AUTHBRIDGE_TOKEN_STORAGE > `auto` (the config file
 * has no settings outside profiles, and this one is not a profile's).
 * @throws UsageError for a value other than keychain, file or auto.
 */
export function tokenStorage(inv: Inv): TokenStorage {
  const flag = inv.global.tokenStorage;
  const value = flag ?? (inv.ctx.env.AUTHBRIDGE_TOKEN_STORAGE || 'auto');
  if (!(TOKEN_STORAGES as readonly string[]).includes(value)) {
    const source = flag === undefined ? 'AUTHBRIDGE_TOKEN_STORAGE' : '--token-storage';
    throw new UsageError(`${source} must be keychain, file or auto, got "${safeText(value)}"`);
  }
  return value as TokenStorage;
}

const caches = new WeakMap<Inv['global'], TokenCache>();

/**
 * The token cache (AUTHBRIDGE_CACHE_DIR, else `$XDG_CACHE_HOME/authbridge`), one an invocation,
 * its tokens where {@link tokenStorage} says; warnings go to stderr. When `auto` falls back to the
 * file, a note says why: when the session is first written there (a login, a move), or under
 * `--verbose` at every write, not at every `token` that refreshes.
 * @throws UsageError for a bad storage setting.
 */
export function tokenCache(inv: Inv): TokenCache {
  const known = caches.get(inv.global);
  if (known) return known;
  const storage = tokenStorage(inv);
  const dir = resolvePaths(inv.ctx.env, inv.global.config).cacheDir;
  const cache = new TokenCache(dir, {
    storage,
    warn: (m) => void inv.ctx.stderr.write(`warning: ${safeText(m)}\n`),
    keychain: () => openKeychain(inv.ctx.env),
    fellBack: (failure, moved) => {
      // A machine with no session bus at all (a server, CI) has no keychain to fix: the file is
      // simply where tokens go, said under --verbose only. A bus without a usable Secret Service
      // (none running, locked) is worth one note when a session is first written.
      if (!inv.global.verbose && (!moved || failure.reason.startsWith('no D-Bus session bus'))) return;
      inv.ctx.stderr.write(
        `note: tokens are kept in the file cache ${safeText(dir)} (mode 0600), not the keychain: ${safeText(failure.reason)}. ` +
          `To use the keychain: ${safeText(failure.fix.replace(/, or use --token-storage file$/, ''))}; to stop this note: --token-storage file\n`,
      );
    },
  });
  caches.set(inv.global, cache);
  return cache;
}

/** Names of all profiles in the config file and the token cache, sorted. */
export async function listProfiles(inv: Inv): Promise<string[]> {
  const names = new Set([...(await configuredProfiles(configPath(inv), configWarn(inv))), ...(await tokenCache(inv).profiles())]);
  return [...names].sort();
}
