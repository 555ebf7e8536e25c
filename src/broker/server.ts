/**
 * The broker's HTTP face (fastify): routes, content types, body limits, error bodies, request
 * logs. Everything a route decides is in Broker; this file only speaks HTTP.
 */
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { RemoteError, UsageError, describeError } from '../errors.js';
import { TOKEN_EXCHANGE_GRANT, TOKEN_TYPE } from '../oidc/urls.js';
import { Broker } from './broker.js';
import { ClientRegistry } from './clients.js';
import { resolveBrokerConfig, type BrokerConfigFile } from './config.js';
import { OAuthError, invalidRequest, temporarilyUnavailable } from './oauth-error.js';
import type { ProviderDeps } from './providers/jwt.js';
import { FailureRateLimiter } from './rate-limit.js';
import { BrokerStore, StoreUnavailableError } from './store.js';

/** Largest request body accepted, in bytes. */
export const BODY_LIMIT = 64 * 1024;
/** Milliseconds requests in flight get to finish when the broker stops. */
const DRAIN_MS = 10_000;
/** Milliseconds at most that a stopping broker keeps answering 503 to requests still arriving. */
const CLOSE_GRACE_MS = 1000;

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated client, for the request log. */
    clientId: string | null;
  }
}

/** A form body (application/x-www-form-urlencoded), every value of every name kept. */
export class FormParams {
  private readonly values = new Map<string, string[]>();

  constructor(text: string) {
    for (const [name, value] of new URLSearchParams(text)) {
      const list = this.values.get(name);
      if (list) list.push(value);
      else this.values.set(name, [value]);
    }
  }

  /**
   * The one value of `name`; an empty value counts as absent (RFC 6749 §3.1).
   * @throws OAuthError invalid_request when it is given more than once.
   */
  one(name: string): string | undefined {
    const list = this.values.get(name);
    if (!list) return undefined;
    if (list.length > 1) throw invalidRequest(`${name} is given more than once`);
    return list[0] === '' ? undefined : list[0];
  }

  /** Every non-empty value of a repeatable parameter (RFC 8693 `audience`, `resource`). */
  all(name: string): string[] {
    return (this.values.get(name) ?? []).filter((v) => v !== '');
  }
}

const FORM_TYPE = /^application\/x-www-form-urlencoded\s*(;|$)/i;
const JSON_TYPE = /^application\/json\s*(;|$)/i;

function formParams(request: FastifyRequest): FormParams {
  if (!FORM_TYPE.test(request.headers['content-type'] ?? '') || !(request.body instanceof FormParams)) {
    throw invalidRequest('the body must be application/x-www-form-urlencoded');
  }
  return request.body;
}

/** RFC 7009 §2.1 / RFC 7662 §2.1: `token`, required; `token_type_hint`, optional and at most once. */
function tokenParam(params: FormParams): string {
  const token = params.one('token');
  if (!token) throw invalidRequest('token is missing');
  params.one('token_type_hint');
  return token;
}

function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (!header) return undefined;
  const match = /^bearer\s+(\S+)\s*$/i.exec(header);
  return match ? match[1] : undefined;
}

const NO_STORE = { 'cache-control': 'no-store', pragma: 'no-cache' };

/** Turns anything a route threw into the OAuth error to answer with; never a stack trace. */
function toOAuthError(err: unknown, log: (line: string) => void): OAuthError {
  if (err instanceof OAuthError) return err;
  if (err instanceof StoreUnavailableError) {
    log(JSON.stringify({ level: 'error', msg: 'database unavailable', code: err.code }));
    return temporarilyUnavailable('the broker cannot use its database right now');
  }
  if (err instanceof RemoteError) return temporarilyUnavailable('an upstream service did not answer');
  const status = (err as FastifyError).statusCode;
  if (status === 413) return new OAuthError('invalid_request', `the request body is larger than ${BODY_LIMIT} bytes`, 413);
  if (status === 415) return new OAuthError('invalid_request', 'unsupported content type', 415);
  if (typeof status === 'number' && status >= 400 && status < 500) return invalidRequest('the request could not be read');
  log(JSON.stringify({ level: 'error', msg: 'unexpected error', error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) }));
  return new OAuthError('server_error', 'unexpected error', 500);
}

export interface StartBrokerOptions {
  file: BrokerConfigFile;
  host: string;
  /** 0 picks a free port. */
  port: number;
  dbPath: string;
  deps: ProviderDeps;
  /** Receives one JSON line a request, and errors. */
  log: (line: string) => void;
}

export interface RunningBroker {
  /** Where it listens: `http://127.0.0.1:PORT`. */
  url: string;
  issuer: string;
  app: FastifyInstance;
  /** Stops accepting, lets in-flight requests finish, closes the database. */
  close(): Promise<void>;
}

/**
 * Opens the database, listens, and serves. The issuer defaults to the address actually bound.
 * @throws UsageError when the database cannot be opened or the address cannot be bound.
 */
export async function startBroker(options: StartBrokerOptions): Promise<RunningBroker> {
  const { deps } = options;
  // Lines are written once per event-loop turn rather than one write(2) a request.
  let pending: string[] = [];
  const flush = () => {
    if (pending.length === 0) return;
    const text = pending.join('\n');
    pending = [];
    options.log(text);
  };
  const log = (line: string) => {
    if (pending.push(line) === 1) setImmediate(flush);
  };
  const store = BrokerStore.open(options.dbPath, { now: deps.now() });
  store.startCheckpoints();
  const clients = new ClientRegistry(options.file.clients);
  const limiter = new FailureRateLimiter(options.file.rateLimit, deps.now);
  // Refusals count against the client at its address, or the address before authentication (rate-limit.ts).
  const limitKey = (request: FastifyRequest) => (request.clientId ? `client:${request.clientId} ip:${request.ip}` : `ip:${request.ip}`);
  // Every route that authenticates a client: secrets cannot be guessed at one while another is limited.
  const LIMITED = new Set(['/oauth/token', '/oauth/introspect', '/oauth/revoke', '/sauth/v3/auth/login/client']);
  // Set right after listen() resolves, before any request can be read (I/O waits for the microtask).
  let broker: Broker | undefined;
  const ready = (): Broker => {
    if (!broker) throw temporarilyUnavailable('the broker is starting');
    return broker;
  };

  const app = Fastify({
    logger: false,
    bodyLimit: BODY_LIMIT,
    // Fastify's own 503 while closing is not an RFC 6749 body: the onRequest hook below answers instead.
    return503OnClosing: false,
    forceCloseConnections: 'idle',
    requestTimeout: 30_000,
  });
  app.decorateRequest('clientId', null);

  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: BODY_LIMIT }, (_req, body, done) => {
    done(null, new FormParams(body as string));
  });

  let closing = false;
  let requestsSeen = 0;
  app.addHook('onRequest', (_request, reply, done) => {
    requestsSeen += 1;
    if (!closing) return done();
    reply.header('connection', 'close');
    done(temporarilyUnavailable('the broker is shutting down'));
  });
  app.addHook('preHandler', (request, _reply, done) => {
    try {
      if (LIMITED.has(request.routeOptions.url ?? '')) limiter.check(limitKey(request));
    } catch (err) {
      return done(err as Error);
    }
    done();
  });
  app.addHook('onResponse', (request, reply, done) => {
    if (reply.statusCode >= 400 && reply.statusCode < 500 && reply.statusCode !== 429 && LIMITED.has(request.routeOptions.url ?? '')) {
      limiter.fail(limitKey(request));
    }
    const q = request.url.indexOf('?');
    log(
      JSON.stringify({
        time: new Date(deps.now()).toISOString(),
        method: request.method,
        path: q < 0 ? request.url : request.url.slice(0, q),
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime * 10) / 10,
        client_id: request.clientId ?? undefined,
      }),
    );
    done();
  });

  /** RFC 6749 §2.3: client_secret_basic, client_secret_post, or a public client by client_id. */
  const authenticate = (request: FastifyRequest, params: FormParams) => {
    const client = clients.authenticate({
      authorization: request.headers.authorization,
      clientId: params.one('client_id'),
      clientSecret: params.one('client_secret'),
    });
    request.clientId = client.clientId;
    return client;
  };

  const sendError = (reply: FastifyReply, e: OAuthError) => reply.code(e.status).headers({ ...NO_STORE, ...e.headers }).send(e.body());
  app.setErrorHandler((err, _request, reply) => sendError(reply, toOAuthError(err, log)));
  app.setNotFoundHandler((_request, reply) => sendError(reply, new OAuthError('not_found', 'no such endpoint', 404)));

  app.get('/healthz', async () => {
    store.ping();
    return { status: 'ok' };
  });

  app.get('/.well-known/oauth-authorization-server', async () => ready().metadata());
  app.get('/jwks.json', async (_request, reply) => {
    reply.header('cache-control', 'public, max-age=300');
    return ready().jwks();
  });

  app.post('/oauth/token', async (request, reply) => {
    reply.headers(NO_STORE);
    const b = ready();
    const params = formParams(request);
    const client = authenticate(request, params);
    limiter.check(limitKey(request));
    const grantType = params.one('grant_type');
    if (!grantType) throw invalidRequest('grant_type is missing');
    if (grantType !== TOKEN_EXCHANGE_GRANT) {
      throw new OAuthError('unsupported_grant_type', `only ${TOKEN_EXCHANGE_GRANT} is supported`);
    }
    const subjectToken = params.one('subject_token');
    const subjectTokenType = params.one('subject_token_type');
    if (!subjectToken) throw invalidRequest('subject_token is missing');
    if (!subjectTokenType) throw invalidRequest('subject_token_type is missing');
    if (params.one('actor_token') || params.one('actor_token_type')) throw invalidRequest('actor_token is not supported');
    const requested = params.one('requested_token_type');
    if (requested && requested !== TOKEN_TYPE.accessToken && requested !== TOKEN_TYPE.jwt) {
      throw invalidRequest('requested_token_type must be an access token');
    }
    // RFC 8693 §2.2.2: a target this broker does not issue tokens for is invalid_target.
    for (const target of [...params.all('audience'), ...params.all('resource')]) {
      if (target !== b.config.audience) throw new OAuthError('invalid_target', 'this broker issues tokens only for its own audience');
    }
    params.one('scope');
    const result = await b.exchange({ subjectToken, kind: subjectTokenType, clientId: client.clientId });
    return {
      access_token: result.accessToken,
      issued_token_type: TOKEN_TYPE.accessToken,
      token_type: 'Bearer',
      expires_in: result.expiresIn,
      account_status: result.accountStatus,
    };
  });

  app.post('/oauth/revoke', async (request, reply) => {
    reply.headers(NO_STORE);
    const b = ready();
    const params = formParams(request);
    const client = authenticate(request, params);
    const token = tokenParam(params);
    b.revoke(token, client.clientId, params.one('all_sessions') === 'true');
    // RFC 7009 §2.2: 200 whether or not the token was known or still valid.
    return reply.code(200).send();
  });

  app.post('/oauth/introspect', async (request, reply) => {
    reply.headers(NO_STORE);
    const b = ready();
    const params = formParams(request);
    authenticate(request, params);
    const token = tokenParam(params);
    const live = b.liveToken(token);
    if (!live) return { active: false };
    const { claims } = live;
    return {
      active: true,
      token_type: 'Bearer',
      sub: claims.sub,
      client_id: claims.client_id,
      aud: claims.aud,
      iss: claims.iss,
      iat: claims.iat,
      exp: claims.exp,
      jti: claims.jti,
      sid: claims.sid,
      idp: claims.idp,
    };
  });

  app.get('/userinfo', async (request, reply) => {
    reply.headers(NO_STORE);
    const b = ready();
    const token = bearerToken(request);
    if (!token) {
      // RFC 6750 §3.1: no error code when the request carried no token at all.
      throw new OAuthError('invalid_token', 'a bearer token is required', 401, { 'www-authenticate': 'Bearer realm="authbridge broker"' });
    }
    const live = b.liveToken(token);
    const customer = live && b.customer(live.session.customerId);
    if (!live || !customer) {
      throw new OAuthError('invalid_token', 'the token is not active', 401, {
        'www-authenticate': 'Bearer realm="authbridge broker", error="invalid_token"',
      });
    }
    request.clientId = live.session.clientId;
    return {
      ...customer.fields,
      sub: customer.id,
      created_at: new Date(customer.createdAt).toISOString(),
      updated_at: new Date(customer.updatedAt).toISOString(),
    };
  });

  // Synerise-compatible login: the same validation and registration, that SDK's JSON shapes.
  app.post('/sauth/v3/auth/login/client', async (request, reply) => {
    reply.headers(NO_STORE);
    try {
      const b = ready();
      if (!JSON_TYPE.test(request.headers['content-type'] ?? '')) throw invalidRequest('the body must be application/json');
      const body = request.body as Record<string, unknown> | null;
      if (body === null || typeof body !== 'object' || Array.isArray(body)) throw invalidRequest('the body must be a JSON object');
      const { apiKey, identityProvider, identityProviderToken } = body;
      if (typeof apiKey !== 'string' || apiKey === '') throw new OAuthError('invalid_client', 'apiKey is required', 401);
      const client = clients.byApiKey(apiKey);
      if (!client) throw new OAuthError('invalid_client', 'unknown apiKey', 401);
      request.clientId = client.clientId;
      limiter.check(limitKey(request));
      if (identityProvider !== 'OAUTH') throw invalidRequest('identityProvider must be "OAUTH"');
      if (typeof identityProviderToken !== 'string' || identityProviderToken === '') {
        throw invalidRequest('identityProviderToken is required');
      }
      const result = await b.exchange({ subjectToken: identityProviderToken, kind: { synerise: true }, clientId: client.clientId });
      return {
        token: result.accessToken,
        expiration: result.expiresAt,
        created: result.issuedAt * 1000,
        origin: 'OAUTH',
        customId: result.customer.subject,
        realm: 'client',
      };
    } catch (err) {
      const e = toOAuthError(err, log);
      return reply
        .code(e.status)
        .headers(e.headers)
        .send({ status: e.status, error: e.error, error_description: e.description, message: e.description, path: request.url });
    }
  });

  try {
    await app.listen({ host: options.host, port: options.port });
  } catch (err) {
    await store.close();
    throw new UsageError(`could not listen on ${options.host}:${options.port}: ${describeError(err)}`, { cause: err });
  }
  const bound = app.server.address();
  const port = typeof bound === 'object' && bound ? bound.port : options.port;
  const config = resolveBrokerConfig(options.file, { host: options.host, port });
  broker = new Broker(config, store, deps);

  let closed: Promise<void> | undefined;
  return {
    url: `http://${options.host.includes(':') ? `[${options.host}]` : options.host}:${port}`,
    issuer: config.issuer,
    app,
    close: () =>
      (closed ??= (async () => {
        closing = true;
        // Requests already on the wire but not yet read would be cut with the idle keep-alive
        // connections: read and answer them first (503 + Connection: close), until quiet.
        for (let waited = 0, quiet = 0; waited < CLOSE_GRACE_MS && quiet < 100; waited += 20) {
          const before = requestsSeen;
          await new Promise((r) => setTimeout(r, 20));
          quiet = requestsSeen === before ? quiet + 20 : 0;
        }
        // A keep-alive connection whose request has finished would hold close() open: cut
        // idle ones as they appear, and everything once the drain time is up.
        const idle = setInterval(() => app.server.closeIdleConnections(), 50);
        const deadline = setTimeout(() => app.server.closeAllConnections(), DRAIN_MS);
        try {
          await app.close();
        } finally {
          clearInterval(idle);
          clearTimeout(deadline);
          await broker?.close();
          await store.close();
          flush();
        }
      })()),
  };
}
