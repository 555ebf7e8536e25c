/**
 * `config [set|get|list|unset|profiles] [KEY] [VALUE]`: edits the config file for the active
 * profile. A profile other than `default` is made only with `set --create`; `profiles` lists the
 * names (config file and token cache), one a line, for scripts and the completion scripts.
 */
import { Argument, type Command } from 'commander';
import { PROFILE_FIELDS, checkField, isProfileField, writeConfigFile, type ProfileField, type StoredProfile } from '../config/config-file.js';
import { envVarFor } from '../config/profile.js';
import { UsageError, type Outcome } from '../errors.js';
import { keyValues } from '../output/blocks.js';
import { createOutput } from '../output/output.js';
import { withFileLock } from '../util/atomic-file.js';
import { didYouMean } from '../util/suggest.js';
import { optFlag, type Invocation, type ParseInput } from './invocation.js';
import { configPath, listProfiles, profileExists, profileName, readConfig, requireProfile } from './profile.js';

/** The actions, in the order help and completion list them. */
export const CONFIG_ACTIONS = ['set', 'get', 'list', 'unset', 'profiles'] as const;

export type ConfigOptions =
  | { action: 'set'; key: ProfileField; value: unknown; create: boolean }
  | { action: 'profiles' }
  | { action: 'unset'; key: ProfileField }
  | { action: 'get'; key: ProfileField }
  | { action: 'list'; showSecrets: boolean };

const SECRET_FIELDS = new Set<string>(['clientSecret', 'broker.clientSecret', 'broker.apiKey']);

/**
 * `argument` with `values` recorded for the completion scripts, not enforced by commander: parse()
 * refuses anything else itself, with a did-you-mean.
 */
function listing(argument: Argument, values: readonly string[]): Argument {
  argument.argChoices = [...values];
  return argument;
}

export function define(cmd: Command): Command {
  return cmd
    .summary('show or change a profile\'s settings')
    .description('Edit the config file for a profile (--profile, default "default").')
    .addArgument(listing(new Argument('[action]', 'what to do (default list)'), CONFIG_ACTIONS))
    .addArgument(listing(new Argument('[key]', 'the setting'), Object.keys(PROFILE_FIELDS)))
    .argument('[value]', 'the new value (set)')
    .option('--show-secrets', 'list secrets in clear')
    .option('--create', 'set: make the profile if it does not exist yet (any but "default")')
    .addHelpText(
      'after',
      '\nExamples:\n  authbridge config set issuer https://idp.example.com\n  authbridge config set clientId my-cli --profile work --create\n' +
        '  authbridge config list --profile work\n  authbridge config profiles',
    );
}

function knownField(action: string, field: string | undefined): ProfileField {
  const keys = Object.keys(PROFILE_FIELDS);
  if (!field) throw new UsageError(`config ${action} needs a KEY`, { hint: `Keys: ${keys.join(', ')}.` });
  if (!isProfileField(field)) {
    const suggestion = didYouMean(field, keys);
    throw new UsageError(`unknown config key "${field}"`, { hint: suggestion ? `${suggestion} Keys: ${keys.join(', ')}.` : `Keys: ${keys.join(', ')}.` });
  }
  return field;
}

export function parse({ args, opts }: ParseInput): ConfigOptions {
  const [action, field, value] = args;
  if (action === 'set') {
    const key = knownField(action, field);
    if (value === undefined) throw new UsageError(`config set ${key}: missing VALUE`);
    const checked = checkField(key, value);
    if ('error' in checked) throw new UsageError(`config set ${key}: ${checked.error}`);
    return { action, key, value: checked.value, create: optFlag(opts, 'create') };
  }
  if (action === 'unset' || action === 'get') return { action, key: knownField(action, field) };
  if (action === 'list' || action === undefined) return { action: 'list', showSecrets: optFlag(opts, 'showSecrets') };
  if (action === 'profiles') return { action };
  throw new UsageError(`unknown config action "${action}" (expected set, get, list, unset or profiles)`, {
    hint: didYouMean(action, CONFIG_ACTIONS) ?? "Run 'authbridge config --help' for usage.",
  });
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

export async function run(inv: Invocation, options: ConfigOptions): Promise<Outcome> {
  const { ctx, global } = inv;
  const out = createOutput(ctx, global);
  const path = configPath(inv);
  const name = profileName(inv);

  if (options.action === 'profiles') {
    const names = await listProfiles(inv);
    if (out.json) out.jsonDoc({ profiles: names });
    else if (names.length) out.data(names.join('\n'));
    return 'ok';
  }

  // A mistyped --profile never makes a profile: that takes `set --create`.
  const create = options.action === 'set' && options.create && !(await profileExists(inv, name));
  if (!create) {
    await requireProfile(inv, name, options.action === 'set' ? `To create it, add --create: authbridge config set ${options.key} … --profile ${name} --create` : undefined);
  }

  if (options.action === 'set' || options.action === 'unset') {
    const { key } = options;
    const value = options.action === 'set' ? options.value : undefined;
    await withFileLock(path, async () => {
      const config = await readConfig(inv);
      const profile: StoredProfile = { ...(config.profiles[name] ?? {}) };
      setField(profile, key, value);
      if (Object.keys(profile).length) config.profiles[name] = profile;
      else delete config.profiles[name];
      await writeConfigFile(path, config);
    });
    if (out.json) out.jsonDoc({ profile: name, key, value: options.action === 'set' ? value : null, file: path, ...(create ? { created: true } : {}) });
    else {
      if (create) out.info(`Created profile "${name}".`);
      out.info(options.action === 'set' ? `Set ${key} for profile "${name}" in ${path}.` : `Removed ${key} from profile "${name}".`);
    }
    return 'ok';
  }

  const config = await readConfig(inv);
  const profile = config.profiles[name] ?? {};
  if (options.action === 'get') {
    const { key } = options;
    const current = getField(profile, key);
    if (out.json) {
      out.jsonDoc({ profile: name, key, value: current ?? null });
      return current === undefined ? 'not_set' : 'ok';
    }
    if (current === undefined) {
      out.info(`${key} is not set for profile "${name}" (env ${envVarFor(key)} or a flag may still give it).`);
      return 'not_set';
    }
    out.data(Array.isArray(current) ? current.join(' ') : String(current));
    return 'ok';
  }
  const reveal = options.showSecrets;
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
    return 'ok';
  }
  out.data(`${out.style.bold(`Profile "${name}"`)} ${out.style.dim(`(${path})`)}`);
  out.data(entries.length ? keyValues(entries.map(([k, v]) => [k, show(k, v, reveal)] as const), out.style) : '  (nothing set)');
  const others = Object.keys(config.profiles).filter((p) => p !== name);
  if (others.length) out.data(`${out.style.dim('Other profiles:')} ${others.sort().join(', ')}`);
  return 'ok';
}
