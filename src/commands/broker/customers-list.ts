/** `broker customers list`: the registered customers, oldest first, a page at a time. */
import type { Command } from 'commander';
import { UsageError, type Outcome } from '../../errors.js';
import { createOutput } from '../../output/output.js';
import { safeText } from '../../util/safe-text.js';
import { optString, type Invocation, type ParseInput } from '../invocation.js';
import { iso, withDbOption, withStore } from './admin.js';

export interface CustomersListOptions {
  db?: string;
  provider?: string;
  after?: string;
  limit: number;
}

export function define(cmd: Command): Command {
  cmd
    .summary('list customers, oldest first')
    .description('Lists registered customers (id, provider, subject, created_at), oldest first; --after ID gives the next page.')
    .option('--provider <id>', 'only the customers of this provider')
    .option('--after <customer-id>', 'start after this customer (the last of the previous page)')
    .option('--limit <n>', 'customers at most (1 to 10000)', '100');
  return withDbOption(cmd).addHelpText('after', '\nExamples:\n  authbridge broker customers list --limit 20\n  authbridge broker customers list --provider idp --json');
}

export function parse({ opts }: ParseInput): CustomersListOptions {
  const limit = optString(opts, 'limit') ?? '100';
  if (!/^\d+$/.test(limit) || Number(limit) < 1 || Number(limit) > 10_000) throw new UsageError(`--limit must be a whole number from 1 to 10000, got "${limit}"`);
  return { db: optString(opts, 'db'), provider: optString(opts, 'provider'), after: optString(opts, 'after'), limit: Number(limit) };
}

export async function run(inv: Invocation, options: CustomersListOptions): Promise<Outcome> {
  const out = createOutput(inv.ctx, inv.global);
  const customers = await withStore(inv, options.db, (store) => store.listCustomers({ provider: options.provider, after: options.after, limit: options.limit }));
  const rows = customers.map((c) => ({ id: c.id, provider: c.provider, subject: c.subject, created_at: iso(c.createdAt) }));
  if (out.json) out.jsonDoc(rows);
  else for (const r of rows) out.data(`${r.id}  ${safeText(r.provider)}  ${safeText(r.subject)}  ${r.created_at}`);
  return 'ok';
}
