/**
 * `broker serve`: the reference token broker, until SIGTERM or Ctrl-C. The wiring is
 * broker/server.ts; an exchange goes broker/routes/token.ts → broker/broker.ts → the store's
 * `upsertCustomerAndOpenSession` (broker/store/sqlite/customers.ts).
 */
import { Option, type Command } from 'commander';
import { UsageError, type Outcome } from '../../errors.js';
import { optString, type Invocation, type ParseInput } from '../invocation.js';
import { brokerDb, withDbOption } from './admin.js';
import { BROKER_SERVE_HELP } from './help.js';

export interface BrokerServeOptions {
  host: string;
  port: number;
  /** `--db FILE|URL`; default `$AUTHBRIDGE_BROKER_DB`, else `$XDG_DATA_HOME/authbridge/broker.db`. */
  db?: string;
}

export function define(cmd: Command): Command {
  cmd
    .summary('serve the broker over HTTP until SIGTERM/SIGINT')
    .description(
      'Validate tokens from trusted IdPs or backends, register customers in SQLite or PostgreSQL, issue broker JWTs.\n' +
        'Needs --config FILE (the broker config, env AUTHBRIDGE_BROKER_CONFIG).',
    )
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .addOption(new Option('--port <port>', 'port to listen on (0 picks a free one)').default(8787));
  return withDbOption(cmd).addHelpText(
    'after',
    `${BROKER_SERVE_HELP}\n\nExamples:\n  authbridge broker serve --config broker.json\n  authbridge broker serve --config broker.json --port 0 --db /tmp/broker.db\n` +
      '  authbridge broker serve --config broker.json --db postgres://broker@db.internal/authbridge',
  );
}

function port(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n > 65535) throw new UsageError(`--port must be a port number from 0 to 65535, got "${text}"`);
  return n;
}

export function parse({ opts }: ParseInput): BrokerServeOptions {
  return { host: optString(opts, 'host') ?? '127.0.0.1', port: port(String(opts.port ?? 8787)), db: optString(opts, 'db') };
}

/**
 * Runs until SIGTERM/SIGINT, then drains and exits: `ok` after SIGTERM (a service manager's stop),
 * `interrupted` after SIGINT (Ctrl-C), as for every command.
 */
export async function run(inv: Invocation, options: BrokerServeOptions): Promise<Outcome> {
  const { ctx, global } = inv;
  const configPath = global.config ?? ctx.env.AUTHBRIDGE_BROKER_CONFIG;
  if (!configPath) throw new UsageError('broker serve needs a config file: give --config FILE', { hint: "Run 'authbridge broker serve --help' for the format." });
  const { host } = options;
  const dbPath = brokerDb(options.db, ctx.env);
  // Loaded only when the broker runs (fastify, SQLite): `authbridge --help` defines this command too.
  const [{ loadBrokerConfig }, { startBroker }] = await Promise.all([import('../../broker/config.js'), import('../../broker/server.js')]);
  const file = await loadBrokerConfig(configPath);
  // Providers fetch through the proxy: a malformed proxy variable stops the start, not each exchange.
  if (['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy'].some((name) => ctx.env[name])) {
    (await import('../../http/dispatcher.js')).proxySettings(ctx.env);
  }

  // Listening for signals before the server starts: a SIGTERM during start-up still drains cleanly.
  let stopRequested!: (signal: string) => void;
  const stop = new Promise<string>((resolve) => (stopRequested = resolve));
  let signals = 0;
  let forceClose: (() => void) | undefined;
  const off = ctx.onInterrupt((signal) => {
    signals += 1;
    if (signals === 1) stopRequested(signal);
    // A second signal stops waiting for requests in flight.
    else forceClose?.();
  });
  try {
    const broker = await startBroker({
      file,
      host,
      port: options.port,
      dbPath,
      deps: { fetch: ctx.fetch, now: ctx.now },
      log: (line) => void ctx.stderr.write(`${line}\n`),
    });
    forceClose = () => broker.app.server.closeAllConnections();
    ctx.stderr.write(`broker listening on ${broker.url}\n`);
    if (!file.issuer && (host === '0.0.0.0' || host === '::')) {
      ctx.stderr.write(`warning: the issuer defaults to ${broker.issuer}; set "issuer" in the config to the URL clients use\n`);
    }
    const signal = await stop;
    ctx.stderr.write(`broker stopping (${signal}): finishing requests in flight\n`);
    await broker.close();
    ctx.stderr.write('broker stopped\n');
    return signal === 'SIGINT' ? 'interrupted' : 'ok';
  } finally {
    off();
  }
}
