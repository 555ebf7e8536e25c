/**
 * Finding 2 of the second review, through the CLI: a config file that another user owns or may
 * write decides where you sign in and where your tokens go (issuer, broker URL). Such a file —
 * the default one, `AUTHBRIDGE_CONFIG` or `--config` — is refused with exit 2, naming it and the
 * fix; a symlinked one is refused; one holding secrets but readable by others is warned about;
 * `doctor`'s `config` check says the same.
 */
import { chmodSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isolatedEnv, runCli, type RunResult } from '../helpers/cli.js';
import { FOREIGN_UID, foreignFile } from '../helpers/owners.js';

// An issuer nothing answers at, at once: doctor's remote checks fail fast.
const CONFIG = { profiles: { default: { issuer: 'http://127.0.0.1:9/idp', clientId: 'cli' } } };

/** The default config file of a fresh HOME, written with `mode`. */
function defaultConfig(content: unknown, mode: number): { env: Record<string, string>; file: string } {
  const env = isolatedEnv();
  const dir = join(env.XDG_CONFIG_HOME!, 'authbridge');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'config.json');
  writeFileSync(file, JSON.stringify(content));
  chmodSync(file, mode);
  return { env, file };
}

function expectRefused(result: RunResult, file: string, why: RegExp, fix: string): void {
  expect(result.code, result.stderr).toBe(2);
  const [line, hint, ...rest] = result.stderr.trimEnd().split('\n');
  expect(line).toMatch(/^authbridge: could not load config /);
  expect(line).toContain(file);
  expect(line).toMatch(why);
  expect(hint).toContain(fix);
  expect(rest).toEqual([]);
}

describe('config file strict modes (finding 2 of the second review)', () => {
  it('refuses a group-writable default config: exit 2, the file and `chmod go-w` named', async () => {
    const { env, file } = defaultConfig(CONFIG, 0o664);
    expectRefused(await runCli(['status'], { env }), file, /writable by group \(mode 0664\)/, `chmod go-w ${file}`);
    expectRefused(await runCli(['config', 'get', 'issuer'], { env }), file, /writable by group/, `chmod go-w ${file}`);
  });

  it('refuses a world-writable AUTHBRIDGE_CONFIG, and one given by --config', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'ab-config-')), 'shared.json');
    writeFileSync(file, JSON.stringify(CONFIG));
    chmodSync(file, 0o646);
    expectRefused(await runCli(['status'], { env: { ...isolatedEnv(), AUTHBRIDGE_CONFIG: file } }), file, /writable by others/, `chmod go-w ${file}`);
    expectRefused(await runCli(['--config', file, 'status']), file, /writable by others/, `chmod go-w ${file}`);
  });

  it('refuses a config owned by another user (AUTHBRIDGE_CONFIG and --config)', async () => {
    const file = foreignFile(JSON.stringify(CONFIG));
    const owned = new RegExp(`owned by uid ${FOREIGN_UID}, not by you`);
    expectRefused(await runCli(['status'], { env: { ...isolatedEnv(), AUTHBRIDGE_CONFIG: file } }), file, owned, 'chown');
    expectRefused(await runCli(['--config', file, 'login', '--no-browser']), file, owned, 'chown');
  });

  it('refuses a symlinked config, naming the link', async () => {
    const { env, file } = defaultConfig(CONFIG, 0o600);
    const link = join(mkdtempSync(join(tmpdir(), 'ab-config-')), 'config.json');
    symlinkSync(file, link);
    expectRefused(await runCli(['--config', link, 'status']), link, /is a symlink, which is never followed/, 'the file itself');
    expect((await runCli(['status'], { env })).code).toBe(4);
  });

  it('warns once when a config holding a secret is readable by others, and goes on', async () => {
    const { env, file } = defaultConfig({ profiles: { default: { ...CONFIG.profiles.default, clientSecret: 's3cret' } } }, 0o644);
    const result = await runCli(['config', 'get', 'clientId'], { env });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe('cli\n');
    const warnings = result.stderr.split('\n').filter((l) => l.startsWith('warning: '));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(file);
    expect(warnings[0]).toMatch(/clientSecret.*readable by other users \(mode 0644\)/);
    expect(warnings[0]).toContain(`chmod 600 ${file}`);
    expect(result.stderr).not.toContain('s3cret');
  });

  it.each([
    ['group-writable', 0o664, {}, /writable by group/, (file: string) => `chmod go-w ${file}`],
    ['holding a secret, readable by others', 0o644, { clientSecret: 's3cret' }, /readable by other users/, (file: string) => `chmod 600 ${file}`],
  ])("doctor's config check fails for a config %s, with the fix", async (_name, mode, extra, detail, fix) => {
    const { env, file } = defaultConfig({ profiles: { default: { ...CONFIG.profiles.default, ...extra } } }, mode);
    const result = await runCli(['doctor', '--json'], { env });
    expect(result.code).toBe(2);
    const check = (JSON.parse(result.stdout) as { checks: Array<{ name: string; status: string; detail: string; fix?: string }> }).checks.find(
      (c) => c.name === 'config',
    );
    expect(check).toMatchObject({ status: 'fail', detail: expect.stringMatching(detail) });
    expect(check!.detail).toContain(file);
    expect(check!.fix).toContain(fix(file));
  });
});
