/**
 * `broker customers delete`: erasure. The customer's sessions are revoked first, in a
 * transaction of their own and committed (so no token of theirs is active at any instance, even
 * if the deletion then fails), then the customer and every session are deleted together.
 */
import type { Command } from 'commander';
import type { Outcome } from '../../errors.js';
import { createOutput } from '../../output/output.js';
import { optString, type Invocation, type ParseInput } from '../invocation.js';
import { withDbOption, withStore } from './admin.js';
import { defineCustomerRef, findCustomer, parseCustomerRef, type CustomerRef } from './customer-ref.js';

export interface CustomersDeleteOptions {
  db?: string;
  ref: CustomerRef;
}

export function define(cmd: Command): Command {
  defineCustomerRef(
    cmd
      .summary('delete a customer (revoking their sessions first)')
      .description("Erases a customer: revokes every live session of theirs, then deletes their record and sessions. Their tokens stop being active at once.\nTheir next login registers them anew (registration \"auto\") or is refused (\"existing-only\")."),
  );
  return withDbOption(cmd).addHelpText('after', '\nExamples:\n  authbridge broker customers delete 0b5e…\n  authbridge broker customers delete --provider idp --subject 248289761001');
}

export function parse(input: ParseInput): CustomersDeleteOptions {
  return { db: optString(input.opts, 'db'), ref: parseCustomerRef(input, 'delete') };
}

export async function run(inv: Invocation, options: CustomersDeleteOptions): Promise<Outcome> {
  const out = createOutput(inv.ctx, inv.global);
  const result = await withStore(inv, options.db, async (store, now) => {
    const customer = await findCustomer(store, options.ref);
    const revoked = await store.revokeAllSessions(customer.id, now);
    const deleted = (await store.deleteCustomer(customer.id)) ?? 0;
    return { id: customer.id, revoked, deleted };
  });
  if (out.json) out.jsonDoc({ id: result.id, sessions_revoked: result.revoked, sessions_deleted: result.deleted });
  else out.info(`deleted customer ${result.id}: ${result.revoked} live session(s) revoked, ${result.deleted} session(s) deleted`);
  return 'ok';
}
