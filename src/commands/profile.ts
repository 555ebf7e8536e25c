/**
 * The invocation's profile, config file and token cache: where the global options and the
 * environment meet the config and cache adapters (which take plain inputs).
 */
import { TokenCache } from '../cache/token-cache.js';
import { readConfigFile, type ConfigFile, type ConfigWarning } from '../config/config-file.js';
import { configuredProfiles, loadProfile as resolveProfile, type ProfileOverrides } from '../config/profile.js';
import { PROFILE_NAME, type Profile } from '../config/types.js';
import { resolvePaths } from '../context.js';
import { UsageError } from '../errors.js';
import { safeText } from '../util/safe-text.js';
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

/** The profile `name` (default: the active one) with the command line's `overrides`. */
export function loadProfile(inv: Inv, overrides?: ProfileOverrides, name = profileName(inv)): Promise<Profile> {
  return resolveProfile({ env: inv.ctx.env, configFile: configPath(inv), name, overrides, warn: configWarn(inv) });
}

/** The token cache (AUTHBRIDGE_CACHE_DIR, else `$XDG_CACHE_HOME/authbridge`); warnings go to stderr. */
export function tokenCache(inv: Inv): TokenCache {
  const dir = resolvePaths(inv.ctx.env, inv.global.config).cacheDir;
  return new TokenCache(dir, { warn: (m) => void inv.ctx.stderr.write(`warning: ${m}\n`) });
}

/** Names of all profiles in the config file and the token cache, sorted. */
export async function listProfiles(inv: Inv): Promise<string[]> {
  const names = new Set([...(await configuredProfiles(configPath(inv), configWarn(inv))), ...(await tokenCache(inv).profiles())]);
  return [...names].sort();
}
