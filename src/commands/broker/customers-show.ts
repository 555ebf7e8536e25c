/** `broker customers show`: one customer's stored record and how many sessions they hold. */
import type { Command } from 'commander';
import type { Outcome } from '../../errors.js';
import { createOutput } from '../../output/output.js';
import { safeJson, safeText } from '../../util/safe-text.js';
import { optString, type Invocation, type ParseInput } from '../invocation.js';
import { withDbOption, withStore } from './admin.js';
import { customerRecord, defineCustomerRef, findCustomer, parseCustomerRef, type CustomerRef } from './customer-ref.js';

export interface CustomersShowOptions {
  db?: string;
  ref: CustomerRef;
}

export function define(cmd: Command): Command {
  defineCustomerRef(cmd.summary('show a customer').description('Shows a customer: id, provider, subject, stored fields, and their sessions (live and ended).'));
  return withDbOption(cmd).addHelpText('after', '\nExamples:\n  authbridge broker customers show 0b5e…\n  authbridge broker customers show --provider idp --subject 248289761001 --json');
}

export function parse(input: ParseInput): CustomersShowOptions {
  return { db: optString(input.opts, 'db'), ref: parseCustomerRef(input, 'show') };
}

export async function run(inv: Invocation, options: CustomersShowOptions): Promise<Outcome> {
  const out = createOutput(inv.ctx, inv.global);
  const { customer, sessions, now } = await withStore(inv, options.db, async (store, now) => {
    const customer = await findCustomer(store, options.ref);
    return { customer, sessions: await store.customerSessions(customer.id), now };
  });
  const live = sessions.filter((s) => s.revokedAt === null && s.expiresAt > now).length;
  const doc = { ...customerRecord(customer), sessions: { live, ended: sessions.length - live } };
  if (out.json) out.jsonDoc(doc);
  else {
    out.data(`id:         ${doc.id}`);
    out.data(`provider:   ${safeText(doc.provider)}`);
    out.data(`subject:    ${safeText(doc.subject)}`);
    out.data(`fields:     ${safeJson(doc.fields)}`);
    out.data(`created_at: ${doc.created_at}`);
    out.data(`updated_at: ${doc.updated_at}`);
    out.data(`sessions:   ${live} live, ${doc.sessions.ended} ended`);
  }
  return 'ok';
}
