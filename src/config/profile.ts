/**
 * A profile resolved from its three sources: values given on the command line (the caller says
 * which flag each came from), the environment's `AUTHBRIDGE_<FIELD>` variables, and the config
 * file. Which command-line option sets which field is the commands' business (commands/flags.ts).
 */
import { join } from 'node:path';
import type { Env } from '../context.js';
import { UsageError } from '../errors.js';
import { PROFILE_FIELDS, checkField, readConfigFile, type ConfigWarning, type ProfileField, type StoredProfile } from './config-file.js';
import { DEFAULT_SCOPES, type BrokerSettings, type Profile } from './types.js';

/** A value given on the command line for a profile field, and the flag it came from (for messages). */
export interface ProfileOverride {
  value: unknown;
  flag: string;
}

export type ProfileOverrides = Partial<Record<ProfileField, ProfileOverride>>;

export interface ProfileSource {
  /** The environment: `AUTHBRIDGE_<FIELD>` variables. */
  env: Env;
  /** The config file's path (a missing file is an empty config). */
  configFile: string;
  /** The profile's name, already validated. */
  name: string;
  /** Values from the command line; they win over env and file. */
  overrides?: ProfileOverrides;
  /** Receives what is wrong with the config file but not fatal (see `readConfigFile`). */
  warn: (warning: ConfigWarning) => void;
}

/** `broker.clientId` → `AUTHBRIDGE_BROKER_CLIENT_ID`. */
export function envVarFor(field: string): string {
  return `AUTHBRIDGE_${field.replace('.', '_').replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase()}`;
}

const KEY_PATH_FIELDS = new Set<string>(['clientKey', 'broker.clientKey']);

function keyPath(value: string, env: Env): string {
  return value.startsWith('~/') && env.HOME ? join(env.HOME, value.slice(2)) : value;
}

function getField(profile: StoredProfile, field: string): unknown {
  if (field.startsWith('broker.')) return (profile.broker as Record<string, unknown> | undefined)?.[field.slice(7)];
  return (profile as Record<string, unknown>)[field];
}

/**
 * Resolves a profile. Precedence per field: override (flag) > env `AUTHBRIDGE_<FIELD>` > config
 * file. `scopes` defaults to `openid profile email offline_access`.
 * @throws UsageError for a malformed config file or a bad flag/env value, naming it.
 */
export async function loadProfile(source: ProfileSource): Promise<Profile> {
  const { name, env } = source;
  const file = await readConfigFile(source.configFile, { warn: source.warn });
  const stored = file.profiles[name] ?? {};
  const values: Record<string, unknown> = {};
  for (const field of Object.keys(PROFILE_FIELDS) as ProfileField[]) {
    const fromFlag = source.overrides?.[field];
    const envName = envVarFor(field);
    const fromEnv = env[envName];
    let origin: string | undefined;
    let raw: unknown;
    if (fromFlag !== undefined && fromFlag.value !== undefined && fromFlag.value !== false) [origin, raw] = [fromFlag.flag, fromFlag.value];
    else if (fromEnv !== undefined && fromEnv !== '') [origin, raw] = [envName, fromEnv];
    else raw = getField(stored, field);
    if (raw === undefined) continue;
    if (origin) {
      const checked = checkField(field, raw);
      if ('error' in checked) throw new UsageError(`${origin}: ${checked.error}`);
      raw = checked.value;
    }
    // `~/` in a key path is the home directory (a config file, or a quoted flag); a relative path
    // is relative to where the command runs, as for every file argument.
    if (KEY_PATH_FIELDS.has(field) && typeof raw === 'string') raw = keyPath(raw, env);
    values[field] = raw;
  }
  const broker: Partial<BrokerSettings> = {};
  for (const [field, value] of Object.entries(values)) {
    if (field.startsWith('broker.')) (broker as Record<string, unknown>)[field.slice(7)] = value;
  }
  return {
    name,
    issuer: values.issuer as string | undefined,
    clientId: values.clientId as string | undefined,
    clientSecret: values.clientSecret as string | undefined,
    clientAuthMethod: values.clientAuthMethod as Profile['clientAuthMethod'],
    clientKey: values.clientKey as string | undefined,
    clientKeyId: values.clientKeyId as string | undefined,
    clientKeyAlg: values.clientKeyAlg as Profile['clientKeyAlg'],
    grant: values.grant as Profile['grant'],
    scopes: (values.scopes as string[] | undefined) ?? [...DEFAULT_SCOPES],
    redirectPort: values.redirectPort as number | undefined,
    redirectHost: values.redirectHost as Profile['redirectHost'],
    scopesConfigured: values.scopes !== undefined,
    prompt: values.prompt as string | undefined,
    authParams: values.authParams as Record<string, string> | undefined,
    audience: values.audience as string | undefined,
    resource: values.resource as string | undefined,
    broker: broker.url ? (broker as BrokerSettings) : undefined,
  };
}

/** Names of the profiles in the config file at `configFile`, sorted. */
export async function configuredProfiles(configFile: string, warn: (warning: ConfigWarning) => void): Promise<string[]> {
  return Object.keys((await readConfigFile(configFile, { warn })).profiles).sort();
}

/**
 * The profile's IdP settings, or a UsageError naming the flag, env var and config key to set.
 */
export function requireIdp(profile: Profile): { issuer: string; clientId: string } {
  for (const [field, flag] of [
    ['issuer', '--issuer'],
    ['clientId', '--client-id'],
  ] as const) {
    if (!profile[field]) {
      throw new UsageError(`missing ${field === 'issuer' ? 'issuer' : 'client id'} for profile "${profile.name}"`, {
        hint: `Give ${flag}, set ${envVarFor(field)}, or run \`authbridge config set ${field} VALUE --profile ${profile.name}\`.`,
      });
    }
  }
  return { issuer: profile.issuer!, clientId: profile.clientId! };
}
