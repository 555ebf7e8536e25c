/**
 * `token --format raw|header|json|exec-credential` and `--min-valid`, through the built CLI
 * against oidc-provider: what a script, curl and kubectl read on stdout.
 */
import { join } from 'node:path';
import fc from 'fast-check';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { define, parse } from '../../src/commands/token.js';
import { isoTime, parseDuration } from '../../src/util/time.js';
import { isolatedEnv, runCli } from '../helpers/cli.js';
import { editEntry, idpProfile, signIn, tempCache } from '../helpers/flows.js';
import { MACHINE_CLIENT_ID, MACHINE_CLIENT_SECRET, PUBLIC_CLIENT_ID, startIdp, type Idp } from '../helpers/idp.js';

let idp: Idp;
beforeAll(async () => {
  idp = await startIdp();
});
afterAll(async () => {
  await idp?.close();
});

/** A private HOME signed in as a user (in process), its env naming the IdP's public client. */
async function userHome() {
  const env: Record<string, string> = { ...isolatedEnv(), AUTHBRIDGE_ISSUER: idp.issuer, AUTHBRIDGE_CLIENT_ID: PUBLIC_CLIENT_ID };
  const cache = tempCache(join(env.XDG_CACHE_HOME!, 'authbridge'));
  await signIn({ idp, cache: cache.cache, profile: idpProfile(idp) });
  return { env, cache };
}

describe('--format', () => {
  it('raw, header and json print the access token as each tool wants it', async () => {
    const { env, cache } = await userHome();
    const { access_token: token, access_token_expires_at: exp } = cache.read();
    expect(await runCli(['token', '--format', 'raw'], { env })).toMatchObject({ code: 0, stdout: `${token}\n`, stderr: '' });
    expect(await runCli(['token', '--format', 'header'], { env })).toMatchObject({ code: 0, stdout: `Authorization: Bearer ${token}\n` });
    const json = await runCli(['token', '--format', 'json'], { env });
    expect(JSON.parse(json.stdout)).toEqual({ profile: 'default', type: 'access', token, expires_at: isoTime(exp!), refreshed: false });
  });

  it('exec-credential gives kubectl the ID token by default, in the API version KUBERNETES_EXEC_INFO asks', async () => {
    const { env, cache } = await userHome();
    const { id_token: idToken, id_token_expires_at: exp, access_token: access } = cache.read();
    const run = await runCli(['token', '--format', 'exec-credential'], { env });
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({
      apiVersion: 'client.authentication.k8s.io/v1',
      kind: 'ExecCredential',
      status: { token: idToken, expirationTimestamp: isoTime(exp!) },
    });
    const info = JSON.stringify({ apiVersion: 'client.authentication.k8s.io/v1beta1', kind: 'ExecCredential', spec: { interactive: false } });
    const beta = await runCli(['token', '--format', 'exec-credential', '--type', 'access'], { env: { ...env, KUBERNETES_EXEC_INFO: info } });
    expect(JSON.parse(beta.stdout)).toMatchObject({ apiVersion: 'client.authentication.k8s.io/v1beta1', status: { token: access } });
  });

  it('exec-credential of a client credentials profile: its access token (there is no ID token)', async () => {
    const env: Record<string, string> = { ...isolatedEnv(), AUTHBRIDGE_ISSUER: idp.issuer, AUTHBRIDGE_CLIENT_ID: MACHINE_CLIENT_ID, AUTHBRIDGE_CLIENT_SECRET: MACHINE_CLIENT_SECRET, AUTHBRIDGE_GRANT: 'client_credentials' };
    const run = await runCli(['token', '--format', 'exec-credential'], { env });
    expect(run.stderr).toBe('');
    const doc = JSON.parse(run.stdout) as { status: { token: string; expirationTimestamp: string } };
    expect(doc.status.token).toBe(tempCache(join(env.XDG_CACHE_HOME!, 'authbridge')).read().access_token);
    expect(doc.status.expirationTimestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  });

  it('refuses an unknown format with exit 2', async () => {
    const run = await runCli(['token', '--format', 'yaml'], { env: isolatedEnv() });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/--format.*yaml/);
  });
});

describe('--min-valid', () => {
  it('refreshes a token that would expire sooner, and exits 4 when even a new one would not last', async () => {
    const { env, cache } = await userHome();
    const old = await editEntry(cache.cache, 'default', (e) => {
      e.access_token_expires_at = Date.now() + 10 * 60_000;
    });
    // 10 minutes left: enough for the default margin, not for 15m.
    expect((await runCli(['token'], { env })).stdout).toBe(`${old.access_token}\n`);
    const renewed = await runCli(['token', '--min-valid', '15m'], { env });
    expect(renewed.code).toBe(0);
    expect(renewed.stdout).not.toBe(`${old.access_token}\n`);
    expect(renewed.stdout).toBe(`${cache.read().access_token}\n`);
    // The IdP issues one-hour tokens.
    const tooLong = await runCli(['token', '--min-valid', '2h'], { env });
    expect(tooLong.code).toBe(4);
    expect(tooLong.stdout).toBe('');
    expect(tooLong.stderr).toMatch(/^authbridge: could not get the access token of profile "default": even the refreshed access token expires within 2h/);
  });

  it('refuses what is not a duration with exit 2, naming the flag', async () => {
    const run = await runCli(['token', '--min-valid', 'soon'], { env: isolatedEnv() });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/--min-valid must be a duration such as 60s, 5m or 1h, got "soon"/);
  });

  it('parses durations as people write them (property)', () => {
    const units = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(1000), fc.constantFrom(...(Object.keys(units) as Array<keyof typeof units>))), { minLength: 1, maxLength: 4 }), (parts) => {
        const text = parts.map(([n, u]) => `${n}${u}`).join('');
        expect(parseDuration(text)).toBe(parts.reduce((sum, [n, u]) => sum + n * units[u], 0));
      }),
    );
    fc.assert(
      fc.property(fc.nat(100_000), (n) => {
        expect(parseDuration(String(n))).toBe(n * 1000);
      }),
    );
    fc.assert(
      fc.property(fc.string(), (text) => {
        const ms = parseDuration(text);
        if (ms !== undefined) expect(Number.isFinite(ms) && ms >= 0).toBe(true);
        else expect(() => parse({ opts: { minValid: text } } as never)).toThrow(/--min-valid must be a duration/);
      }),
    );
    for (const bad of ['', '5 m', '-5s', '5x', 'm', '1h-1m']) expect(parseDuration(bad)).toBeUndefined();
    expect(define(new Command('token')).options.some((o) => o.long === '--min-valid')).toBe(true);
  });
});
