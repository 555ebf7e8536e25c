/**
 * Finding 2 of the second review: the config file was trusted whatever its owner or mode. Like
 * OpenSSH's StrictModes, a config owned by another user or writable by group/others is refused,
 * a symlink is never followed, and one that holds secrets but is readable by others is warned
 * about.
 */
import { chmodSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { readConfigFile } from '../../src/config/config-file.js';
import { UsageError } from '../../src/errors.js';
import { FOREIGN_UID, foreignFile } from '../helpers/owners.js';

const PLAIN = { profiles: { default: { issuer: 'https://idp.example', clientId: 'cli' } } };

function configFile(content: unknown, mode = 0o600): string {
  const file = join(mkdtempSync(join(tmpdir(), 'ab-strict-')), 'config.json');
  writeFileSync(file, JSON.stringify(content));
  chmodSync(file, mode);
  return file;
}

async function refusal(file: string): Promise<UsageError> {
  const err = await readConfigFile(file, { warn: () => {} }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(UsageError);
  return err as UsageError;
}

describe('config strict modes (finding 2 of the second review)', () => {
  it.each([
    ['group', 0o660, /writable by group \(mode 0660\)/],
    ['others', 0o606, /writable by others \(mode 0606\)/],
    ['group and others', 0o666, /writable by group and others \(mode 0666\)/],
  ])('refuses a config writable by %s, naming the file and `chmod go-w`', async (_who, mode, why) => {
    const file = configFile(PLAIN, mode);
    const err = await refusal(file);
    expect(err.message).toContain(file);
    expect(err.message).toMatch(why);
    expect(err.hint).toContain(`chmod go-w ${file}`);
  });

  it('refuses a config owned by another user', async () => {
    const file = foreignFile(JSON.stringify(PLAIN));
    const err = await refusal(file);
    expect(err.message).toContain(file);
    expect(err.message).toMatch(new RegExp(`owned by uid ${FOREIGN_UID}, not by you`));
  });

  it('refuses a symlinked config, naming the link, and never reads through it', async () => {
    const target = configFile(PLAIN);
    const link = join(mkdtempSync(join(tmpdir(), 'ab-strict-')), 'config.json');
    symlinkSync(target, link);
    const err = await refusal(link);
    expect(err.message).toContain(link);
    expect(err.message).toMatch(/is a symlink, which is never followed/);
  });

  it('refuses a FIFO in place of the config without waiting for a writer', { timeout: 10_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ab-strict-'));
    const fifo = join(dir, 'config.json');
    execFileSync('mkfifo', ['-m', '600', fifo]);
    const err = await refusal(fifo);
    expect(err.message).toMatch(/is not a regular file/);
  });

  it.each([
    ['clientSecret', { clientSecret: 's3cret' }],
    ['broker.clientSecret', { broker: { url: 'https://b.example', clientSecret: 's3cret' } }],
    ['broker.apiKey', { broker: { url: 'https://b.example', apiKey: 'k' } }],
  ])('warns when a config holding %s is readable by others, and still reads it', async (field, extra) => {
    const file = configFile({ profiles: { work: { ...PLAIN.profiles.default, ...extra } } }, 0o644);
    const warnings: string[] = [];
    const config = await readConfigFile(file, { warn: (w) => warnings.push(`${w.message} | ${w.fix}`) });
    expect(config.profiles.work?.clientId).toBe('cli');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(file);
    expect(warnings[0]).toContain(field);
    expect(warnings[0]).toMatch(/readable by other users \(mode 0644\)/);
    expect(warnings[0]).toContain(`chmod 600 ${file}`);
  });

  it('does not warn about a readable config without secrets, nor a 0600 one with them', async () => {
    const warnings: unknown[] = [];
    await readConfigFile(configFile(PLAIN, 0o644), { warn: (w) => warnings.push(w) });
    await readConfigFile(configFile({ profiles: { a: { clientSecret: 's' } } }, 0o600), { warn: (w) => warnings.push(w) });
    expect(warnings).toEqual([]);
  });
});
