/** The broker's config file: defaults, and bad values refused at start with the field named. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseBrokerConfig, resolveBrokerConfig } from '../../src/broker/config.js';
import { runCli } from '../helpers/cli.js';
import { tempDir } from './helpers.js';

const minimal = {
  clients: [{ clientId: 'cli', tokenEndpointAuthMethod: 'client_secret_basic', clientSecret: 's3cret' }],
  providers: [{ id: 'idp', type: 'jwt', issuer: 'https://idp.example.com', audience: 'cli' }],
};

function message(doc: unknown): string {
  try {
    parseBrokerConfig(doc, 'broker.json');
  } catch (err) {
    return (err as Error).message;
  }
  return 'accepted';
}

describe('parseBrokerConfig', () => {
  it('fills in the contract defaults', () => {
    const file = parseBrokerConfig(
      {
        ...minimal,
        providers: [...minimal.providers, { id: 'backend', type: 'callback', url: 'https://backend.example.com/me' }],
      },
      'broker.json',
    );
    expect(file.tokenTtl).toBe(3600);
    expect(file.providers[0]).toMatchObject({ subjectPointer: '/sub', updatePolicy: 'each-login', registration: 'auto', mapping: {}, leeway: 30 });
    expect(file.providers[1]).toMatchObject({ method: 'GET', timeoutMs: 5000, headers: {} });
    const resolved = resolveBrokerConfig(file, { host: '127.0.0.1', port: 8787 });
    expect(resolved).toMatchObject({ issuer: 'http://127.0.0.1:8787', audience: 'http://127.0.0.1:8787' });
    expect(resolveBrokerConfig({ ...file, issuer: 'https://b.example', audience: 'app' }, { host: '::1', port: 1 })).toMatchObject({
      issuer: 'https://b.example',
      audience: 'app',
    });
    expect(resolveBrokerConfig(file, { host: '::1', port: 9 }).issuer).toBe('http://[::1]:9');
  });

  it('accepts the contract example', () => {
    expect(
      message({
        issuer: 'http://127.0.0.1:8787',
        audience: 'my-app',
        tokenTtl: 3600,
        clients: [
          { clientId: 'cli', tokenEndpointAuthMethod: 'client_secret_basic', clientSecret: 's3cret' },
          { clientId: 'mobile-app', tokenEndpointAuthMethod: 'none' },
          { clientId: 'sdk', apiKey: 'key' },
        ],
        providers: [
          {
            id: 'idp',
            type: 'jwt',
            issuer: 'https://idp.example.com',
            audience: ['cli', 'https://api.example.com/'],
            jwksUri: 'https://idp.example.com/jwks',
            algorithms: ['RS256', 'ES256'],
            mapping: { email: '/email', firstName: '/given_name', lastName: '/family_name' },
            updatePolicy: 'each-login',
            registration: 'auto',
          },
          {
            id: 'backend',
            type: 'callback',
            url: 'https://backend.example.com/me',
            method: 'GET',
            headers: { 'x-api-key': 'k' },
            subjectPointer: '/id',
            timeoutMs: 5000,
            mapping: { email: '/email' },
            updatePolicy: 'first-login',
          },
        ],
      }),
    ).toBe('accepted');
  });

  const provider = (patch: Record<string, unknown>) => ({ ...minimal, providers: [{ ...minimal.providers[0], ...patch }] });
  it.each([
    ['a non-URL issuer', provider({ issuer: 'idp.example.com' }), 'providers[0].issuer: expected an https or http URL'],
    ['an unknown top-level key', { ...minimal, port: 80 }, 'port: unknown key'],
    ['an unknown provider key', provider({ jwks: 'x' }), 'providers[0].jwks: unknown key'],
    ['an unknown provider type', provider({ type: 'saml' }), 'providers[0].type: expected "jwt" or "callback"'],
    ['a missing audience', provider({ audience: undefined }), 'providers[0].audience: '],
    ['HS256 in the allow-list', provider({ algorithms: ['HS256'] }), 'providers[0].algorithms[0]: expected an asymmetric JWS algorithm'],
    ['leeway over 60 s', provider({ leeway: 120 }), 'providers[0].leeway: at most 60 seconds'],
    ['a bad pointer', provider({ mapping: { email: 'email' } }), 'providers[0].mapping.email: expected a JSON Pointer'],
    ['a reserved field name', provider({ mapping: { sub: '/sub' } }), 'providers[0].mapping: field names must be non-empty'],
    ['a bad update policy', provider({ updatePolicy: 'always' }), 'providers[0].updatePolicy: expected "each-login" or "first-login"'],
    ['a bad registration', provider({ registration: 'open' }), 'providers[0].registration: expected "auto" or "existing-only"'],
    ['no clients', { ...minimal, clients: [] }, 'clients: expected at least one client'],
    ['a duplicate client id', { ...minimal, clients: [{ clientId: 'a', tokenEndpointAuthMethod: 'none' }, { clientId: 'a', tokenEndpointAuthMethod: 'none' }] }, 'clients[1].clientId: client id "a" is already used'],
    ['a client without id', { ...minimal, clients: [{ clientSecret: 'x' }] }, 'clients[0].clientId: required'],
    ['a short token TTL', { ...minimal, tokenTtl: 5 }, 'tokenTtl: at least 60 seconds'],
    ['two providers trusting one issuer', { ...minimal, providers: [minimal.providers[0], { ...minimal.providers[0], id: 'again' }] }, 'providers[1].issuer: issuer is already trusted'],
    ['a provider id unfit for a URN', provider({ id: 'my idp' }), 'providers[0].id: expected letters, digits'],
  ])('refuses %s', (_name, doc, expected) => {
    expect(message(doc)).toContain(`could not load broker config broker.json: ${expected}`);
  });

  it('never repeats a duplicated API key in the message', () => {
    const text = message({ ...minimal, clients: [{ clientId: 'a', apiKey: 'top-secret' }, { clientId: 'b', apiKey: 'top-secret' }] });
    expect(text).toContain('clients[1].apiKey:');
    expect(text).not.toContain('top-secret');
  });
});

describe('broker serve with a bad config', () => {
  const dir = tempDir();
  const write = (name: string, text: string) => {
    const file = join(dir, name);
    writeFileSync(file, text);
    return file;
  };

  it.each([
    ['a bad field', () => write('bad.json', JSON.stringify({ ...minimal, providers: [{ ...minimal.providers[0], issuer: 'nope' }] })), /^authbridge: could not load broker config .*bad\.json: providers\[0\]\.issuer: expected an https or http URL$/],
    ['not JSON', () => write('text.json', '{ clients: ['), /^authbridge: could not load broker config .*text\.json: not valid JSON/],
    ['a missing file', () => join(dir, 'absent.json'), /^authbridge: could not load broker config .*absent\.json: .*ENOENT/],
  ])('exits 2 with one line naming the problem: %s', async (_name, file, pattern) => {
    const result = await runCli(['broker', 'serve', '--config', file(), '--port', '0', '--db', join(dir, 'x.db')]);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    const [first, ...rest] = result.stderr.trim().split('\n');
    expect(first).toMatch(pattern);
    expect(rest.length).toBeLessThanOrEqual(1);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it('exits 2 without --config, and for a bad --port', async () => {
    const noConfig = await runCli(['broker', 'serve', '--port', '0']);
    expect(noConfig.code).toBe(2);
    expect(noConfig.stderr).toMatch(/^authbridge: broker serve needs a config file: give --config FILE/);
    const badPort = await runCli(['broker', 'serve', '--config', write('ok.json', JSON.stringify(minimal)), '--port', 'eighty']);
    expect(badPort.code).toBe(2);
    expect(badPort.stderr).toMatch(/^authbridge: --port must be a port number/);
  });
});
