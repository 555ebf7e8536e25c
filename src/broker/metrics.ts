/**
 * The broker's Prometheus metrics (`GET /metrics`), in a registry of its own (prom-client):
 * exchanges by result, request latency by route, upstream (JWKS/discovery, backend) failures,
 * sessions opened and purged, and the process's own figures. Labels are fixed words and route
 * patterns, never a token, a client secret or a customer's data.
 */
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** What an exchange came to: the customer it signed in, or why it was not answered with a token. */
export type ExchangeResult = 'created' | 'existing' | 'refused' | 'rate_limited' | 'unavailable' | 'error';

export class BrokerMetrics {
  readonly registry = new Registry();
  private readonly exchanges = new Counter({
    name: 'authbridge_broker_exchanges_total',
    help: 'Token exchanges (RFC 8693 and the Synerise login) by result.',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  private readonly duration = new Histogram({
    name: 'authbridge_broker_request_duration_seconds',
    help: 'Time from request to response, by route and status class.',
    labelNames: ['route', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  private readonly upstream = new Counter({
    name: 'authbridge_broker_upstream_errors_total',
    help: 'Upstream failures while validating a subject token: the IdP\'s discovery or JWKS (jwks), or an app backend (backend).',
    labelNames: ['upstream'] as const,
    registers: [this.registry],
  });
  private readonly sessionsOpened = new Counter({
    name: 'authbridge_broker_sessions_opened_total',
    help: 'Sessions opened by this instance (one each successful exchange).',
    registers: [this.registry],
  });
  private readonly sessionsPurged = new Counter({
    name: 'authbridge_broker_sessions_purged_total',
    help: 'Ended sessions deleted by this instance\'s purge, past their retention.',
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'authbridge_broker_' });
    for (const result of ['created', 'existing', 'refused', 'rate_limited', 'unavailable', 'error'] as const) this.exchanges.inc({ result }, 0);
    for (const upstream of ['jwks', 'backend'] as const) this.upstream.inc({ upstream }, 0);
  }

  /** A response: its latency, and for an exchange route its result. */
  response(route: string, status: number, seconds: number, exchange: { accountStatus: 'created' | 'existing' | null } | undefined): void {
    this.duration.observe({ route, status: `${Math.floor(status / 100)}xx` }, seconds);
    if (!exchange) return;
    const result: ExchangeResult =
      status === 200 && exchange.accountStatus
        ? exchange.accountStatus
        : status === 429
          ? 'rate_limited'
          : status === 503
            ? 'unavailable'
            : status >= 400 && status < 500
              ? 'refused'
              : 'error';
    this.exchanges.inc({ result });
    if (result === 'created' || result === 'existing') this.sessionsOpened.inc();
  }

  upstreamError(upstream: 'jwks' | 'backend'): void {
    this.upstream.inc({ upstream });
  }

  purged(count: number): void {
    this.sessionsPurged.inc(count);
  }

  /** The text exposition format, and its content type. */
  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
