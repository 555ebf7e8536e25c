/** `doctor`: checks a profile end to end and says what to fix (flows/doctor.ts). */
import { Option, type Command } from 'commander';
import { loadProfile, type ProfileOverrides } from '../config/profile.js';
import { resolvePaths } from '../context.js';
import { UsageError, exitCode, type Outcome } from '../errors.js';
import { doctorFlow } from '../flows/doctor.js';
import { renderDoctor } from '../output/doctor.js';
import { createOutput } from '../output/output.js';
import { idpFlags, profileOverrides } from './flags.js';
import { parseMoment, seconds } from './input.js';
import { optString, type Invocation, type ParseInput } from './invocation.js';
import { configPath, profileName, requireProfile } from './profile.js';

export interface DoctorOptions {
  /** `--now`: this machine's time as TIME (ms since the epoch). */
  now?: number;
  /** Seconds for each HTTP request. */
  timeoutSeconds: number;
  /** The loopback port login would use. */
  port?: number;
  profile: ProfileOverrides;
}

export function define(cmd: Command): Command {
  return idpFlags(
    cmd
      .summary("check a profile end to end and say what to fix")
      .description(
        'Check the profile: the config file yours and writable only by you, issuer and client id set, discovery reachable, ' +
          'naming the issuer and only https endpoints (http on loopback), JWKS with usable keys, ' +
          "PKCE S256, the redirect URI and port, clock skew against the IdP, the token cache's permissions, and the broker. " +
          'Exit 0 if all is well, 2 for a problem in the configuration or on this machine, 3 for a remote one.',
      ),
  )
    .option('--port <port>', 'the loopback port login would use (default: the profile\'s redirectPort, else a free one)')
    .option('--broker-url <url>', "the broker's base URL (env AUTHBRIDGE_BROKER_URL)")
    .option('--now <time>', "judge the clock as if this machine's time were TIME (ISO-8601 or epoch seconds)")
    .addOption(new Option('--timeout <seconds>', 'time limit for each HTTP request').default(10))
    .addHelpText('after', '\nExamples:\n  authbridge doctor\n  authbridge doctor --profile work --json\n  authbridge doctor --issuer https://idp.example.com --client-id my-cli');
}

function port(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) > 65535) throw new UsageError(`--port must be a port number from 0 to 65535, got "${value}"`);
  return Number(value);
}

export function parse({ opts }: ParseInput): DoctorOptions {
  const now = optString(opts, 'now');
  return {
    now: now === undefined ? undefined : parseMoment('--now', now),
    timeoutSeconds: seconds('--timeout', opts.timeout) ?? 10,
    port: port(optString(opts, 'port')),
    // --port is a check input here, not a profile override that could fail to parse first.
    profile: profileOverrides(opts, ['redirectPort']),
  };
}

export async function run(inv: Invocation, options: DoctorOptions): Promise<Outcome> {
  const { ctx, global } = inv;
  const out = createOutput(ctx, global);
  // A mistyped profile is named at once, unless the issuer given here makes it a new one to check.
  if (!options.profile.issuer && !ctx.env.AUTHBRIDGE_ISSUER) await requireProfile(inv);
  const report = await doctorFlow({
    profileName: profileName(inv),
    // The config file's warnings become the `config` check's verdict rather than a stderr line.
    loadProfile: (warn) => loadProfile({ env: ctx.env, configFile: configPath(inv), name: profileName(inv), overrides: options.profile, warn }),
    configFile: configPath(inv),
    cacheDir: resolvePaths(ctx.env, global.config).cacheDir,
    fetch: ctx.fetch,
    now: options.now ?? ctx.now(),
    port: options.port,
    timeoutMs: options.timeoutSeconds * 1000,
  });
  if (out.json) out.jsonDoc({ profile: report.profile, ok: report.ok, exit_code: exitCode(report.outcome), checks: report.checks });
  else out.data(renderDoctor(report, out.style));
  return report.outcome;
}
