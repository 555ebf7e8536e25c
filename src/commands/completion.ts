import type { Command, Option } from 'commander';
import { UsageError } from '../errors.js';
import type { Invocation } from '../main.js';
import { completionScript, type CommandSpec, type OptionSpec, type Shell } from '../output/completion.js';

/** Options whose value is a path, completed with file names. */
const FILE_OPTIONS = new Set(['--config', '--jwks', '--db', '--ca-file']);

function optionSpec(option: Option): OptionSpec {
  return {
    long: option.long,
    short: option.short,
    takesValue: option.required || option.optional,
    choices: option.argChoices,
    file: option.long !== undefined && FILE_OPTIONS.has(option.long),
    description: option.description,
  };
}

/** The commander tree as plain data: visible commands, their options, and `-h, --help`. */
export function describeProgram(cmd: Command): CommandSpec {
  const commands = cmd.commands.filter((c) => !(c as unknown as { _hidden?: boolean })._hidden).map(describeProgram);
  const isRoot = cmd.parent === null;
  if (isRoot) commands.push({ name: 'help', description: 'show help for a command', options: [], commands: [], argumentChoices: cmd.commands.map((c) => c.name()) });
  const choices = cmd.registeredArguments[0]?.argChoices;
  return {
    name: cmd.name(),
    description: cmd.summary() || cmd.description().split('\n')[0] || '',
    // -h/--help is among the root's options, which every shell offers everywhere.
    options: cmd.options.filter((o) => !o.hidden).map(optionSpec),
    commands,
    argumentChoices: choices,
  };
}

export async function run(inv: Invocation, program: Command): Promise<number> {
  const shell = inv.args[0] as Shell;
  if (shell !== 'bash' && shell !== 'zsh' && shell !== 'fish') throw new UsageError(`SHELL must be bash, zsh or fish, got "${String(shell)}"`);
  const root = describeProgram(program);
  root.options.push({ long: '--help', short: '-h', takesValue: false, file: false, description: 'show help' });
  const script = completionScript(shell, root);
  if (inv.global.json) inv.ctx.stdout.write(`${JSON.stringify({ shell, script })}\n`);
  else inv.ctx.stdout.write(script);
  return 0;
}
