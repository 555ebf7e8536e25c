/**
 * What the in-process flow tests share: a real TokenCache in a temp dir, profiles for the test
 * IdP, a LoginTalk and a trace that record their lines, connectors that record (and can fail)
 * each IdP/broker call around the real adapters, a quick in-process sign-in, and the real broker
 * (src/broker/server.ts) in this process.
 */
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { RunningBroker } from '../../src/broker/server.js';
import { TokenCache } from '../../src/cache/token-cache.js';
import type { CachedSession } from '../../src/cache/types.js';
import { DEFAULT_SCOPES, type Profile } from '../../src/config/types.js';
import { oidcConnectors, type Connectors } from '../../src/flows/connectors.js';
import { exchangeFlow, type ExchangeInput, type ExchangeOutcome } from '../../src/flows/exchange.js';
import { loginFlow, type LoginTalk } from '../../src/flows/login.js';
import { sessionWithFreshIdpToken } from '../../src/flows/token.js';
import type { BrokerClient } from '../../src/oidc/broker-client.js';
import type { IdpClient } from '../../src/oidc/client.js';
import { testContext, type TestContext, type TestContextOptions } from './context.js';
import { API_RESOURCE, PUBLIC_CLIENT_ID, type Idp } from './idp.js';
import { recordingBrowser, type RecordingBrowser, type RecordingBrowserBehaviour } from './recording-browser.js';

/** The IdP (oidc-provider) keeps real time: flows talking to it get the real clock. */
export const realClock = (): number => Date.now();

/** A test Context on the real clock. */
export function liveContext(options: Omit<TestContextOptions, 'now'> & { now?: TestContextOptions['now'] } = {}): TestContext {
  return testContext({ now: realClock, ...options });
}

export interface TempCache {
  dir: string;
  cache: TokenCache;
  /** The cache's warnings (corrupt files, loose modes). */
  warnings: string[];
  file(profile?: string): string;
  exists(profile?: string): boolean;
  /** The file's text, exactly. */
  text(profile?: string): string;
  read(profile?: string): CachedSession;
  /** The file's permission bits (0o600 expected). */
  mode(profile?: string): number;
  /** The directory's permission bits (0o700 expected). */
  dirMode(): number;
}

/** A real TokenCache in a fresh temp dir (`dir` given: that directory, e.g. an e2e HOME's cache). */
export function tempCache(dir = join(mkdtempSync(join(tmpdir(), 'authbridge-flow-')), 'cache')): TempCache {
  const warnings: string[] = [];
  const file = (profile = 'default') => join(dir, `${profile}.json`);
  const text = (profile?: string) => readFileSync(file(profile), 'utf8');
  return {
    dir,
    cache: new TokenCache(dir, { warn: (m) => void warnings.push(m) }),
    warnings,
    file,
    exists: (profile) => {
      try {
        statSync(file(profile));
        return true;
      } catch {
        return false;
      }
    },
    text,
    read: (profile) => JSON.parse(text(profile)) as CachedSession,
    mode: (profile) => statSync(file(profile)).mode & 0o777,
    dirMode: () => statSync(dir).mode & 0o777,
  };
}

/**
 * A profile for the test IdP: the public client `cli`, the default scopes and a free redirect
 * port (`redirectPort: 0`: tests in parallel never compete for 8000 and 18000) unless overridden.
 */
export function idpProfile(idp: Pick<Idp, 'issuer'>, overrides: Partial<Profile> = {}): Profile {
  // prompt=consent: oidc-provider drops offline_access without it (OpenID Connect Core §11).
  return { name: 'default', issuer: idp.issuer, clientId: PUBLIC_CLIENT_ID, scopes: [...DEFAULT_SCOPES], redirectPort: 0, prompt: 'consent', ...overrides };
}

export interface RecordedTalk {
  talk: LoginTalk;
  /** `say: …`, `warn: …`, `url: … (paste accepted)` / `url: …`, `waiting: on` / `waiting: off`, in order. */
  lines: string[];
  /** The `warn:` lines without the prefix. */
  warnings(): string[];
}

/** A LoginTalk that records its lines; `onUrl` runs when a URL is shown (the user opening it). */
export function recordingTalk(onUrl?: (url: string, pasteAccepted: boolean) => void): RecordedTalk {
  const lines: string[] = [];
  return {
    lines,
    talk: {
      say: (text) => void lines.push(`say: ${text}`),
      warn: (text) => void lines.push(`warn: ${text}`),
      showUrl: (url, paste) => {
        lines.push(`url: ${url}${paste ? ' (paste accepted)' : ''}`);
        onUrl?.(url, paste);
      },
      waiting: (active) => void lines.push(`waiting: ${active ? 'on' : 'off'}`),
    },
    warnings: () => lines.filter((l) => l.startsWith('warn: ')).map((l) => l.slice(6)),
  };
}

export interface RecordedTrace {
  trace: (line: string) => void;
  lines: string[];
}

/** A `--verbose` sink. */
export function recordingTrace(): RecordedTrace {
  const lines: string[] = [];
  return { lines, trace: (line) => void lines.push(line) };
}

/** The secrets of a cache entry (IdP tokens and the broker token). */
export function secretsOf(session: CachedSession | undefined): string[] {
  if (!session) return [];
  return [session.access_token, session.id_token, session.refresh_token, session.broker?.access_token].filter(
    (t): t is string => typeof t === 'string' && t.length > 0,
  );
}

/** Tokens are secrets (STYLE habit 7): none of `secrets` appears in any of `lines`. */
export function expectNoSecrets(lines: readonly string[], secrets: readonly string[]): void {
  const text = lines.join('\n');
  expect(secrets.length).toBeGreaterThan(0);
  for (const secret of secrets) expect(text).not.toContain(secret);
}

/** The names of the IdP and broker calls a flow makes through its connectors. */
export type CallName =
  | 'idp.connect'
  | 'idp.authorizationRequest'
  | 'idp.exchangeCode'
  | 'idp.refresh'
  | 'idp.revoke'
  | 'idp.introspect'
  | 'idp.userinfo'
  | 'broker.connect'
  | 'broker.exchange'
  | 'broker.revoke'
  | 'broker.introspect'
  | 'synerise';

/** The real call and its arguments (typed loosely: one signature for every call). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type CallOverride = (real: (...args: any[]) => Promise<any>, ...args: any[]) => Promise<unknown>;

export interface SpyOptions {
  /** Connectors to wrap. Default the real openid-client adapters. */
  base?: Connectors;
  /**
   * Per call: throw this error instead of making the call (an outage, a refusal), or replace
   * the call (`(real, ...args) => …`) to tamper with what comes back.
   */
  override?: Partial<Record<CallName, Error | CallOverride>>;
}

export interface ConnectorSpy {
  connect: Connectors;
  /** Each call made, in order, with the token type hint for `revoke`/`introspect` (`idp.revoke refresh_token`). */
  calls: string[];
  count(name: CallName): number;
  /** What the broker answered each `exchange` (account_status …), in order. */
  exchanges: Array<Awaited<ReturnType<BrokerClient['exchange']>>>;
}

/**
 * Connectors around the real adapters that record each call, for "what did the flow ask the
 * IdP" assertions, and fail or tamper with the calls named in `override`.
 */
export function spyConnectors(options: SpyOptions = {}): ConnectorSpy {
  const base = options.base ?? oidcConnectors;
  const calls: string[] = [];
  const exchanges: ConnectorSpy['exchanges'] = [];
  const run = async <T>(name: CallName, label: string, real: (...args: never[]) => Promise<T>, args: unknown[]): Promise<T> => {
    calls.push(label);
    const override = options.override?.[name];
    if (override instanceof Error) throw override;
    if (override) return (override as (r: typeof real, ...a: unknown[]) => Promise<T>)(real, ...args);
    return (real as (...a: unknown[]) => Promise<T>)(...args);
  };
  const hinted = (name: CallName, args: unknown[]) => (typeof args[1] === 'string' ? `${name} ${args[1]}` : name);
  // A wrapper whose prototype is the real client: metadata, issuer and clientId read through.
  function wrap<C extends object>(client: C, prefix: 'idp' | 'broker', methods: string[]): C {
    const wrapped = Object.create(client) as Record<string, unknown>;
    for (const method of methods) {
      const real = (client as Record<string, (...a: unknown[]) => Promise<unknown>>)[method]!.bind(client);
      const name = `${prefix}.${method}` as CallName;
      wrapped[method] = (...args: unknown[]) => run(name, method === 'revoke' || method === 'introspect' ? hinted(name, args) : name, real, args);
    }
    return wrapped as C;
  }
  const connect: Connectors = {
    idp: async (o) => {
      const client = await run('idp.connect', 'idp.connect', base.idp, [o]);
      return wrap<IdpClient>(client, 'idp', ['authorizationRequest', 'exchangeCode', 'refresh', 'revoke', 'introspect', 'userinfo']);
    },
    broker: async (o) => {
      const client = await run('broker.connect', 'broker.connect', base.broker, [o]);
      const wrapped = wrap<BrokerClient>(client, 'broker', ['exchange', 'revoke', 'introspect']);
      const exchange = wrapped.exchange.bind(wrapped);
      wrapped.exchange = async (input) => {
        const answer = await exchange(input);
        exchanges.push(answer);
        return answer;
      };
      return wrapped;
    },
    synerise: (input) => run('synerise', 'synerise', base.synerise, [input]),
  };
  return { connect, calls, exchanges, count: (name) => calls.filter((c) => c === name || c.startsWith(`${name} `)).length };
}

export interface SignInOptions {
  idp: Pick<Idp, 'issuer'>;
  cache: TokenCache;
  profile?: Profile;
  /** The account to sign in as. Default `alice`. */
  login?: string;
  ctx?: TestContext;
  connect?: Connectors;
}

/** A login in this process through the recording browser: the quickest way to a real cache entry. */
export async function signIn(options: SignInOptions): Promise<CachedSession> {
  const browser: RecordingBrowser = recordingBrowser({ login: options.login ?? 'alice' });
  const ctx = options.ctx ?? liveContext({ browser: browser.open });
  const { session } = await loginFlow({
    ctx,
    profile: options.profile ?? idpProfile(options.idp),
    cache: options.cache,
    talk: recordingTalk().talk,
    connect: options.connect,
  });
  return session;
}

/** Whether the IdP says `token` is active (RFC 7662, asked as `clientId`, the public client by default). */
export async function activeAtIdp(idp: Pick<Idp, 'issuer'>, token: string, client: { clientId: string; clientSecret?: string } = { clientId: PUBLIC_CLIENT_ID }): Promise<boolean> {
  const connected = await oidcConnectors.idp({ issuer: idp.issuer, ...client, fetch: (...args) => globalThis.fetch(...args), now: realClock });
  return (await connected.introspect(token)).active;
}

/** Whether the broker says its `token` is active (RFC 7662, asked as the broker client `cli`). */
export async function activeAtBroker(broker: { url: string }, token: string): Promise<boolean> {
  const connected = await oidcConnectors.broker({ url: broker.url, ...BROKER_CLIENT, fetch: (...args) => globalThis.fetch(...args), now: realClock });
  return (await connected.introspect(token)).active;
}

/** Requests the IdP saw from now on: call the returned function to get them (`METHOD /path`). */
export function requestsFrom(idp: Pick<Idp, 'requests'>): () => string[] {
  const start = idp.requests.length;
  return () => idp.requests.slice(start);
}

/** Rewrites a profile's cache entry (through the cache, so the file keeps its 0600 mode). */
export async function editEntry(cache: TokenCache, profile: string, edit: (entry: CachedSession) => void): Promise<CachedSession> {
  const next = await cache.update(profile, (current) => {
    if (!current) throw new Error(`no cache entry for ${profile}`);
    const copy = structuredClone(current);
    edit(copy);
    return copy;
  });
  return next!;
}

/** The broker client and its secret the test broker trusts; `sdk-key` is the Synerise API key. */
export const BROKER_CLIENT = { clientId: 'cli', clientSecret: 's3cret' } as const;
export const BROKER_API_KEY = 'sdk-key';
export const BROKER_PUBLIC_CLIENT_ID = 'mobile-app';
export const BROKER_AUDIENCE = 'my-app';

/**
 * The real broker (fastify + SQLite in a temp file) in this process on port 0, trusting `idp`'s
 * JWT access tokens for {@link API_RESOURCE} (or `options.audience`), with the confidential client
 * `cli`, the API-key client `sdk` and the public client `mobile-app`. `close()` it in `afterAll`.
 */
export async function startTestBroker(idp: Pick<Idp, 'issuer'>, options: { audience?: string[] } = {}): Promise<RunningBroker> {
  // Loaded here: the files without a broker do not pay for fastify and SQLite.
  const [{ parseBrokerConfig }, { startBroker }] = await Promise.all([import('../../src/broker/config.js'), import('../../src/broker/server.js')]);
  const file = parseBrokerConfig(
    {
      audience: BROKER_AUDIENCE,
      clients: [
        // `cli` may introspect the Synerise client's tokens too (finding 2: only its own otherwise).
        { clientId: BROKER_CLIENT.clientId, clientSecret: BROKER_CLIENT.clientSecret, tokenEndpointAuthMethod: 'client_secret_basic', introspects: ['sdk'] },
        { clientId: 'sdk', apiKey: BROKER_API_KEY },
        // A public client: it exchanges and revokes by client_id alone.
        { clientId: BROKER_PUBLIC_CLIENT_ID, tokenEndpointAuthMethod: 'none' },
      ],
      providers: [
        {
          id: 'idp',
          type: 'jwt',
          issuer: idp.issuer,
          audience: options.audience ?? [API_RESOURCE],
          algorithms: ['RS256'],
          mapping: { email: '/email', firstName: '/given_name', lastName: '/family_name' },
        },
      ],
    },
    'of the test broker',
  );
  return startBroker({
    file,
    host: '127.0.0.1',
    port: 0,
    dbPath: join(mkdtempSync(join(tmpdir(), 'authbridge-broker-')), 'broker.db'),
    deps: { fetch: (...args) => globalThis.fetch(...args), now: realClock },
    log: () => {},
  });
}

/** A profile whose broker is `broker`, speaking RFC 8693 as the confidential client `cli` (or `protocol: 'synerise'`). */
export function brokerProfile(idp: Pick<Idp, 'issuer'>, broker: { url: string }, overrides: Partial<NonNullable<Profile['broker']>> = {}, name = 'default'): Profile {
  return idpProfile(idp, { name, broker: { url: broker.url, ...BROKER_CLIENT, ...overrides } });
}

/**
 * `exchangeFlow` as the `exchange` command runs it: the cached IdP token, refreshed first when
 * it has expired. `extra` overrides any input (a subject token, a scope …).
 */
export function exchangeIn(
  base: Pick<ExchangeInput, 'ctx' | 'profile' | 'cache' | 'connect' | 'trace'>,
  extra: Partial<ExchangeInput> = {},
): Promise<ExchangeOutcome> {
  return exchangeFlow({
    ...base,
    subjectTokenType: base.profile.broker?.subjectTokenType,
    freshSession: () => sessionWithFreshIdpToken(base, base.profile.broker?.subjectTokenType),
    ...extra,
  });
}

let users = 0;
/** An account name no other case of this process uses: its first exchange creates a broker account. */
export function uniqueUser(prefix = 'user'): string {
  users += 1;
  return `${prefix}${users}x${process.pid}${Math.random().toString(36).slice(2, 8)}`;
}

/** The payload of a JWT, unverified (what a test reads of a token it got). */
export function claimsOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
}
