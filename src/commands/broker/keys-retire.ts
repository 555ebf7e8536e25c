/**
 * `broker keys retire KID`: stops publishing and honouring a key now (a leaked key), or at
 * `--at`. The key that signs now is refused unless another would sign in its place: rotate first.
 */
import type { Command } from 'commander';
import { UsageError, type Outcome } from '../../errors.js';
import { createOutput } from '../../output/output.js';
import { optString, type Invocation, type ParseInput } from '../invocation.js';
import { iso, withDbOption, withStore } from './admin.js';

export interface KeysRetireOptions {
  db?: string;
  kid: string;
  /** Milliseconds since the epoch; undefined: now. */
  at?: number;
}

export function define(cmd: Command): Command {
  cmd
    .summary('retire a signing key: no longer published or honoured')
    .description(
      'Retires a signing key now (tokens it signed stop being active at every instance within its key refresh),\n' +
        'or at --at. The key signing now cannot be retired before another signs: run `broker keys rotate` first.',
    )
    .argument('<kid>', 'the key id (see `broker keys list`)')
    .option('--at <time>', 'when it retires, ISO-8601 (default now)');
  return withDbOption(cmd).addHelpText('after', '\nExamples:\n  authbridge broker keys retire 3kq0…\n  authbridge broker keys retire 3kq0… --at 2026-12-24T00:00:00Z');
}

export function parse({ args, opts }: ParseInput): KeysRetireOptions {
  const at = optString(opts, 'at');
  const ms = at === undefined ? undefined : Date.parse(at);
  if (ms !== undefined && !(at && /^\d{4}-\d\d-\d\dT/.test(at) && Number.isFinite(ms))) throw new UsageError(`--at must be an ISO-8601 time such as 2026-12-24T00:00:00Z, got "${at}"`);
  return { db: optString(opts, 'db'), kid: args[0]!, at: ms };
}

export async function run(inv: Invocation, options: KeysRetireOptions): Promise<Outcome> {
  const out = createOutput(inv.ctx, inv.global);
  const { signingKeyAt } = await import('../../broker/key-schedule.js');
  const at = await withStore(inv, options.db, async (store, now) => {
    const at = options.at ?? now;
    const keys = await store.signingKeys();
    if (!keys.some((k) => k.key.kid === options.kid)) {
      throw new UsageError(`no signing key ${options.kid} in the broker database`, { hint: "Run 'authbridge broker keys list' for the kids." });
    }
    const after = keys.map((k) => (k.key.kid === options.kid ? { ...k, retiresAt: Math.min(k.retiresAt ?? at, at) } : k));
    // Nothing would sign from then on (or from now): refuse, rather than let the instances fall back.
    if (!signingKeyAt(after, Math.max(at, now))) {
      throw new UsageError(`${options.kid} is the key that signs: no other key would sign once it is retired`, {
        hint: "Run 'authbridge broker keys rotate' first, then retire it once the new key signs.",
      });
    }
    await store.retireSigningKey(options.kid, at);
    return at;
  });
  if (out.json) out.jsonDoc({ kid: options.kid, retires_at: iso(at) });
  else out.info(`${options.kid} retires at ${iso(at)}`);
  return 'ok';
}
