/**
 * The demo's OpenID provider: oidc-provider on 127.0.0.1 and an ephemeral port, one demo user,
 * one public native client (PKCE), JWT access tokens for the demo API (RFC 9068, through
 * resource indicators, so the broker can verify them against the JWKS), refresh tokens,
 * introspection and revocation. Its sign-in and consent pages are our own, plain, and say
 * that this is a local demo (oidc-provider's devInteractions are for its own development).
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Configuration, KoaContextWithOIDC, Provider as ProviderInstance } from 'oidc-provider';

/** The demo user's login name and password. */
export const DEMO_USER = 'demo';
export const DEMO_PASSWORD = 'demo';
/** The public native client authbridge signs in with. */
export const DEMO_CLIENT_ID = 'authbridge-demo';
/** The resource server the access tokens are minted for: the broker trusts this audience. */
export const DEMO_API = 'urn:authbridge:demo-api';

/** What the demo user's ID token, userinfo and access token say about them. */
export const DEMO_USER_CLAIMS = {
  sub: 'demo-user-1',
  email: 'demo@example.com',
  email_verified: true,
  given_name: 'Dee',
  family_name: 'Mo',
  name: 'Dee Mo',
} as const;

/** Claims the broker maps to the customer, copied into the JWT access token. */
const ACCESS_TOKEN_CLAIMS = ['email', 'given_name', 'family_name'] as const;

export interface DemoIdp {
  /** `http://127.0.0.1:PORT`, the `iss` of its tokens. */
  issuer: string;
  close(): Promise<void>;
}

export interface DemoIdpOptions {
  /** Where oidc-provider's own notices go (it writes them with console.warn/info). Default: dropped. */
  notice?: (line: string) => void;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The frame of every page the IdP shows: plain, readable, and clear that nothing here is real. */
function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · local authbridge demo</title>
<style>
  body { font: 16px/1.5 system-ui, sans-serif; max-width: 28rem; margin: 3rem auto; padding: 0 1rem; color: #222; }
  .banner { background: #fff4d6; border: 1px solid #e6c46a; padding: .5rem .75rem; border-radius: 4px; font-size: .9rem; }
  label { display: block; margin-top: .75rem; }
  input[type=text], input[type=password] { width: 100%; padding: .4rem; font-size: 1rem; box-sizing: border-box; }
  button { margin-top: 1rem; padding: .5rem 1.25rem; font-size: 1rem; }
  .error { color: #b00020; }
  code { background: #f2f2f2; padding: 0 .25rem; }
</style>
</head>
<body>
<p class="banner">This is the <strong>local authbridge demo</strong> identity provider, running on your machine
for <code>authbridge demo</code>. Nothing you enter leaves this computer.</p>
<h1>${escapeHtml(title)}</h1>
${body}
</body>
</html>
`;
}

function loginPage(uid: string, clientId: string, error?: string): string {
  return page(
    'Sign in',
    `<p><code>${escapeHtml(clientId)}</code> asks you to sign in. Use the demo user:
user name <code>${DEMO_USER}</code>, password <code>${DEMO_PASSWORD}</code>.</p>
${error ? `<p class="error">${escapeHtml(error)}</p>` : ''}
<form method="post" action="/interaction/${escapeHtml(uid)}/login" autocomplete="off">
  <label>User name <input type="text" name="login" value="${DEMO_USER}" autofocus required></label>
  <label>Password <input type="password" name="password" required></label>
  <button type="submit">Sign in</button>
</form>
<p><a href="/interaction/${escapeHtml(uid)}/abort">Cancel</a></p>`,
  );
}

function consentPage(uid: string, clientId: string, scopes: string[]): string {
  const list = scopes.length ? `<ul>${scopes.map((s) => `<li><code>${escapeHtml(s)}</code></li>`).join('')}</ul>` : '';
  return page(
    'Allow access',
    `<p><code>${escapeHtml(clientId)}</code> asks for access to your demo account${scopes.length ? ':' : '.'}</p>
${list}
<form method="post" action="/interaction/${escapeHtml(uid)}/confirm">
  <button type="submit">Allow</button>
</form>
<p><a href="/interaction/${escapeHtml(uid)}/abort">Deny</a></p>`,
  );
}

function sendHtml(res: ServerResponse, status: number, html: string): void {
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'",
    'x-frame-options': 'DENY',
  });
  res.end(html);
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > 16 * 1024) throw new Error('form too large');
    chunks.push(chunk as Buffer);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

/**
 * oidc-provider announces its development defaults and an "unsupported runtime" (it prefers
 * Node 22) with console.warn/info. For the demo those are noise on the user's terminal, so they
 * go to `notice` while the IdP runs; every other console line passes through untouched.
 */
function quietProviderNotices(notice: (line: string) => void): () => void {
  const { warn, info } = console;
  const filter =
    (original: (...args: unknown[]) => void) =>
    (...args: unknown[]) => {
      if (typeof args[0] === 'string' && args[0].includes('oidc-provider ')) notice(args[0]);
      else original(...args);
    };
  console.warn = filter(warn);
  console.info = filter(info);
  return () => {
    console.warn = warn;
    console.info = info;
  };
}

/** The interaction routes: GET shows the prompt's page, POST login/confirm finish it, abort denies. */
async function interaction(provider: ProviderInstance, req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
  const match = /^\/interaction\/([\w-]+)(?:\/(login|confirm|abort))?$/.exec(path);
  if (!match) return sendHtml(res, 404, page('Not found', '<p>There is nothing here.</p>'));
  const [, uid, action] = match as unknown as [string, string, string | undefined];
  let details;
  try {
    details = await provider.interactionDetails(req, res);
  } catch {
    return sendHtml(res, 400, page('Sign-in expired', '<p>This sign-in request is unknown or has expired. Start again from the terminal.</p>'));
  }
  if (details.uid !== uid) return sendHtml(res, 400, page('Sign-in mismatch', '<p>This page belongs to another sign-in. Start again from the terminal.</p>'));
  const clientId = String(details.params.client_id ?? '');
  const prompt = details.prompt;

  if (action === undefined && req.method === 'GET') {
    if (prompt.name === 'login') return sendHtml(res, 200, loginPage(uid, clientId));
    const missing = prompt.details as { missingOIDCScope?: string[]; missingResourceScopes?: Record<string, string[]> };
    const scopes = [...new Set([...(missing.missingOIDCScope ?? []), ...Object.values(missing.missingResourceScopes ?? {}).flat()])];
    return sendHtml(res, 200, consentPage(uid, clientId, scopes));
  }
  if (action === 'abort' && req.method === 'GET') {
    await provider.interactionFinished(req, res, { error: 'access_denied', error_description: 'the user denied the sign-in' }, { mergeWithLastSubmission: false });
    return;
  }
  if (action === 'login' && req.method === 'POST' && prompt.name === 'login') {
    const form = await readForm(req);
    if (form.get('login') !== DEMO_USER || form.get('password') !== DEMO_PASSWORD) {
      return sendHtml(res, 401, loginPage(uid, clientId, `Wrong user name or password: use ${DEMO_USER} / ${DEMO_PASSWORD}.`));
    }
    await provider.interactionFinished(req, res, { login: { accountId: DEMO_USER_CLAIMS.sub } }, { mergeWithLastSubmission: false });
    return;
  }
  if (action === 'confirm' && req.method === 'POST' && prompt.name === 'consent') {
    await readForm(req);
    const missing = prompt.details as {
      missingOIDCScope?: string[];
      missingOIDCClaims?: string[];
      missingResourceScopes?: Record<string, string[]>;
    };
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: details.session?.accountId, clientId });
    if (!grant) return sendHtml(res, 400, page('Sign-in expired', '<p>The grant is gone. Start again from the terminal.</p>'));
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) grant.addResourceScope(indicator, scopes.join(' '));
    const grantId = await grant.save();
    await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
    return;
  }
  sendHtml(res, 405, page('Not allowed', '<p>That is not a step of this sign-in.</p>'));
}

/**
 * Starts the demo IdP on 127.0.0.1 and a free port. `close()` stops it and drops every
 * session, grant and token it held (they live in memory only).
 */
export async function startDemoIdp(options: DemoIdpOptions = {}): Promise<DemoIdp> {
  const restoreConsole = quietProviderNotices(options.notice ?? (() => {}));
  const server = createServer();
  try {
    const { default: Provider } = await import('oidc-provider');
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: `demo-${randomBytes(4).toString('hex')}`, alg: 'RS256', use: 'sig' };
    const ownClient = async (ctx: KoaContextWithOIDC, _client: unknown, token: { clientId?: string }) => token.clientId === ctx.oidc.client?.clientId;
    const configuration: Configuration = {
      clients: [
        {
          client_id: DEMO_CLIENT_ID,
          application_type: 'native',
          token_endpoint_auth_method: 'none',
          grant_types: ['authorization_code', 'refresh_token'],
          response_types: ['code'],
          // RFC 8252 §7.3: any port on the loopback redirect URI of a native client.
          redirect_uris: ['http://127.0.0.1/callback'],
        },
      ],
      jwks: { keys: [signingKey as never] },
      cookies: { keys: [randomBytes(32).toString('base64url')] },
      claims: {
        openid: ['sub'],
        email: ['email', 'email_verified'],
        profile: ['name', 'given_name', 'family_name'],
      },
      // The ID token carries the profile and email claims itself, so `status` can show who signed in.
      conformIdTokenClaims: false,
      pkce: { required: () => true },
      findAccount: (_ctx, id) =>
        id === DEMO_USER_CLAIMS.sub ? { accountId: id, claims: async () => ({ ...DEMO_USER_CLAIMS }) } : undefined,
      extraTokenClaims: async (_ctx, token) => {
        const accountId = (token as { accountId?: string }).accountId;
        if ((token as { kind?: string }).kind !== 'AccessToken' || accountId !== DEMO_USER_CLAIMS.sub) return undefined;
        return Object.fromEntries(ACCESS_TOKEN_CLAIMS.map((c) => [c, DEMO_USER_CLAIMS[c]]));
      },
      interactions: { url: (_ctx, interactionSession) => `/interaction/${interactionSession.uid}` },
      renderError: async (ctx, out) => {
        ctx.type = 'html';
        const rows = Object.entries(out)
          .map(([k, v]) => `<li><code>${escapeHtml(k)}</code>: ${escapeHtml(String(v))}</li>`)
          .join('');
        ctx.body = page('Something went wrong', `<ul>${rows}</ul><p>Start again from the terminal.</p>`);
      },
      features: {
        devInteractions: { enabled: false },
        introspection: { enabled: true, allowedPolicy: ownClient },
        revocation: { enabled: true, allowedPolicy: ownClient },
        resourceIndicators: {
          enabled: true,
          defaultResource: async () => DEMO_API,
          useGrantedResource: async () => true,
          getResourceServerInfo: async (_ctx, resourceIndicator) => {
            if (resourceIndicator !== DEMO_API) throw new Error(`unknown resource ${resourceIndicator}`);
            return {
              scope: 'openid profile email offline_access',
              audience: DEMO_API,
              accessTokenTTL: 3600,
              accessTokenFormat: 'jwt',
              jwt: { sign: { alg: 'RS256' } },
            };
          },
        },
      },
      ttl: {
        AccessToken: 3600,
        AuthorizationCode: 60,
        IdToken: 3600,
        RefreshToken: 24 * 3600,
        Interaction: 600,
        Session: 3600,
        Grant: 24 * 3600,
      },
    };
    const provider = new Provider(issuer, configuration);
    provider.on('server_error', (_ctx, err) => options.notice?.(`oidc-provider server error: ${err.message}`));
    const callback = provider.callback();
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      const path = (req.url ?? '/').split('?')[0]!;
      if (path.startsWith('/interaction/')) {
        interaction(provider, req, res, path).catch((err: unknown) => {
          options.notice?.(`demo IdP interaction failed: ${err instanceof Error ? err.message : String(err)}`);
          if (!res.headersSent) sendHtml(res, 500, page('Something went wrong', '<p>Start again from the terminal.</p>'));
          else res.end();
        });
        return;
      }
      void callback(req, res);
    });
    let closed = false;
    return {
      issuer,
      close: async () => {
        if (closed) return;
        closed = true;
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        restoreConsole();
      },
    };
  } catch (err) {
    server.close();
    restoreConsole();
    throw err;
  }
}
