/**
 * `verify --batch` over more tokens than the worker-thread threshold: output stays in input
 * order, one line a token, with the right verdict for each, and the exit code says whether all
 * were valid.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
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

describe('verify --batch at volume', () => {
  it('answers every token in input order, spread over worker threads', async () => {
    const result = await runCli(args(), { input: `${tokens.join('\n')}\n`, timeoutMs: 60_000 });
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
});
