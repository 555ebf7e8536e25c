import { configPath, loadProfile, profileName } from '../config/profile.js';
import { resolvePaths } from '../context.js';
import { UsageError } from '../errors.js';
import { doctorFlow } from '../flows/doctor.js';
import type { Invocation } from '../main.js';
import { renderDoctor } from '../output/doctor.js';
import { createOutput } from '../output/output.js';
import { parseMoment, seconds } from './input.js';

function port(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const text = String(value);
  if (!/^\d+$/.test(text) || Number(text) > 65535) throw new UsageError(`--port must be a port number from 0 to 65535, got "${text}"`);
  return Number(text);
}

export async function run(inv: Invocation): Promise<number> {
  const { ctx, global, opts } = inv;
  const out = createOutput(ctx, global);
  const now = opts.now !== undefined ? parseMoment('--now', String(opts.now)) : ctx.now();
  const timeout = seconds('--timeout', opts.timeout) ?? 10;
  const requestedPort = port(opts.port);
  // --port is a check input here, not a profile override that could fail to parse first.
  const profileOpts = { ...opts, port: undefined };
  const report = await doctorFlow({
    profileName: profileName(inv),
    loadProfile: () => loadProfile({ ...inv, opts: profileOpts }),
    configFile: configPath(inv),
    cacheDir: resolvePaths(ctx.env, global.config).cacheDir,
    fetch: ctx.fetch,
    now,
    port: requestedPort,
    timeoutMs: timeout * 1000,
  });
  if (out.json) out.jsonDoc({ profile: report.profile, ok: report.ok, exit_code: report.exitCode, checks: report.checks });
  else out.data(renderDoctor(report, out.style));
  return report.exitCode;
}
