/**
 * The broker's HTTP face (fastify) and its composition root: opens the store, starts the crypto
 * thread, builds the Broker, and wires the routes (routes/, one file an endpoint) with what
 * every request shares: content types, body limits, the closing 503, the failed-exchange limit,
 * the request log, error bodies. What a route decides is in Broker and protocol/.
 */
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import { randomUUID } from 'node:crypto';
import { UsageError, describeError } from '../errors.js';
import { Broker, type BrokerCrypto } from './broker.js';
import { ClientRegistry } from './clients.js';
import { resolveBrokerConfig, type BrokerConfigFile } from './config.js';
import { CryptoThread } from './crypto-thread.js';
import { OAuthError, temporarilyUnavailable } from './oauth-error.js';
import type { ProviderDeps } from './providers/jwt.js';
import { RateLimits } from './rate-limit.js';
import { FailureSync } from './failure-sync.js';
import { KeyRing } from './key-ring.js';
import { BrokerMetrics } from './metrics.js';
import { healthzRoute, readyzRoute } from './routes/healthz.js';
import { metricsRoute } from './routes/metrics.js';
import { introspectRoute } from './routes/introspect.js';
import { jwksRoute } from './routes/jwks.js';
import { metadataRoute } from './routes/metadata.js';
import { revokeRoute } from './routes/revoke.js';
import { syneriseLoginRoute } from './routes/synerise-login.js';
import { tokenRoute } from './routes/token.js';
import { userinfoRoute } from './routes/userinfo.js';
import { FormParams } from './shared/form.js';
import { BODY_LIMIT, NO_STORE } from './shared/http.js';
import { isExchange } from './shared/exchange-route.js';
import { countRefusal } from './shared/rate-limited.js';
import type { RouteDeps } from './shared/route-deps.js';
import { toOAuthError } from './shared/to-oauth-error.js';
import { openStore } from './store/open.js';

export { BODY_LIMIT } from './shared/http.js';

/** Milliseconds requests in flight get to finish when the broker stops. */
const DRAIN_MS = 10_000;
/** The largest declared body read (and dropped) before a 413, so the client sees the answer. */
const DRAIN_LIMIT = 16 * 1024 * 1024;
/** Milliseconds at most that a stopping broker keeps answering 503 to requests still arriving. */
const CLOSE_GRACE_MS = 1000;
/**
 * Milliseconds a client has to send a request's headers, and the whole request (a body is at
 * most 64 KiB): a slow client (slowloris) is cut then, checked every CONNECTIONS_CHECK_MS.
 */
const HEADERS_TIMEOUT_MS = 10_000;
const REQUEST_TIMEOUT_MS = 10_000;
const CONNECTIONS_CHECK_MS = 1000;
/** An X-Request-Id the broker adopts (from a proxy): short, and nothing a log line could be fooled by. */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

export interface StartBrokerOptions {
  file: BrokerConfigFile;
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** A SQLite file, or a postgres:// URL (store/open.ts). */
  dbPath: string;
  deps: ProviderDeps;
  /** Receives one JSON line a request, and errors. */
  log: (line: string) => void;
  /** Milliseconds between re-reads of the signing keys (default KEY_REFRESH_SECONDS; tests make it short). */
  keyRefreshMs?: number;
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
 * The composition root: it creates the store (SQLite or PostgreSQL, per `dbPath`) and the crypto thread, hands
 * them to the Broker, and closes them (crypto, then store) once the server has drained.
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
  if (options.file.allowInsecureHttp) {
    options.log('warning: allowInsecureHttp is on: the broker accepts plain HTTP to IdPs, JWKS and backends off loopback (development only)');
  }
  const { store } = await openStore(options.dbPath, { now: deps.now(), background: true });
  let keys: KeyRing;
  try {
    keys = await KeyRing.load(store, deps.now);
  } catch (err) {
    await store.close();
    throw err;
  }
  const clients = new ClientRegistry(options.file.clients, { fetch: deps.fetch, now: deps.now });
  const limiter = new RateLimits(options.file.rateLimit, deps.now);
  // Refusals are counted by every instance on the database, not only the one that saw them.
  const failureSync = options.file.rateLimit.maxFailures > 0
    ? new FailureSync(store, limiter.failures, options.file.rateLimit.windowSeconds, deps.now)
    : undefined;
  // Set right after listen() resolves, before any request can be read (I/O waits for the microtask).
  let broker: Broker | undefined;
  let crypto: BrokerCrypto | undefined;
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
    requestTimeout: REQUEST_TIMEOUT_MS,
    http: { headersTimeout: HEADERS_TIMEOUT_MS, requestTimeout: REQUEST_TIMEOUT_MS, connectionsCheckingInterval: CONNECTIONS_CHECK_MS },
    // The client's address, not the proxy's, for the rate limits: only from the proxies listed.
    trustProxy: options.file.trustProxy,
    // Each request's id, in its log line and its X-Request-Id: a proxy's, if it sent a sane one.
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
  });
  const metrics = new BrokerMetrics();
  // Past the cap node closes new connections at once: slow or idle clients cannot exhaust sockets and memory.
  app.server.maxConnections = options.file.maxConnections;
  app.decorateRequest('clientId', null);
  app.decorateRequest('failedAuthentication', null);
  app.decorateRequest('accountStatus', null);
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    done();
  });

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
  // A body declared over the limit is refused, but read to its end first (up to DRAIN_LIMIT):
  // answering at once and closing, as fastify does, meets a client still sending with a broken
  // pipe instead of the 413. Slow senders are cut by the request timeout as any other.
  app.addHook('onRequest', (request, _reply, done) => {
    const declared = Number(request.headers['content-length']);
    if (!(declared > BODY_LIMIT)) return done();
    let refused = false;
    const refuse = () => {
      if (refused) return;
      refused = true;
      done(new OAuthError('invalid_request', `the request body is larger than ${BODY_LIMIT} bytes`, 413));
    };
    if (declared > DRAIN_LIMIT) return refuse();
    request.raw.once('end', refuse).once('error', refuse).resume();
  });
  app.addHook('onResponse', (request, reply, done) => {
    countRefusal(request, reply.statusCode, limiter);
    metrics.response(request.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000, isExchange(request) ? request : undefined);
    const q = request.url.indexOf('?');
    // The path without its query, never a body or a header: no token reaches the log.
    log(
      JSON.stringify({
        time: new Date(deps.now()).toISOString(),
        req_id: request.id,
        ip: request.ip,
        method: request.method,
        path: q < 0 ? request.url : request.url.slice(0, q),
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime * 10) / 10,
        client_id: request.clientId ?? undefined,
      }),
    );
    done();
  });

  const sendError = (reply: FastifyReply, e: OAuthError) => reply.code(e.status).headers({ ...NO_STORE, ...e.headers }).send(e.body());
  app.setErrorHandler((err, _request, reply) => sendError(reply, toOAuthError(err, log)));
  app.setNotFoundHandler((_request, reply) => sendError(reply, new OAuthError('not_found', 'no such endpoint', 404)));

  const routeDeps: RouteDeps = { broker: ready, clients, limiter, store, log };
  metricsRoute(app, metrics);
  for (const route of [healthzRoute, readyzRoute, metadataRoute, jwksRoute, tokenRoute, revokeRoute, introspectRoute, userinfoRoute, syneriseLoginRoute]) {
    route(app, routeDeps);
  }

  try {
    await app.listen({ host: options.host, port: options.port });
  } catch (err) {
    await store.close();
    throw new UsageError(`could not listen on ${options.host}:${options.port}: ${describeError(err)}`, { cause: err });
  }
  const bound = app.server.address();
  const port = typeof bound === 'object' && bound ? bound.port : options.port;
  const config = resolveBrokerConfig(options.file, { host: options.host, port });
  clients.trustAudience(config.issuer);
  crypto = new CryptoThread(() => keys.signing());
  keys.start((err) => log(JSON.stringify({ level: 'error', msg: 'could not re-read the signing keys', error: describeError(err) })), options.keyRefreshMs ?? config.keys.refreshSeconds * 1000);
  failureSync?.start((err) => log(JSON.stringify({ level: 'error', msg: 'could not share the failure count', error: describeError(err) })));
  // Ended sessions are deleted once past their retention, so the database does not grow for ever.
  const { retentionSeconds, purgeIntervalSeconds } = config.sessions;
  const purge = setInterval(() => {
    store.purgeSessions(deps.now() - retentionSeconds * 1000).then((n) => metrics.purged(n), (err: unknown) => {
      log(JSON.stringify({ level: 'error', msg: 'could not purge ended sessions', error: describeError(err) }));
    });
  }, purgeIntervalSeconds * 1000);
  purge.unref();
  broker = new Broker(config, {
    store,
    keys,
    crypto,
    deps: { ...deps, allowInsecureHttp: config.allowInsecureHttp, log },
    onUpstreamError: (upstream) => metrics.upstreamError(upstream),
  });

  let closed: Promise<void> | undefined;
  return {
    url: `http://${options.host.includes(':') ? `[${options.host}]` : options.host}:${port}`,
    issuer: config.issuer,
    app,
    close: () =>
      (closed ??= (async () => {
        closing = true;
        clearInterval(purge);
        keys.stop();
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
          // The crypto thread answers what it owes before the database goes.
          await crypto?.close();
          await failureSync?.stop();
          await store.close();
          flush();
        }
      })()),
  };
}
