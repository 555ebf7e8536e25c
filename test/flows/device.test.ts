/**
 * `deviceLoginFlow` in process against a real OpenID provider with its device flow on: the user
 * approves (or refuses) at oidc-provider's own device pages over HTTP, the tokens land in a real
 * TokenCache. The waits between polls go through a recording `sleep` that moves the flow's clock
 * instead of sleeping, so the intervals are asserted as numbers, never timed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthorizationRefusedError, InterruptedError, OAuthRefusedError, UsageError, type AuthbridgeError } from '../../src/errors.js';
import { deviceLoginFlow, noBrowserHere, type DeviceLoginInput, type DevicePrompt } from '../../src/flows/device.js';
import { isSignedIn } from '../../src/flows/session.js';
import { approveDevice } from '../helpers/device-browser.js';
import { editEntry, expectNoSecrets, idpProfile, liveContext, recordingTalk, recordingTrace, secretsOf, tempCache } from '../helpers/flows.js';
import { driveLogin } from '../helpers/http-browser.js';
import { CONFIDENTIAL_CLIENT_ID, CONFIDENTIAL_CLIENT_SECRET, NO_DEVICE_CLIENT_ID, startIdp, type Idp } from '../helpers/idp.js';

let idp: Idp;
/** The same provider without the device flow. */
let plain: Idp;
beforeAll(async () => {
  [idp, plain] = await Promise.all([startIdp({ deviceFlow: { interval: 1 } }), startIdp()]);
});
afterAll(async () => {
  await Promise.all([idp?.close(), plain?.close()]);
});

async function failure(promise: Promise<unknown>): Promise<AuthbridgeError> {
  return promise.then(
    () => expect.fail('the login succeeded'),
    (err: unknown) => err as AuthbridgeError,
  );
}

interface SetupOptions {
  /** Runs when the code is shown (the user approving right away). */
  onCode?: (prompt: DevicePrompt) => Promise<unknown>;
  /** Runs at the n-th wait (0-based) before it returns. */
  onWait?: (index: number) => Promise<unknown> | void;
}

function setup(options: SetupOptions = {}) {
  let offset = 0;
  const ctx = liveContext({ now: () => Date.now() + offset });
  const cached = tempCache();
  const recorded = recordingTalk();
  const trace = recordingTrace();
  const prompts: DevicePrompt[] = [];
  /** Milliseconds of each wait between polls, in order. */
  const waits: number[] = [];
  const talk = {
    ...recorded.talk,
    async showCode(prompt: DevicePrompt) {
      prompts.push(prompt);
      recorded.lines.push(`code: ${prompt.userCode}`);
      await options.onCode?.(prompt);
    },
  };
  const input = (extra: Partial<DeviceLoginInput> = {}): DeviceLoginInput => ({
    ctx,
    profile: idpProfile(idp),
    cache: cached.cache,
    talk,
    trace: trace.trace,
    sleep: async (ms, signal) => {
      const index = waits.push(ms) - 1;
      offset += ms;
      await options.onWait?.(index);
      if (signal.aborted) throw signal.reason;
    },
    ...extra,
  });
  const tokenPolls = () => idp.requests.filter((r) => r === 'POST /token').length;
  return { ctx, cached, talk: recorded, trace, prompts, waits, input, tokenPolls, advance: (ms: number) => (offset += ms) };
}

const approve = (prompt: DevicePrompt, action: 'approve' | 'deny' = 'approve') => approveDevice(prompt.verificationUriComplete!, { action });

describe('deviceLoginFlow', () => {
  it('approved right away: the codes shown, one wait of the IdP\'s interval, the ID token verified, the entry cached 0600', async () => {
    const { ctx, cached, talk, trace, prompts, waits, input } = setup({ onCode: (p) => approve(p) });
    const before = idp.requests.length;
    const result = await deviceLoginFlow(input());
    expect(prompts).toHaveLength(1);
    expect(prompts[0]!.verificationUri).toBe(`${idp.issuer}/device`);
    expect(prompts[0]!.verificationUriComplete).toBe(`${idp.issuer}/device?user_code=${encodeURIComponent(prompts[0]!.userCode)}`);
    expect(prompts[0]!.expiresIn).toBe(600);
    expect(talk.lines).toEqual([`code: ${prompts[0]!.userCode}`, 'waiting: on', 'waiting: off']);
    expect(waits).toEqual([1000]);
    expect(result.claims.sub).toBe('alice');
    expect(result.session).toMatchObject({ issuer: idp.issuer, client_id: 'cli', subject: 'alice', email: 'alice@example.test' });
    expect(result.session.refresh_token).toEqual(expect.any(String));
    expect(cached.read()).toEqual(result.session);
    expect(cached.mode()).toBe(0o600);
    expect(isSignedIn(cached.read(), ctx.now())).toBe(true);
    expect(ctx.interruptHandlers()).toBe(0);
    // The device code is a secret: --verbose shows the timings, never a token.
    expect(trace.lines).toContain('device authorization: the code lives 600 s; polling every 1 s');
    expectNoSecrets(trace.lines, secretsOf(result.session));
    expect(trace.lines.filter((l) => l.startsWith('> POST') && l.includes('grant_type=urn'))).toEqual([
      expect.stringContaining('device_code=***'),
    ]);
    expect(idp.requests.slice(before).filter((r) => r === 'POST /device/auth' || r === 'POST /token')).toEqual(['POST /device/auth', 'POST /token']);
  });

  it('authorization_pending, then approved: polls again after each interval until the tokens come', async () => {
    let prompt: DevicePrompt | undefined;
    const { cached, waits, input, tokenPolls } = setup({
      onCode: async (p) => void (prompt = p),
      onWait: (index) => (index === 2 ? approve(prompt!) : undefined),
    });
    const polls = tokenPolls();
    const result = await deviceLoginFlow(input());
    expect(waits).toEqual([1000, 1000, 1000]);
    expect(tokenPolls() - polls).toBe(3);
    expect(cached.read()).toEqual(result.session);
  });

  it('slow_down: every later wait is 5 s longer (RFC 8628 §3.5)', async () => {
    const { cached, waits, input, trace } = setup({ onCode: (p) => approve(p) });
    idp.faults.tokenAnswers = [
      { status: 400, body: { error: 'slow_down' } },
      { status: 400, body: { error: 'authorization_pending' } },
      { status: 400, body: { error: 'slow_down' } },
    ];
    try {
      await deviceLoginFlow(input());
    } finally {
      idp.faults.tokenAnswers = undefined;
    }
    expect(waits).toEqual([1000, 6000, 6000, 11000]);
    expect(trace.lines).toContain('the IdP asked to slow down: polling every 11 s');
    expect(cached.read().subject).toBe('alice');
  });

  it('without an interval from the IdP, polls every 5 s', async () => {
    const { waits, input } = setup({ onCode: (p) => approve(p) });
    const profile = idpProfile(plain);
    // The same provider, its device answer without `interval`.
    const bare = await startIdp({ deviceFlow: {} });
    try {
      await deviceLoginFlow(input({ profile: { ...profile, issuer: bare.issuer } }));
    } finally {
      await bare.close();
    }
    expect(waits).toEqual([5000]);
  });

  it("Google's verification_url (pre-RFC 8628) is taken as the verification URI", async () => {
    const { cached, prompts, input } = setup({ onCode: (p) => approve(p) });
    idp.faults.verificationUrl = true;
    await deviceLoginFlow(input()).finally(() => void (idp.faults.verificationUrl = undefined));
    expect(prompts[0]!.verificationUri).toBe(`${idp.issuer}/device`);
    expect(cached.read().subject).toBe('alice');
  });

  it('access_denied at the IdP: exit 5 naming the refusal, nothing cached', async () => {
    const { ctx, cached, input } = setup({ onCode: (p) => approve(p, 'deny') });
    const err = await failure(deviceLoginFlow(input()));
    expect(err).toBeInstanceOf(OAuthRefusedError);
    expect(err.exitCode).toBe(5);
    expect(err.message).toBe(`could not sign in: the sign-in was refused at ${idp.issuer} (access_denied)`);
    expect(err.hint).toBe('Nothing was cached. Run `authbridge login --device` again to retry.');
    expect(cached.exists()).toBe(false);
    expect(ctx.interruptHandlers()).toBe(0);
  });

  it('expired_token from the IdP: exit 5, "the code expired after N s", nothing cached', async () => {
    const { cached, input } = setup();
    idp.faults.tokenAnswers = [{ status: 400, body: { error: 'expired_token', error_description: 'device code is expired' } }];
    const err = await failure(deviceLoginFlow(input({ profile: idpProfile(idp, { name: 'work' }) })));
    idp.faults.tokenAnswers = undefined;
    expect(err).toBeInstanceOf(AuthorizationRefusedError);
    expect(err.exitCode).toBe(5);
    expect(err.message).toBe('could not sign in: the code expired after 600 s');
    expect(err.hint).toBe('Nothing was cached. Run `authbridge login --profile work --device` again, and approve the new code sooner.');
    expect(cached.exists('work')).toBe(false);
  });

  it("the IdP's expires_in passing on this clock: stops polling with the same error", async () => {
    // The second wait outlasts the code's 600 s.
    const s = setup({ onWait: (index) => void (index === 1 ? s.advance(600_000) : undefined) });
    const polls = s.tokenPolls();
    const err = await failure(deviceLoginFlow(s.input()));
    expect(err).toBeInstanceOf(AuthorizationRefusedError);
    expect(err.message).toBe('could not sign in: the code expired after 600 s');
    expect(s.waits).toEqual([1000, 1000]);
    // One poll (pending) after the first wait; none once the code had expired.
    expect(s.tokenPolls() - polls).toBe(1);
    expect(s.cached.exists()).toBe(false);
  });

  it.each([
    ['the same user: the broker session is kept', 'alice', true],
    ['another user: the broker session goes with the old entry', 'bob', false],
  ])('a second sign-in as %s', async (_name, login, kept) => {
    const s = setup({ onCode: (p) => approveDevice(p.verificationUriComplete!, { login: 'alice' }) });
    await deviceLoginFlow(s.input());
    const broker = { url: 'https://broker.example', issuer: 'https://broker.example', access_token: 'b', expires_at: 1, subject: 's', obtained_at: 1 };
    await editEntry(s.cached.cache, 'default', (entry) => void (entry.broker = broker));
    const again = setup({ onCode: (p) => approveDevice(p.verificationUriComplete!, { login }) });
    const result = await deviceLoginFlow(again.input({ cache: s.cached.cache }));
    expect(result.session.subject).toBe(login);
    expect(s.cached.read().broker).toEqual(kept ? broker : undefined);
  });

  it('Ctrl-C while waiting: InterruptedError (130), nothing cached, the handler removed', async () => {
    const s = setup({ onWait: () => s.ctx.interrupt('SIGINT') });
    const err = await failure(deviceLoginFlow(s.input()));
    expect(err).toBeInstanceOf(InterruptedError);
    expect(err.exitCode).toBe(130);
    expect(err.hint).toBe('Nothing was cached.');
    expect(s.cached.exists()).toBe(false);
    expect(s.ctx.interruptHandlers()).toBe(0);
  });

  it('a confidential client authenticates at the device and token endpoints as configured', async () => {
    const { cached, input } = setup({ onCode: (p) => approve(p) });
    const profile = idpProfile(idp, { clientId: CONFIDENTIAL_CLIENT_ID, clientSecret: CONFIDENTIAL_CLIENT_SECRET });
    const result = await deviceLoginFlow(input({ profile }));
    expect(result.session).toMatchObject({ client_id: CONFIDENTIAL_CLIENT_ID, subject: 'alice' });
    expect(cached.read()).toEqual(result.session);
  });

  it('a client not allowed the device grant (oidc-provider: invalid_request): exit 5 with the IdP\'s reason, no code shown', async () => {
    const { cached, input, prompts } = setup();
    const err = await failure(deviceLoginFlow(input({ profile: idpProfile(idp, { clientId: NO_DEVICE_CLIENT_ID }) })));
    expect(err).toBeInstanceOf(OAuthRefusedError);
    expect(err.exitCode).toBe(5);
    expect(err.message).toBe(
      'could not start the device sign-in: invalid_request: urn:ietf:params:oauth:grant-type:device_code is not allowed for this client (HTTP 400 at the device_authorization endpoint)',
    );
    expect(prompts).toEqual([]);
    expect(cached.exists()).toBe(false);
  });

  it.each([
    ['the device endpoint', 'deviceAuthorization', 'unauthorized_client', 401],
    ['the token endpoint', 'token', 'invalid_client', 401],
  ] as const)('%s answering %s: exit 5 naming the client and the device grant', async (_where, fault, error, status) => {
    const { cached, input } = setup();
    idp.faults[fault] = { status, body: { error } };
    const err = await failure(deviceLoginFlow(input())).finally(() => void (idp.faults[fault] = undefined));
    expect(err).toBeInstanceOf(OAuthRefusedError);
    expect(err.exitCode).toBe(5);
    expect(err.message).toBe(`could not sign in: ${idp.issuer} does not allow client "cli" the device grant (${error}; client authentication: none)`);
    expect(err.hint).toBe(
      'Allow the client the grant type urn:ietf:params:oauth:grant-type:device_code at the IdP (and check its client secret), ' +
        'or sign in with the browser (`authbridge login --no-browser` prints the URL to open anywhere).',
    );
    expect(cached.exists()).toBe(false);
  });

  it('an IdP without a device endpoint: exit 2 naming what is missing and the way out', async () => {
    const { cached, input } = setup();
    const err = await failure(deviceLoginFlow(input({ profile: idpProfile(plain) })));
    expect(err).toBeInstanceOf(UsageError);
    expect(err.exitCode).toBe(2);
    expect(err.message).toBe(`could not start the device sign-in: ${plain.issuer} has no device_authorization_endpoint in its discovery document`);
    expect(err.hint).toBe('Sign in with the browser instead (`authbridge login --no-browser` prints the URL to open anywhere).');
    expect(cached.exists()).toBe(false);
  });

  it('chosen automatically at an IdP without a device endpoint: says so, then the printed URL and the pasted redirect', async () => {
    const ctx = liveContext({ openStdin: true });
    const cached = tempCache();
    const recorded = recordingTalk((url) => {
      void driveLogin(url, { stopAtCallback: true }).then(({ callbackUrl }) => ctx.type(`${callbackUrl.href}\n`));
    });
    const result = await deviceLoginFlow({
      ctx,
      profile: idpProfile(plain),
      cache: cached.cache,
      talk: { ...recorded.talk, showCode: () => expect.fail('no code to show') },
      automatic: 'SSH without a display',
    });
    expect(recorded.lines[0]).toBe(
      `say: No browser here (SSH without a display) and ${plain.issuer} offers no device sign-in: open the URL below on any machine, then paste the address it ends up at.`,
    );
    expect(recorded.lines[1]).toMatch(new RegExp(`^url: ${plain.issuer}/auth\\?\\S+ \\(paste accepted\\)$`));
    expect(ctx.opened).toEqual([]);
    expect(cached.read()).toEqual(result.session);
  });

  it('chosen automatically at an IdP with a device endpoint: one line saying why, then the device flow', async () => {
    const { talk, input, cached } = setup({ onCode: (p) => approve(p) });
    await deviceLoginFlow(input({ automatic: 'SSH without a display' }));
    expect(talk.lines[0]).toBe(
      'say: No browser here (SSH without a display): signing in with the device flow (--no-browser prints the URL and reads the pasted redirect instead).',
    );
    expect(talk.lines[1]).toMatch(/^code: /);
    expect(cached.read().subject).toBe('alice');
  });
});

describe('noBrowserHere', () => {
  it.each([
    ['SSH, no display, no BROWSER', { SSH_CONNECTION: '10.0.0.1 5022 10.0.0.2 22' }, 'SSH without a display'],
    ['SSH_TTY only', { SSH_TTY: '/dev/pts/3' }, 'SSH without a display'],
    ['SSH_CLIENT only', { SSH_CLIENT: '10.0.0.1 5022 22' }, 'SSH without a display'],
    ['SSH with X forwarding', { SSH_CONNECTION: 'x', DISPLAY: 'localhost:10.0' }, undefined],
    ['SSH with Wayland', { SSH_CONNECTION: 'x', WAYLAND_DISPLAY: 'wayland-0' }, undefined],
    ['SSH with a BROWSER command', { SSH_CONNECTION: 'x', BROWSER: 'w3m' }, undefined],
    ['a local session without a display', {}, undefined],
    ['empty SSH variables', { SSH_CONNECTION: '', SSH_TTY: '' }, undefined],
  ])('%s', (_name, env, expected) => {
    expect(noBrowserHere(env)).toBe(expected);
  });
});
