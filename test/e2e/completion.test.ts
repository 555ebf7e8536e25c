/**
 * `authbridge completion bash|zsh|fish`, and `--help` of every command carrying an example.
 * The bash script is also run in bash, as the shell would on <TAB>.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { BIN, isolatedEnv, runCli } from '../helpers/cli.js';

/** The top-level commands as `authbridge --help` lists them. */
let commands: string[];

beforeAll(async () => {
  const help = await runCli(['--help']);
  expect(help.code).toBe(0);
  const section = help.stdout.split(/^Commands:$/m)[1]!;
  commands = [...section.matchAll(/^ {2}([a-z][\w-]*)/gm)].map((m) => m[1]!);
  expect(commands).toEqual(expect.arrayContaining(['decode', 'verify', 'login', 'exchange', 'broker', 'demo', 'doctor', 'completion', 'help']));
});

describe('completion', () => {
  it.each(['bash', 'zsh', 'fish'])('%s: the script mentions every top-level command', async (shell) => {
    const result = await runCli(['completion', shell]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toBe('');
    for (const command of commands) expect(result.stdout).toMatch(new RegExp(`(^|[\\s"'(])${command}([\\s:"')]|$)`, 'm'));
    expect(result.stdout).toContain(shell === 'fish' ? '-l issuer' : '--issuer');
  });

  it.each([
    ['zsh', ["'1:config:(set get list unset profiles)'", "'2:config:(issuer clientId ", ':value:_authbridge_values config profiles', '(broker\\.protocol) compadd rfc8693 synerise ;;']],
    ['fish', ["-a 'set get list unset profiles'", "__fish_seen_subcommand_from set get list unset profiles; and not __fish_seen_subcommand_from issuer", "-x -a '(authbridge config profiles 2>/dev/null)'", "-n '__fish_seen_subcommand_from config; and __fish_seen_subcommand_from broker.protocol' -a 'rfc8693 synerise'"]],
  ])('%s: config actions and keys, and profile names asked of authbridge on <TAB>', async (shell, parts) => {
    const script = (await runCli(['completion', shell])).stdout;
    for (const part of parts) expect(script).toContain(part);
  });

  it('wraps the script in one JSON document with --json', async () => {
    const plain = await runCli(['completion', 'zsh']);
    const json = await runCli(['completion', 'zsh', '--json']);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual({ shell: 'zsh', script: plain.stdout });
  });

  it('refuses another shell with exit 2', async () => {
    const result = await runCli(['completion', 'powershell']);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^authbridge: invalid usage: .*powershell.*(bash, zsh, fish|bash.*zsh.*fish)/);
  });

  describe('bash, on <TAB>', () => {
    let script: string;
    beforeAll(async () => {
      const dir = mkdtempSync(join(tmpdir(), 'authbridge-completion-'));
      script = join(dir, 'authbridge.bash');
      writeFileSync(script, (await runCli(['completion', 'bash'])).stdout);
      const syntax = spawnSync('bash', ['-n', script], { encoding: 'utf8' });
      expect(syntax.status, syntax.stderr).toBe(0);
    });

    /**
     * What bash would offer for the command line `words` (the last one being completed); with
     * `env`, `authbridge` (which the script runs for profile names) is this checkout's CLI.
     */
    function complete(...words: string[]): string[] {
      return completeIn(undefined, ...words);
    }
    function completeIn(env: Record<string, string> | undefined, ...words: string[]): string[] {
      const array = ['authbridge', ...words].map((w) => `'${w}'`).join(' ');
      const cli = env ? `authbridge() { '${process.execPath}' '${BIN}' "$@"; }; ` : '';
      const run = spawnSync(
        'bash',
        ['-c', `${cli}source '${script}'; COMP_WORDS=(${array}); COMP_CWORD=${words.length}; _authbridge; printf '%s\\n' "\${COMPREPLY[@]}"`],
        { encoding: 'utf8', env },
      );
      expect(run.status, run.stderr).toBe(0);
      return run.stdout.split('\n').filter(Boolean).sort();
    }

    it.each([
      [['ver'], ['verify']],
      [['d'], ['decode', 'demo', 'doctor']],
      [['--profile', 'work', 'sta'], ['status']],
      [['token', '--type', ''], ['access', 'broker', 'id', 'refresh']],
      [['verify', '--type', ''], ['access', 'id']],
      [['broker', 's'], ['serve']],
      [['broker', 'serve', '--d'], ['--db', '--debug']],
      [['demo', '--h'], ['--headless', '--help']],
      [['completion', ''], ['bash', 'fish', 'zsh']],
      [['login', '--no-b'], ['--no-browser']],
      [['config', ''], ['get', 'list', 'profiles', 'set', 'unset']],
      [['config', 'set', 'br'], ['broker.apiKey', 'broker.audience', 'broker.clientId', 'broker.clientKey', 'broker.clientSecret', 'broker.protocol', 'broker.subjectTokenType', 'broker.url']],
      [['-p', 'work', 'config', 'get', 'cl'], ['clientAuthMethod', 'clientId', 'clientKey', 'clientKeyAlg', 'clientKeyId', 'clientSecret']],
      [['exchange', '--broker-protocol', ''], ['rfc8693', 'synerise']],
      [['config', 'set', 'broker.protocol', ''], ['rfc8693', 'synerise']],
      [['config', 'set', 'broker.subjectTokenType', 'i'], ['id_token']],
      [['ins'], ['inspect']],
      [['exchange', '--subject-token-type', ''], ['access_token', 'id_token', 'jwt']],
      [['broker', ''], ['customers', 'keys', 'serve']],
      [['config', 'set', 'redirectHost', ''], ['127.0.0.1', 'localhost']],
    ])('authbridge %j → %j', (words, expected) => {
      expect(complete(...words)).toEqual(expected);
    });

    it('-p and --profile complete the profile names there are now (config file and cache)', async () => {
      const env = isolatedEnv();
      expect((await runCli(['config', 'set', 'clientId', 'w', '--profile', 'work', '--create'], { env })).code).toBe(0);
      expect((await runCli(['config', 'set', 'clientId', 's', '--profile', 'staging', '--create'], { env })).code).toBe(0);
      expect(completeIn(env, '-p', '')).toEqual(['staging', 'work']);
      expect(completeIn(env, 'status', '--profile', 'w')).toEqual(['work']);
    });
  });
});

describe('--help', () => {
  it('shows a real example for every command', async () => {
    const paths = [...commands.filter((c) => c !== 'help').map((c) => [c]), ['broker', 'serve']];
    for (const path of paths) {
      const result = await runCli([...path, '--help']);
      expect(result.code, path.join(' ')).toBe(0);
      const examples = /\nExamples?:\n((?: {2}.*\n?)+)/.exec(result.stdout)?.[1] ?? '';
      expect(examples, `${path.join(' ')} --help has no examples`).toContain(`authbridge ${path.join(' ')}`);
    }
  }, 60_000);
});
