/**
 * The CLI writes stdout and stderr straight to their file descriptors until it needs the real
 * streams (src/context.ts, `fdOutput`): what a user sees must not change. Output larger than a
 * pipe holds arrives whole and in order when the reader is slow; a reader that goes away early
 * (`| head -1`) costs no stack trace; output to a file is the same as to a pipe.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, openSync, closeSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { BIN, isolatedEnv, runCli } from '../helpers/cli.js';
import { jwks, makeKey, sign, type TestKey } from '../helpers/keys.js';

const COUNT = 2000;
let key: TestKey;
let dir: string;
let jwksFile: string;
let input: string;

beforeAll(async () => {
  key = await makeKey('ES256');
  dir = mkdtempSync(join(tmpdir(), 'ab-streams-'));
  jwksFile = join(dir, 'jwks.json');
  writeFileSync(jwksFile, JSON.stringify(jwks(key)));
  const tokens = await Promise.all(Array.from({ length: COUNT }, (_, i) => sign(key, { sub: `user-${i}` })));
  input = `${tokens.join('\n')}\n`;
}, 60_000);

const batchArgs = () => ['verify', '--batch', '--jwks', jwksFile, '--issuer', 'https://idp.test', '--audience', 'cli'];

/** Runs the CLI with `stdin`, reading its stdout only after `pauseMs` (the pipe fills meanwhile). */
function runSlowReader(args: string[], stdin: string, pauseMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: isolatedEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.pause();
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out).toString(), stderr }));
    child.stdin.end(stdin);
    void sleep(pauseMs).then(() => {
      child.stdout.on('data', (d: Buffer) => out.push(d));
      child.stdout.resume();
    });
  });
}

describe('stdout and stderr', () => {
  it('output far larger than a pipe holds arrives whole and in order when the reader is slow', async () => {
    // ~830 bytes of NDJSON a token: ~1.6 MB through a 64 kB pipe nobody reads for a while.
    const result = await runSlowReader(batchArgs(), input, 300);
    expect(result.code, result.stderr).toBe(0);
    const lines = result.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as { valid: boolean; payload: { sub: string } });
    expect(lines).toHaveLength(COUNT);
    lines.forEach((line, i) => expect(line).toMatchObject({ valid: true, payload: { sub: `user-${i}` } }));
    expect(result.stderr).toContain(`${COUNT} of ${COUNT} token(s) valid`);
  }, 60_000);

  it('a reader that goes away after the first line costs no stack trace', async () => {
    const result = await new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, [BIN, ...batchArgs()], { env: isolatedEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
      let stderr = '';
      let seen = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d));
      child.stdout.on('data', (d: Buffer) => {
        seen += d;
        // `| head -1`: the reader closes its end once it has a line.
        if (seen.includes('\n')) child.stdout.destroy();
      });
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stderr }));
      child.stdin.end(input);
    });
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(result.stderr).not.toContain('internal error');
    expect(result.code).toBe(0);
  }, 60_000);

  it('writes the same to a file as to a pipe, and talk to stderr only', async () => {
    const piped = await runCli([...batchArgs(), '--output', 'reason'], { input });
    const file = join(dir, 'out.txt');
    const fd = openSync(file, 'w');
    const code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn(process.execPath, [BIN, ...batchArgs(), '--output', 'reason'], { env: isolatedEnv(), stdio: ['pipe', fd, 'ignore'] });
      child.on('error', reject);
      child.on('close', resolve);
      child.stdin!.end(input);
    });
    closeSync(fd);
    expect(code).toBe(0);
    expect(piped.code).toBe(0);
    expect(readFileSync(file, 'utf8')).toBe(piped.stdout);
    expect(piped.stdout).toBe('valid\n'.repeat(COUNT));
    expect(piped.stderr).toBe(`${COUNT} of ${COUNT} token(s) valid\n`);
  }, 60_000);
});
