/**
 * `loginFlow` in process against a real OpenID provider: the recording browser drives the login
 * over HTTP, the tokens land in a real TokenCache in a temp dir. Each case has its own cache.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AuthorizationRefusedError,
  InterruptedError,
  OAuthRefusedError,
  TokenRejectedError,
  type AuthbridgeError,
} from '../../src/errors.js';
import { loginFlow, type LoginInput } from '../../src/flows/login.js';
import { isSignedIn } from '../../src/flows/session.js';
import type { TokenSet } from '../../src/oidc/client.js';
import type { TestContext } from '../helpers/context.js';
import {
  claimsOf,
  expectNoSecrets,
  idpProfile,
  liveContext,
  recordingTalk,
  recordingTrace,
  secretsOf,
  signIn,
  spyConnectors,
  tempCache,
  type SpyOptions,
} from '../helpers/flows.js';
import { driveLogin } from '../helpers/http-browser.js';
import {
  CONFIDENTIAL_CLIENT_ID,
  CONFIDENTIAL_CLIENT_SECRET,
  PUBLIC_CLIENT_ID,
  startIdp,
  type Idp,
} from '../helpers/idp.js';
import { makeKey, sign } from '../helpers/keys.js';
import { recordingBrowser, type RecordingBrowserBehaviour } from '../helpers/recording-browser.js';

let idp: Idp;
beforeAll(async () => {
  idp = await startIdp();
});
afterAll(async () => {
  await idp?.close();
});

/** Rejects with what `promise` threw (fails the test when it resolved). */
async function failure(promise: Promise<unknown>): Promise<AuthbridgeError> {
  return promise.then(
    () => expect.fail('the login succeeded'),
    (err: unknown) => err as AuthbridgeError,
  );
}

/** The loopback server is gone: nothing answers on the redirect URI any more. */
async function expectClosed(redirectUri: string) {
  await expect(fetch(redirectUri)).rejects.toThrow();
}

function setup(behaviour: RecordingBrowserBehaviour = {}, options: { now?: number; spy?: SpyOptions } = {}) {
  const browser = recordingBrowser(behaviour);
  const ctx = liveContext({ browser: browser.open, ...(options.now === undefined ? {} : { now: () => options.now! }) });
  const cached = tempCache();
  const talk = recordingTalk();
  const trace = recordingTrace();
  const spy = spyConnectors(options.spy);
  const input = (extra: Partial<LoginInput> = {}): LoginInput => ({
    ctx,
    profile: idpProfile(idp),
    cache: cached.cache,
    talk: talk.talk,
    trace: trace.trace,
    connect: spy.connect,
    ...extra,
  });
  return { browser, ctx, cached, talk, trace, spy, input };
}

describe('login', () => {
  it('opens a PKCE S256 URL with state and nonce, verifies the ID token, caches the tokens 0600 in a 0700 dir, and traces no secret', async () => {
    const now = Date.now();
    const { browser, ctx, cached, talk, trace, input } = setup({}, { now });
    const seen = idp.requests.length;
    const result = await loginFlow(input());

    expect(browser.opened).toHaveLength(1);
    const url = browser.opened[0]!;
    const params = url.searchParams;
    expect(`${url.origin}${url.pathname}`).toBe(`${idp.issuer}/auth`);
    expect(params.get('response_type')).toBe('code');
    expect(params.get('client_id')).toBe(PUBLIC_CLIENT_ID);
    expect(params.get('code_challenge_method')).toBe('S256');
    expect(params.get('code_challenge')).toMatch(/^[\w-]{43}$/);
    expect(params.get('state')).toMatch(/^[\w-]{20,}$/);
    expect(params.get('nonce')).toMatch(/^[\w-]{20,}$/);
    // offline_access is asked for, so consent is prompted (OpenID Connect Core §11).
    expect(params.get('prompt')).toBe('consent');
    expect(params.get('scope')).toBe('openid profile email offline_access');
    expect(params.get('redirect_uri')).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/callback$/);

    const visit = await browser.visit();
    expect(visit.callback?.status).toBe(200);
    expect(visit.callback?.body).toContain('Signed in');

    expect(result.claims).toMatchObject({ iss: idp.issuer, aud: PUBLIC_CLIENT_ID, sub: 'alice', nonce: params.get('nonce') });
    const entry = cached.read();
    expect(entry).toEqual(result.session);
    expect(entry).toMatchObject({
      version: 1,
      profile: 'default',
      issuer: idp.issuer,
      client_id: PUBLIC_CLIENT_ID,
      subject: 'alice',
      email: 'alice@example.test',
      scopes: ['openid', 'profile', 'email', 'offline_access'],
      token_type: 'bearer',
      obtained_at: now,
      access_token_expires_at: now + 3600_000,
      id_token_expires_at: (result.claims.exp as number) * 1000,
    });
    for (const key of ['access_token', 'id_token', 'refresh_token'] as const) expect(entry[key]).toEqual(expect.any(String));
    expect(cached.mode()).toBe(0o600);
    expect(cached.dirMode()).toBe(0o700);

    // The ID token carries only `sub` (conformIdTokenClaims): the email came from userinfo.
    expect(result.claims.email).toBeUndefined();
    expect(idp.requests.slice(seen)).toEqual(
      expect.arrayContaining(['GET /.well-known/openid-configuration', 'POST /token', 'GET /jwks', 'GET /me']),
    );

    // The URL is shown even when the browser started: it may show nothing (BROWSER=false, no display).
    expect(talk.lines).toEqual([
      `say: Opening the browser to sign in at ${idp.issuer} …`,
      `say: If the browser does not open, open this URL: ${browser.opened[0]!.href}`,
      'waiting: on',
      'waiting: off',
    ]);
    expect(trace.lines.some((l) => l.startsWith('> POST') && l.includes('code_verifier=***') && l.includes('code=***'))).toBe(true);
    expectNoSecrets(trace.lines, [...secretsOf(entry), visit.callbackUrl.searchParams.get('code')!]);
    expectNoSecrets(talk.lines, secretsOf(entry));
    expect(ctx.interruptHandlers()).toBe(0);
    await expectClosed(params.get('redirect_uri')!);
  });

  it.each([
    ['the public client (client_id in the form)', { clientId: PUBLIC_CLIENT_ID }, /^> POST \S+\/token (?!\[authorization)\S*&client_id=cli$/],
    ['a confidential client (client_secret_basic)', { clientId: CONFIDENTIAL_CLIENT_ID, clientSecret: CONFIDENTIAL_CLIENT_SECRET }, /^> POST \S+\/token \[authorization: Basic \*\*\*\] /],
  ])('signs in %s and caches its client id', async (_name, client, tokenRequest) => {
    const { cached, trace, input } = setup({ login: 'carol' });
    await loginFlow(input({ profile: idpProfile(idp, client) }));
    expect(cached.read()).toMatchObject({ client_id: client.clientId, subject: 'carol', email: 'carol@example.test' });
    expect(trace.lines).toContainEqual(expect.stringMatching(tokenRequest));
    expect(trace.lines.join('\n')).not.toContain(CONFIDENTIAL_CLIENT_SECRET);
  });

  it('asks for the scopes of the profile: no offline_access, no consent prompt and no refresh token', async () => {
    const { browser, cached, input } = setup();
    await loginFlow(input({ profile: idpProfile(idp, { scopes: ['openid', 'email'], prompt: undefined }) }));
    expect(browser.opened[0]!.searchParams.get('scope')).toBe('openid email');
    expect(browser.opened[0]!.searchParams.has('prompt')).toBe(false);
    const entry = cached.read();
    expect(entry.scopes).toEqual(['openid', 'email']);
    expect(entry.refresh_token).toBeUndefined();
  });

  it('a second login as another user makes that one the entry, the first one stashed beside it (switch)', async () => {
    const { cached, input } = setup({ login: 'bob' });
    const first = await signIn({ idp, cache: cached.cache });
    const { session } = await loginFlow(input());
    expect(cached.read()).toEqual({ ...session, accounts: [first] });
    expect(await cached.cache.get('default')).toEqual(session);
    expect(session.subject).toBe('bob');
    expect(session.refresh_token).not.toBe(first.refresh_token);
  });

  describe('the callback', () => {
    it.each([
      ['nothing was cached before', false],
      ['an earlier login is cached', true],
    ])('error=access_denied (%s): AuthorizationRefusedError with the IdP\'s description, the browser told, the cache untouched', async (_name, earlier) => {
      const { browser, cached, input } = setup({ action: 'deny' });
      if (earlier) await signIn({ idp, cache: cached.cache });
      const before = earlier ? cached.text() : undefined;
      const err = await failure(loginFlow(input()));
      expect(err).toBeInstanceOf(AuthorizationRefusedError);
      expect(err).toBeInstanceOf(OAuthRefusedError);
      expect((err as OAuthRefusedError).oauthError).toBe('access_denied');
      expect(err.exitClass).toBe('refused');
      expect(err.message).toBe('could not sign in: access_denied: End-User aborted interaction');
      const visit = await browser.visit();
      expect(visit.callback?.status).toBe(400);
      expect(visit.callback?.body).toContain('Sign-in failed');
      // The page says what to do next, not only what went wrong.
      expect(visit.callback?.body).toMatch(/<p>What next: .*authbridge login.* again/);
      if (before === undefined) expect(cached.exists()).toBe(false);
      else {
        expect(cached.text()).toBe(before);
        // So `status` still says signed in (exit 0).
        expect(isSignedIn(cached.read(), Date.now())).toBe(true);
      }
    });

    it('refuses a forged state (the wait goes on), answers 404 to another path, refuses a second callback, and completes with the right one', async () => {
      const { browser, cached, talk, trace, input } = setup({
        replayCallback: true,
        beforeCallback: async (callback, get) => {
          const forged = new URL(callback);
          forged.searchParams.set('state', 'forged');
          return [await get(forged.href), await get(new URL('/favicon.ico', callback).href)];
        },
      });
      const result = await loginFlow(input());
      const visit = await browser.visit();
      expect(visit.extra.map((a) => a.status)).toEqual([400, 404]);
      expect(visit.extra[0]!.body).toContain('state mismatch');
      expect(visit.callback?.status).toBe(200);
      // Answered 409 while the flow closes its server, or met a closed port.
      expect([0, 409]).toContain(visit.replay?.status);
      expect(talk.warnings()).toEqual(['refused a callback whose state does not match this login (forged or stale); still waiting']);
      // A browser asks for /favicon.ico on its own: a --verbose line, not a warning.
      expect(trace.lines).toContain('answered 404 to a request for another path of the loopback server; still waiting');
      expect(cached.read()).toEqual(result.session);
    });
  });

  describe('--no-browser', () => {
    it('shows the URL, ignores a pasted URL of another login, and signs in with the pasted redirect URL', async () => {
      const cached = tempCache();
      const ctx = liveContext({ openStdin: true });
      const drives: Array<Promise<unknown>> = [];
      const talk = recordingTalk((url, paste) => {
        expect(paste).toBe(true);
        // The user opens the URL elsewhere and pastes where the browser ended up.
        const drive = driveLogin(url, { stopAtCallback: true }).then(({ callbackUrl }) => {
          const forged = new URL(callbackUrl);
          forged.searchParams.set('state', 'forged');
          ctx.type(`${forged.href}\n\n${callbackUrl.href}\n`);
        });
        drives.push(drive);
      });
      const result = await loginFlow({ ctx, profile: idpProfile(idp), cache: cached.cache, talk: talk.talk, noBrowser: true });
      await Promise.all(drives);
      expect(ctx.opened).toEqual([]);
      expect(talk.lines[0]).toMatch(new RegExp(`^url: ${idp.issuer}/auth\\?\\S+ \\(paste accepted\\)$`));
      expect(talk.warnings()).toEqual(['ignored the pasted URL: its state does not match this login']);
      expect(result.session.subject).toBe('alice');
      expect(cached.read()).toEqual(result.session);
    });
  });

  it('shows the URL when the browser cannot be started, and completes when the user opens it', async () => {
    const cached = tempCache();
    const browser = recordingBrowser({ mode: 'fail', failure: new Error('spawn xdg-open ENOENT') });
    const ctx = liveContext({ browser: browser.open });
    const drives: Array<Promise<unknown>> = [];
    const talk = recordingTalk((url) => void drives.push(driveLogin(url)));
    const result = await loginFlow({ ctx, profile: idpProfile(idp), cache: cached.cache, talk: talk.talk });
    await Promise.all(drives);
    expect(talk.lines.slice(0, 3)).toEqual([
      `say: Opening the browser to sign in at ${idp.issuer} …`,
      'warn: could not open the browser: spawn xdg-open ENOENT',
      `url: ${browser.opened[0]!.href}`,
    ]);
    expect(cached.read()).toEqual(result.session);
  });

  describe('nobody coming back', () => {
    it.each([
      ['with a browser', false, 'Then run `authbridge login` again, or use --no-browser to open the URL yourself.'],
      ['with --no-browser', true, 'Then run `authbridge login` again.'],
    ])('times out %s: AuthorizationRefusedError naming the redirect URI, nothing cached, the port closed', async (_name, noBrowser, hint) => {
      const { ctx, cached, talk, input } = setup({ mode: 'record' });
      const err = await failure(loginFlow(input({ timeoutSeconds: 0.2, noBrowser })));
      expect(err).toBeInstanceOf(AuthorizationRefusedError);
      const redirectUri = /nobody came back to (\S+) within/.exec(err.message)?.[1];
      expect(err.message).toBe(`could not sign in: nobody came back to ${redirectUri} within 0.2 s`);
      // The hint names the redirect URI to register and the flags that choose it.
      expect(err.hint).toBe(
        `If the IdP showed an error page, it may not accept this redirect URI: register exactly ${redirectUri} for client cli, ` +
          `or choose a registered one with --port (and --redirect-host localhost|127.0.0.1). ${hint}`,
      );
      expect(redirectUri).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/callback$/);
      expect(talk.lines.at(-1)).toBe('waiting: off');
      expect(cached.exists()).toBe(false);
      expect(ctx.interruptHandlers()).toBe(0);
      await expectClosed(redirectUri!);
    });
  });

  it('nothing back after a while: one warning naming the client id and the redirect URI, then the wait goes on to the timeout', async () => {
    const { talk, input } = setup({ mode: 'record' });
    const err = await failure(loginFlow(input({ timeoutSeconds: 1, nothingBackAfterSeconds: 0.05 })));
    const redirectUri = /nobody came back to (\S+) within/.exec(err.message)![1]!;
    const port = new URL(redirectUri).port;
    expect(talk.warnings()).toEqual([
      'nothing has come back from the browser yet. If the IdP shows an error page, the usual causes are the client id ' +
        `("${idpProfile(idp).clientId}": is it registered at this IdP?) and the redirect URI (the client must allow http://127.0.0.1/callback ` +
        `with any port, RFC 8252, or exactly ${redirectUri} for port ${port}). Still waiting; Ctrl-C to stop.`,
    ]);
    expect(err.message).toBe(`could not sign in: nobody came back to ${redirectUri} within 1 s`);
  });

  describe('interrupted', () => {
    it.each(['SIGINT', 'SIGTERM'] as const)('%s while waiting: InterruptedError, nothing cached, the loopback server closed', async (signal) => {
      let ctx!: TestContext;
      const browser = recordingBrowser({ mode: 'record' });
      ctx = liveContext({
        browser: async (url) => {
          await browser.open(url);
          ctx.interrupt(signal);
        },
      });
      const cached = tempCache();
      const err = await failure(loginFlow({ ctx, profile: idpProfile(idp), cache: cached.cache, talk: recordingTalk().talk }));
      expect(err).toBeInstanceOf(InterruptedError);
      expect(err.exitClass).toBe('interrupted');
      expect(err.message).toBe(`login interrupted (${signal})`);
      expect(err.hint).toBe('Nothing was cached.');
      expect(cached.exists()).toBe(false);
      expect(ctx.interruptHandlers()).toBe(0);
      await expectClosed(browser.opened[0]!.searchParams.get('redirect_uri')!);
    });

    it('after the tokens came, before they were cached: they are not cached', async () => {
      let ctx!: TestContext;
      const browser = recordingBrowser();
      ctx = liveContext({ browser: browser.open });
      const cached = tempCache();
      // Every write the flow asks of the cache, counted as it is asked (the write itself is async).
      const writes: string[] = [];
      const cache = Object.create(cached.cache) as typeof cached.cache;
      cache.update = (...args) => {
        writes.push(args[0]);
        return cached.cache.update(...args);
      };
      let lastCallDone!: () => void;
      const lastCall = new Promise<void>((resolve) => (lastCallDone = resolve));
      const spy = spyConnectors({
        override: {
          // userinfo (for the email) is the last IdP call before the cache write.
          'idp.userinfo': async (real, ...args) => {
            ctx.interrupt('SIGINT');
            try {
              return await real(...args);
            } finally {
              lastCallDone();
            }
          },
        },
      });
      const err = await failure(loginFlow({ ctx, profile: idpProfile(idp), cache, talk: recordingTalk().talk, connect: spy.connect }));
      expect(err).toBeInstanceOf(InterruptedError);
      // The code exchange has run; let the flow's callback handler finish what follows userinfo.
      await lastCall;
      await new Promise((resolve) => setImmediate(resolve));
      expect(spy.calls).toEqual(expect.arrayContaining(['idp.exchangeCode', 'idp.userinfo']));
      expect(writes).toEqual([]);
      expect(cached.exists()).toBe(false);
    });
  });

  describe('the ID token', () => {
    type Tamper = (genuine: string) => Promise<string>;
    const payloadOf = claimsOf;
    const withPayload = (jwt: string, edit: (p: Record<string, unknown>) => void) => {
      const [header, , signature] = jwt.split('.');
      const payload = payloadOf(jwt);
      edit(payload);
      return `${header}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${signature}`;
    };
    const cases: Array<[string, Tamper, RegExp, { now?: number }?]> = [
      ['replayed from another login (its nonce)', async () => (await signIn({ idp, cache: tempCache().cache })).id_token!, /: claim_mismatch \(nonce: nonce does not match\)$/],
      ['issued to another client (its aud)', async () => (await signIn({ idp, cache: tempCache().cache, profile: idpProfile(idp, { clientId: CONFIDENTIAL_CLIENT_ID, clientSecret: CONFIDENTIAL_CLIENT_SECRET }) })).id_token!, /: wrong_audience \(audience: aud is "confidential", expected "cli"\)$/],
      ['with an edited payload (its signature)', async (genuine) => withPayload(genuine, (p) => (p.sub = 'mallory')), /: bad_signature \(signature: the RS256 signature does not match the key\)$/],
      [
        'signed by a key the IdP does not publish, under the IdP\'s kid',
        async (genuine) => sign(await makeKey('RS256', 'idp-rs256'), payloadOf(genuine)),
        /: bad_signature \(signature: the RS256 signature does not match the key\)$/,
      ],
      ['judged by a clock two hours ahead (its exp)', async (genuine) => genuine, /: expired \(expiry: expired /, { now: Date.now() + 2 * 3600_000 }],
    ];

    it.each(cases)('%s: TokenRejectedError naming the check, and nothing cached', async (_name, tamper, check, options = {}) => {
      const { cached, input } = setup({}, {
        now: options.now,
        spy: {
          override: {
            // After openid-client's own checks: what the flow itself verifies is under test.
            'idp.exchangeCode': async (real, ...args) => {
              const tokens = (await real(...args)) as TokenSet;
              return { ...tokens, id_token: await tamper(tokens.id_token!) };
            },
          },
        },
      });
      const err = await failure(loginFlow(input()));
      expect(err).toBeInstanceOf(TokenRejectedError);
      expect(err.exitClass).toBe('token_rejected');
      expect(err.message).toMatch(/^could not verify the ID token: /);
      expect(err.message).toMatch(check);
      expect(err.hint).toBe("Nothing was cached. Check the profile's issuer and client id.");
      expect(cached.exists()).toBe(false);
    });
  });
});
