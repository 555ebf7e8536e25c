/**
 * The config file: `{ "profiles": { "<name>": { issuer, clientId, … , "broker": { … } } } }`.
 * Validated by hand rather than with a schema library: this runs on every `status` and `token`,
 * whose start-up budget (1.3x a bare `node`) a schema library's load time alone would exceed.
 *
 * It decides where you sign in and where your tokens go, so it is read as OpenSSH's StrictModes
 * reads `~/.ssh/config`: refused when another user owns it or group/others may write it, never
 * through a symlink, and a warning when it holds secrets that others may read.
 */
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { UsageError, describeError } from '../errors.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { UnsafePathError, currentUid, openOwnFile } from '../util/own-file.js';
import { CLIENT_AUTH_METHOD_SETTINGS, CLIENT_KEY_ALGS, GRANTS, PROFILE_NAME, type BrokerSettings, type ClientAuthMethodSetting, type Grant } from './types.js';

/** A profile's broker as stored: the settings of {@link BrokerSettings}, each optional. */
export type StoredBroker = Partial<BrokerSettings>;

export interface StoredProfile {
  issuer?: string;
  clientId?: string;
  clientSecret?: string;
  clientAuthMethod?: ClientAuthMethodSetting;
  clientKey?: string;
  clientKeyId?: string;
  clientKeyAlg?: (typeof CLIENT_KEY_ALGS)[number];
  grant?: Grant;
  scopes?: string[];
  redirectPort?: number;
  redirectHost?: '127.0.0.1' | 'localhost';
  prompt?: string;
  authParams?: Record<string, string>;
  audience?: string;
  resource?: string;
  broker?: StoredBroker;
}

export interface ConfigFile {
  profiles: Record<string, StoredProfile>;
}

type FieldKind = 'url' | 'string' | 'scopes' | 'port' | 'params' | 'tokenType' | { oneOf: readonly string[] };

/** The short names of `subjectTokenType`; any absolute URI is also taken (RFC 8693 §3). */
export const SUBJECT_TOKEN_TYPES = ['access_token', 'id_token', 'jwt'] as const;

/**
 * Authorization request parameters authbridge sets itself: `--auth-param` may not change them
 * (`scope` has `--scopes`, `prompt` `--prompt`, `audience`/`resource` their own flags).
 */
export const RESERVED_AUTH_PARAMS = [
  'response_type',
  'client_id',
  'redirect_uri',
  'state',
  'nonce',
  'code_challenge',
  'code_challenge_method',
  'scope',
  'prompt',
  'audience',
  'resource',
];

/** Every settable field, with its kind; `broker.*` fields live in the profile's `broker` object. */
export const PROFILE_FIELDS = {
  issuer: 'url',
  clientId: 'string',
  clientSecret: 'string',
  clientAuthMethod: { oneOf: CLIENT_AUTH_METHOD_SETTINGS },
  clientKey: 'string',
  clientKeyId: 'string',
  clientKeyAlg: { oneOf: CLIENT_KEY_ALGS },
  grant: { oneOf: GRANTS },
  scopes: 'scopes',
  redirectPort: 'port',
  redirectHost: { oneOf: ['127.0.0.1', 'localhost'] },
  prompt: 'string',
  authParams: 'params',
  audience: 'string',
  resource: 'url',
  'broker.url': 'url',
  'broker.clientId': 'string',
  'broker.clientSecret': 'string',
  'broker.audience': 'string',
  'broker.subjectTokenType': 'tokenType',
  'broker.protocol': { oneOf: ['rfc8693', 'synerise'] },
  'broker.apiKey': 'string',
  'broker.clientKey': 'string',
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
  if (kind === 'params') return checkParams(value);
  if (kind === 'tokenType') {
    // RFC 8693 §3: a token type is any absolute URI, e.g. urn:authbridge:token-type:<provider>.
    const ok =
      typeof value === 'string' &&
      ((SUBJECT_TOKEN_TYPES as readonly string[]).includes(value) || (/^[A-Za-z][A-Za-z0-9+.-]*:[^\s]+$/.test(value) && URL.canParse(value)));
    return ok ? { value } : { error: `expected ${SUBJECT_TOKEN_TYPES.join(', ')} or an absolute URI such as urn:authbridge:token-type:<provider>` };
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

/**
 * Extra authorization request parameters: an object of strings, or `KEY=VALUE` items (an array,
 * or one string of them separated by spaces or commas, as `--auth-param`/env give them).
 */
function checkParams(value: unknown): { value: Record<string, string> } | { error: string } {
  const out: Record<string, string> = {};
  const items = typeof value === 'string' ? value.split(/[\s,]+/).filter(Boolean) : value;
  if (Array.isArray(items)) {
    for (const item of items) {
      const eq = typeof item === 'string' ? item.indexOf('=') : -1;
      if (eq <= 0) return { error: `expected KEY=VALUE, got "${String(item)}"` };
      out[(item as string).slice(0, eq)] = (item as string).slice(eq + 1);
    }
  } else if (items !== null && typeof items === 'object') {
    for (const [k, v] of Object.entries(items)) {
      if (typeof v !== 'string') return { error: `expected a string value for "${k}"` };
      out[k] = v;
    }
  } else {
    return { error: 'expected KEY=VALUE parameters' };
  }
  if (Object.keys(out).length === 0) return { error: 'expected at least one KEY=VALUE' };
  for (const key of Object.keys(out)) {
    if (!/^[A-Za-z0-9_.-]+$/.test(key)) return { error: `"${key}" is not a parameter name` };
    if (RESERVED_AUTH_PARAMS.includes(key)) {
      return { error: `"${key}" is set by authbridge${['scope', 'prompt', 'audience', 'resource'].includes(key) ? ` (use --${key === 'scope' ? 'scopes' : key})` : ''}` };
    }
  }
  return { value: out };
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

/** A config file that works but should be fixed: what is wrong, and the command that fixes it. */
export interface ConfigWarning {
  message: string;
  fix: string;
}

export interface ReadConfigOptions {
  /** Receives what is wrong but not fatal (secrets readable by others). */
  warn: (warning: ConfigWarning) => void;
}

const MAX_CONFIG_BYTES = 1024 * 1024;

/** Who besides the owner `mode` lets in by `groupBit` and `otherBit`: `group`, `others`, `group and others` or ''. */
function whoElse(mode: number, groupBit: number, otherBit: number): string {
  return [mode & groupBit && 'group', mode & otherBit && 'others'].filter(Boolean).join(' and ');
}

const octal = (mode: number) => (mode & 0o777).toString(8).padStart(4, '0');

/** The secret fields a config holds, as `config set` names them. */
function secretsIn(config: ConfigFile): string[] {
  const found = new Set<string>();
  for (const profile of Object.values(config.profiles)) {
    if (profile.clientSecret) found.add('clientSecret');
    if (profile.broker?.clientSecret) found.add('broker.clientSecret');
    if (profile.broker?.apiKey) found.add('broker.apiKey');
  }
  return [...found];
}

/** Opens the config as StrictModes would, returning its text and mode; undefined when there is none. */
async function readStrictly(path: string): Promise<{ text: string; mode: number } | undefined> {
  const refuse = (why: string, hint: string, cause?: unknown): never => {
    throw new UsageError(`could not load config ${path}: ${why}`, { hint, cause });
  };
  let opened;
  try {
    opened = await openOwnFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    if (err instanceof UnsafePathError) {
      switch (err.reason) {
        case 'symlink':
          return refuse(err.message, 'Point --config (or AUTHBRIDGE_CONFIG) at the file itself, or replace the link with the file.', err);
        case 'foreign_owner':
          return refuse(
            `${err.message}; another user could change where you sign in`,
            `Use a config file of your own: copy it, or have it handed over (chown ${currentUid()} ${path}).`,
            err,
          );
        default:
          // A directory, a FIFO, a device: unreadable as a config, as it always was.
          throw new UsageError(`could not read config ${path}: ${err.message}`, { hint: 'Point --config (or AUTHBRIDGE_CONFIG) at a JSON file.', cause: err });
      }
    }
    throw new UsageError(`could not read config ${path}: ${describeError(err)}`, { cause: err });
  }
  const { handle, info } = opened;
  try {
    const writable = whoElse(info.mode, 0o020, 0o002);
    if (writable) {
      refuse(`it is writable by ${writable} (mode ${octal(info.mode)}), so another user could change where you sign in`, `Only you may write it: chmod go-w ${path}`);
    }
    if (info.size > MAX_CONFIG_BYTES) refuse('it is larger than 1 MiB', 'Is it the right file?');
    return { text: await handle.readFile('utf8'), mode: info.mode };
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(`could not read config ${path}: ${describeError(err)}`, { cause: err });
  } finally {
    await handle.close().catch(() => {});
  }
}

/**
 * Reads and validates the config file. A missing file is an empty config. Refused, as OpenSSH's
 * StrictModes would: a file another user owns, one group or others may write, a symlink, anything
 * but a regular file. A file that holds secrets (`clientSecret`, `broker.clientSecret`,
 * `broker.apiKey`) and that others may read is used, with a warning through `options.warn`.
 * @throws UsageError naming the file (and the field, or the fix) for anything unreadable, unsafe
 *   or invalid.
 */
export async function readConfigFile(path: string, options: ReadConfigOptions): Promise<ConfigFile> {
  const read = await readStrictly(path);
  if (!read) return { profiles: {} };
  const { text, mode } = read;
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
  const config = validate(doc, fail);
  const readable = whoElse(mode, 0o040, 0o004);
  const secrets = secretsIn(config);
  if (readable && secrets.length) {
    options.warn({
      message: `config ${path} holds secrets (${secrets.join(', ')}) and is readable by other users (mode ${octal(mode)})`,
      fix: `chmod 600 ${path}`,
    });
  }
  return config;
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
