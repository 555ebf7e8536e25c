/**
 * Builds the commander program and is the one place where errors become exit codes.
 * Each command's module is imported only when that command runs (start-up budget).
 */
import { Argument, Command, CommanderError, Help, Option } from 'commander';
import type { Context } from './context.js';
import { EXIT_CODES, describeError, isAuthbridgeError, type ExitClass } from './errors.js';
import type { GlobalOptions } from './output/output.js';

export const VERSION = '0.1.0';

/** What a command module's `run` receives. */
export interface Invocation {
  ctx: Context;
  global: GlobalOptions;
  args: string[];
  opts: Record<string, unknown>;
}

export type CommandModule = { run(inv: Invocation): Promise<number> };

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

function globalOptions(cmd: Command): GlobalOptions {
  const o = cmd.optsWithGlobals();
  return {
    json: Boolean(o.json),
    color: o.color !== false,
    debug: Boolean(o.debug),
    verbose: Boolean(o.verbose),
    profile: o.profile as string | undefined,
    config: o.config as string | undefined,
  };
}

function build(ctx: Context, argv: string[], setExit: (code: number) => void): Command {
  const program = new Command('authbridge');
  // A command is defined in full (options, arguments, help text, action) only when it can run, its
  // name being on the command line, or be shown (the help listing, a completion script): the others
  // are registered by name alone until then, which spares every start most of commander's work.
  const operands = new Set(argv.slice(2));
  const undefinedCommands = new Map<Command, (cmd: Command) => unknown>();
  const command = (parent: Command, name: string, define: (cmd: Command) => unknown): void => {
    const cmd = parent.command(name);
    if (operands.has(name)) define(cmd);
    else undefinedCommands.set(cmd, define);
  };
  const defineAll = (): void => {
    for (const [cmd, define] of undefinedCommands) define(cmd);
    undefinedCommands.clear();
  };
  const lazy =
    (load: () => Promise<CommandModule>) =>
    async (...params: unknown[]) => {
      const cmd = params[params.length - 1] as Command;
      const args = (params.slice(0, -2) as Array<string | string[] | undefined>).flat().filter((a): a is string => a !== undefined);
      const caFile = cmd.optsWithGlobals().caFile as string | undefined;
      const runCtx = caFile && ctx.withCaFile ? await ctx.withCaFile(caFile) : ctx;
      const mod = await load();
      setExit(await mod.run({ ctx: runCtx, global: globalOptions(cmd), args, opts: cmd.opts() }));
    };

  program
    .description('Sign in with OAuth/OIDC, verify and explain tokens, exchange them with a broker.')
    .version(VERSION, '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help')
    .option('--json', 'print one JSON document on stdout')
    .option('--no-color', 'no colour, even on a terminal')
    .option('--debug', 'print the error chain and stack on failure')
    .option('--verbose', 'trace HTTP requests on stderr (secrets masked)')
    .option('-p, --profile <name>', 'profile to use (env AUTHBRIDGE_PROFILE)')
    .option('--config <file>', 'config file (env AUTHBRIDGE_CONFIG)')
    .option('--ca-file <file>', 'PEM file of CA certificates to trust besides the system ones (also NODE_EXTRA_CA_CERTS)')
    .showSuggestionAfterError(true)
    .configureOutput({
      writeOut: (s) => void ctx.stdout.write(s),
      writeErr: (s) => void ctx.stderr.write(s),
      // Commander's own messages are rephrased in main() into the contract's one-line form.
      outputError: () => {},
    })
    .exitOverride()
    // Every help text lists its commands through here (inherited by the commands created below).
    .configureHelp({
      visibleCommands(cmd: Command): Command[] {
        defineAll();
        return Help.prototype.visibleCommands.call(this, cmd);
      },
    });

  command(program, 'decode', (cmd) =>
    cmd
      .summary('show a JWT\'s header and claims (no verification)')
      .description('Decode a JWS or JWE without verifying it. Reads stdin when TOKEN is "-" or absent.')
      .argument('[token]', 'the token, "Bearer …" accepted; "-" reads stdin')
      .addHelpText('after', '\nExamples:\n  authbridge decode eyJhbGciOi…\n  authbridge token --type id | authbridge decode --json')
      .action(lazy(() => import('./commands/decode.js'))),
  );

  command(program, 'verify', (cmd) =>
    cmd
      .summary('verify a JWT and explain every check')
      .description('Verify signature, issuer, audience, expiry and more; every check is reported.')
      .argument('[token]', 'the token; "-" or absent reads stdin')
      .option('--issuer <url>', 'expected iss (default: the profile\'s issuer)')
      .option('--audience <aud>', 'accepted aud, repeatable (default: the profile\'s clientId)', collect)
      .option('--jwks-uri <url>', 'fetch keys from this JWKS URL')
      .option('--jwks <file>', 'use keys from a local JWKS file (offline)')
      .option('--secret <secret>', 'shared secret: the only way HS256/384/512 are accepted')
      .option('--algorithms <list>', 'comma-separated allow-list (default: what the key set allows)')
      .option('--clock-tolerance <seconds>', 'leeway for exp/nbf/iat', '0')
      .option('--now <time>', 'judge the token as of this moment (ISO-8601 or epoch seconds)')
      .option('--max-age <seconds>', 'reject if auth_time (else iat) is older')
      .option('--nonce <value>', 'expected nonce')
      .option('--claim <name=value>', 'expected claim value, repeatable', collect)
      .addOption(new Option('--type <type>', 'token type expectations').choices(['id', 'access']))
      .option('--batch', 'one token a line on stdin, NDJSON results in input order')
      .option('--timeout <seconds>', 'time limit for each HTTP request', '10')
      .addHelpText(
        'after',
        '\nExamples:\n  authbridge verify "$ID_TOKEN" --issuer https://idp.example.com --audience my-app\n' +
          '  authbridge verify --jwks keys.json --issuer https://idp.example.com --audience api --json < token.txt\n' +
          '  cut -f2 tokens.tsv | authbridge verify --batch --jwks keys.json --issuer https://idp --audience api',
      )
      .action(lazy(() => import('./commands/verify.js'))),
  );

  command(program, 'config', (cmd) =>
    cmd
      .summary('show or change a profile\'s settings')
      .description('Edit the config file for a profile (--profile, default "default").')
      .argument('[action]', 'set, get, list or unset (default list)')
      .argument('[key]', 'issuer, clientId, clientSecret, scopes, redirectPort, broker.url, broker.clientId, …')
      .argument('[value]', 'the new value (set)')
      .option('--show-secrets', 'list secrets in clear')
      .addHelpText(
        'after',
        '\nExamples:\n  authbridge config set issuer https://idp.example.com\n  authbridge config set clientId my-cli --profile work\n  authbridge config list --profile work',
      )
      .action(lazy(() => import('./commands/config.js'))),
  );

  // sign-in commands (issue 3) register here
  const brokerOptions = (cmd: Command): Command =>
    cmd
      .option('--broker-url <url>', "the broker's base URL (env AUTHBRIDGE_BROKER_URL)")
      .option('--broker-client-id <id>', 'the client id at the broker (env AUTHBRIDGE_BROKER_CLIENT_ID)')
      .option('--broker-client-secret <secret>', 'for a confidential broker client (env AUTHBRIDGE_BROKER_CLIENT_SECRET)')
      .option('--broker-audience <aud>', 'the audience to ask the broker for (env AUTHBRIDGE_BROKER_AUDIENCE)')
      .addOption(new Option('--broker-protocol <protocol>', 'how to talk to the broker (env AUTHBRIDGE_BROKER_PROTOCOL)').choices(['rfc8693', 'synerise']))
      .option('--broker-api-key <key>', 'API key for the synerise protocol (env AUTHBRIDGE_BROKER_API_KEY)')
      .addOption(
        new Option('--subject-token-type <type>', 'which IdP token to hand the broker (default access_token)').choices(['access_token', 'id_token', 'jwt']),
      );

  const idpOptions = (cmd: Command): Command =>
    cmd
      .option('--issuer <url>', "the IdP's issuer (env AUTHBRIDGE_ISSUER; default: the profile's)")
      .option('--client-id <id>', 'the client id at the IdP (env AUTHBRIDGE_CLIENT_ID)')
      .option('--client-secret <secret>', 'for a confidential client (env AUTHBRIDGE_CLIENT_SECRET)');

  command(program, 'login', (cmd) =>
    brokerOptions(idpOptions(
      cmd
        .summary('sign in through the browser (Authorization Code + PKCE)')
        .description(
          'Sign in at the profile\'s IdP in the browser (PKCE S256, state, nonce) through a loopback ' +
            'server on 127.0.0.1, verify the ID token, and cache the tokens for the profile.',
        ),
    ))
      .option('--scopes <list>', 'space- or comma-separated scopes (default: openid profile email offline_access)')
      .option('--port <port>', 'loopback port for the redirect URI (default: a free one; profile redirectPort)')
      .option('--no-browser', 'print the URL instead of opening a browser; accepts the redirected URL pasted on stdin')
      .option('--timeout <seconds>', 'how long to wait for the browser to come back', '300')
      .option('--exchange', "exchange the new IdP token with the profile's broker right after")
      .addHelpText(
        'after',
        '\nExamples:\n  authbridge login --issuer https://idp.example.com --client-id my-cli\n' +
          '  authbridge login --profile work --no-browser\n  authbridge login --json | jq .subject',
      )
      .action(lazy(() => import('./commands/login.js'))),
  );

  command(program, 'status', (cmd) =>
    cmd
      .summary('show whether you are signed in (offline; --check asks the IdP)')
      .description('Show the cached session of the profile: subject, email, issuer, token expiry, refresh token. Exit 0 if signed in, 4 if not.')
      .option('--all', 'every profile in the config file and the cache')
      .option('--check', 'ask the IdP (userinfo, else introspection) whether the session is still live')
      .addHelpText('after', '\nExamples:\n  authbridge status\n  authbridge status --all --json\n  authbridge status --check || authbridge login')
      .action(lazy(() => import('./commands/status.js'))),
  );

  command(program, 'token', (cmd) =>
    idpOptions(
      cmd
        .summary('print a cached token (refreshed first if expired)')
        .description('Print one raw token and a newline on stdout. An expired access or ID token is refreshed first when a refresh token is held; otherwise exit 4.'),
    )
      .addOption(new Option('--type <type>', 'which token').choices(['access', 'id', 'refresh', 'broker']).default('access'))
      .addHelpText('after', '\nExamples:\n  curl -H "Authorization: Bearer $(authbridge token)" https://api.example.com/\n  authbridge token --type id | authbridge decode')
      .action(lazy(() => import('./commands/token.js'))),
  );

  command(program, 'refresh', (cmd) =>
    idpOptions(
      cmd
        .summary('renew the session with the refresh token')
        .description('Run the refresh-token grant and update the cache. A refused refresh token (invalid_grant) exits 5 and marks the session expired.'),
    )
      .addHelpText('after', '\nExamples:\n  authbridge refresh\n  authbridge refresh --profile work --json')
      .action(lazy(() => import('./commands/refresh.js'))),
  );

  command(program, 'introspect', (cmd) =>
    idpOptions(
      cmd
        .summary('ask the IdP whether a token is active (RFC 7662)')
        .description('Introspect TOKEN (or the cached token) at the IdP\'s introspection endpoint, authenticated as the profile\'s client. Exit 0 if active, 1 if not.')
        .argument('[token]', 'the token; "-" reads stdin; absent: the cached one (--type)'),
    )
      .addOption(new Option('--type <type>', 'which cached token, and the token_type_hint sent').choices(['access', 'refresh']))
      .option('--broker', "ask the profile's broker about its token (default: the cached broker token)")
      .option('--broker-url <url>', "the broker's base URL (env AUTHBRIDGE_BROKER_URL)")
      .option('--broker-client-id <id>', 'the client id at the broker (env AUTHBRIDGE_BROKER_CLIENT_ID)')
      .option('--broker-client-secret <secret>', 'for a confidential broker client (env AUTHBRIDGE_BROKER_CLIENT_SECRET)')
      .addHelpText(
        'after',
        '\nExamples:\n  authbridge introspect\n  authbridge introspect --type refresh --json\n  authbridge introspect "$TOKEN"\n  authbridge introspect --broker',
      )
      .action(lazy(() => import('./commands/introspect.js'))),
  );

  command(program, 'logout', (cmd) =>
    idpOptions(
      cmd
        .summary('remove the cached tokens and revoke them at the IdP')
        .description('Remove the profile\'s tokens from the cache, then revoke them at the IdP (RFC 7009, refresh token first). Remote failures are warnings.'),
    )
      .option('--local', 'only remove them from the cache')
      .option('--all', 'every profile in the cache')
      .addHelpText('after', '\nExamples:\n  authbridge logout\n  authbridge logout --all --local')
      .action(lazy(() => import('./commands/logout.js'))),
  );

  command(program, 'exchange', (cmd) =>
    brokerOptions(
      cmd
        .summary("exchange the IdP token for the broker's own (RFC 8693)")
        .description(
          "Hand the cached IdP token (or --subject-token) to the profile's broker, verify the broker's token against its JWKS, and cache it.",
        ),
    )
      .option('--subject-token <token>', 'exchange this token instead of the cached one')
      .option('--scope <scope>', 'scope to ask the broker for')
      .option('--resource <uri>', 'resource to ask the broker for')
      .option('--timeout <seconds>', 'time limit for each HTTP request', '30')
      .addHelpText(
        'after',
        '\nExamples:\n  authbridge exchange --broker-url https://broker.example.com --broker-client-id cli\n' +
          '  authbridge exchange --json | jq .account_status\n  authbridge token --type broker',
      )
      .action(lazy(() => import('./commands/exchange.js'))),
  );

  command(program, 'broker', (broker) => {
    broker
      .summary('run the reference token broker')
      .description('The reference token broker (RFC 8693 token exchange, Synerise-compatible login).')
      .addHelpText('after', '\nExamples:\n  authbridge broker serve --config broker.json --port 8787');
    broker
      .command('serve')
      .summary('serve the broker over HTTP until SIGTERM/SIGINT')
      .description(
        'Validate tokens from trusted IdPs or backends, register customers in SQLite, issue broker JWTs.\n' +
          'Needs --config FILE (the broker config, env AUTHBRIDGE_BROKER_CONFIG).',
      )
      .option('--host <host>', 'address to listen on', '127.0.0.1')
      .option('--port <port>', 'port to listen on (0 picks a free one)', '8787')
      .option('--db <file>', 'SQLite database (default $XDG_DATA_HOME/authbridge/broker.db)')
      .addHelpText(
        'after',
        '\nExamples:\n  authbridge broker serve --config broker.json\n  authbridge broker serve --config broker.json --port 0 --db /tmp/broker.db',
      )
      .action(lazy(() => import('./commands/broker-serve.js')));
  });

  command(program, 'demo', (cmd) =>
    cmd
      .summary('the whole flow against an embedded IdP and broker, nothing to configure')
      .description(
        'Start an OpenID provider (user demo, password demo) and the reference broker on 127.0.0.1, with a temporary ' +
          'config and token cache, then run login, the ID token checklist, the exchange, status and logout. ' +
          'Nothing of yours is read or written (--profile and --config do not apply). Ctrl-C stops everything.',
      )
      .option('--headless', 'complete the login over HTTP as the demo user instead of opening a browser')
      .option('--keep', 'skip logout and keep both servers running until Ctrl-C; prints the env vars to try other commands')
      .option('--timeout <seconds>', 'how long to wait for the browser to come back (default 300; 60 with --headless)')
      .addHelpText(
        'after',
        '\nExamples:\n  npx authbridge demo --headless\n  authbridge demo            # sign in in your browser as demo / demo\n' +
          '  authbridge demo --keep     # then, in another terminal, the printed exports and `authbridge status`',
      )
      .action(lazy(() => import('./commands/demo.js'))),
  );

  command(program, 'doctor', (cmd) =>
    idpOptions(
      cmd
        .summary("check a profile end to end and say what to fix")
        .description(
          'Check the profile: issuer and client id set, discovery reachable and naming the issuer, JWKS with usable keys, ' +
            "PKCE S256, the redirect URI and port, clock skew against the IdP, the token cache's permissions, and the broker. " +
            'Exit 0 if all is well, 2 for a problem in the configuration or on this machine, 3 for a remote one.',
        ),
    )
      .option('--port <port>', 'the loopback port login would use (default: the profile\'s redirectPort, else a free one)')
      .option('--broker-url <url>', "the broker's base URL (env AUTHBRIDGE_BROKER_URL)")
      .option('--now <time>', "judge the clock as if this machine's time were TIME (ISO-8601 or epoch seconds)")
      .option('--timeout <seconds>', 'time limit for each HTTP request', '10')
      .addHelpText('after', '\nExamples:\n  authbridge doctor\n  authbridge doctor --profile work --json\n  authbridge doctor --issuer https://idp.example.com --client-id my-cli')
      .action(lazy(() => import('./commands/doctor.js'))),
  );

  command(program, 'completion', (cmd) =>
    cmd
      .summary('print a shell completion script (bash, zsh, fish)')
      .description('Print a completion script for SHELL, built from the commands and options of this version.')
      .addArgument(new Argument('<shell>', 'bash, zsh or fish').choices(['bash', 'zsh', 'fish']))
      .addHelpText(
        'after',
        '\nExamples:\n  source <(authbridge completion bash)            # in ~/.bashrc\n' +
          '  authbridge completion zsh > "${fpath[1]}/_authbridge"\n  authbridge completion fish > ~/.config/fish/completions/authbridge.fish',
      )
      .action(async (shell: string, _opts: unknown, cmd: Command) => {
        // The script is built from this very program, so it never lags behind the commands.
        defineAll();
        const mod = await import('./commands/completion.js');
        setExit(await mod.run({ ctx, global: globalOptions(cmd), args: [shell], opts: cmd.opts() }, program));
      }),
  );

  return program;
}

function commanderMessage(err: CommanderError): string {
  return err.message.replace(/^error: /, '').replace(/\n.*/s, '');
}

/**
 * Runs the CLI with `argv` (as in `process.argv`) and returns the exit code.
 * Never throws; never prints a stack trace unless `--debug` is given.
 */
export async function main(argv: string[], ctx: Context): Promise<number> {
  let exitCode = 0;
  const program = build(ctx, argv, (code) => {
    exitCode = code;
  });
  const json = argv.includes('--json');
  const debug = argv.includes('--debug');
  try {
    await program.parseAsync(argv);
    return exitCode;
  } catch (err) {
    let exitClass: ExitClass;
    let message: string;
    let hint: string | undefined;
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return 0;
      exitClass = 'usage';
      message = `invalid usage: ${commanderMessage(err)}`;
      const command = program.args[0] && program.commands.some((c) => c.name() === program.args[0]) ? `${program.args[0]} ` : '';
      // An opaque token may begin with "-" (base64url): taken for an option, it needs `--` before it.
      const unknown = err.code === 'commander.unknownOption' ? /'(-[^'=]{15,})'/.exec(err.message)?.[1] : undefined;
      hint = unknown
        ? `A token that begins with "-" goes after "--": authbridge ${command}-- ${unknown.slice(0, 8)}…`
        : `Run 'authbridge ${command}--help' for usage.`;
    } else if (isAuthbridgeError(err)) {
      exitClass = err.exitClass;
      message = err.message;
      hint = err.hint;
    } else {
      exitClass = 'internal';
      message = `internal error: ${describeError(err)}`;
      hint = debug ? undefined : 'This is a bug in authbridge; run again with --debug and report the output.';
    }
    message = message.replace(/[\r\n]+/g, ' ');
    ctx.stderr.write(`authbridge: ${message}\n`);
    if (hint) ctx.stderr.write(`${hint}\n`);
    if (debug) ctx.stderr.write(`${debugChain(err)}\n`);
    if (json) ctx.stdout.write(`${JSON.stringify({ error: { code: exitClass, message } })}\n`);
    return EXIT_CODES[exitClass];
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

