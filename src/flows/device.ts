/**
 * `login --device`: the OAuth 2.0 Device Authorization Grant (RFC 8628). The IdP hands out a
 * user code and a verification URI, the user approves on any device with a browser, and this
 * machine polls the token endpoint — honouring `interval` and `slow_down` — until the tokens
 * come, the user refuses, or the code expires. The ID token is verified before anything is
 * cached, exactly as `login` does.
 *
 * Also the rule for signing in where no browser can be opened (an SSH session without a display):
 * {@link noBrowserHere}.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { Env } from '../context.js';
import { requireIdp } from '../config/profile.js';
import { AuthorizationRefusedError, InterruptedError, OAuthRefusedError, UsageError, oauthErrorOf } from '../errors.js';
import type { DeviceAuthorization, IdpClient, TokenSet } from '../oidc/client.js';
import { authorizationParams, cacheSignIn, loginFlow, scopesToAsk, type LoginInput, type LoginResult, type LoginTalk } from './login.js';
import { clientKeyOf, loginCommand, openIdp } from './session.js';

/** RFC 8628 §3.2: seconds between polls when the IdP does not say. */
export const DEFAULT_DEVICE_INTERVAL_S = 5;

/** RFC 8628 §3.5: seconds added to the interval at each `slow_down`. */
export const SLOW_DOWN_STEP_S = 5;

/** What the user needs to approve the sign-in elsewhere; strings from the IdP, not yet escaped. */
export interface DevicePrompt {
  verificationUri: string;
  userCode: string;
  /** The URI with the code in it, when the IdP gives one (the QR code's target). */
  verificationUriComplete?: string;
  /** Seconds the code lives. */
  expiresIn: number;
}

/** How the device flow talks to the user (stderr): login's, plus the code to show. */
export interface DeviceTalk extends LoginTalk {
  /** Shows the verification URI and the user code (and a QR code where it fits). */
  showCode(prompt: DevicePrompt): void | Promise<void>;
}

export interface DeviceLoginInput extends LoginInput {
  talk: DeviceTalk;
  /**
   * Set when the device flow was chosen for the user (see {@link noBrowserHere}), to the reason
   * why: said in one line, and an IdP without a device endpoint then falls back to the printed
   * URL and pasted redirect (`--no-browser`) instead of failing.
   */
  automatic?: string;
  /**
   * Waits `ms` milliseconds between polls, or rejects with `signal.reason` once aborted. Default:
   * a real timer. Tests pass one that records the waits and moves their clock.
   */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

/**
 * Why no browser can be opened here, or undefined when one may be: an SSH session
 * (`SSH_CONNECTION`, `SSH_CLIENT` or `SSH_TTY` set) with no display to show a browser on (neither
 * `DISPLAY` nor `WAYLAND_DISPLAY`) and no `BROWSER` command of the user's. The same on every
 * platform: over SSH, macOS' `open` would show the page on the remote machine's screen.
 */
export function noBrowserHere(env: Env): string | undefined {
  const ssh = Boolean(env.SSH_CONNECTION || env.SSH_CLIENT || env.SSH_TTY);
  if (!ssh || env.DISPLAY || env.WAYLAND_DISPLAY || env.BROWSER) return undefined;
  return 'SSH without a display';
}

async function realSleep(ms: number, signal: AbortSignal): Promise<void> {
  try {
    await delay(ms, undefined, { signal });
  } catch {
    throw signal.reason;
  }
}

/** `promise`, or `signal.reason` as soon as the signal is aborted (Ctrl-C during a poll). */
function unlessAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/**
 * Runs the device sign-in. No PKCE: RFC 8628 defines none for the device authorization endpoint,
 * and the device code never passes through a browser that could leak it. The interrupt handler
 * is removed whatever happens.
 *
 * @throws UsageError (2) when the IdP has no device_authorization_endpoint (unless `automatic`:
 *   then the `--no-browser` login runs); AuthorizationRefusedError / OAuthRefusedError (5) for
 *   `access_denied`, an expired code, or a client not allowed the device grant; RemoteError (3)
 *   when the IdP cannot be reached; TokenRejectedError (1) for an ID token that fails
 *   verification; InterruptedError (130) on SIGINT, with nothing cached.
 */
export async function deviceLoginFlow(input: DeviceLoginInput): Promise<LoginResult> {
  const { ctx, profile, talk } = input;
  const { issuer, clientId } = requireIdp(profile);
  const idp = input.idp ?? (await openIdp(input, { issuer, clientId, clientSecret: profile.clientSecret, clientAuthMethod: profile.clientAuthMethod, clientKey: clientKeyOf(profile) }));
  if (!idp.metadata.device_authorization_endpoint) {
    if (input.automatic) {
      talk.say(
        `No browser here (${input.automatic}) and ${issuer} offers no device sign-in: open the URL below on any machine, then paste the address it ends up at.`,
      );
      return loginFlow({ ...input, idp, noBrowser: true });
    }
    throw new UsageError(`could not start the device sign-in: ${issuer} has no device_authorization_endpoint in its discovery document`, {
      hint: `Sign in with the browser instead (\`${loginCommand(profile.name)} --no-browser\` prints the URL to open anywhere).`,
    });
  }
  if (input.automatic) {
    talk.say(`No browser here (${input.automatic}): signing in with the device flow (--no-browser prints the URL and reads the pasted redirect instead).`);
  }
  const controller = new AbortController();
  const removeInterrupt = ctx.onInterrupt((signal) => {
    controller.abort(new InterruptedError(`login interrupted (${signal})`, { hint: 'Nothing was cached.' }));
  });
  try {
    const scopes = scopesToAsk(profile, idp.metadata.scopes_supported, input.trace);
    const device = await unlessAborted(
      idp.startDeviceAuthorization({ scopes, extra: authorizationParams(profile) }).catch((err: unknown) => {
        throw clientRefusal(err, idp);
      }),
      controller.signal,
    );
    input.trace?.(`device authorization: the code lives ${device.expiresIn} s; polling every ${device.interval ?? DEFAULT_DEVICE_INTERVAL_S} s`);
    await talk.showCode({
      verificationUri: device.verificationUri,
      userCode: device.userCode,
      verificationUriComplete: device.verificationUriComplete,
      expiresIn: device.expiresIn,
    });
    talk.waiting(true);
    const tokens = await poll(input, idp, device, controller.signal);
    return await cacheSignIn(input, idp, { tokens, scopes, signal: controller.signal });
  } finally {
    talk.waiting(false);
    removeInterrupt();
  }
}

/** RFC 8628 §3.4–3.5: asks for the tokens every `interval` seconds until an answer other than "wait". */
async function poll(input: DeviceLoginInput, idp: IdpClient, device: DeviceAuthorization, signal: AbortSignal): Promise<TokenSet> {
  const { ctx, profile } = input;
  const sleep = input.sleep ?? realSleep;
  const expiresAt = ctx.now() + device.expiresIn * 1000;
  const expired = () =>
    new AuthorizationRefusedError(`could not sign in: the code expired after ${device.expiresIn} s`, {
      hint: `Nothing was cached. Run \`${loginCommand(profile.name)} --device\` again, and approve the new code sooner.`,
    });
  let interval = device.interval ?? DEFAULT_DEVICE_INTERVAL_S;
  for (;;) {
    await sleep(interval * 1000, signal);
    if (signal.aborted) throw signal.reason;
    if (ctx.now() >= expiresAt) throw expired();
    let answer;
    try {
      answer = await unlessAborted(idp.pollDeviceToken(device), signal);
    } catch (err) {
      switch (oauthErrorOf(err)) {
        case 'expired_token':
          throw expired();
        case 'access_denied':
          throw new OAuthRefusedError(`could not sign in: the sign-in was refused at ${idp.issuer} (access_denied)`, 'access_denied', {
            cause: err,
            hint: `Nothing was cached. Run \`${loginCommand(profile.name)} --device\` again to retry.`,
          });
        default:
          throw clientRefusal(err, idp);
      }
    }
    if (answer.status === 'tokens') return answer.tokens;
    if (answer.status === 'slow_down') {
      interval += SLOW_DOWN_STEP_S;
      input.trace?.(`the IdP asked to slow down: polling every ${interval} s`);
    }
  }
}

/** `unauthorized_client` / `invalid_client` for the device grant, named as such; any other error as it is. */
function clientRefusal(err: unknown, idp: IdpClient): unknown {
  const code = oauthErrorOf(err);
  if (code !== 'unauthorized_client' && code !== 'invalid_client') return err;
  return new OAuthRefusedError(
    `could not sign in: ${idp.issuer} does not allow client "${idp.clientId}" the device grant (${code}; client authentication: ${idp.clientAuthMethod})`,
    code,
    {
      cause: err,
      hint:
        'Allow the client the grant type urn:ietf:params:oauth:grant-type:device_code at the IdP (and check its client secret), ' +
        'or sign in with the browser (`authbridge login --no-browser` prints the URL to open anywhere).',
    },
  );
}
