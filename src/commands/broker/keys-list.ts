/** `broker keys list`: every signing key with its state now (next, signing, verifying, retired) and schedule. */
import type { Command } from 'commander';
import type { Outcome } from '../../errors.js';
import { createOutput } from '../../output/output.js';
import { optString, type Invocation, type ParseInput } from '../invocation.js';
import { iso, withDbOption, withStore } from './admin.js';

export interface KeysListOptions {
  db?: string;
}

export function define(cmd: Command): Command {
  cmd.summary('list the signing keys and what each does now').description('Lists the broker\'s signing keys, newest first: kid, state (next, signing, verifying, retired) and schedule.');
  return withDbOption(cmd).addHelpText('after', '\nExamples:\n  authbridge broker keys list\n  authbridge broker keys list --json');
}

export function parse({ opts }: ParseInput): KeysListOptions {
  return { db: optString(opts, 'db') };
}

export async function run(inv: Invocation, options: KeysListOptions): Promise<Outcome> {
  const out = createOutput(inv.ctx, inv.global);
  const { keyStates } = await import('../../broker/key-schedule.js');
  const keys = await withStore(inv, options.db, async (store, now) => keyStates(await store.signingKeys(), now));
  const rows = keys.map((k) => ({ kid: k.key.kid, state: k.state, created_at: iso(k.createdAt), signs_from: iso(k.signsFrom), retires_at: iso(k.retiresAt) }));
  if (out.json) out.jsonDoc(rows);
  else for (const r of rows) out.data(`${r.kid}  ${r.state.padEnd(9)}  signs from ${r.signs_from}${r.retires_at ? `  retires at ${r.retires_at}` : ''}`);
  return 'ok';
}
