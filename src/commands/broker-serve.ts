import { join } from 'node:path';
import { resolvePaths } from '../context.js';
import { UsageError } from '../errors.js';
import { loadBrokerConfig } from '../broker/config.js';
import { startBroker } from '../broker/server.js';
import type { Invocation } from '../main.js';

function port(value: unknown): number {
  const text = String(value);
  const n = Number(text);
  if (!/^\d+$/.test(text) || n > 65535) throw new UsageError(`--port must be a port number from 0 to 65535, got "${text}"`);
  return n;
}

/**
 * `authbridge broker serve`: runs until SIGTERM/SIGINT, then drains and exits: 0 after SIGTERM (a
 * service manager's stop), 130 after SIGINT (Ctrl-C), as for every command.
 */
export async function run(inv: Invocation): Promise<number> {
  const { ctx, global, opts } = inv;
  const configPath = global.config ?? ctx.env.AUTHBRIDGE_BROKER_CONFIG;
  if (!configPath) throw new UsageError('broker serve needs a config file: give --config FILE', { hint: "Run 'authbridge broker serve --help' for the format." });
  const host = (opts.host as string | undefined) ?? '127.0.0.1';
  const listenPort = port(opts.port ?? '8787');
  const dbPath = (opts.db as string | undefined) ?? join(resolvePaths(ctx.env).dataDir, 'broker.db');
  const file = await loadBrokerConfig(configPath);
  // Providers fetch through the proxy: a malformed proxy variable stops the start, not each exchange.
  if (['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy'].some((name) => ctx.env[name])) {
    (await import('../http/dispatcher.js')).proxySettings(ctx.env);
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
      port: listenPort,
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
    return signal === 'SIGINT' ? 130 : 0;
  } finally {
    off();
  }
}
