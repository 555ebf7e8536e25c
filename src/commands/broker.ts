/**
 * `broker`: the reference token broker and its administration. Each subcommand is its own module
 * under commands/broker/; what they run (fastify, SQLite, PostgreSQL) is imported only when one
 * runs.
 */
import type { Command } from 'commander';
import * as customersDelete from './broker/customers-delete.js';
import * as customersExport from './broker/customers-export.js';
import * as customersList from './broker/customers-list.js';
import * as customersShow from './broker/customers-show.js';
import * as keysList from './broker/keys-list.js';
import * as keysRetire from './broker/keys-retire.js';
import * as keysRotate from './broker/keys-rotate.js';
import * as serve from './broker/serve.js';
import { defineGroup, groupModule, type GroupNode } from './group.js';

const SUBCOMMANDS: Record<string, GroupNode> = {
  serve,
  keys: {
    summary: "rotate, list and retire the broker's signing keys",
    description: "The broker's signing keys, shared by every instance on the database: rotate (a new key, published before it signs), list, retire.",
    examples: '  authbridge broker keys rotate --config broker.json\n  authbridge broker keys list',
    commands: { rotate: keysRotate, list: keysList, retire: keysRetire },
  },
  customers: {
    summary: 'list, show, export and delete customers',
    description: 'The customers the broker registered: list, show, export (their stored data as JSON), delete (revoking their sessions first).',
    examples: '  authbridge broker customers list\n  authbridge broker customers export 0b5e… > customer.json',
    commands: { list: customersList, show: customersShow, export: customersExport, delete: customersDelete },
  },
};

export function define(broker: Command): Command {
  broker
    .summary('run and administer the reference token broker')
    .description('The reference token broker (RFC 8693 token exchange, Synerise-compatible login).')
    .addHelpText('after', '\nExamples:\n  authbridge broker serve --config broker.json --port 8787');
  return defineGroup(broker, SUBCOMMANDS);
}

export const { parse, run } = groupModule(SUBCOMMANDS);
