/**
 * A command whose subcommands each have their own module (`broker serve`, `broker keys rotate`).
 * main.ts gives a module's `define` one action; a group's `define` returns the group with its
 * `action` set on every leaf instead, and the group's `parse` learns which leaf ran from the
 * options, so main.ts treats a group as any other command module.
 */
import type { Command } from 'commander';
import type { CommandModule, Invocation, ParseInput } from './invocation.js';
import type { Outcome } from '../errors.js';

/** A command module whatever its options (`parse` gives what its own `run` takes). */
export interface LeafModule {
  define: CommandModule['define'];
  parse(input: ParseInput): unknown;
  run(inv: Invocation, options: never): Promise<Outcome>;
}

/** A subcommand: a command module, or a nested group of them with its own summary. */
export type GroupNode = LeafModule | { summary: string; description: string; examples?: string; commands: Record<string, GroupNode> };

/** The option value naming the leaf that ran, set on that leaf's options just before its action. */
const LEAF = 'authbridgeLeaf';

const isModule = (node: GroupNode): node is LeafModule => 'run' in node;

/** The leaf modules of a group, by their path below it (`keys rotate`). */
export function leaves(nodes: Record<string, GroupNode>, prefix = ''): Map<string, LeafModule> {
  const found = new Map<string, LeafModule>();
  for (const [name, node] of Object.entries(nodes)) {
    if (isModule(node)) found.set(`${prefix}${name}`, node);
    else for (const [path, leaf] of leaves(node.commands, `${prefix}${name} `)) found.set(path, leaf);
  }
  return found;
}

/**
 * Defines `nodes` under `group` (each leaf by its module's `define`) and returns `group`, whose
 * `action(fn)` then gives `fn` to every leaf.
 */
export function defineGroup(group: Command, nodes: Record<string, GroupNode>): Command {
  const defined: Array<{ path: string; cmd: Command }> = [];
  const walk = (parent: Command, children: Record<string, GroupNode>, prefix: string) => {
    for (const [name, node] of Object.entries(children)) {
      const cmd = parent.command(name);
      if (isModule(node)) {
        defined.push({ path: `${prefix}${name}`, cmd: node.define(cmd) });
        continue;
      }
      cmd.summary(node.summary).description(node.description);
      if (node.examples) cmd.addHelpText('after', `\nExamples:\n${node.examples}`);
      walk(cmd, node.commands, `${prefix}${name} `);
    }
  };
  walk(group, nodes, '');
  group.action = (fn) => {
    for (const { path, cmd } of defined) {
      cmd.action(function (this: Command, ...params: unknown[]) {
        (params[params.length - 1] as Command).setOptionValue(LEAF, path);
        return fn.apply(this, params);
      });
    }
    return group;
  };
  return group;
}

/** What a group's `parse` gives its `run`: the leaf that ran and its typed options. */
export interface GroupOptions {
  leaf: string;
  options: unknown;
}

/** The group's `parse` and `run`, dispatching to the leaf that ran. */
export function groupModule(nodes: Record<string, GroupNode>): Pick<CommandModule<GroupOptions>, 'parse' | 'run'> {
  const byPath = leaves(nodes);
  const leafOf = (path: string) => {
    const leaf = byPath.get(path);
    if (!leaf) throw new Error(`no subcommand "${path}"`);
    return leaf as unknown as CommandModule<unknown>;
  };
  return {
    parse: (input: ParseInput): GroupOptions => {
      const path = String(input.opts[LEAF]);
      return { leaf: path, options: leafOf(path).parse(input) };
    },
    run: (inv: Invocation, { leaf, options }: GroupOptions): Promise<Outcome> => leafOf(leaf).run(inv, options),
  };
}
