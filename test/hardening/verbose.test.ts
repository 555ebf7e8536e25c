/**
 * `--verbose` never shows a secret: every command of a session runs with --verbose against the
 * real OpenID provider and the real broker process, and no access, ID, refresh or broker token,
 * authorization code, PKCE verifier or client secret appears anywhere in stdout or stderr
 * (except the token that `token` prints on stdout, which is its job).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, tempDir, type BrokerProcess } from '../broker/helpers.js';
import { isolatedEnv, runCli, type RunResult } from '../helpers/cli.js';
import { driveLogin, startBrowserHook, type BrowserHook, type DriveResult } from '../helpers/http-browser.js';
import { API_RESOURCE, CONFIDENTIAL_CLIENT_ID, CONFIDENTIAL_CLIENT_SECRET, idpEnv, startIdp, type Idp } from '../helpers/idp.js';

const BROKER_SECRET = 'broker-s3cret-for-verbose';

let idp: Idp;
let browser: BrowserHook<DriveResult>;
let broker: BrokerProcess;
/** PKCE verifiers the IdP received at its token endpoint. */
const verifiers: string[] = [];

beforeAll(async () => {
  idp = await startIdp({ defaultResource: API_RESOURCE, accessTokenTtl: 3600 });
  idp.provider.on('grant.success', (ctx) => {
    const verifier = (ctx.oidc?.params as { code_verifier?: unknown } | undefined)?.code_verifier ?? (ctx.oidc?.body as { code_verifier?: unknown } | undefined)?.code_verifier;
    if (typeof verifier === 'string') verifiers.push(verifier);
  });
  browser = await startBrowserHook((url) => driveLogin(url, { login: 'vera' }));
  broker = await startBroker(
    {
      audience: 'my-app',
      clients: [{ clientId: 'cli', tokenEndpointAuthMethod: 'client_secret_basic', clientSecret: BROKER_SECRET }],
      providers: [{ id: 'idp', type: 'jwt', issuer: idp.issuer, audience: [API_RESOURCE], algorithms: ['RS256'], mapping: { email: '/email' } }],
    },
    join(tempDir(), 'broker.db'),
  );
}, 60_000);

afterAll(async () => {
  await broker?.stop();
  await browser?.close();
  await idp?.close();
});

describe('--verbose', () => {
  it('traces every command of a session without a single secret in any output', async () => {
    const env = idpEnv(idp, isolatedEnv(), {
      BROWSER: browser.command,
      AUTHBRIDGE_CLIENT_ID: CONFIDENTIAL_CLIENT_ID,
      AUTHBRIDGE_CLIENT_SECRET: CONFIDENTIAL_CLIENT_SECRET,
      AUTHBRIDGE_BROKER_URL: broker.url,
      AUTHBRIDGE_BROKER_CLIENT_ID: 'cli',
      AUTHBRIDGE_BROKER_CLIENT_SECRET: BROKER_SECRET,
    });
    const cacheFile = join(env.XDG_CACHE_HOME!, 'authbridge', 'default.json');
    const secrets = new Set<string>([CONFIDENTIAL_CLIENT_SECRET, BROKER_SECRET]);
    const collect = () => {
      const entry = JSON.parse(readFileSync(cacheFile, 'utf8')) as Record<string, unknown> & { broker?: Record<string, unknown> };
      for (const key of ['access_token', 'id_token', 'refresh_token']) if (typeof entry[key] === 'string') secrets.add(entry[key] as string);
      if (typeof entry.broker?.access_token === 'string') secrets.add(entry.broker.access_token);
      return entry;
    };
    const outputs: Array<{ args: string[]; result: RunResult; printedToken?: string }> = [];
    const run = async (args: string[], expected = 0) => {
      const result = await runCli(['--verbose', ...args], { env });
      expect(result.code, `${args.join(' ')}\n${result.stderr}`).toBe(expected);
      outputs.push({ args, result, printedToken: args[0] === 'token' ? result.stdout.trim() : undefined });
      return result;
    };

    const login = await run(['login']);
    expect(login.stderr).toMatch(/> POST .*\/token/);
    const visit = await browser.visit(browser.visits.length - 1);
    secrets.add(visit.callbackUrl.searchParams.get('code')!);
    collect();
    await run(['status', '--check']);
    await run(['token']);
    await run(['token', '--type', 'id']);
    // oidc-provider does not introspect JWT access tokens (unsupported_token_type): a refusal, still traced.
    await run(['introspect'], 5);
    await run(['introspect', '--type', 'refresh']);
    await run(['refresh']);
    collect();
    await run(['exchange']);
    const entry = collect();
    await run(['token', '--type', 'broker']);
    await run(['introspect', '--broker']);
    await run(['status', '--check', '--json']);
    // An expired broker token is re-exchanged on the way.
    writeFileSync(cacheFile, JSON.stringify({ ...entry, broker: { ...entry.broker, expires_at: Date.now() - 1000 } }), { mode: 0o600 });
    await run(['token', '--type', 'broker']);
    collect();
    await run(['login', '--exchange']);
    const visit2 = await browser.visit(browser.visits.length - 1);
    secrets.add(visit2.callbackUrl.searchParams.get('code')!);
    collect();
    await run(['logout']);

    for (const verifier of verifiers) secrets.add(verifier);
    expect(verifiers.length).toBeGreaterThanOrEqual(2);
    expect(secrets.size).toBeGreaterThan(10);
    // Each command traced its HTTP requests.
    for (const { args, result } of outputs) {
      if (!['token'].includes(args[0]!)) expect(result.stderr, args.join(' ')).toMatch(/^> (GET|POST) /m);
    }
    const leaks: string[] = [];
    for (const { args, result, printedToken } of outputs) {
      for (const secret of secrets) {
        if (result.stderr.includes(secret)) leaks.push(`${args.join(' ')}: stderr shows ${secret.slice(0, 12)}…`);
        if (secret !== printedToken && result.stdout.includes(secret)) leaks.push(`${args.join(' ')}: stdout shows ${secret.slice(0, 12)}…`);
      }
    }
    expect(leaks).toEqual([]);
  }, 90_000);
});
