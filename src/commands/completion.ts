/** `completion bash|zsh|fish`: a completion script built from this very program. */
import { Argument, type Command, type Option } from 'commander';
import { PROFILE_FIELDS, SUBJECT_TOKEN_TYPES } from '../config/config-file.js';
import { UsageError, type Outcome } from '../errors.js';
import { completionScript, type CommandSpec, type OptionSpec, type Shell } from '../output/completion.js';
import type { Invocation, ParseInput } from './invocation.js';

export interface CompletionOptions {
  shell: Shell;
}

/** Options whose value is a path, completed with file names. */
const FILE_OPTIONS = new Set(['--config', '--jwks', '--db', '--ca-file']);

/**
 * `config set KEY <TAB>`: the values of the settings that have a fixed set, and the short names
 * of a subject token type (any absolute URI is taken too, but those are what people type).
 */
const CONFIG_VALUES: Record<string, string[]> = Object.fromEntries(
  Object.entries(PROFILE_FIELDS).flatMap(([key, kind]): [string, string[]][] =>
    typeof kind === 'object' ? [[key, [...kind.oneOf]]] : kind === 'tokenType' ? [[key, [...SUBJECT_TOKEN_TYPES]]] : [],
  ),
);

/** Options that take any value but have well-known ones, offered on <TAB>. */
const SUGGESTED_VALUES: Readonly<Record<string, string[]>> = { '--subject-token-type': [...SUBJECT_TOKEN_TYPES] };

/** Options whose values the script asks the program for on <TAB> (they change after it is made). */
const DYNAMIC_OPTIONS: Readonly<Record<string, string[]>> = { '--profile': ['config', 'profiles'] };

export function define(cmd: Command): Command {
  return cmd
    .summary('print a shell completion script (bash, zsh, fish)')
    .description('Print a completion script for SHELL, built from the commands and options of this version.')
    .addArgument(new Argument('<shell>', 'bash, zsh or fish').choices(['bash', 'zsh', 'fish']))
    .addHelpText(
      'after',
      '\nExamples:\n  source <(authbridge completion bash)            # in ~/.bashrc\n' +
        '  authbridge completion zsh > "${fpath[1]}/_authbridge"\n  authbridge completion fish > ~/.config/fish/completions/authbridge.fish',
    );
}

export function parse({ args }: ParseInput): CompletionOptions {
  const shell = args[0];
  if (shell !== 'bash' && shell !== 'zsh' && shell !== 'fish') throw new UsageError(`SHELL must be bash, zsh or fish, got "${String(shell)}"`);
  return { shell };
}

function optionSpec(option: Option): OptionSpec {
  return {
    long: option.long,
    short: option.short,
    takesValue: option.required || option.optional,
    choices: option.argChoices ?? (option.long !== undefined ? SUGGESTED_VALUES[option.long] : undefined),
    file: option.long !== undefined && FILE_OPTIONS.has(option.long),
    description: option.description,
    ...(option.long !== undefined && DYNAMIC_OPTIONS[option.long] ? { dynamic: DYNAMIC_OPTIONS[option.long] } : {}),
  };
}

/** The commander tree as plain data: visible commands, their options, and `-h, --help`. */
export function describeProgram(cmd: Command): CommandSpec {
  const commands = cmd.commands.filter((c) => !(c as unknown as { _hidden?: boolean })._hidden).map(describeProgram);
  const isRoot = cmd.parent === null;
  if (isRoot) commands.push({ name: 'help', description: 'show help for a command', options: [], commands: [], argumentChoices: cmd.commands.map((c) => c.name()) });
  const choices = cmd.registeredArguments[0]?.argChoices;
  // `config <action> <key>`: each argument's values, where it has fixed ones.
  const positional = cmd.registeredArguments.map((a) => a.argChoices ?? []);
  while (positional.length && !positional.at(-1)!.length) positional.pop();
  return {
    name: cmd.name(),
    description: cmd.summary() || cmd.description().split('\n')[0] || '',
    // -h/--help is among the root's options, which every shell offers everywhere.
    options: cmd.options.filter((o) => !o.hidden).map(optionSpec),
    commands,
    argumentChoices: choices,
    ...(positional.filter((c) => c.length).length > 1 ? { positionalChoices: positional } : {}),
    ...(cmd.name() === 'config' && cmd.parent?.parent === null ? { valuesAfter: CONFIG_VALUES } : {}),
  };
}

export async function run(inv: Invocation, { shell }: CompletionOptions): Promise<Outcome> {
  // The script is built from this very program (every command defined), so it never lags behind.
  const root = describeProgram(inv.program);
  root.options.push({ long: '--help', short: '-h', takesValue: false, file: false, description: 'show help' });
  const script = completionScript(shell, root);
  if (inv.global.json) inv.ctx.stdout.write(`${JSON.stringify({ shell, script })}\n`);
  else inv.ctx.stdout.write(script);
  return 'ok';
}
