/**
 * What an operator sees of a running broker: /metrics (Prometheus text), /healthz and /readyz
 * (the database), and the JSON request log (request id, client address, never a token).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseBrokerConfig } from '../../src/broker/config.js';
import { startBroker, type RunningBroker } from '../../src/broker/server.js';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { deadPort, exchange, startIdp, type TestIdp } from './helpers.js';

let idp: TestIdp;
let pgs: TestPostgres;
let deadIssuer: string;

beforeAll(async () => {
  [idp, pgs] = await Promise.all([startIdp(), startPostgres()]);
  deadIssuer = `http://127.0.0.1:${await deadPort()}`;
}, 60_000);
afterAll(async () => {
  await Promise.all([idp?.close(), pgs?.stop()]);
});

async function start(db: string, lines: string[]): Promise<RunningBroker> {
  const file = parseBrokerConfig(
    {
      clients: [{ clientId: 'cli', tokenEndpointAuthMethod: 'client_secret_basic', clientSecret: 's3cret' }],
      providers: [
        { id: 'idp', type: 'jwt', issuer: idp.issuer, audience: 'cli', mapping: { email: '/email' } },
        { id: 'gone', type: 'jwt', issuer: deadIssuer, audience: 'cli', timeoutMs: 1000 },
      ],
    },
    'broker.json',
  );
  return startBroker({ file, host: '127.0.0.1', port: 0, dbPath: db, deps: { fetch, now: Date.now }, log: (text) => lines.push(...text.split('\n')) });
}

/** The value of one sample of the exposition text, e.g. `authbridge_broker_exchanges_total{result="created"}`. */
function sample(text: string, name: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

describe('metrics, health and the request log', () => {
  it('counts exchanges by result, upstream failures and latency; logs each request with its id and address, never a token', async () => {
    const lines: string[] = [];
    const broker = await start(await pgs.createDatabase('ops'), lines);
    try {
      const subjectToken = await idp.accessToken({ sub: 'olivia', email: 'o@example.test' });
      const first = await exchange(broker.url, { token: subjectToken });
      expect(first.status).toBe(200);
      expect(first.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
      expect((await exchange(broker.url, { token: subjectToken })).status).toBe(200);
      expect((await exchange(broker.url, { token: 'not-a-token', type: 'urn:ietf:params:oauth:token-type:id_token' })).status).toBe(400);
      const upstream = await exchange(broker.url, { token: await idp.accessToken({ iss: deadIssuer, sub: 'x' }) });
      expect(upstream.status).toBe(503);
      const proxied = await fetch(`${broker.url}/healthz`, { headers: { 'x-request-id': 'lb-1234' } });
      expect(proxied.headers.get('x-request-id')).toBe('lb-1234');

      const response = await fetch(`${broker.url}/metrics`);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      const text = await response.text();
      expect(sample(text, 'authbridge_broker_exchanges_total{result="created"}')).toBe(1);
      expect(sample(text, 'authbridge_broker_exchanges_total{result="existing"}')).toBe(1);
      expect(sample(text, 'authbridge_broker_exchanges_total{result="refused"}')).toBe(1);
      expect(sample(text, 'authbridge_broker_exchanges_total{result="unavailable"}')).toBe(1);
      expect(sample(text, 'authbridge_broker_upstream_errors_total{upstream="jwks"}')).toBe(1);
      expect(sample(text, 'authbridge_broker_sessions_opened_total')).toBe(2);
      expect(sample(text, 'authbridge_broker_request_duration_seconds_count{route="/oauth/token",status="2xx"}')).toBe(2);
      expect(text).toMatch(/^authbridge_broker_process_cpu_seconds_total /m);
      // No token, secret or customer data in the metrics.
      for (const secret of [subjectToken, first.body.access_token as string, 's3cret', 'olivia']) expect(text).not.toContain(secret);

      await new Promise((r) => setTimeout(r, 50));
      const requests = lines.filter((l) => l.includes('"req_id"')).map((l) => JSON.parse(l) as Record<string, unknown>);
      const token = requests.filter((r) => r.path === '/oauth/token');
      expect(token).toHaveLength(4);
      for (const r of token) expect(r).toMatchObject({ req_id: expect.any(String), ip: '127.0.0.1', method: 'POST', client_id: 'cli' });
      expect(token[0]!.req_id).toBe(first.headers.get('x-request-id'));
      expect(requests.find((r) => r.path === '/healthz')?.req_id).toBe('lb-1234');
      const all = lines.join('\n');
      for (const secret of [subjectToken, first.body.access_token as string, 's3cret']) expect(all).not.toContain(secret);
    } finally {
      await broker.close();
    }
  });

  it('/readyz fails while the database is down, /healthz does not; both recover', async () => {
    const db = await pgs.createDatabase('ready');
    const broker = await start(db, []);
    try {
      expect((await fetch(`${broker.url}/readyz`)).status).toBe(200);
      // The database refuses this broker's connections (as when it is down or failing over).
      await pgs.query('postgres', "ALTER DATABASE ready WITH ALLOW_CONNECTIONS false");
      await pgs.query('postgres', "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'ready'");
      const down = await fetch(`${broker.url}/readyz`);
      expect(down.status).toBe(503);
      expect(await down.json()).toMatchObject({ error: 'temporarily_unavailable' });
      expect((await fetch(`${broker.url}/healthz`)).status).toBe(200);
      await pgs.query('postgres', "ALTER DATABASE ready WITH ALLOW_CONNECTIONS true");
      expect((await fetch(`${broker.url}/readyz`)).status).toBe(200);
    } finally {
      await broker.close();
    }
  });
});
