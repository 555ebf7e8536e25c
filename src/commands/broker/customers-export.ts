/**
 * `broker customers export`: everything the broker stores about one customer, as JSON (a data
 * subject's access request): the record and every session kept. Personal data: SECURITY.md.
 */
import type { Command } from 'commander';
import type { Outcome } from '../../errors.js';
import { createOutput } from '../../output/output.js';
import { optString, type Invocation, type ParseInput } from '../invocation.js';
import { iso, withDbOption, withStore } from './admin.js';
import { customerRecord, defineCustomerRef, findCustomer, parseCustomerRef, type CustomerRef } from './customer-ref.js';

export interface CustomersExportOptions {
  db?: string;
  ref: CustomerRef;
}

export function define(cmd: Command): Command {
  defineCustomerRef(
    cmd
      .summary("print a customer's stored data as JSON")
      .description('Prints everything the broker stores about a customer as one JSON document: their record and sessions. It is personal data.'),
  );
  return withDbOption(cmd).addHelpText('after', '\nExamples:\n  authbridge broker customers export 0b5e… > customer.json');
}

export function parse(input: ParseInput): CustomersExportOptions {
  return { db: optString(input.opts, 'db'), ref: parseCustomerRef(input, 'export') };
}

export async function run(inv: Invocation, options: CustomersExportOptions): Promise<Outcome> {
  const out = createOutput(inv.ctx, inv.global);
  const { customer, sessions } = await withStore(inv, options.db, async (store) => {
    const customer = await findCustomer(store, options.ref);
    return { customer, sessions: await store.customerSessions(customer.id) };
  });
  out.jsonDoc({
    ...customerRecord(customer),
    sessions: sessions.map((s) => ({ sid: s.sid, client_id: s.clientId, created_at: iso(s.createdAt), expires_at: iso(s.expiresAt), revoked_at: iso(s.revokedAt) })),
  });
  return 'ok';
}
