/** `login`: Authorization Code + PKCE through the browser and a 127.0.0.1 loopback server. */
import { Option, type Command } from 'commander';
import type { ProfileOverrides } from '../config/profile.js';
import { UsageError, isAuthbridgeError, withHint, type Outcome } from '../errors.js';
import type { ExchangeOutcome } from '../flows/exchange.js';
import { deviceLoginFlow, noBrowserHere } from '../flows/device.js';
import { DEFAULT_LOGIN_TIMEOUT_S, loginFlow } from '../flows/login.js';
import { renderDevicePrompt, terminalSize } from '../output/device.js';
import { createOutput } from '../output/output.js';
import { renderExchange, renderLoginDone, stderrStyle } from '../output/session.js';
import { createSpinner } from '../output/spinner.js';
import { safeText } from '../util/safe-text.js';
import { isoTime } from '../util/time.js';
import { brokerFlags, collect, idpFlags, profileOverrides } from './flags.js';
import { positiveSeconds } from './input.js';
import { optFlag, type Invocation, type ParseInput } from './invocation.js';
import { loadProfile, tokenCache } from './profile.js';

export interface LoginOptions {
  /** The IdP and broker flags, `--scopes` and `--port`. */
  profile: ProfileOverrides;
  /** Seconds to wait for the browser to come back. */
  timeoutSeconds: number;
  /** `--no-browser`: print the URL, accept the redirected URL pasted on stdin. */
  noBrowser: boolean;
  /** Exchange the new IdP token with the profile's broker right after. */
  exchange: boolean;
  /** `--device`: the device authorization grant (RFC 8628) instead of the browser. */
  device: boolean;
  /** `--client-credentials`: a machine sign-in (RFC 6749 §4.4), no browser. */
  clientCredentials: boolean;
}

export function define(cmd: Command): Command {
  return brokerFlags(
    idpFlags(
      cmd
        .summary('sign in through the browser (Authorization Code + PKCE), or with a code on another device (--device)')
        .description(
          'Sign in at the profile\'s IdP in the browser (PKCE S256, state, nonce) through a loopback ' +
            'server on 127.0.0.1, verify the ID token, and cache the tokens for the profile. With --device (and over SSH ' +
            'without a display), the device flow (RFC 8628): a URL and a code to enter on any other device.',
        ),
    ),
  )
    .option('--scopes <list>', 'space- or comma-separated scopes (default: openid profile email, and offline_access when the IdP lists it)')
    .option('--prompt <prompt>', 'the prompt parameter: consent, login, select_account or none (default: none sent; profile prompt)')
    .option('--auth-param <key=value>', 'an extra authorization request parameter, repeatable (e.g. access_type=offline for Google; profile authParams)', collect)
    .option('--audience <aud>', 'the audience parameter of the authorization request (Auth0: JWT access tokens for that API; profile audience)')
    .option('--resource <uri>', 'RFC 8707 resource for the authorization and token requests (profile resource)')
    .option('--port <port>', 'loopback port for the redirect URI http://127.0.0.1:PORT/callback (default: 8000, else 18000, else a free one with a warning; 0: a free one; profile redirectPort)')
    .addOption(
      new Option('--redirect-host <host>', 'the redirect URI\'s host, as registered at the IdP (default 127.0.0.1; profile redirectHost)').choices([
        '127.0.0.1',
        'localhost',
      ]),
    )
    .option('--no-browser', 'print the URL instead of opening a browser; accepts the redirected URL pasted on stdin')
    .option('--device', 'sign in with a code on another device (RFC 8628 device flow; the default over SSH without a display when the IdP offers it)')
    .addOption(new Option('--timeout <seconds>', 'how long to wait for the browser to come back').default(DEFAULT_LOGIN_TIMEOUT_S))
    .option('--exchange', "exchange the new IdP token with the profile's broker right after")
    .option('--client-credentials', 'sign in as the client itself (CI): the client credentials grant with --client-secret or --client-key, no browser (profile grant client_credentials)')
    .addHelpText(
      'after',
      '\nExamples:\n  authbridge login --issuer https://idp.example.com --client-id my-cli\n' +
        '  authbridge login --profile work --no-browser\n  authbridge login --device\n  authbridge login --json | jq .subject',
    );
}

export function parse({ opts }: ParseInput): LoginOptions {
  if (optFlag(opts, 'device') && opts.browser === false) {
    throw new UsageError('--device and --no-browser do not go together', {
      hint: 'Give --device to enter a code on another device, or --no-browser to open the URL yourself and paste the redirect.',
    });
  }
  if (optFlag(opts, 'device') && optFlag(opts, 'clientCredentials')) {
    throw new UsageError('--device and --client-credentials do not go together', {
      hint: 'Give --device to sign in as a user with a code on another device, or --client-credentials to sign in as the client itself.',
    });
  }
  return {
    profile: profileOverrides(opts),
    timeoutSeconds: positiveSeconds('--timeout', opts.timeout) ?? DEFAULT_LOGIN_TIMEOUT_S,
    noBrowser: opts.browser === false,
    exchange: optFlag(opts, 'exchange'),
    device: optFlag(opts, 'device'),
    clientCredentials: optFlag(opts, 'clientCredentials'),
  };
}

export async function run(inv: Invocation, options: LoginOptions): Promise<Outcome> {
  const { ctx, global } = inv;
  const out = createOutput(ctx, global);
  const err = stderrStyle(ctx, global);
  // A new profile is made by signing in with the IdP given on the command line or in env.
  const profile = await loadProfile(inv, options.profile, undefined, { allowNew: (p) => Boolean(p.issuer && p.clientId) });
  if (options.clientCredentials || profile.grant === 'client_credentials') {
    if (options.exchange) {
      throw new UsageError('--exchange goes with a user\'s sign-in, not with the client credentials grant', {
        hint: 'Run `authbridge exchange` afterwards if your broker takes the client\'s token.',
      });
    }
    const { runClientCredentialsLogin } = await import('./login-client-credentials.js');
    return runClientCredentialsLogin(inv, { ...profile, grant: 'client_credentials' }, out);
  }
  const spinner = createSpinner(ctx.stderr);
  // PKCE S256, state and nonce: oidc/client.ts `authorizationRequest`; the loopback server and its
  // Host check: loopback/server.ts; both driven by flows/login.ts.
  // Over SSH without a display nothing can show a browser: the device flow, when the IdP has one.
  const automatic = options.device || options.noBrowser ? undefined : noBrowserHere(ctx.env);
  const device = options.device || automatic !== undefined;
  const { session, claims } = await (device ? deviceLoginFlow : loginFlow)({
    ctx,
    automatic,
    profile,
    cache: tokenCache(inv),
    timeoutSeconds: options.timeoutSeconds,
    noBrowser: options.noBrowser,
    // `--verbose` lines arrive masked (tokens, codes, secrets): oidc/trace.ts `tracingFetch`.
    trace: out.verbose ? out.trace : undefined,
    talk: {
      // Progress lines name the issuer: escaped like every string from outside.
      say: (text) => out.info(safeText(text)),
      warn: out.warn,
      showUrl(url, pasteAccepted) {
        out.info(`Open this URL in a browser to sign in:\n\n  ${err.cyan(url)}\n`);
        if (pasteAccepted) {
          out.info('If the browser cannot reach this machine, paste here the address it ends up at (…/callback?code=…).');
        }
      },
      async showCode(prompt) {
        out.info(await renderDevicePrompt(prompt, { style: err, qr: !out.json, ...terminalSize(ctx.stderr) }));
      },
      waiting(active) {
        if (!active) return spinner.stop();
        if (ctx.stderr.isTTY) spinner.start(`Waiting for the sign-in ${device ? 'on the other device' : 'in the browser'} (Ctrl-C to cancel) …`);
      },
    },
  });
  const expiresAt = session.access_token_expires_at ?? session.id_token_expires_at;
  if (!out.json) out.info(renderLoginDone(session, ctx.now(), err));
  let exchanged: ExchangeOutcome | undefined;
  if (options.exchange) {
    const { runExchange } = await import('./exchange.js');
    // The IdP's own requests' time limit applies (AUTHBRIDGE_HTTP_TIMEOUT), not exchange's --timeout.
    exchanged = await runExchange(inv, { profile: options.profile }, out).catch((error: unknown) => {
      if (!isAuthbridgeError(error) || error.exitClass === 'interrupted') throw error;
      // The sign-in itself worked and is cached: a retry needs no browser.
      const retry = profile.name === 'default' ? 'authbridge exchange' : `authbridge exchange --profile ${profile.name}`;
      const flags = Object.keys(options.profile).some((field) => field.startsWith('broker.')) ? ' (with the same --broker-* flags)' : '';
      throw withHint(error, `You are signed in at the IdP (the session is cached): \`${retry}\`${flags} retries the exchange without the browser.`);
    });
    if (!out.json) out.info(renderExchange(exchanged, ctx.now(), out.style));
  }
  if (out.json) {
    out.jsonDoc({
      profile: session.profile,
      issuer: session.issuer,
      subject: session.subject ?? null,
      email: session.email ?? null,
      expires_at: expiresAt === undefined ? null : isoTime(expiresAt),
      scopes: session.scopes,
      claims,
      ...(exchanged ? { exchange: exchanged } : {}),
    });
  }
  return 'ok';
}
