/**
 * What every command module is: its definition (arguments, flags, help) beside a typed `parse`
 * and its `run` (gh's `NewCmdLogin` + `loginRun`). `main.ts` registers the modules, loads only
 * the one named on the command line, and turns the outcome `run` returns into the exit code.
 */
import type { Command, OptionValues } from 'commander';
import type { Context } from '../context.js';
import type { Outcome } from '../errors.js';
import type { OutputOptions } from '../output/output.js';

/** The global options every command inherits. */
export interface GlobalOptions extends OutputOptions {
  /** `-p, --profile`. */
  profile?: string;
  /** `--config FILE`. */
  config?: string;
  /** `--token-storage keychain|file|auto` (checked where the token cache is made). */
  tokenStorage?: string;
}

/** What a command module's `run` receives besides its own options. */
export interface Invocation {
  ctx: Context;
  global: GlobalOptions;
  /** The whole program, every command defined (only `completion` reads it). */
  program: Command;
}

/** Commander's values for one command: its positional arguments in order, and its options. */
export interface ParseInput {
  args: ReadonlyArray<string | undefined>;
  opts: OptionValues;
}

/** One command. Modules export these three functions; `main.ts` needs nothing else of them. */
export interface CommandModule<O = unknown> {
  /**
   * Defines the command on `cmd` (already named): summary, description, arguments, options and
   * help examples. Returns the command that runs (itself, or a subcommand such as `broker serve`).
   */
  define(cmd: Command): Command;
  /**
   * Commander's values → the command's typed options.
   * @throws UsageError naming the flag whose value is wrong.
   */
  parse(input: ParseInput): O;
  /**
   * Runs the command; returns its outcome (`ok`, or a negative answer such as `not_signed_in`).
   * Errors are thrown; `main.ts` alone turns either into the exit code (errors.ts `EXIT_CODES`).
   */
  run(inv: Invocation, options: O): Promise<Outcome>;
}

/** The value of a string option, or undefined. */
export function optString(opts: OptionValues, key: string): string | undefined {
  const value: unknown = opts[key];
  return typeof value === 'string' ? value : undefined;
}

/** The values of a repeatable string option. */
export function optStrings(opts: OptionValues, key: string): string[] | undefined {
  const value: unknown = opts[key];
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : undefined;
}

/** A boolean flag (`--all`); a `--no-x` flag is `false` when given. */
export function optFlag(opts: OptionValues, key: string): boolean {
  return opts[key] === true;
}

function isOneOf<T extends string>(value: unknown, choices: readonly T[]): value is T {
  return typeof value === 'string' && (choices as readonly string[]).includes(value);
}

/** The value of an option with `.choices(list)`: commander has already refused anything else. */
export function optChoice<T extends string>(opts: OptionValues, key: string, choices: readonly T[]): T | undefined {
  const value: unknown = opts[key];
  return isOneOf(value, choices) ? value : undefined;
}
