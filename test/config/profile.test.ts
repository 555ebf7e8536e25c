import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readConfigFile } from '../../src/config/config-file.js';
import { profileOverrides } from '../../src/commands/flags.js';
import { loadProfile as loadFor } from '../../src/commands/profile.js';
import type { Invocation } from '../../src/commands/invocation.js';
import { requireIdp } from '../../src/config/profile.js';
import type { Context } from '../../src/context.js';
import { AuthbridgeError, UsageError } from '../../src/errors.js';
import { invocation, testContext } from '../helpers/context.js';

/** The profile a command would resolve with these commander option values and global options. */
const loadProfile = (ctx: Context, opts: Record<string, unknown> = {}, global: Partial<Invocation['global']> = {}) =>
  loadFor(invocation(ctx, global), profileOverrides(opts));

function configDir(content: unknown) {
  const home = mkdtempSync(join(tmpdir(), 'ab-config-'));
  mkdirSync(join(home, 'authbridge'));
  const file = join(home, 'authbridge', 'config.json');
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return { env: { XDG_CONFIG_HOME: home, XDG_CACHE_HOME: join(home, 'cache') }, file };
}

const fileProfile = {
  profiles: {
    default: { issuer: 'https://file.example', clientId: 'file-client', scopes: ['openid'], broker: { url: 'https://broker.file' } },
    work: { issuer: 'https://work.example', clientId: 'work-client' },
  },
};

describe('loadProfile precedence: flag > env > config file', () => {
  const { env } = configDir(fileProfile);
  const cases: Array<[string, Record<string, string>, Record<string, unknown>, Partial<Record<string, unknown>>]> = [
    ['file only', {}, {}, { issuer: 'https://file.example', clientId: 'file-client', scopes: ['openid'] }],
    ['env over file', { AUTHBRIDGE_ISSUER: 'https://env.example' }, {}, { issuer: 'https://env.example', clientId: 'file-client' }],
    ['flag over env', { AUTHBRIDGE_ISSUER: 'https://env.example' }, { issuer: 'https://flag.example' }, { issuer: 'https://flag.example' }],
    ['env scopes list', { AUTHBRIDGE_SCOPES: 'openid email' }, {}, { scopes: ['openid', 'email'] }],
    ['redirect port from flag', {}, { port: '8400' }, { redirectPort: 8400 }],
    ['configured scopes are marked so', {}, { scopes: 'openid' }, { scopes: ['openid'], scopesConfigured: true }],
    ['client auth method, redirect host, prompt from env', { AUTHBRIDGE_CLIENT_AUTH_METHOD: 'client_secret_post', AUTHBRIDGE_REDIRECT_HOST: 'localhost', AUTHBRIDGE_PROMPT: 'consent' }, {}, { clientAuthMethod: 'client_secret_post', redirectHost: 'localhost', prompt: 'consent' }],
    ['--auth-param, repeatable', {}, { authParam: ['access_type=offline', 'hd=example.com'] }, { authParams: { access_type: 'offline', hd: 'example.com' } }],
    ['auth params from env, a value holding =', { AUTHBRIDGE_AUTH_PARAMS: 'acr_values=urn:x login_hint=a=b' }, {}, { authParams: { acr_values: 'urn:x', login_hint: 'a=b' } }],
    ['a custom subject token type (any absolute URI)', {}, { brokerUrl: 'https://broker.example', subjectTokenType: 'urn:authbridge:token-type:backend' }, { broker: { url: 'https://broker.example', subjectTokenType: 'urn:authbridge:token-type:backend' } }],
    ['audience and resource from flags', {}, { audience: 'https://api.example', resource: 'https://api.example/' }, { audience: 'https://api.example', resource: 'https://api.example/' }],
  ];
  it.each(cases)('%s', async (_name, extraEnv, opts, expected) => {
    const profile = await loadProfile(testContext({ env: { ...env, ...extraEnv } }), opts);
    expect(profile).toMatchObject(expected);
  });

  it('broker settings come from env vars AUTHBRIDGE_BROKER_*', async () => {
    const profile = await loadProfile(testContext({ env: { ...env, AUTHBRIDGE_BROKER_URL: 'https://broker.env', AUTHBRIDGE_BROKER_CLIENT_ID: 'cli', AUTHBRIDGE_BROKER_PROTOCOL: 'synerise', AUTHBRIDGE_BROKER_API_KEY: 'k' } }),
    );
    expect(profile.broker).toEqual({ url: 'https://broker.env', clientId: 'cli', protocol: 'synerise', apiKey: 'k' });
  });

  it('selects the profile by --profile, then AUTHBRIDGE_PROFILE', async () => {
    expect((await loadProfile(testContext({ env }), {}, { profile: 'work' })).clientId).toBe('work-client');
    expect((await loadProfile(testContext({ env: { ...env, AUTHBRIDGE_PROFILE: 'work' } }))).clientId).toBe('work-client');
  });

  it('defaults scopes to openid profile email offline_access, not marked configured (login drops offline_access where the IdP does not list it)', async () => {
    const profile = await loadProfile(testContext({ env }), {}, { profile: 'work' });
    expect(profile.scopes).toEqual(['openid', 'profile', 'email', 'offline_access']);
    expect(profile.scopesConfigured).toBe(false);
  });

  it.each([
    ['--auth-param', { authParam: ['nokey'] }, /--auth-param: expected KEY=VALUE, got "nokey"/],
    ['--auth-param', { authParam: ['state=x'] }, /--auth-param: "state" is set by authbridge/],
    ['--auth-param', { authParam: ['scope=x'] }, /--auth-param: "scope" is set by authbridge \(use --scopes\)/],
    ['--client-auth-method', { clientAuthMethod: 'tls_client_auth' }, /--client-auth-method: expected one of none, client_secret_basic, client_secret_post, private_key_jwt/],
    ['--redirect-host', { redirectHost: '0.0.0.0' }, /--redirect-host: expected one of 127\.0\.0\.1, localhost/],
    ['--subject-token-type', { subjectTokenType: 'opaque' }, /--subject-token-type: expected access_token, id_token, jwt or an absolute URI such as urn:authbridge:token-type:<provider>/],
  ])('refuses a bad %s, naming the flag', async (_flag, opts, message) => {
    await expect(loadProfile(testContext({ env }), opts)).rejects.toThrow(message);
  });

  it('names the env var of a bad value', async () => {
    await expect(loadProfile(testContext({ env: { ...env, AUTHBRIDGE_REDIRECT_PORT: 'x' } }))).rejects.toThrow(
      /AUTHBRIDGE_REDIRECT_PORT: expected a port number/,
    );
  });

  it('requireIdp names the flag, env var and config key', async () => {
    const profile = await loadProfile(testContext({ env: {} }));
    expect(() => requireIdp(profile)).toThrow(UsageError);
    try {
      requireIdp(profile);
    } catch (err) {
      expect((err as UsageError).hint).toMatch(/--issuer.*AUTHBRIDGE_ISSUER.*config set issuer/);
    }
  });
});

describe('config file validation', () => {
  const bad: Array<[string, unknown, RegExp]> = [
    ['not JSON', '{nope', /\(file\): not valid JSON/],
    ['an array', '[]', /\(top level\): expected a JSON object/],
    ['an unknown top-level key', { profile: {} }, /profile: unknown key/],
    ['a profile that is not an object', { profiles: { a: 5 } }, /profiles\.a: expected an object/],
    ['a bad profile name', { profiles: { '../x': {} } }, /profiles\.\.\.\/x: profile names/],
    ['an issuer that is not a URL', { profiles: { a: { issuer: 'idp' } } }, /profiles\.a\.issuer: expected an http\(s\) URL/],
    ['a file: issuer', { profiles: { a: { issuer: 'file:///etc' } } }, /profiles\.a\.issuer: expected an http\(s\) URL/],
    ['a numeric client id', { profiles: { a: { clientId: 5 } } }, /profiles\.a\.clientId: expected a non-empty string/],
    ['a port out of range', { profiles: { a: { redirectPort: 70000 } } }, /profiles\.a\.redirectPort: expected a port/],
    ['empty scopes', { profiles: { a: { scopes: [] } } }, /profiles\.a\.scopes: expected a non-empty list/],
    ['an unknown field', { profiles: { a: { issuerr: 'x' } } }, /profiles\.a\.issuerr: unknown field/],
    ['a bad broker protocol', { profiles: { a: { broker: { protocol: 'soap' } } } }, /profiles\.a\.broker\.protocol: expected one of rfc8693, synerise/],
  ];
  it.each(bad)('refuses %s, naming the field', async (_name, content, message) => {
    const { file } = configDir(content);
    const err = await readConfigFile(file, { warn: () => {} }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toMatch(message);
    expect((err as Error).message).toContain(file);
  });

  it('a missing file is an empty config', async () => {
    expect(await readConfigFile('/nonexistent/authbridge/config.json', { warn: () => {} })).toEqual({ profiles: {} });
  });

  it('never throws anything but a UsageError, whatever the file holds (property)', async () => {
    const { file } = configDir('{}');
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string(), fc.jsonValue().map((v) => JSON.stringify(v)), fc.record({ profiles: fc.dictionary(fc.string(), fc.jsonValue()) }).map((v) => JSON.stringify(v))), async (text) => {
        writeFileSync(file, text);
        try {
          const config = await readConfigFile(file, { warn: () => {} });
          expect(typeof config.profiles).toBe('object');
        } catch (err) {
          expect(err).toBeInstanceOf(AuthbridgeError);
          expect((err as Error).message).not.toMatch(/\n/);
        }
      }),
      { numRuns: 300 },
    );
  });
});
