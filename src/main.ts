/**
 * Builds the commander program and is the one place where outcomes and errors become exit codes.
 * Each command lives in its own module (src/commands/<name>.ts: definition, typed options, run);
 * only the module of the command named on the command line is loaded and defined in full, which
 * spares every start most of the program (the start-up budget). Help and completion, which show
 * every command, load them all.
 */
import { Command, CommanderError, Option } from 'commander';
import type { CommandModule, GlobalOptions } from './commands/invocation.js';
import type { Context } from './context.js';
import { describeError, exitCode, isAuthbridgeError, type ExitClass, type Outcome } from './errors.js';
import { safeJson, safeLines, safeText } from './util/safe-text.js';

export const VERSION = '0.1.0';

/**
 * Every command, in the order help lists them, and how to load its module. The build reads this
 * table too (scripts/build.mjs): each module not bundled into dist/cli.cjs becomes its own file.
 */
const COMMANDS: Readonly<Record<string, () => Promise<CommandModule>>> = {
  decode: () => import('./commands/decode.js'),
  verify: () => import('./commands/verify.js'),
  inspect: () => import('./commands/inspect.js'),
  config: () => import('./commands/config.js'),
  login: () => import('./commands/login.js'),
  status: () => import('./commands/status.js'),
  token: () => import('./commands/token.js'),
  refresh: () => import('./commands/refresh.js'),
  introspect: () => import('./commands/introspect.js'),
  logout: () => import('./commands/logout.js'),
  switch: () => import('./commands/switch.js'),
  exchange: () => import('./commands/exchange.js'),
  broker: () => import('./commands/broker.js'),
  demo: () => import('./commands/demo.js'),
  doctor: () => import('./commands/doctor.js'),
  completion: () => import('./commands/completion.js'),
};

/**
 * The modules this command line needs: those of the commands it names, or every one when it
 * names none (help, or an unknown command) or asks for a completion script; none for a bare
 * `--version`.
 */
async function loadModules(argv: string[]): Promise<Map<string, CommandModule>> {
  const rest = argv.slice(2);
  const named = rest.filter((arg) => Object.hasOwn(COMMANDS, arg));
  if (named.length === 0 && (rest.includes('-V') || rest.includes('--version')) && !rest.some((a) => a === '-h' || a === '--help' || a === 'help')) {
    return new Map();
  }
  const names = named.length === 0 || named.includes('completion') ? Object.keys(COMMANDS) : [...new Set(named)];
  const modules = await Promise.all(names.map(async (name) => [name, await COMMANDS[name]!()] as const));
  return new Map(modules);
}

function globalOptions(cmd: Command): GlobalOptions & { caFile?: string } {
  const o = cmd.optsWithGlobals();
  return {
    json: Boolean(o.json),
    color: o.color !== false,
    debug: Boolean(o.debug),
    verbose: Boolean(o.verbose),
    profile: typeof o.profile === 'string' ? o.profile : undefined,
    config: typeof o.config === 'string' ? o.config : undefined,
    tokenStorage: typeof o.tokenStorage === 'string' ? o.tokenStorage : undefined,
    caFile: typeof o.caFile === 'string' ? o.caFile : undefined,
  };
}

function build(ctx: Context, modules: Map<string, CommandModule>, setOutcome: (outcome: Outcome) => void): Command {
  const program = new Command('authbridge');
  program
    .description('Sign in with OAuth/OIDC, verify and explain tokens, exchange them with a broker.')
    .version(VERSION, '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help')
    .option('--json', 'print one JSON document on stdout')
    .option('--no-color', 'no colour, even on a terminal')
    .option('--debug', 'print the error chain and stack on failure')
    .option('--verbose', 'trace HTTP requests on stderr (secrets masked)')
    .option('-p, --profile <name>', 'profile to use (env AUTHBRIDGE_PROFILE)')
    .addOption(new Option('--token-storage <kind>', 'where tokens are kept (env AUTHBRIDGE_TOKEN_STORAGE; default auto: the keychain if reachable)').choices(['auto', 'keychain', 'file']))
    .option('--config <file>', 'config file (env AUTHBRIDGE_CONFIG); for broker serve, the broker config')
    .option('--ca-file <file>', 'PEM file of CA certificates to trust besides the system ones (also NODE_EXTRA_CA_CERTS)')
    .showSuggestionAfterError(true)
    // A subcommand's help lists the options it inherits (gh's INHERITED FLAGS); set before the
    // commands are made, which copy it.
    .configureHelp({ showGlobalOptions: true })
    .configureOutput({
      writeOut: (s) => void ctx.stdout.write(s),
      writeErr: (s) => void ctx.stderr.write(s),
      // Commander's own messages are rephrased in main() into the contract's one-line form.
      outputError: () => {},
    })
    .exitOverride();

  for (const name of Object.keys(COMMANDS)) {
    // Every command is registered by name (unknown-command suggestions see them all); only the
    // loaded ones are defined in full.
    const cmd = program.command(name);
    const mod = modules.get(name);
    if (!mod) continue;
    mod.define(cmd).action(async (...params: unknown[]) => {
      const command = params[params.length - 1] as Command;
      // Commander passes the declared arguments, then the options object, then the command.
      const args = params.slice(0, -2).map((a) => (typeof a === 'string' ? a : undefined));
      const { caFile, ...global } = globalOptions(command);
      const runCtx = caFile && ctx.withCaFile ? await ctx.withCaFile(caFile) : ctx;
      const options = mod.parse({ args, opts: command.opts() });
      setOutcome(await mod.run({ ctx: runCtx, global, program }, options));
    });
  }
  return program;
}

function commanderMessage(err: CommanderError): string {
  return err.message.replace(/^error: /, '').replace(/\n.*/s, '');
}

/**
 * The command words of the command line (`broker keys retire `), each followed by a space, as far
 * as they name commands: for a hint that repeats the command. Empty when none does.
 */
function commandPath(program: Command | undefined): string {
  let words = '';
  let command = program;
  for (const arg of program?.args ?? []) {
    command = command?.commands.find((c) => c.name() === arg);
    if (!command) break;
    words += `${arg} `;
  }
  return words;
}

/** Commander's "(Did you mean verify?)" line, as a sentence: `Did you mean 'verify'?`. */
function commanderSuggestion(err: CommanderError): string | undefined {
  const similar = /\(Did you mean (?:one of )?(.+)\?\)/.exec(err.message)?.[1];
  if (!similar) return undefined;
  const names = similar.split(', ').map((name) => `'${name}'`);
  return names.length === 1 ? `Did you mean ${names[0]}?` : `Did you mean one of ${names.join(', ')}?`;
}

/**
 * Runs the CLI with `argv` (as in `process.argv`) and returns the exit code.
 * Never throws; never prints a stack trace unless `--debug` is given.
 */
export async function main(argv: string[], ctx: Context): Promise<number> {
  let outcome: Outcome = 'ok';
  let program: Command | undefined;
  const json = argv.includes('--json');
  const debug = argv.includes('--debug');
  try {
    program = build(ctx, await loadModules(argv), (o) => {
      outcome = o;
    });
    await program.parseAsync(argv);
    return exitCode(outcome);
  } catch (err) {
    let exitClass: ExitClass;
    let message: string;
    let hint: string | undefined;
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return 0;
      exitClass = 'usage';
      message = `invalid usage: ${commanderMessage(err)}`;
      const command = commandPath(program);
      // An opaque token may begin with "-" (base64url): taken for an option, it needs `--` before it.
      const unknown = err.code === 'commander.unknownOption' ? /'(-[^'=]{15,})'/.exec(err.message)?.[1] : undefined;
      const suggestion = commanderSuggestion(err);
      hint = unknown
        ? `A token or key id that begins with "-" goes after "--": authbridge ${command}-- ${unknown.slice(0, 8)}…`
        : `${suggestion ? `${suggestion} ` : ''}Run 'authbridge ${command}--help' for usage.`;
    } else if (isAuthbridgeError(err)) {
      exitClass = err.exitClass;
      message = err.message;
      hint = err.hint;
    } else {
      exitClass = 'internal';
      message = `internal error: ${describeError(err)}`;
      hint = debug ? undefined : 'This is a bug in authbridge; run again with --debug and report the output.';
    }
    // Messages quote servers, tokens and files (an IdP's error_description, a discovery issuer):
    // one line, every control escaped, so none can redraw the terminal.
    message = safeText(message);
    ctx.stderr.write(`authbridge: ${message}\n`);
    if (hint) ctx.stderr.write(`${safeText(hint)}\n`);
    if (debug) ctx.stderr.write(`${safeLines(debugChain(err))}\n`);
    if (json) ctx.stdout.write(`${safeJson({ error: { code: exitClass, message } })}\n`);
    return exitCode(exitClass);
  }
}

function debugChain(err: unknown): string {
  const lines: string[] = [];
  let current: unknown = err;
  for (let depth = 0; current !== undefined && depth < 8; depth++) {
    lines.push(depth === 0 ? '' : 'caused by:', current instanceof Error ? (current.stack ?? current.message) : String(current));
    current = current instanceof Error ? current.cause : undefined;
  }
  return lines.filter(Boolean).join('\n');
}

