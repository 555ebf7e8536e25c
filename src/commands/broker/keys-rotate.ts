/**
 * `broker keys rotate`: adds a signing key, published at once and signing after `--delay`
 * (default: the JWKS's cache lifetime and an instance's key refresh), and schedules the keys it
 * replaces to retire once the last token they sign has expired (key-schedule.ts planRotation).
 */
import type { Command } from 'commander';
import { UsageError, type Outcome } from '../../errors.js';
import { createOutput } from '../../output/output.js';
import { optString, type Invocation, type ParseInput } from '../invocation.js';
import { iso, withDbOption, withStore } from './admin.js';

export interface KeysRotateOptions {
  db?: string;
  /** Seconds before the new key signs; undefined: the default delay. */
  delay?: number;
}

export function define(cmd: Command): Command {
  cmd
    .summary('add a signing key: published now, signing after a delay; the old ones retire later')
    .description(
      'Adds a signing key to the broker database. Every instance publishes it in its JWKS at its next key refresh,\n' +
        'signs with it once --delay has passed, and keeps honouring the keys it replaces until the longest token\n' +
        'they may have signed has expired (the token lifetime of --config, else 30 days, plus a minute).',
    )
    .option('--delay <seconds>', 'seconds before the new key signs (default: JWKS max-age 300 + keys.refreshSeconds)');
  return withDbOption(cmd).addHelpText(
    'after',
    '\nExamples:\n  authbridge broker keys rotate --config broker.json\n  authbridge broker keys rotate --db postgres://broker@db.internal/authbridge --config broker.json',
  );
}

export function parse({ opts }: ParseInput): KeysRotateOptions {
  const delay = optString(opts, 'delay');
  if (delay !== undefined && (!/^\d+$/.test(delay) || Number(delay) > 86_400 * 30)) {
    throw new UsageError(`--delay must be whole seconds from 0 to 2592000, got "${delay}"`);
  }
  return { db: optString(opts, 'db'), delay: delay === undefined ? undefined : Number(delay) };
}

export async function run(inv: Invocation, options: KeysRotateOptions): Promise<Outcome> {
  const out = createOutput(inv.ctx, inv.global);
  const configPath = inv.global.config ?? inv.ctx.env.AUTHBRIDGE_BROKER_CONFIG;
  const [{ JWKS_MAX_AGE_SECONDS }, { planRotation }, { generateSigningKey }] = await Promise.all([
    import('../../broker/key-ring.js'),
    import('../../broker/key-schedule.js'),
    import('../../jwt/sign.js'),
  ]);
  // The longest token the replaced keys may sign, and how late an instance learns of the rotation.
  let tokenTtl = 86_400 * 30;
  let refreshSeconds = 30;
  if (configPath) {
    const config = await (await import('../../broker/config.js')).loadBrokerConfig(configPath);
    tokenTtl = config.tokenTtl;
    refreshSeconds = config.keys.refreshSeconds;
  } else {
    out.info('no --config: the replaced keys stay published for the longest token lifetime allowed (30 days)');
  }
  const delay = options.delay ?? JWKS_MAX_AGE_SECONDS + refreshSeconds;
  if (delay < JWKS_MAX_AGE_SECONDS + refreshSeconds) {
    out.warn(`--delay ${delay} is shorter than the JWKS max-age and key refresh (${JWKS_MAX_AGE_SECONDS + refreshSeconds} s): a relying party may meet the new key before its cached JWKS has it`);
  }
  const key = generateSigningKey();
  const plan = await withStore(inv, options.db, async (store, now) => {
    const p = planRotation(now, delay, tokenTtl);
    await store.addSigningKey({ key, createdAt: now, ...p });
    return p;
  });
  if (out.json) out.jsonDoc({ kid: key.kid, signs_from: iso(plan.signsFrom), others_retire_at: iso(plan.retireOthersAt) });
  else {
    out.data(key.kid);
    out.info(`published now; signs from ${iso(plan.signsFrom)}; the keys it replaces retire at ${iso(plan.retireOthersAt)}`);
  }
  return 'ok';
}
