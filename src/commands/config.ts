import { PROFILE_FIELDS, checkField, readConfigFile, writeConfigFile, type StoredProfile } from '../config/config-file.js';
import { configPath, envVarFor, profileName } from '../config/profile.js';
import { UsageError } from '../errors.js';
import type { Invocation } from '../main.js';
import { keyValues } from '../output/blocks.js';
import { createOutput } from '../output/output.js';
import { withFileLock } from '../util/atomic-file.js';

const SECRET_FIELDS = new Set(['clientSecret', 'broker.clientSecret', 'broker.apiKey']);

function knownField(action: string, field: string | undefined): string {
  if (!field) throw new UsageError(`config ${action} needs a KEY`, { hint: `Keys: ${Object.keys(PROFILE_FIELDS).join(', ')}.` });
  if (!PROFILE_FIELDS[field]) {
    throw new UsageError(`unknown config key "${field}"`, { hint: `Keys: ${Object.keys(PROFILE_FIELDS).join(', ')}.` });
  }
  return field;
}

function getField(profile: StoredProfile, field: string): unknown {
  if (field.startsWith('broker.')) return (profile.broker as Record<string, unknown> | undefined)?.[field.slice(7)];
  return (profile as Record<string, unknown>)[field];
}

function setField(profile: StoredProfile, field: string, value: unknown): void {
  if (field.startsWith('broker.')) {
    const broker = { ...(profile.broker ?? {}) } as Record<string, unknown>;
    if (value === undefined) delete broker[field.slice(7)];
    else broker[field.slice(7)] = value;
    profile.broker = Object.keys(broker).length ? broker : undefined;
    if (!profile.broker) delete profile.broker;
    return;
  }
  const p = profile as Record<string, unknown>;
  if (value === undefined) delete p[field];
  else p[field] = value;
}

function show(field: string, value: unknown, reveal: boolean): string {
  if (SECRET_FIELDS.has(field) && !reveal) return '••••••••';
  return Array.isArray(value) ? value.join(' ') : String(value);
}

/** `config set|get|list|unset`: edits the config file for the active profile. */
export async function run(inv: Invocation): Promise<number> {
  const { ctx, global, args, opts } = inv;
  const out = createOutput(ctx, global);
  const [action, field, value] = args;
  const path = configPath(inv);
  const name = profileName(inv);

  if (action === 'set' || action === 'unset') {
    const key = knownField(action, field);
    let normalised: unknown;
    if (action === 'set') {
      if (value === undefined) throw new UsageError(`config set ${key}: missing VALUE`);
      const checked = checkField(key, value);
      if ('error' in checked) throw new UsageError(`config set ${key}: ${checked.error}`);
      normalised = checked.value;
    }
    await withFileLock(path, async () => {
      const config = await readConfigFile(path);
      const profile: StoredProfile = { ...(config.profiles[name] ?? {}) };
      setField(profile, key, normalised);
      if (Object.keys(profile).length) config.profiles[name] = profile;
      else delete config.profiles[name];
      await writeConfigFile(path, config);
    });
    if (out.json) out.jsonDoc({ profile: name, key, value: action === 'set' ? normalised : null, file: path });
    else out.info(action === 'set' ? `Set ${key} for profile "${name}" in ${path}.` : `Removed ${key} from profile "${name}".`);
    return 0;
  }

  const config = await readConfigFile(path);
  const profile = config.profiles[name] ?? {};
  if (action === 'get') {
    const key = knownField(action, field);
    const current = getField(profile, key);
    if (out.json) {
      out.jsonDoc({ profile: name, key, value: current ?? null });
      return current === undefined ? 1 : 0;
    }
    if (current === undefined) {
      out.info(`${key} is not set for profile "${name}" (env ${envVarFor(key)} or a flag may still give it).`);
      return 1;
    }
    out.data(Array.isArray(current) ? current.join(' ') : String(current));
    return 0;
  }
  if (action === 'list' || action === undefined) {
    const reveal = Boolean(opts.showSecrets);
    const entries = Object.keys(PROFILE_FIELDS)
      .map((key) => [key, getField(profile, key)] as const)
      .filter(([, v]) => v !== undefined);
    if (out.json) {
      out.jsonDoc({
        profile: name,
        file: path,
        values: Object.fromEntries(entries.map(([k, v]) => [k, SECRET_FIELDS.has(k) && !reveal ? '********' : v])),
        profiles: Object.keys(config.profiles).sort(),
      });
      return 0;
    }
    out.data(`${out.style.bold(`Profile "${name}"`)} ${out.style.dim(`(${path})`)}`);
    out.data(entries.length ? keyValues(entries.map(([k, v]) => [k, show(k, v, reveal)] as const), out.style) : '  (nothing set)');
    const others = Object.keys(config.profiles).filter((p) => p !== name);
    if (others.length) out.data(`${out.style.dim('Other profiles:')} ${others.sort().join(', ')}`);
    return 0;
  }
  throw new UsageError(`unknown config action "${action}" (expected set, get, list or unset)`);
}
