import { resolvePaths } from '../context.js';
import { UsageError } from '../errors.js';
import type { Invocation } from '../main.js';
import { PROFILE_FIELDS, PROFILE_NAME, checkField, readConfigFile, type StoredProfile } from './config-file.js';
import { DEFAULT_SCOPES, type BrokerSettings, type Profile } from './types.js';

/** The command-line option (commander's camelCase key) for each profile field. */
const FLAG_FOR_FIELD: Record<string, { key: string; flag: string }> = {
  issuer: { key: 'issuer', flag: '--issuer' },
  clientId: { key: 'clientId', flag: '--client-id' },
  clientSecret: { key: 'clientSecret', flag: '--client-secret' },
  scopes: { key: 'scopes', flag: '--scopes' },
  redirectPort: { key: 'port', flag: '--port' },
  'broker.url': { key: 'brokerUrl', flag: '--broker-url' },
  'broker.clientId': { key: 'brokerClientId', flag: '--broker-client-id' },
  'broker.clientSecret': { key: 'brokerClientSecret', flag: '--broker-client-secret' },
  'broker.audience': { key: 'brokerAudience', flag: '--broker-audience' },
  'broker.subjectTokenType': { key: 'subjectTokenType', flag: '--subject-token-type' },
  'broker.protocol': { key: 'brokerProtocol', flag: '--broker-protocol' },
  'broker.apiKey': { key: 'brokerApiKey', flag: '--broker-api-key' },
};

/** `broker.clientId` → `AUTHBRIDGE_BROKER_CLIENT_ID`. */
export function envVarFor(field: string): string {
  return `AUTHBRIDGE_${field.replace('.', '_').replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase()}`;
}

/** The active profile's name: `--profile` > AUTHBRIDGE_PROFILE > `default`. */
export function profileName(inv: Invocation): string {
  const name = inv.global.profile ?? inv.ctx.env.AUTHBRIDGE_PROFILE ?? 'default';
  if (!PROFILE_NAME.test(name)) {
    throw new UsageError(`--profile must be letters, digits, ".", "_" or "-" (at most 64), got "${name}"`);
  }
  return name;
}

export function configPath(inv: Invocation): string {
  return resolvePaths(inv.ctx.env, inv.global.config).configFile;
}

function getField(profile: StoredProfile, field: string): unknown {
  if (field.startsWith('broker.')) return (profile.broker as Record<string, unknown> | undefined)?.[field.slice(7)];
  return (profile as Record<string, unknown>)[field];
}

/**
 * Resolves the active profile. Precedence per field: flag (`inv.opts`) > env `AUTHBRIDGE_<FIELD>`
 * > config file. `scopes` defaults to `openid profile email offline_access`.
 * @throws UsageError for a malformed config file or a bad flag/env value, naming it.
 */
export async function loadProfile(inv: Invocation): Promise<Profile> {
  const name = profileName(inv);
  const file = await readConfigFile(configPath(inv));
  const stored = file.profiles[name] ?? {};
  const values: Record<string, unknown> = {};
  for (const field of Object.keys(PROFILE_FIELDS)) {
    const { key, flag } = FLAG_FOR_FIELD[field]!;
    const fromFlag = inv.opts[key];
    const envName = envVarFor(field);
    const fromEnv = inv.ctx.env[envName];
    let source: string | undefined;
    let raw: unknown;
    if (fromFlag !== undefined && fromFlag !== false) [source, raw] = [flag, fromFlag];
    else if (fromEnv !== undefined && fromEnv !== '') [source, raw] = [envName, fromEnv];
    else raw = getField(stored, field);
    if (raw === undefined) continue;
    if (source) {
      const checked = checkField(field, raw);
      if ('error' in checked) throw new UsageError(`${source}: ${checked.error}`);
      raw = checked.value;
    }
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
    scopes: (values.scopes as string[] | undefined) ?? [...DEFAULT_SCOPES],
    redirectPort: values.redirectPort as number | undefined,
    broker: broker.url ? (broker as BrokerSettings) : undefined,
  };
}

/** Names of the profiles in the config file, sorted (the cache adds its own in `listProfiles`). */
export async function configuredProfiles(inv: Invocation): Promise<string[]> {
  return Object.keys((await readConfigFile(configPath(inv))).profiles).sort();
}

/** Names of all profiles in the config file and the token cache, sorted. */
export async function listProfiles(inv: Invocation): Promise<string[]> {
  const { TokenCache } = await import('../cache/token-cache.js');
  const names = new Set([...(await configuredProfiles(inv)), ...(await TokenCache.forContext(inv).profiles())]);
  return [...names].sort();
}

/**
 * The profile's IdP settings, or a UsageError naming the flag, env var and config key to set.
 */
export function requireIdp(profile: Profile): { issuer: string; clientId: string } {
  for (const field of ['issuer', 'clientId'] as const) {
    if (!profile[field]) {
      const flag = FLAG_FOR_FIELD[field]!.flag;
      throw new UsageError(`missing ${field === 'issuer' ? 'issuer' : 'client id'} for profile "${profile.name}"`, {
        hint: `Give ${flag}, set ${envVarFor(field)}, or run \`authbridge config set ${field} VALUE --profile ${profile.name}\`.`,
      });
    }
  }
  return { issuer: profile.issuer!, clientId: profile.clientId! };
}
