/**
 * A thin OpenID provider of our own, for the quirks real IdPs have and oidc-provider will not
 * imitate: each quirk is one switch. It signs in one user at once (no pages: the authorize
 * endpoint redirects straight back with a code), on 127.0.0.1 and port 0, and records what it
 * received (`requests`, the Basic credentials as sent).
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { DriveResult } from './http-browser.js';
import { jwks, makeKey, sign, type TestKey } from './keys.js';

export interface Quirks {
  /** Only this redirect URI is accepted (exact match); any other gets an HTML error page (400). */
  exactRedirectUri?: string;
  /** A confidential client whose Basic credentials are compared raw, not percent-decoded. */
  rawBasicClient?: { clientId: string; clientSecret: string };
  /** No revocation_endpoint in discovery. */
  noRevocation?: boolean;
  /** Access tokens signed with `typ: JWT` (Keycloak, Okta, Entra ID, Auth0) and a `scope` claim. */
  typJwtAccessTokens?: boolean;
  /** Google: scopes_supported without offline_access, and `invalid_scope` when it is asked. */
  googleScopes?: boolean;
  /**
   * Entra ID multi-tenant, as Microsoft serves it: the IdP is reached as
   * `https://login.microsoftonline.com/common/v2.0` (through {@link QuirkyIdp.fetch}, which maps
   * that origin to this server), its discovery names `…/{tenantid}/v2.0`, and its ID tokens
   * `…/<tid>/v2.0` with a `tid` claim.
   */
  entraTemplateIssuer?: boolean;
  /** No ID token in the refresh answer. */
  noIdTokenOnRefresh?: boolean;
  /** The revocation and introspection endpoints answer 401 with an empty body. */
  empty401?: boolean;
  /** ID tokens carry `auth_time: 0`. */
  authTimeZero?: boolean;
}

export interface QuirkyIdp {
  /** The issuer a profile names. */
  issuer: string;
  /** A fetch that reaches this server for its public origin (login.microsoftonline.com for Entra). */
  fetch: typeof fetch;
  /** `METHOD /path` of each request, and the Authorization header the token endpoint saw. */
  requests: string[];
  basicSeen: string[];
  /** The authorize parameters of each request. */
  authorizeParams: URLSearchParams[];
  /** Follows the authorize URL to the callback (the IdP's own error page: throws). */
  drive(url: string): Promise<DriveResult>;
  close(): Promise<void>;
}

export const QUIRKY_PUBLIC_CLIENT = 'quirky-cli';
export const ENTRA_TENANT_ID = '9188040d-6c67-4c5b-b112-36a304b66dad';
const ENTRA = 'https://login.microsoftonline.com';

export async function startQuirkyIdp(quirks: Quirks = {}): Promise<QuirkyIdp> {
  const key: TestKey = await makeKey('RS256', 'quirky');
  const requests: string[] = [];
  const basicSeen: string[] = [];
  const authorizeParams: URLSearchParams[] = [];
  const codes = new Map<string, { clientId: string; nonce?: string; scope: string }>();
  const refreshTokens = new Map<string, { clientId: string; scope: string }>();
  let issuer = '';
  /** The issuer as the world sees it (endpoints, tokens): Entra's origin, else the server's. */
  let pub = '';
  const now = () => Math.floor(Date.now() / 1000);

  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    const text = body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body);
    res.writeHead(status, { ...(typeof body === 'object' ? { 'content-type': 'application/json' } : { 'content-type': 'text/html' }), ...headers });
    res.end(text);
  };
  const readForm = async (req: IncomingMessage) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
  };
  /** The client, authenticated: public by client_id, confidential by raw Basic credentials. */
  const clientOf = (req: IncomingMessage, form: URLSearchParams): string | undefined => {
    const header = req.headers.authorization;
    if (header?.startsWith('Basic ')) {
      const raw = Buffer.from(header.slice(6), 'base64').toString('utf8');
      basicSeen.push(raw);
      const c = quirks.rawBasicClient;
      return c && raw === `${c.clientId}:${c.clientSecret}` ? c.clientId : undefined;
    }
    const id = form.get('client_id');
    return id === QUIRKY_PUBLIC_CLIENT ? id : undefined;
  };
  const tokens = async (clientId: string, scope: string, nonce: string | undefined, withIdToken: boolean) => {
    const sub = 'quirky-user';
    const access = await sign(
      key,
      { iss: quirks.entraTemplateIssuer ? `${ENTRA}/${ENTRA_TENANT_ID}/v2.0` : pub, sub, aud: 'https://api.quirky.test/', client_id: clientId, scope, iat: now(), exp: now() + 600, jti: randomBytes(8).toString('hex') },
      { header: { typ: quirks.typJwtAccessTokens ? 'JWT' : 'at+jwt' } },
    );
    const refresh = randomBytes(16).toString('hex');
    refreshTokens.set(refresh, { clientId, scope });
    const id = withIdToken
      ? await sign(
          key,
          {
            iss: quirks.entraTemplateIssuer ? `${ENTRA}/${ENTRA_TENANT_ID}/v2.0` : pub,
            ...(quirks.entraTemplateIssuer ? { tid: ENTRA_TENANT_ID } : {}),
            sub,
            aud: clientId,
            iat: now(),
            exp: now() + 600,
            email: 'quirky@example.test',
            ...(nonce ? { nonce } : {}),
            ...(quirks.authTimeZero ? { auth_time: 0 } : {}),
          },
          { header: { typ: 'JWT' } },
        )
      : undefined;
    return { access_token: access, token_type: 'Bearer', expires_in: 600, refresh_token: refresh, scope, ...(id ? { id_token: id } : {}) };
  };

  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', issuer);
      requests.push(`${req.method} ${url.pathname}`);
      const base = new URL(issuer).pathname.replace(/\/$/, '');
      const path = url.pathname.slice(base.length);
      if (path === '/.well-known/openid-configuration') {
        return send(res, 200, {
          issuer: quirks.entraTemplateIssuer ? `${ENTRA}/{tenantid}/v2.0` : pub,
          authorization_endpoint: `${pub}/authorize`,
          token_endpoint: `${pub}/token`,
          jwks_uri: `${pub}/jwks`,
          introspection_endpoint: `${pub}/introspect`,
          ...(quirks.noRevocation ? {} : { revocation_endpoint: `${pub}/revoke` }),
          // Like Google and Glewlwyd: no `none`, although public clients are served.
          token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
          scopes_supported: quirks.googleScopes ? ['openid', 'email', 'profile'] : ['openid', 'email', 'profile', 'offline_access'],
          code_challenge_methods_supported: ['S256'],
          response_types_supported: ['code'],
        });
      }
      if (path === '/jwks') return send(res, 200, jwks(key));
      if (path === '/authorize') {
        authorizeParams.push(url.searchParams);
        const redirectUri = url.searchParams.get('redirect_uri') ?? '';
        if (quirks.exactRedirectUri && redirectUri !== quirks.exactRedirectUri) {
          return send(res, 400, '<html><body>Invalid parameter: redirect_uri</body></html>');
        }
        const back = new URL(redirectUri);
        back.searchParams.set('state', url.searchParams.get('state') ?? '');
        const scope = url.searchParams.get('scope') ?? '';
        if (quirks.googleScopes && scope.split(' ').includes('offline_access')) {
          back.searchParams.set('error', 'invalid_scope');
          back.searchParams.set('error_description', 'Some requested scopes were invalid. {invalid=[offline_access]}');
        } else {
          const code = randomBytes(16).toString('hex');
          codes.set(code, { clientId: url.searchParams.get('client_id') ?? '', nonce: url.searchParams.get('nonce') ?? undefined, scope });
          back.searchParams.set('code', code);
        }
        res.writeHead(302, { location: back.href }).end();
        return;
      }
      if (req.method !== 'POST') return send(res, 404, { error: 'not_found' });
      const form = await readForm(req);
      if (path === '/revoke' || path === '/introspect') {
        if (quirks.empty401) return send(res, 401, undefined);
        const clientId = clientOf(req, form);
        if (!clientId) return send(res, 401, { error: 'invalid_client' });
        return path === '/revoke' ? send(res, 200, undefined) : send(res, 200, { active: refreshTokens.has(form.get('token') ?? '') });
      }
      if (path === '/token') {
        const clientId = clientOf(req, form);
        if (!clientId) return send(res, 401, { error: 'invalid_client', error_description: 'client authentication failed' }, { 'www-authenticate': 'Basic realm="quirky"' });
        if (form.get('grant_type') === 'authorization_code') {
          const code = codes.get(form.get('code') ?? '');
          codes.delete(form.get('code') ?? '');
          if (!code || code.clientId !== clientId) return send(res, 400, { error: 'invalid_grant' });
          return send(res, 200, await tokens(clientId, code.scope, code.nonce, true));
        }
        if (form.get('grant_type') === 'refresh_token') {
          const grant = refreshTokens.get(form.get('refresh_token') ?? '');
          if (!grant) return send(res, 400, { error: 'invalid_grant' });
          return send(res, 200, await tokens(clientId, grant.scope, undefined, !quirks.noIdTokenOnRefresh));
        }
        return send(res, 400, { error: 'unsupported_grant_type' });
      }
      return send(res, 404, { error: 'not_found' });
    })().catch((err: unknown) => send(res, 500, { error: 'server_error', error_description: String(err) }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  issuer = quirks.entraTemplateIssuer ? `http://127.0.0.1:${port}/common/v2.0` : `http://127.0.0.1:${port}`;
  pub = quirks.entraTemplateIssuer ? `${ENTRA}/common/v2.0` : issuer;
  const local = (url: string) => (url.startsWith(ENTRA) ? `http://127.0.0.1:${port}${url.slice(ENTRA.length)}` : url);
  const mapped: typeof fetch = (input, init) => {
    const url = input instanceof Request ? input.url : String(input);
    return input instanceof Request ? fetch(new Request(local(url), input), init) : fetch(local(url), init);
  };

  return {
    issuer: pub,
    fetch: mapped,
    requests,
    basicSeen,
    authorizeParams,
    async drive(authorizeUrl) {
      const start = new URL(authorizeUrl);
      const answer = await mapped(start.href, { redirect: 'manual' });
      await answer.body?.cancel();
      const location = answer.headers.get('location');
      if (answer.status !== 302 || !location) throw new Error(`the IdP showed its own error page (HTTP ${answer.status})`);
      const callbackUrl = new URL(location);
      const callback = await fetch(callbackUrl, { redirect: 'manual' });
      return { authorizeUrl: start, callbackUrl, callback: { status: callback.status, body: await callback.text() }, extra: [] };
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
