/**
 * `verify --batch` over more tokens than the worker-thread threshold: output stays in input
 * order, one line a token, with the right verdict for each, and the exit code says whether all
 * were valid.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { isolatedEnv, runCli } from '../helpers/cli.js';
import { jwks, makeKey, sign, type TestKey } from '../helpers/keys.js';

const COUNT = 3000;
let key: TestKey;
let jwksFile: string;
let tokens: string[];

beforeAll(async () => {
  key = await makeKey('ES256');
  jwksFile = join(mkdtempSync(join(tmpdir(), 'ab-batch-')), 'jwks.json');
  writeFileSync(jwksFile, JSON.stringify(jwks(key)));
  const now = Math.floor(Date.now() / 1000);
  tokens = await Promise.all(
    Array.from({ length: COUNT }, (_, i) =>
      // Every 7th token is expired, every 11th is not a JWT at all.
      i % 11 === 5 ? Promise.resolve(`garbage-${i}`) : sign(key, { sub: `user-${i}`, exp: i % 7 === 3 ? now - 60 : now + 3600 }),
    ),
  );
}, 60_000);

const args = () => ['verify', '--batch', '--jwks', jwksFile, '--issuer', 'https://idp.test', '--audience', 'cli'];
/** Worker threads whatever the machine (by default none below three cores). */
const withWorkers = () => ({ ...isolatedEnv(), AUTHBRIDGE_BATCH_WORKERS: '2' });

describe('verify --batch at volume', () => {
  it('answers every token in input order, spread over worker threads', async () => {
    const result = await runCli(args(), { input: `${tokens.join('\n')}\n`, env: withWorkers(), timeoutMs: 60_000 });
    expect(result.code, result.stderr).toBe(1);
    const lines = result.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as { valid: boolean; reason: string | null; payload: { sub?: string } | null });
    expect(lines).toHaveLength(COUNT);
    lines.forEach((line, i) => {
      if (i % 11 === 5) expect(line).toMatchObject({ valid: false, reason: 'malformed', payload: null });
      else if (i % 7 === 3) expect(line).toMatchObject({ valid: false, reason: 'expired', payload: { sub: `user-${i}` } });
      else expect(line).toMatchObject({ valid: true, reason: null, payload: { sub: `user-${i}` } });
    });
    const invalid = lines.filter((l) => !l.valid).length;
    expect(result.stderr).toContain(`${COUNT - invalid} of ${COUNT} token(s) valid`);
  }, 60_000);

  it('reports a line of several megabytes as malformed and verifies the lines around it', async () => {
    const input = `${tokens[0]}\n${'A'.repeat(3 * 1024 * 1024)}\n${tokens[1]}\n`;
    const result = await runCli(args(), { input, timeoutMs: 60_000 });
    expect(result.code, result.stderr).toBe(1);
    const lines = result.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as { valid: boolean; reason: string | null; checks: Array<{ detail: string }> });
    expect(lines.map((l) => l.reason)).toEqual([null, 'malformed', null]);
    expect(lines[1]!.checks[0]!.detail).toMatch(/longer than/);
  }, 60_000);

  it('exits 0 when every token of a large batch is valid', async () => {
    const valid = tokens.filter((_, i) => i % 11 !== 5 && i % 7 !== 3);
    const result = await runCli(args(), { input: `${valid.join('\n')}\n`, timeoutMs: 60_000 });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.trimEnd().split('\n')).toHaveLength(valid.length);
  }, 60_000);

  it('--output reason writes valid or the reason code a line, in input order, over worker threads', async () => {
    const expected = tokens.map((_, i) => (i % 11 === 5 ? 'malformed' : i % 7 === 3 ? 'expired' : 'valid'));
    // Over worker threads, and on this thread with libuv's pool (AUTHBRIDGE_BATCH_WORKERS=0): the same lines.
    for (const workers of ['2', '0']) {
      const env = { ...isolatedEnv(), AUTHBRIDGE_BATCH_WORKERS: workers };
      const result = await runCli([...args(), '--output', 'reason'], { input: `${tokens.join('\n')}\n`, env, timeoutMs: 60_000 });
      expect(result.code, result.stderr).toBe(1);
      expect(result.stdout).toBe(`${expected.join('\n')}\n`);
      expect(result.stderr).toContain(`${expected.filter((r) => r === 'valid').length} of ${COUNT} token(s) valid`);
    }
  }, 60_000);

  it('AUTHBRIDGE_BATCH_WORKERS other than a whole number is a usage error (exit 2)', async () => {
    const result = await runCli(args(), { input: `${tokens[0]}\n`, env: { ...isolatedEnv(), AUTHBRIDGE_BATCH_WORKERS: 'many' } });
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('AUTHBRIDGE_BATCH_WORKERS must be a whole number');
  });

  it('--output valid writes valid or invalid a line, on the main thread for a short batch too', async () => {
    const few = tokens.slice(0, 12);
    const result = await runCli([...args(), '--output', 'valid'], { input: `${few.join('\n')}\n`, timeoutMs: 60_000 });
    expect(result.code, result.stderr).toBe(1);
    expect(result.stdout).toBe(`${few.map((_, i) => (i % 11 === 5 || i % 7 === 3 ? 'invalid' : 'valid')).join('\n')}\n`);
    const allValid = await runCli([...args(), '--output', 'valid'], { input: `${tokens[0]}\n${tokens[1]}\n`, timeoutMs: 60_000 });
    expect(allValid.code, allValid.stderr).toBe(0);
    expect(allValid.stdout).toBe('valid\nvalid\n');
  }, 60_000);

  it('--output other than json without --batch is a usage error (exit 2)', async () => {
    const result = await runCli(['verify', tokens[0]!, '--jwks', jwksFile, '--issuer', 'https://idp.test', '--audience', 'cli', '--output', 'valid']);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('--output valid|reason goes with --batch');
  });
});
