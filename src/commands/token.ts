/**
 * `token`: one token on stdout for scripts and tools, refreshed (or re-exchanged, or for a
 * machine profile got again by the client credentials grant) first when expired. The renewal runs
 * under the cache's lock (flows/refresh.ts, util/atomic-file.ts `withFileLock`), so parallel calls
 * spend a rotating refresh token once and make one client credentials grant.
 *
 * `--format` shapes it for the tool: raw (the token), header (`Authorization: Bearer …`), json,
 * or exec-credential (kubectl's `client.authentication.k8s.io/v1` ExecCredential).
 */
import { Option, type Command } from 'commander';
import type { ProfileOverrides } from '../config/profile.js';
import type { Profile } from '../config/types.js';
import type { Context } from '../context.js';
import { UsageError, type Outcome } from '../errors.js';
import { TOKEN_TYPES, tokenFlow, type TokenResult, type TokenType } from '../flows/token.js';
import { createOutput } from '../output/output.js';
import { isoTime, parseDuration } from '../util/time.js';
import { idpFlags, profileOverrides } from './flags.js';
import { optChoice, optString, type Invocation, type ParseInput } from './invocation.js';
import { loadProfile, tokenCache } from './profile.js';

export const TOKEN_FORMATS = ['raw', 'header', 'json', 'exec-credential'] as const;
export type TokenFormat = (typeof TOKEN_FORMATS)[number];

export interface TokenOptions {
  /** Undefined: access, or for `--format exec-credential` the ID token (as kubelogin) of a user's session. */
  type?: TokenType;
  /** Undefined: raw, or the `--json` document under `--json`. */
  format?: TokenFormat;
  /** `--min-valid`, milliseconds. */
  minValidMs?: number;
  profile: ProfileOverrides;
}

/** The ExecCredential API versions kubectl may ask for in KUBERNETES_EXEC_INFO; v1 unless it asks v1beta1. */
const EXEC_API_VERSIONS = ['client.authentication.k8s.io/v1', 'client.authentication.k8s.io/v1beta1'];

export function define(cmd: Command): Command {
  return idpFlags(
    cmd
      .summary('print a cached token (refreshed first if expired)')
      .description(
        'Print one token on stdout. An expired access or ID token is refreshed first when a refresh token is held; ' +
          'a client credentials profile gets a new token by the same grant; otherwise exit 4.',
      ),
  )
    .addOption(new Option('--type <type>', 'which token (default: access; the ID token for --format exec-credential)').choices([...TOKEN_TYPES]))
    .addOption(
      new Option(
        '--format <format>',
        'raw: the token; header: "Authorization: Bearer …"; json: {"profile","type","token","expires_at","refreshed"}; exec-credential: a kubectl ExecCredential',
      ).choices([...TOKEN_FORMATS]),
    )
    .option('--min-valid <duration>', 'renew first when the token expires sooner than this (e.g. 60s, 5m); exit 4 when it cannot be made to last that long')
    .addHelpText(
      'after',
      '\nExamples:\n  curl -H "Authorization: Bearer $(authbridge token)" https://api.example.com/\n' +
        '  curl -H "$(authbridge token --format header --min-valid 60s)" https://api.example.com/\n' +
        '  authbridge token --type id | authbridge decode\n' +
        '  authbridge token --format exec-credential   # kubectl credential plugin (users[].user.exec)',
    );
}

export function parse({ opts }: ParseInput): TokenOptions {
  const minValid = optString(opts, 'minValid');
  let minValidMs: number | undefined;
  if (minValid !== undefined) {
    minValidMs = parseDuration(minValid);
    if (minValidMs === undefined) throw new UsageError(`--min-valid must be a duration such as 60s, 5m or 1h, got "${minValid}"`);
  }
  return {
    type: optChoice(opts, 'type', TOKEN_TYPES),
    format: optChoice(opts, 'format', TOKEN_FORMATS),
    minValidMs,
    profile: profileOverrides(opts),
  };
}

/**
 * The token kubectl gets by default: the ID token (kubelogin's choice: API servers configured
 * with `--oidc-issuer-url` take ID tokens), the access token for a machine profile (it has no ID token).
 */
async function execCredentialType(inv: Invocation, profile: Profile): Promise<TokenType> {
  if (profile.grant === 'client_credentials') return 'access';
  const session = await tokenCache(inv).get(profile.name);
  return session?.grant === 'client_credentials' ? 'access' : 'id';
}

/** kubectl's ExecCredential, in the API version KUBERNETES_EXEC_INFO names (v1 by default). */
export function execCredential(ctx: Context, result: TokenResult): Record<string, unknown> {
  let apiVersion = EXEC_API_VERSIONS[0]!;
  const info = ctx.env.KUBERNETES_EXEC_INFO;
  if (info) {
    try {
      const asked = (JSON.parse(info) as { apiVersion?: unknown }).apiVersion;
      if (typeof asked === 'string' && EXEC_API_VERSIONS.includes(asked)) apiVersion = asked;
    } catch {
      // Not JSON: kubectl always sends JSON; answer v1.
    }
  }
  return {
    apiVersion,
    kind: 'ExecCredential',
    status: { token: result.token, ...(result.expiresAt === undefined ? {} : { expirationTimestamp: isoTime(result.expiresAt) }) },
  };
}

export async function run(inv: Invocation, options: TokenOptions): Promise<Outcome> {
  const { ctx, global } = inv;
  const out = createOutput(ctx, global);
  const profile = await loadProfile(inv, options.profile);
  const format = options.format ?? (out.json ? 'json' : 'raw');
  const type = options.type ?? (format === 'exec-credential' ? await execCredentialType(inv, profile) : 'access');
  const result = await tokenFlow({
    ctx,
    profile,
    cache: tokenCache(inv),
    type,
    minValidMs: options.minValidMs,
    trace: out.verbose ? out.trace : undefined,
  });
  if (result.refreshed) out.trace(`renewed the token of profile "${profile.name}" first`);
  switch (format) {
    case 'json':
      out.jsonDoc({
        profile: profile.name,
        type,
        token: result.token,
        expires_at: result.expiresAt === undefined ? null : isoTime(result.expiresAt),
        refreshed: result.refreshed,
      });
      break;
    case 'exec-credential':
      out.jsonDoc(execCredential(ctx, result));
      break;
    case 'header':
      out.data(`Authorization: Bearer ${result.token}`);
      break;
    default:
      out.data(result.token);
  }
  return 'ok';
}
