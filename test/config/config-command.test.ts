import { mkdtempSync, readFileSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isolatedEnv, runCli } from '../helpers/cli.js';

describe('authbridge config', () => {
  it('sets, gets, lists and unsets fields of a profile in a 0600 file', async () => {
    const env = isolatedEnv();
    const file = join(env.XDG_CONFIG_HOME!, 'authbridge', 'config.json');
    expect((await runCli(['config', 'set', 'issuer', 'https://idp.example.com'], { env })).code).toBe(0);
    expect((await runCli(['config', 'set', 'clientId', 'work-cli', '--profile', 'work', '--create'], { env })).code).toBe(0);
    expect((await runCli(['config', 'set', 'clientSecret', 's3cret', '--profile', 'work'], { env })).code).toBe(0);
    expect((await runCli(['config', 'set', 'broker.url', 'https://broker.example.com'], { env })).code).toBe(0);
    expect(statSync(file).mode & 0o777).toBe(0o600);

    const get = await runCli(['config', 'get', 'issuer'], { env });
    expect(get).toMatchObject({ code: 0, stdout: 'https://idp.example.com\n' });

    const list = await runCli(['config', 'list', '--profile', 'work'], { env });
    expect(list.code).toBe(0);
    expect(list.stdout).toContain('work-cli');
    expect(list.stdout).not.toContain('s3cret');

    const json = JSON.parse((await runCli(['config', 'list', '--json'], { env })).stdout);
    expect(json).toMatchObject({ profile: 'default', values: { issuer: 'https://idp.example.com', 'broker.url': 'https://broker.example.com' } });
    expect(json.profiles).toEqual(['default', 'work']);

    expect((await runCli(['config', 'unset', 'broker.url'], { env })).code).toBe(0);
    expect(JSON.parse(readFileSync(file, 'utf8')).profiles.default).toEqual({ issuer: 'https://idp.example.com' });
    expect((await runCli(['config', 'get', 'broker.url'], { env })).code).toBe(1);
  });

  it.each([
    [['config', 'set', 'issuer', 'not-a-url'], /config set issuer: expected an http\(s\) URL/],
    [['config', 'set', 'redirectPort', '99999'], /expected a port number/],
    [['config', 'set', 'nope', 'x'], /unknown config key "nope"/],
    [['config', 'set', 'issuer'], /missing VALUE/],
    [['config', 'frobnicate'], /unknown config action/],
    [['config', 'list', '--profile', '../etc'], /--profile must be/],
  ])('refuses %j with exit 2 and one line', async (args, message) => {
    const result = await runCli(args);
    expect(result.code).toBe(2);
    expect(result.stderr.split('\n')[0]).toMatch(/^authbridge: /);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it('reports a malformed config file with exit 2, naming the field, and leaves it untouched', async () => {
    const env = isolatedEnv();
    const dir = join(env.XDG_CONFIG_HOME!, 'authbridge');
    mkdirSync(dir, { recursive: true });
    const content = '{"profiles":{"default":{"issuer":42}}}';
    writeFileSync(join(dir, 'config.json'), content);
    const result = await runCli(['config', 'set', 'clientId', 'x'], { env });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/profiles\.default\.issuer: expected a non-empty string/);
    expect(readFileSync(join(dir, 'config.json'), 'utf8')).toBe(content);
  });

  it('loses no profile when 12 `config set` run in parallel', async () => {
    const env = isolatedEnv(mkdtempSync(join(tmpdir(), 'ab-par-')));
    await Promise.all(
      Array.from({ length: 12 }, (_, i) => runCli(['config', 'set', 'clientId', `client-${i}`, '--profile', `p${i}`, '--create'], { env })),
    );
    const config = JSON.parse(readFileSync(join(env.XDG_CONFIG_HOME!, 'authbridge', 'config.json'), 'utf8'));
    expect(Object.keys(config.profiles).sort()).toEqual(Array.from({ length: 12 }, (_, i) => `p${i}`).sort());
  }, 60_000);
});
