/**
 * How the customer commands name a customer: the broker's id (a token's `sub`), or
 * `--provider ID --subject SUB` (the upstream account).
 */
import type { Command } from 'commander';
import { UsageError } from '../../errors.js';
import type { BrokerStore, Customer } from '../../broker/store/types.js';
import { optString, type ParseInput } from '../invocation.js';
import { iso } from './admin.js';

export type CustomerRef = { id: string } | { provider: string; subject: string };

export function defineCustomerRef(cmd: Command): Command {
  return cmd
    .argument('[customer-id]', "the broker's customer id (a token's sub)")
    .option('--provider <id>', 'with --subject: the customer of this upstream account')
    .option('--subject <sub>', 'the subject at --provider');
}

export function parseCustomerRef({ args, opts }: ParseInput, command: string): CustomerRef {
  const id = args[0];
  const provider = optString(opts, 'provider');
  const subject = optString(opts, 'subject');
  if (id !== undefined && provider === undefined && subject === undefined) return { id };
  if (id === undefined && provider !== undefined && subject !== undefined) return { provider, subject };
  throw new UsageError(`broker customers ${command} needs a customer id, or --provider and --subject (not both)`);
}

/** @throws UsageError naming the customer when there is none. */
export async function findCustomer(store: BrokerStore, ref: CustomerRef): Promise<Customer> {
  const customer = 'id' in ref ? await store.customer(ref.id) : await store.customerBySubject(ref.provider, ref.subject);
  if (!customer) {
    const named = 'id' in ref ? ref.id : `of provider ${ref.provider}, subject ${ref.subject}`;
    throw new UsageError(`no customer ${named} in the broker database`);
  }
  return customer;
}

/** A customer's stored record as `show` and `export` print it (snake_case, ISO-8601 times). */
export function customerRecord(customer: Customer) {
  return {
    id: customer.id,
    provider: customer.provider,
    subject: customer.subject,
    fields: customer.fields,
    created_at: iso(customer.createdAt),
    updated_at: iso(customer.updatedAt),
  };
}
