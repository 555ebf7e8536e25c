/**
 * `login`: Authorization Code + PKCE through a loopback redirect (RFC 8252). Discovery, a
 * loopback server, the browser (or a printed URL and a pasted redirect), one valid callback, the
 * code exchange, the ID token verified, then — and only then — the cache entry written.
 */
import { createInterface } from 'node:readline';
import type { TokenCache } from '../cache/token-cache.js';
import type { CachedSession } from '../cache/types.js';
import { requireIdp } from '../config/profile.js';
import type { Profile } from '../config/types.js';
import { AuthorizationRefusedError, InterruptedError, describeError } from '../errors.js';
import { DEFAULT_REDIRECT_PORTS, LoopbackServer, type RefusedCallback } from '../loopback/server.js';
import type { IdpClient, TokenSet } from '../oidc/client.js';
import { clientKeyOf, openIdp, sessionFromTokens, verifyIdToken, type FlowIo } from './session.js';

export const DEFAULT_LOGIN_TIMEOUT_S = 300;

/**
 * Seconds of silence from the browser after which login says what usually causes it: an IdP
 * that refuses the client id or the redirect URI shows its error page and never redirects back.
 */
export const NOTHING_BACK_WARNING_S = 30;

/** How the flow talks to the user (stderr); the command decides the looks. */
export interface LoginTalk {
  /** A line of progress. */
  say(text: string): void;
  warn(text: string): void;
  /** The URL to open, shown prominently (no browser, or the browser failed). */
  showUrl(url: string, pasteAccepted: boolean): void;
  /** Waiting starts / ends (a spinner on a terminal). */
  waiting(active: boolean): void;
}

export interface LoginInput extends FlowIo {
  profile: Profile;
  cache: TokenCache;
  talk: LoginTalk;
  /**
   * `--port`; else the profile's redirectPort; else 8000, then 18000, then a free port (with a
   * warning naming the redirect URI the IdP must then accept). 0: a free port, no warning.
   */
  port?: number;
  /** Seconds to wait for the browser to come back. Default 300. */
  timeoutSeconds?: number;
  /** `--no-browser`: print the URL, and read a pasted redirect URL from stdin. */
  noBrowser?: boolean;
  /** Seconds without any request from the browser before the "nothing came back" warning. Default 30. */
  nothingBackAfterSeconds?: number;
  /** The IdP already discovered for this profile (the device flow falling back to this one). */
  idp?: IdpClient;
}

export interface LoginResult {
  session: CachedSession;
  /** The verified ID token claims (empty without an ID token). */
  claims: Record<string, unknown>;
}

const REFUSED_MESSAGES: Record<RefusedCallback, string> = {
  wrong_state: 'refused a callback whose state does not match this login (forged or stale); still waiting',
  wrong_host: 'refused a request to the loopback server with a foreign Host header; still waiting',
  wrong_path: 'answered 404 to a request for another path of the loopback server; still waiting',
  wrong_method: 'refused a non-GET request to the loopback server; still waiting',
  already_done: 'refused a second callback: this login has already been answered',
};

/**
 * Runs the whole login. The loopback server is closed, the timer cleared and the interrupt
 * handler removed whatever happens.
 *
 * @throws UsageError (2) for a missing issuer/client id or a taken port; RemoteError (3) when the
 *   IdP cannot be reached; AuthorizationRefusedError (5) for `error=` callbacks, a refused code
 *   exchange or nobody returning within the timeout; TokenRejectedError (1) for an ID token that
 *   fails verification; InterruptedError (130) on SIGINT.
 */
export async function loginFlow(input: LoginInput): Promise<LoginResult> {
  const { ctx, profile, cache, talk } = input;
  const { issuer, clientId } = requireIdp(profile);
  const timeoutSeconds = input.timeoutSeconds ?? DEFAULT_LOGIN_TIMEOUT_S;
  const idp =
    input.idp ??
    (await openIdp(input, { issuer, clientId, clientSecret: profile.clientSecret, clientAuthMethod: profile.clientAuthMethod, clientKey: clientKeyOf(profile) }));
  const host = profile.redirectHost ?? '127.0.0.1';
  const configuredPort = input.port ?? profile.redirectPort;
  let server: LoopbackServer;
  if (configuredPort === undefined) {
    const chosen = await LoopbackServer.listenDefault(host);
    server = chosen.server;
    if (chosen.fellBack) {
      talk.warn(
        `ports ${DEFAULT_REDIRECT_PORTS.join(' and ')} are taken: using ${server.redirectUri}, which an IdP that matches redirect URIs exactly refuses (free port ${DEFAULT_REDIRECT_PORTS[0]}, or give --port with a registered one)`,
      );
    }
  } else {
    server = await LoopbackServer.listen(configuredPort, host);
  }
  input.trace?.(`redirect URI: ${server.redirectUri}`);
  const controller = new AbortController();
  const timer = setTimeout(() => {
    controller.abort(
      new AuthorizationRefusedError(`could not sign in: nobody came back to ${server.redirectUri} within ${timeoutSeconds} s`, {
        hint:
          `If the IdP showed an error page, it may not accept this redirect URI: register exactly ${server.redirectUri} for client ${clientId}, ` +
          `or choose a registered one with --port (and --redirect-host localhost|127.0.0.1). Then run \`authbridge login\` again` +
          `${input.noBrowser ? '' : ', or use --no-browser to open the URL yourself'}.`,
      }),
    );
  }, timeoutSeconds * 1000);
  const removeInterrupt = ctx.onInterrupt((signal) => {
    controller.abort(new InterruptedError(`login interrupted (${signal})`, { hint: 'Nothing was cached.' }));
  });
  let stopReading: (() => void) | undefined;
  /** Whether the browser has come back at all (any request to the loopback server). */
  let heard = false;
  let nothingBack: NodeJS.Timeout | undefined;
  try {
    const scopes = scopesToAsk(profile, idp.metadata.scopes_supported, input.trace);
    const request = await idp.authorizationRequest({ redirectUri: server.redirectUri, scopes, extra: authorizationParams(profile) });
    let claims: Record<string, unknown> = {};
    const session = server.waitForCallback(
      request.state,
      async (callbackUrl) => {
        heard = true;
        const tokens = await idp.exchangeCode(callbackUrl, request);
        const done = await cacheSignIn(input, idp, { tokens, scopes, nonce: request.nonce, signal: controller.signal });
        claims = done.claims;
        return done.session;
      },
      {
        signal: controller.signal,
        // Browsers ask for /favicon.ico on their own: another path is only worth a --verbose line.
        onRefused: (why) => {
          heard = true;
          return why === 'wrong_path' ? input.trace?.(REFUSED_MESSAGES[why]) : talk.warn(REFUSED_MESSAGES[why]);
        },
      },
    );
    session.catch(() => {});

    if (input.noBrowser) {
      talk.showUrl(request.url.href, true);
      stopReading = readPastedUrls(input, server);
    } else {
      talk.say(`Opening the browser to sign in at ${issuer} …`);
      try {
        await ctx.openBrowser(request.url.href);
        // A browser command that starts fine may still show nothing (BROWSER=false, no display):
        // the URL is always there to open by hand.
        talk.say(`If the browser does not open, open this URL: ${request.url.href}`);
      } catch (err) {
        talk.warn(`could not open the browser: ${describeError(err)}`);
        talk.showUrl(request.url.href, false);
      }
    }
    talk.waiting(true);
    nothingBack = setTimeout(() => {
      if (heard) return;
      talk.waiting(false);
      talk.warn(nothingBackWarning(clientId, server.redirectUri));
      talk.waiting(true);
    }, (input.nothingBackAfterSeconds ?? NOTHING_BACK_WARNING_S) * 1000);
    const result = await session;
    return { session: result, claims };
  } finally {
    clearTimeout(nothingBack);
    talk.waiting(false);
    stopReading?.();
    clearTimeout(timer);
    removeInterrupt();
    await server.close();
  }
}

/**
 * What every interactive sign-in ends with: the ID token verified (`nonce` when the flow sent
 * one), the email from userinfo when the ID token lacks it, then — unless `signal` was aborted
 * meanwhile — the cache entry written under the cache lock, replacing the previous one; a broker
 * session survives only for the same user.
 * @throws TokenRejectedError for an ID token that fails verification; `signal.reason` when aborted.
 */
export async function cacheSignIn(
  input: FlowIo & { profile: Profile; cache: TokenCache },
  idp: IdpClient,
  { tokens, scopes, nonce, signal }: { tokens: TokenSet; scopes: string[]; nonce?: string; signal: AbortSignal },
): Promise<LoginResult> {
  const { ctx, profile, cache } = input;
  const { issuer, clientId } = requireIdp(profile);
  let claims: Record<string, unknown> = {};
  if (tokens.id_token) {
    claims = await verifyIdToken(input, idp, tokens.id_token, { nonce });
  }
  let userinfo: Record<string, unknown> | undefined;
  if (claims.email === undefined && scopes.includes('email') && idp.metadata.userinfo_endpoint) {
    // The ID token may carry only `sub` (OpenID Connect Core §5.4): ask userinfo for the email.
    userinfo = await idp
      .userinfo(tokens.access_token, typeof claims.sub === 'string' ? claims.sub : undefined)
      .catch((err: unknown) => {
        input.trace?.(`userinfo not available: ${describeError(err)}`);
        return undefined;
      });
  }
  // Interrupted or timed out meanwhile: the user was told nothing is cached, so nothing is
  // (checked again under the cache lock, where the write is decided).
  if (signal.aborted) throw signal.reason;
  const session = (await cache.update(profile.name, (previous) => {
    if (signal.aborted) throw signal.reason;
    // A new login replaces the entry; a broker session survives only for the same user.
    const keep = previous && previous.issuer === issuer && previous.subject === claims.sub ? previous : undefined;
    const next = sessionFromTokens({
      profile: profile.name,
      issuer,
      clientId,
      requestedScopes: scopes,
      tokens,
      claims: tokens.id_token ? claims : undefined,
      userinfo,
      now: ctx.now(),
    });
    if (keep?.broker) next.broker = keep.broker;
    return next;
  })) as CachedSession;
  return { session, claims };
}

/** What to check when the browser never comes back: the IdP is showing an error page. */
function nothingBackWarning(clientId: string, redirectUri: string): string {
  const { port, hostname } = new URL(redirectUri);
  return (
    'nothing has come back from the browser yet. If the IdP shows an error page, the usual causes are the client id ' +
    `("${clientId}": is it registered at this IdP?) and the redirect URI (the client must allow http://${hostname}/callback ` +
    `with any port, RFC 8252, or exactly ${redirectUri} for port ${port}). Still waiting; Ctrl-C to stop.`
  );
}

/**
 * The scopes to ask for: the profile's as configured; the default ones without `offline_access`
 * when the IdP's `scopes_supported` leaves it out (Google answers `invalid_scope`, Glewlwyd has no
 * such scope).
 */
export function scopesToAsk(profile: Profile, supported: unknown, trace?: (line: string) => void): string[] {
  if (profile.scopesConfigured || !profile.scopes.includes('offline_access')) return profile.scopes;
  if (!Array.isArray(supported) || supported.includes('offline_access')) return profile.scopes;
  trace?.('not asking for offline_access: the IdP does not list it in scopes_supported (give --scopes to ask anyway)');
  return profile.scopes.filter((s) => s !== 'offline_access');
}

/** `prompt`, `audience`, `resource` and the `--auth-param`s of the profile, for the authorization request. */
export function authorizationParams(profile: Profile): Record<string, string> {
  return {
    ...profile.authParams,
    ...(profile.prompt ? { prompt: profile.prompt } : {}),
    ...(profile.audience ? { audience: profile.audience } : {}),
    ...(profile.resource ? { resource: profile.resource } : {}),
  };
}

/** `--no-browser`: each line on stdin may be the URL the browser was redirected to. */
function readPastedUrls({ ctx, talk }: LoginInput, server: LoopbackServer): () => void {
  const lines = createInterface({ input: ctx.stdin, terminal: false });
  lines.on('line', (line) => {
    if (!line.trim()) return;
    void server.submit(line).then((outcome) => {
      if (!outcome.accepted) talk.warn(`ignored the pasted URL: ${outcome.why}`);
    });
  });
  lines.on('error', () => {});
  return () => {
    lines.close();
    ctx.stdin.pause?.();
  };
}
