/**
 * A real OpenID Provider (oidc-provider 9) in the test process, on 127.0.0.1 and an ephemeral
 * port: a native public client (`cli`), a confidential one (`confidential`, client_secret_basic),
 * devInteractions for login and consent, introspection, revocation, refresh tokens with
 * `offline_access`, and JWT access tokens through resource indicators.
 *
 * Faults are switched on at run time through `idp.faults`, so one provider serves many cases.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, exportPKCS8, generateKeyPair } from 'jose';
import Provider, { type Configuration } from 'oidc-provider';

export const PUBLIC_CLIENT_ID = 'cli';
export const CONFIDENTIAL_CLIENT_ID = 'confidential';
export const CONFIDENTIAL_CLIENT_SECRET = 'confidential-s3cret';
/** A client that only accepts client_secret_post at the token endpoint. */
export const POST_CLIENT_ID = 'post-client';
export const POST_CLIENT_SECRET = 'post-s3cret';
/** With `deviceFlow`: a public client that is not allowed the device grant. */
export const NO_DEVICE_CLIENT_ID = 'cli-no-device';
/** A confidential client for the client credentials grant (client_secret_basic), no user. */
export const MACHINE_CLIENT_ID = 'machine';
export const MACHINE_CLIENT_SECRET = 'machine-s3cret';
/**
 * A client that authenticates with `private_key_jwt` only (RFC 7523), its public keys registered
 * (`Idp.clientKeys`: RSA, EC P-256 and Ed25519); it signs in users and gets client credentials tokens.
 */
export const KEY_CLIENT_ID = 'keyed';
/** The resource server whose access tokens are JWTs (RFC 9068) when asked for by `resource`. */
export const API_RESOURCE = 'https://api.example.test/';

/** Claims of the accounts devInteractions signs in (any login name is an account id). */
export function accountClaims(id: string): Record<string, unknown> {
  const given = id.charAt(0).toUpperCase() + id.slice(1);
  return {
    sub: id,
    email: `${id}@example.test`,
    email_verified: true,
    given_name: given,
    family_name: 'Tester',
    name: `${given} Tester`,
  };
}

export interface IdpFaults {
  /** Answer the token endpoint with this instead of running the grant. */
  token?: { status: number; body: unknown };
  /** Answer the discovery document with this status and body (e.g. HTML). */
  discovery?: { status: number; body: string; contentType?: string };
  /** Answer the revocation endpoint with this status. */
  revocation?: { status: number };
  /** Answer the next token requests with these, one each in order (then the grant runs again). */
  tokenAnswers?: Array<{ status: number; body: unknown }>;
  /** Answer the device authorization endpoint with this. */
  deviceAuthorization?: { status: number; body: unknown };
  /** Name the device answer's verification URI `verification_url`, as Google does. */
  verificationUrl?: boolean;
}

/** What the IdP saw of one request that carried a client assertion (private_key_jwt). */
export interface SeenAssertion {
  /** `/token`, `/token/introspection`, `/token/revocation`. */
  path: string;
  grantType?: string;
  header: Record<string, unknown>;
  claims: Record<string, unknown>;
}

/** One token endpoint request: its grant and the answer's status and OAuth error. */
export interface SeenGrant {
  grantType: string;
  clientId?: string;
  status: number;
  error?: string;
}

/** The private keys of the `keyed` client, as PEM (PKCS#8) and private JWK, by kind. */
export interface ClientKeys {
  rsa: { pem: string; jwk: Record<string, unknown> };
  ec: { pem: string; jwk: Record<string, unknown> };
  ed25519: { pem: string; jwk: Record<string, unknown> };
}

export interface IdpOptions {
  /** oidc-provider's `rotateRefreshToken`: true rotates every refresh token. Default: its own policy. */
  rotateRefreshToken?: boolean;
  /** Resource indicator used when the client asks for none (JWT access tokens for it). */
  defaultResource?: string;
  /** oidc-provider's `conformIdTokenClaims`; default true (email only from userinfo). */
  conformIdTokenClaims?: boolean;
  /** Seconds. Default 3600. */
  accessTokenTtl?: number;
  /**
   * The device flow (RFC 8628): the device authorization endpoint, the device_code grant for the
   * `cli`, `confidential` and `post-client` clients, and {@link NO_DEVICE_CLIENT_ID} without it.
   * `interval` (seconds) is added to the device authorization answer (oidc-provider sends none,
   * which means 5 s); `ttl` is the codes' life in seconds (default 600).
   */
  deviceFlow?: { interval?: number; ttl?: number };
}

export interface Idp {
  /** `http://127.0.0.1:PORT` (no trailing slash), the `iss` of its tokens. */
  issuer: string;
  port: number;
  provider: Provider;
  faults: IdpFaults;
  /** Requests seen, as `METHOD /path`, in order. */
  requests: string[];
  /** Client assertions (private_key_jwt) the IdP was sent, decoded, in order. */
  assertions: SeenAssertion[];
  /** Token endpoint requests, in order. */
  grants: SeenGrant[];
  /** The `keyed` client's private keys (its public ones are registered). */
  clientKeys: ClientKeys;
  close(): Promise<void>;
}

async function signingKeys() {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = await exportJWK(privateKey);
  return { keys: [{ ...jwk, kid: 'idp-rs256', alg: 'RS256', use: 'sig' }] };
}

async function clientKeyPair(alg: 'RS256' | 'ES256' | 'EdDSA', kid: string) {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true, ...(alg === 'EdDSA' ? { crv: 'Ed25519' } : {}) });
  return {
    pem: await exportPKCS8(privateKey),
    jwk: { ...(await exportJWK(privateKey)), kid },
    public: { ...(await exportJWK(publicKey)), kid, use: 'sig' },
  };
}

const decodePart = (part: string | undefined): Record<string, unknown> => {
  try {
    return JSON.parse(Buffer.from(part ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
  } catch {
    return {};
  }
};

/** Starts the provider; `close()` it in `afterAll`/`finally`. */
export async function startIdp(options: IdpOptions = {}): Promise<Idp> {
  const [rsa, ec, ed25519] = await Promise.all([clientKeyPair('RS256', 'keyed-rsa'), clientKeyPair('ES256', 'keyed-ec'), clientKeyPair('EdDSA', 'keyed-ed25519')]);
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const issuer = `http://127.0.0.1:${port}`;
  const nativeClient = {
    application_type: 'native' as const,
    grant_types: ['authorization_code', 'refresh_token', ...(options.deviceFlow ? ['urn:ietf:params:oauth:grant-type:device_code'] : [])],
    response_types: ['code' as const],
    // RFC 8252 §7.3: oidc-provider accepts any port on a native client's loopback redirect URI.
    redirect_uris: ['http://127.0.0.1/callback'],
  };
  const configuration: Configuration = {
    clients: [
      { ...nativeClient, client_id: PUBLIC_CLIENT_ID, token_endpoint_auth_method: 'none' },
      {
        ...nativeClient,
        client_id: CONFIDENTIAL_CLIENT_ID,
        client_secret: CONFIDENTIAL_CLIENT_SECRET,
        token_endpoint_auth_method: 'client_secret_basic',
      },
      {
        ...nativeClient,
        client_id: POST_CLIENT_ID,
        client_secret: POST_CLIENT_SECRET,
        token_endpoint_auth_method: 'client_secret_post',
      },
      ...(options.deviceFlow
        ? [{ ...nativeClient, grant_types: ['authorization_code', 'refresh_token'], client_id: NO_DEVICE_CLIENT_ID, token_endpoint_auth_method: 'none' as const }]
        : []),
      {
        client_id: MACHINE_CLIENT_ID,
        client_secret: MACHINE_CLIENT_SECRET,
        token_endpoint_auth_method: 'client_secret_basic',
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        scope: 'api:read',
      },
      {
        ...nativeClient,
        client_id: KEY_CLIENT_ID,
        grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
        token_endpoint_auth_method: 'private_key_jwt',
        jwks: { keys: [rsa.public, ec.public, ed25519.public] },
        scope: 'openid profile email offline_access api:read',
      },
    ],
    jwks: await signingKeys(),
    cookies: { keys: ['authbridge-test-cookie-key'] },
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'given_name', 'family_name'],
    },
    conformIdTokenClaims: options.conformIdTokenClaims ?? true,
    findAccount: (_ctx, id) => ({
      accountId: id,
      claims: async () => accountClaims(id) as { sub: string },
    }),
    ...(options.rotateRefreshToken === undefined ? {} : { rotateRefreshToken: options.rotateRefreshToken }),
    scopes: ['openid', 'offline_access', 'profile', 'email', 'api:read'],
    features: {
      devInteractions: { enabled: true },
      deviceFlow: {
        enabled: Boolean(options.deviceFlow),
        // Plain pages of our own (quiets oidc-provider's notices): the same forms, no styling.
        userCodeInputSource: async (ctx, form, _out, err) => {
          ctx.body = `<!DOCTYPE html><html><body>${err ? '<p>error</p>' : ''}${form}</body></html>`;
        },
        userCodeConfirmSource: async (ctx, form, _client, _deviceInfo, userCode) => {
          ctx.body =
            `<!DOCTYPE html><html><body><p>Confirm the code <code>${userCode}</code></p>${form}` +
            '<button type="submit" form="op.deviceConfirmForm">Continue</button>' +
            '<button type="submit" form="op.deviceConfirmForm" value="yes" name="abort">Abort</button></body></html>';
        },
        successSource: async (ctx) => {
          ctx.body = '<!DOCTYPE html><html><body><h1>Sign-in Success</h1></body></html>';
        },
      },
      clientCredentials: { enabled: true },
      // A client may introspect and revoke its own tokens (oidc-provider's default, stated to quiet its notice).
      introspection: { enabled: true, allowedPolicy: async (ctx, _client, token) => token.clientId === ctx.oidc.client?.clientId },
      revocation: { enabled: true, allowedPolicy: async (ctx, _client, token) => token.clientId === ctx.oidc.client?.clientId },
      resourceIndicators: {
        enabled: true,
        defaultResource: async (_ctx, _client, oneOf) => oneOf ?? options.defaultResource,
        useGrantedResource: async () => true,
        getResourceServerInfo: async (_ctx, resourceIndicator) => ({
          scope: 'openid profile email offline_access api:read',
          audience: resourceIndicator,
          accessTokenTTL: options.accessTokenTtl ?? 3600,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'RS256' } },
        }),
      },
    },
    ttl: {
      AccessToken: options.accessTokenTtl ?? 3600,
      ClientCredentials: options.accessTokenTtl ?? 3600,
      IdToken: 3600,
      RefreshToken: 14 * 24 * 3600,
      Interaction: 600,
      Session: 3600,
      Grant: 14 * 24 * 3600,
      AuthorizationCode: 60,
      DeviceCode: options.deviceFlow?.ttl ?? 600,
    },
  };
  const provider = new Provider(issuer, configuration);
  // Keep the test output clean: the provider logs server errors through koa.
  provider.on('server_error', () => {});
  const assertions: SeenAssertion[] = [];
  const grants: SeenGrant[] = [];
  provider.use(async (ctx, next) => {
    await next();
    const params = (ctx.oidc as { params?: Record<string, unknown> } | undefined)?.params;
    if (!params) return;
    const grantType = typeof params.grant_type === 'string' ? params.grant_type : undefined;
    if (typeof params.client_assertion === 'string') {
      const [header, payload] = params.client_assertion.split('.');
      assertions.push({ path: ctx.path, grantType, header: decodePart(header), claims: decodePart(payload) });
    }
    if (ctx.path === '/token' && grantType) {
      const body = ctx.body as { error?: string } | undefined;
      grants.push({ grantType, clientId: ctx.oidc?.client?.clientId, status: ctx.status, error: body?.error });
    }
  });
  const faults: IdpFaults = {};
  const deviceInterval = options.deviceFlow?.interval;
  if (options.deviceFlow) {
    provider.use(async (ctx, next) => {
      await next();
      if (ctx.path === '/device/auth' && ctx.status === 200 && ctx.body && typeof ctx.body === 'object') {
        const { verification_uri: uri, ...body } = ctx.body as Record<string, unknown>;
        ctx.body = {
          ...body,
          ...(faults.verificationUrl ? { verification_url: uri } : { verification_uri: uri }),
          ...(deviceInterval === undefined ? {} : { interval: deviceInterval }),
        };
      }
    });
  }
  const requests: string[] = [];
  const callback = provider.callback();
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0]!;
    requests.push(`${req.method} ${path}`);
    if (path === '/.well-known/openid-configuration' && faults.discovery) {
      res.writeHead(faults.discovery.status, { 'content-type': faults.discovery.contentType ?? 'text/html' });
      res.end(faults.discovery.body);
      return;
    }
    if (path === '/device/auth' && faults.deviceAuthorization) {
      res.writeHead(faults.deviceAuthorization.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(faults.deviceAuthorization.body));
      return;
    }
    const queued = path === '/token' ? faults.tokenAnswers?.shift() : undefined;
    if (queued) {
      res.writeHead(queued.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(queued.body));
      return;
    }
    if (path === '/token' && faults.token) {
      res.writeHead(faults.token.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(faults.token.body));
      return;
    }
    if (path === '/token/revocation' && faults.revocation) {
      res.writeHead(faults.revocation.status, { 'content-type': 'text/plain' });
      res.end('unavailable');
      return;
    }
    void callback(req, res);
  });
  return {
    issuer,
    port,
    provider,
    faults,
    requests,
    assertions,
    grants,
    clientKeys: { rsa: { pem: rsa.pem, jwk: rsa.jwk }, ec: { pem: ec.pem, jwk: ec.jwk }, ed25519: { pem: ed25519.pem, jwk: ed25519.jwk } },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Environment for the CLI against `idp` with the public client, a private HOME and `BROWSER`. */
export function idpEnv(idp: Idp, base: Record<string, string>, extra: Record<string, string | undefined> = {}): Record<string, string> {
  const env: Record<string, string | undefined> = {
    ...base,
    AUTHBRIDGE_ISSUER: idp.issuer,
    AUTHBRIDGE_CLIENT_ID: PUBLIC_CLIENT_ID,
    // A free port: tests in parallel never compete for the default 8000 and 18000.
    AUTHBRIDGE_REDIRECT_PORT: '0',
    // oidc-provider drops offline_access (no refresh token) without prompt=consent.
    AUTHBRIDGE_PROMPT: 'consent',
    ...extra,
  };
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined));
}
