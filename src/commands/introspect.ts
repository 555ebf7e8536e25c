/** `introspect [TOKEN]`: RFC 7662 at the profile's IdP, or at its broker with `--broker`. */
import { Option, type Command } from 'commander';
import type { ProfileOverrides } from '../config/profile.js';
import type { Outcome } from '../errors.js';
import { introspectFlow } from '../flows/introspect.js';
import { createOutput } from '../output/output.js';
import { renderIntrospection } from '../output/session.js';
import { brokerClientFlags, idpFlags, profileOverrides } from './flags.js';
import { normalizeTokenInput } from '../jwt/parse.js';
import { readStdin } from './input.js';
import { optChoice, optFlag, type Invocation, type ParseInput } from './invocation.js';
import { loadProfile, tokenCache } from './profile.js';

export interface IntrospectOptions {
  /** The TOKEN argument; `-` reads stdin; absent: the cached token of `type`. */
  token?: string;
  type?: 'access' | 'refresh';
  /** Ask the profile's broker about its token. */
  broker: boolean;
  profile: ProfileOverrides;
}

export function define(cmd: Command): Command {
  return brokerClientFlags(
    idpFlags(
      cmd
        .summary('ask the IdP whether a token is active (RFC 7662)')
        .description('Introspect TOKEN (or the cached token) at the IdP\'s introspection endpoint, authenticated as the profile\'s client. Exit 0 if active, 1 if not.')
        .argument('[token]', 'the token; "-" reads stdin; absent: the cached one (--type)'),
    )
      .addOption(new Option('--type <type>', 'which cached token, and the token_type_hint sent').choices(['access', 'refresh']))
      .option('--broker', "ask the profile's broker about its token (default: the cached broker token)"),
  ).addHelpText(
    'after',
    '\nExamples:\n  authbridge introspect\n  authbridge introspect --type refresh --json\n  authbridge introspect "$TOKEN"\n  authbridge introspect --broker',
  );
}

export function parse({ args, opts }: ParseInput): IntrospectOptions {
  return {
    token: args[0],
    type: optChoice(opts, 'type', ['access', 'refresh'] as const),
    broker: optFlag(opts, 'broker'),
    profile: profileOverrides(opts),
  };
}

export async function run(inv: Invocation, options: IntrospectOptions): Promise<Outcome> {
  const { ctx, global } = inv;
  const out = createOutput(ctx, global);
  const token = options.token === undefined ? undefined : normalizeTokenInput(options.token === '-' ? await readStdin(ctx) : options.token);
  // A TOKEN given with the IdP on the command line needs no profile of its own.
  const profile = await loadProfile(inv, options.profile, undefined, { allowNew: (p) => Boolean(token !== undefined && p.issuer && p.clientId) });
  const result = await introspectFlow({
    ctx,
    profile,
    cache: tokenCache(inv),
    token,
    type: options.type,
    broker: options.broker,
    warn: (text) => out.warn(text),
    trace: out.verbose ? out.trace : undefined,
  });
  if (out.json) out.jsonDoc(result);
  else out.data(renderIntrospection(result, ctx.now(), out.style));
  return result.active === true ? 'ok' : 'token_rejected';
}
