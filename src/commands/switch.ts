/** `switch`: make another account signed in to the profile the active one (flows/switch.ts). */
import type { Command } from 'commander';
import type { Outcome } from '../errors.js';
import { switchFlow } from '../flows/switch.js';
import { createOutput } from '../output/output.js';
import { renderSwitch, stderrStyle } from '../output/session.js';
import type { Invocation, ParseInput } from './invocation.js';
import { profileName, requireProfile, tokenCache } from './profile.js';

export interface SwitchOptions {
  /** The email or subject (a unique prefix) of the account to make active. */
  account?: string;
}

export function define(cmd: Command): Command {
  return cmd
    .summary('make another signed-in account of the profile the active one')
    .description(
      'Each profile keeps every account signed in to it: logging in as another user makes that one active and keeps the others. ' +
        'Switch makes ACCOUNT (its email or subject; a unique prefix is enough) active; without ACCOUNT, the other of exactly two. ' +
        '`authbridge status` lists the accounts. Exit 2 for an unknown account (the accounts are listed), 4 when none is signed in.',
    )
    .argument('[account]', 'email or subject of the account to use')
    .addHelpText('after', '\nExamples:\n  authbridge switch\n  authbridge switch bob@example.com\n  authbridge switch --profile work alice');
}

export function parse({ args }: ParseInput): SwitchOptions {
  return { account: args[0] };
}

export async function run(inv: Invocation, { account }: SwitchOptions): Promise<Outcome> {
  const { ctx, global } = inv;
  const out = createOutput(ctx, global);
  await requireProfile(inv);
  const result = await switchFlow({ cache: tokenCache(inv), profile: profileName(inv), account });
  if (out.json) out.jsonDoc(result);
  out.info(renderSwitch(result, stderrStyle(ctx, global)));
  return 'ok';
}
