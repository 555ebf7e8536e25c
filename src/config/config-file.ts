/**
 * The config file: `{ "profiles": { "<name>": { issuer, clientId, … , "broker": { … } } } }`.
 * Validated by hand rather than with a schema library: this runs on every `status` and `token`,
 * whose start-up budget (1.3x a bare `node`) a schema library's load time alone would exceed.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { UsageError, describeError } from '../errors.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { PROFILE_NAME, type BrokerSettings } from './types.js';

/** A profile's broker as stored: the settings of {@link BrokerSettings}, each optional. */
export type StoredBroker = Partial<BrokerSettings>;

export interface StoredProfile {
  issuer?: string;
  clientId?: string;
  clientSecret?: string;
  scopes?: string[];
  redirectPort?: number;
  broker?: StoredBroker;
}

export interface ConfigFile {
  profiles: Record<string, StoredProfile>;
}

type FieldKind = 'url' | 'string' | 'scopes' | 'port' | { oneOf: readonly string[] };

/** Every settable field, with its kind; `broker.*` fields live in the profile's `broker` object. */
export const PROFILE_FIELDS = {
  issuer: 'url',
  clientId: 'string',
  clientSecret: 'string',
  scopes: 'scopes',
  redirectPort: 'port',
  'broker.url': 'url',
  'broker.clientId': 'string',
  'broker.clientSecret': 'string',
  'broker.audience': 'string',
  'broker.subjectTokenType': { oneOf: ['access_token', 'id_token', 'jwt'] },
  'broker.protocol': { oneOf: ['rfc8693', 'synerise'] },
  'broker.apiKey': 'string',
} as const satisfies Record<string, FieldKind>;

/** A profile field's name, as `config set` and the config file spell it. */
export type ProfileField = keyof typeof PROFILE_FIELDS;

/** Whether `name` is a profile field. */
export function isProfileField(name: string): name is ProfileField {
  return Object.hasOwn(PROFILE_FIELDS, name);
}

/** Checks one field's value; returns the normalised value or a message saying what was expected. */
export function checkField(field: string, value: unknown): { value: unknown } | { error: string } {
  if (!isProfileField(field)) return { error: `unknown field (known: ${Object.keys(PROFILE_FIELDS).join(', ')})` };
  const kind: FieldKind = PROFILE_FIELDS[field];
  if (kind === 'scopes') {
    const list = typeof value === 'string' ? value.split(/[\s,]+/).filter(Boolean) : value;
    if (!Array.isArray(list) || list.length === 0 || list.some((s) => typeof s !== 'string' || !/^[\x21\x23-\x5B\x5D-\x7E]+$/.test(s))) {
      return { error: 'expected a non-empty list of scope names' };
    }
    return { value: list };
  }
  if (kind === 'port') {
    const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 65535) return { error: 'expected a port number from 0 to 65535' };
    return { value: n };
  }
  if (typeof value !== 'string' || value === '') return { error: 'expected a non-empty string' };
  if (kind === 'url') {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      return { error: `expected an http(s) URL, got "${value}"` };
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') return { error: `expected an http(s) URL, got "${value}"` };
    return { value };
  }
  if (typeof kind === 'object' && !kind.oneOf.includes(value)) return { error: `expected one of ${kind.oneOf.join(', ')}` };
  return { value };
}

function validate(doc: unknown, fail: (field: string, why: string) => never): ConfigFile {
  const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
  if (!isObject(doc)) fail('(top level)', 'expected a JSON object');
  for (const key of Object.keys(doc)) if (key !== 'profiles') fail(key, 'unknown key (expected "profiles")');
  const profiles = doc.profiles ?? {};
  if (!isObject(profiles)) fail('profiles', 'expected an object of profiles by name');
  const out: ConfigFile = { profiles: {} };
  for (const [name, raw] of Object.entries(profiles)) {
    const at = `profiles.${name}`;
    if (!PROFILE_NAME.test(name)) fail(at, 'profile names are letters, digits, ".", "_" and "-"');
    if (!isObject(raw)) fail(at, 'expected an object');
    const profile: StoredProfile = {};
    for (const [key, value] of Object.entries(raw)) {
      if (key === 'broker') {
        if (!isObject(value)) fail(`${at}.broker`, 'expected an object');
        const broker: Record<string, unknown> = {};
        for (const [bkey, bvalue] of Object.entries(value)) {
          const checked = checkField(`broker.${bkey}`, bvalue);
          if ('error' in checked) fail(`${at}.broker.${bkey}`, checked.error);
          broker[bkey] = checked.value;
        }
        profile.broker = broker as StoredBroker;
        continue;
      }
      const checked = checkField(key, value);
      if ('error' in checked) fail(`${at}.${key}`, checked.error);
      (profile as Record<string, unknown>)[key] = checked.value;
    }
    out.profiles[name] = profile;
  }
  return out;
}

/**
 * Reads and validates the config file. A missing file is an empty config.
 * @throws UsageError naming the file and the field for anything unreadable or invalid.
 */
export async function readConfigFile(path: string): Promise<ConfigFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { profiles: {} };
    throw new UsageError(`could not read config ${path}: ${describeError(err)}`, { cause: err });
  }
  const fail = (field: string, why: string): never => {
    throw new UsageError(`could not load config ${path}: ${field}: ${why}`, {
      hint: 'Fix the file, or change it with `authbridge config set`.',
    });
  };
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    fail('(file)', `not valid JSON (${(err as Error).message})`);
  }
  return validate(doc, fail);
}

/** Writes the config file atomically (temp file + fsync + rename), mode 0600: it may hold secrets. */
export async function writeConfigFile(path: string, config: ConfigFile): Promise<void> {
  try {
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    await writeFileAtomic(path, `${JSON.stringify(config, null, 2)}\n`, 0o600);
  } catch (err) {
    throw new UsageError(`could not write config ${path}: ${describeError(err)}`, { cause: err });
  }
}
