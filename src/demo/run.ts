/**
 * `authbridge demo`: the whole mission on loopback with nothing to configure. An embedded IdP
 * and the reference broker start on 127.0.0.1 (ephemeral ports, SQLite and config and token
 * cache in one temporary directory), then the real flows run one after the other: login, the
 * ID token checklist, the exchange, status, logout. With `keep` both servers stay up until
 * Ctrl-C so the other commands can be tried against them. Whatever happens, the servers are
 * closed and the temporary directory removed before this returns.
 */
import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TokenCache } from '../cache/token-cache.js';
import type { CachedSession } from '../cache/types.js';
import { writeConfigFile } from '../config/config-file.js';
import { DEFAULT_SCOPES, type Profile } from '../config/types.js';
import type { Context } from '../context.js';
import { InterruptedError, RemoteError, describeError } from '../errors.js';
import { exchangeFlow, type ExchangeOutcome } from '../flows/exchange.js';
import { loginFlow } from '../flows/login.js';
import { logoutFlow, type LogoutDocument } from '../flows/logout.js';
import { statusFlow, type ProfileStatus, type StatusDocument } from '../flows/status.js';
import { ID_TOKEN_CLOCK_TOLERANCE_S } from '../flows/session.js';
import { sessionWithFreshIdpToken } from '../flows/token.js';
import { resolveKeySet } from '../jwt/key-source.js';
import { verifyJwt, type VerifyResult } from '../jwt/verify.js';
import { isoTime } from '../util/time.js';
import { headlessLogin } from './headless.js';
import { DEMO_API, DEMO_CLIENT_ID, DEMO_PASSWORD, DEMO_USER, startDemoIdp, type DemoIdp } from './idp.js';

/** The client id the CLI uses at the demo broker (a public client). */
export const DEMO_BROKER_CLIENT_ID = 'authbridge-cli';
/** The audience of the broker's tokens. */
export const DEMO_BROKER_AUDIENCE = 'demo-app';
/** The demo's profile name inside its own temporary config. */
export const DEMO_PROFILE = 'default';

export type DemoStepName = 'login' | 'id_token' | 'exchange' | 'status' | 'logout';

/** How the demo talks while it runs (stderr); the command decides the looks. */
export interface DemoTalk {
  /** Both servers are up. */
  started(info: { issuer: string; broker: string; dir: string; headless: boolean }): void;
  /** A step begins: `index` of `total`, counting from 1. */
  step(index: number, total: number, name: DemoStepName): void;
  /** A progress line from inside a step (login's "Opening the browser …"). */
  say(text: string): void;
  warn(text: string): void;
  /** Waiting for the browser (a spinner on a terminal). */
  waiting(active: boolean): void;
  /** The URL to open when no browser could be started. */
  showUrl(url: string): void;
  signedIn(session: CachedSession): void;
  idToken(result: VerifyResult): void;
  exchanged(outcome: ExchangeOutcome): void;
  status(statuses: ProfileStatus[]): void;
  loggedOut(doc: LogoutDocument): void;
  /** A step failed; the error is thrown on after this. */
  failed(name: DemoStepName, err: unknown): void;
  /** `keep`: every step worked and the servers stay up until Ctrl-C. */
  keeping(summary: DemoSummary): void;
  /** Everything is stopped and removed: after every step worked, after Ctrl-C, or after a failure. */
  stopped(outcome: 'done' | 'interrupted' | 'failed', dir: string): void;
}

export interface DemoInput {
  ctx: Context;
  talk: DemoTalk;
  /** Complete the login over HTTP as the demo user instead of opening a browser. */
  headless: boolean;
  /** Leave the servers running (and skip logout) until Ctrl-C. */
  keep: boolean;
  /** Seconds to wait for the browser. Default 300 (60 headless). */
  loginTimeoutSeconds?: number;
  /** `--verbose` lines. */
  trace?: (line: string) => void;
}

/** What `demo --json` prints: one document, every step's outcome. */
export interface DemoSummary {
  ok: boolean;
  idp: { issuer: string; client_id: string; user: string; password: string };
  broker: { url: string; client_id: string; audience: string };
  steps: Array<{ name: DemoStepName; ok: boolean }>;
  login: { subject: string | null; email: string | null; expires_at: string | null } | null;
  id_token: Pick<VerifyResult, 'valid' | 'reason' | 'checks'> | null;
  exchange: ExchangeOutcome | null;
  status: StatusDocument | null;
  logout: LogoutDocument | null;
  /** With `keep`: how to point the other commands at the running servers. */
  keep: null | { env: Record<string, string>; commands: string[] };
}

/** Commands worth trying against the kept servers (with the env vars set). */
export function keepCommands(brokerUrl: string): string[] {
  return [
    'authbridge status --check',
    'authbridge token --type id | authbridge verify',
    'authbridge token | authbridge decode',
    'authbridge token --type broker | authbridge decode',
    `curl -s -H "Authorization: Bearer $(authbridge token --type broker)" ${brokerUrl}/userinfo`,
    'authbridge refresh',
    'authbridge exchange',
    'authbridge doctor',
    'authbridge logout',
    `authbridge login    # your browser, user ${DEMO_USER} / password ${DEMO_PASSWORD}`,
  ];
}

/** Milliseconds a step still running at Ctrl-C gets to notice that its servers are gone. */
const SETTLE_MS = 2000;

/**
 * Runs the demo. Resolves with the summary once every step worked (and, with `keep`, once
 * Ctrl-C ended the wait: then `interrupted` is true).
 * @throws the failing step's error (its exit class is the demo's); InterruptedError (130) on
 *   Ctrl-C before the steps are done.
 */
export async function runDemo(input: DemoInput): Promise<{ summary: DemoSummary; interrupted: boolean }> {
  const { ctx, talk } = input;
  const dir = await mkdtemp(join(tmpdir(), 'authbridge-demo-'));
  // Each server is closed at the end, even one whose start finishes only after Ctrl-C.
  const closers: Array<() => Promise<void>> = [];
  const started = <T extends { close(): Promise<void> }>(start: Promise<T>): Promise<T> => {
    start.then((server) => void closers.push(() => server.close()), () => {});
    return start;
  };
  let idp: DemoIdp | undefined;
  let broker: { url: string; close(): Promise<void> } | undefined;
  let inFlight: Promise<unknown> | undefined;
  let interrupted = false;
  let completed = false;

  // One Ctrl-C handler for the whole run; the flows' own handlers (login's) hang off it.
  const handlers = new Set<(signal: 'SIGINT' | 'SIGTERM') => void>();
  let stop!: (err: Error) => void;
  const stopped = new Promise<never>((_, reject) => (stop = reject));
  stopped.catch(() => {});
  const offInterrupt = ctx.onInterrupt((signal) => {
    interrupted = true;
    stop(new InterruptedError(`demo interrupted (${signal})`, { hint: 'Both servers were stopped and the temporary files removed.' }));
    for (const handler of [...handlers]) handler(signal);
  });
  const abortLogin = () => {
    for (const handler of [...handlers]) handler('SIGINT');
  };
  /** Runs one piece of work, abandoning it when Ctrl-C comes. */
  const guarded = <T>(work: Promise<T>): Promise<T> => {
    inFlight = work.catch(() => {});
    return Promise.race([work, stopped]);
  };

  try {
    const cacheDir = join(dir, 'cache');
    await mkdir(cacheDir, { mode: 0o700 });
    await chmod(dir, 0o700);
    idp = await guarded(started(startDemoIdp({ notice: input.trace })));
    const { startBroker } = await import('../broker/server.js');
    const { parseBrokerConfig } = await import('../broker/config.js');
    const brokerFile = parseBrokerConfig(
      {
        audience: DEMO_BROKER_AUDIENCE,
        tokenTtl: 3600,
        clients: [{ clientId: DEMO_BROKER_CLIENT_ID, tokenEndpointAuthMethod: 'none' }],
        providers: [
          {
            id: 'demo-idp',
            type: 'jwt',
            issuer: idp.issuer,
            audience: [DEMO_API],
            algorithms: ['RS256'],
            mapping: { email: '/email', firstName: '/given_name', lastName: '/family_name' },
          },
        ],
      },
      'of the demo',
    );
    broker = await guarded(
      started(startBroker({
        file: brokerFile,
        host: '127.0.0.1',
        port: 0,
        dbPath: join(dir, 'broker.db'),
        deps: { fetch: ctx.fetch, now: ctx.now },
        log: (line) => input.trace?.(line),
      })),
    );
    const brokerUrl = broker.url;

    const env: Record<string, string> = {
      AUTHBRIDGE_CONFIG: join(dir, 'config.json'),
      AUTHBRIDGE_CACHE_DIR: cacheDir,
      AUTHBRIDGE_PROFILE: DEMO_PROFILE,
      AUTHBRIDGE_ISSUER: idp.issuer,
      AUTHBRIDGE_CLIENT_ID: DEMO_CLIENT_ID,
      AUTHBRIDGE_BROKER_URL: brokerUrl,
      AUTHBRIDGE_BROKER_CLIENT_ID: DEMO_BROKER_CLIENT_ID,
    };
    // The same settings in a config file, so `authbridge config list` shows them too.
    await writeConfigFile(env.AUTHBRIDGE_CONFIG!, {
      profiles: { [DEMO_PROFILE]: { issuer: idp.issuer, clientId: DEMO_CLIENT_ID, broker: { url: brokerUrl, clientId: DEMO_BROKER_CLIENT_ID } } },
    });
    const profile: Profile = {
      name: DEMO_PROFILE,
      issuer: idp.issuer,
      clientId: DEMO_CLIENT_ID,
      scopes: [...DEFAULT_SCOPES],
      // Its own IdP accepts any loopback port; oidc-provider issues a refresh token only with consent.
      redirectPort: 0,
      prompt: 'consent',
      broker: { url: brokerUrl, clientId: DEMO_BROKER_CLIENT_ID },
    };
    const cache = new TokenCache(cacheDir, { warn: talk.warn });

    // The flows see only the demo's files: none of the user's AUTHBRIDGE_* settings leak in.
    let headlessFailure: unknown;
    const demoCtx: Context = {
      ...ctx,
      env: { ...Object.fromEntries(Object.entries(ctx.env).filter(([k]) => !k.startsWith('AUTHBRIDGE_'))), ...env },
      onInterrupt: (handler) => {
        handlers.add(handler);
        return () => void handlers.delete(handler);
      },
      openBrowser: input.headless
        ? async (url) => {
            // Resolves once "started", like a browser; the login flow then waits for the callback.
            void headlessLogin(url, { fetch: ctx.fetch, trace: input.trace }).catch((err: unknown) => {
              headlessFailure = err;
              abortLogin();
            });
          }
        : ctx.openBrowser,
    };
    talk.started({ issuer: idp.issuer, broker: brokerUrl, dir, headless: input.headless });

    const summary: DemoSummary = {
      ok: false,
      idp: { issuer: idp.issuer, client_id: DEMO_CLIENT_ID, user: DEMO_USER, password: DEMO_PASSWORD },
      broker: { url: brokerUrl, client_id: DEMO_BROKER_CLIENT_ID, audience: DEMO_BROKER_AUDIENCE },
      steps: [],
      login: null,
      id_token: null,
      exchange: null,
      status: null,
      logout: null,
      keep: null,
    };
    const names: DemoStepName[] = input.keep ? ['login', 'id_token', 'exchange', 'status'] : ['login', 'id_token', 'exchange', 'status', 'logout'];
    const step = async <T>(name: DemoStepName, work: () => Promise<T>): Promise<T> => {
      talk.step(names.indexOf(name) + 1, names.length, name);
      try {
        const result = await guarded(work());
        summary.steps.push({ name, ok: true });
        return result;
      } catch (err) {
        if (interrupted) throw err;
        summary.steps.push({ name, ok: false });
        talk.failed(name, err);
        throw err;
      }
    };
    const trace = input.trace;

    const { session } = await step('login', async () => {
      try {
        return await loginFlow({
          ctx: demoCtx,
          profile,
          cache,
          trace,
          timeoutSeconds: input.loginTimeoutSeconds ?? (input.headless ? 60 : 300),
          talk: {
            // Headless, no browser opens: say what plays its part instead.
            say: (text) =>
              talk.say(
                input.headless && text.startsWith('Opening the browser')
                  ? `Signing in at ${idp!.issuer} as ${DEMO_USER} / ${DEMO_PASSWORD}, an HTTP client playing the browser …`
                  : text,
              ),
            warn: talk.warn,
            showUrl: (url) => talk.showUrl(url),
            waiting: talk.waiting,
          },
        });
      } catch (err) {
        if (headlessFailure !== undefined) {
          throw new RemoteError(`could not sign in as the demo user: ${describeError(headlessFailure)}`, { cause: headlessFailure });
        }
        throw err;
      }
    });
    const expiresAt = session.access_token_expires_at ?? session.id_token_expires_at;
    summary.login = { subject: session.subject ?? null, email: session.email ?? null, expires_at: expiresAt === undefined ? null : isoTime(expiresAt) };
    talk.signedIn(session);

    const checked = await step('id_token', async () => {
      const keys = await resolveKeySet({ issuer: idp!.issuer, fetch: ctx.fetch, now: ctx.now });
      const result = await verifyJwt(session.id_token ?? '', {
        issuer: idp!.issuer,
        audience: DEMO_CLIENT_ID,
        authorizedParty: DEMO_CLIENT_ID,
        keys,
        now: ctx.now(),
        // The same leeway login allows (the IdP's clock is this machine's, but `iat` is whole seconds).
        clockTolerance: ID_TOKEN_CLOCK_TOLERANCE_S,
        type: 'id',
      });
      talk.idToken(result);
      if (!result.valid) throw new RemoteError(`the demo IdP issued an ID token that does not verify: ${result.reason}`);
      return result;
    });
    summary.id_token = { valid: checked.valid, reason: checked.reason, checks: checked.checks };

    summary.exchange = await step('exchange', () =>
      exchangeFlow({
        ctx: demoCtx,
        cache,
        trace,
        profile,
        freshSession: () => sessionWithFreshIdpToken({ ctx: demoCtx, profile, cache, trace }, undefined),
      }),
    );
    talk.exchanged(summary.exchange);

    const statuses = await step('status', () =>
      statusFlow({ ctx: demoCtx, cache, names: [DEMO_PROFILE], check: true, trace, loadProfile: async () => profile }),
    );
    summary.status = statuses[0]!.document;
    talk.status(statuses);
    if (!summary.status.signed_in || !summary.status.broker?.signed_in) {
      throw new RemoteError('the demo session is not live after the exchange');
    }

    if (!input.keep) {
      const [doc] = await step('logout', () => logoutFlow({ ctx: demoCtx, cache, names: [DEMO_PROFILE], local: false, trace, loadProfile: async () => profile }));
      summary.logout = doc!;
      talk.loggedOut(doc!);
      if (!doc!.revoked.idp || !doc!.revoked.broker) throw new RemoteError(`logout left a session open: ${doc!.warnings.join('; ') || 'not revoked'}`);
      summary.ok = true;
      completed = true;
      return { summary, interrupted: false };
    }

    summary.ok = true;
    summary.keep = { env, commands: keepCommands(brokerUrl) };
    talk.keeping(summary);
    await stopped.catch(() => {});
    completed = true;
    return { summary, interrupted: true };
  } finally {
    // Servers first: a step still running at Ctrl-C then fails fast instead of writing on.
    const closeAll = () => Promise.allSettled(closers.splice(0).map((close) => close()));
    await closeAll();
    if (inFlight) await Promise.race([inFlight, new Promise((resolve) => setTimeout(resolve, SETTLE_MS).unref())]);
    await closeAll();
    await rm(dir, { recursive: true, force: true }).catch(() => {});
    talk.stopped(interrupted ? 'interrupted' : completed ? 'done' : 'failed', dir);
    offInterrupt();
  }
}
