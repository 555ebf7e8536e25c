/**
 * `broker`: the reference token broker and its administration. Each subcommand is its own module
 * under commands/broker/; what they run (fastify, SQLite, PostgreSQL) is imported only when one
 * runs.
 */
import type { Command } from 'commander';
import * as serve from './broker/serve.js';
import { defineGroup, groupModule, type GroupNode } from './group.js';

const SUBCOMMANDS: Record<string, GroupNode> = { serve };

export function define(broker: Command): Command {
  broker
    .summary('run the reference token broker')
    .description('The reference token broker (RFC 8693 token exchange, Synerise-compatible login).')
    .addHelpText('after', '\nExamples:\n  authbridge broker serve --config broker.json --port 8787');
  return defineGroup(broker, SUBCOMMANDS);
}

export const { parse, run } = groupModule(SUBCOMMANDS);
