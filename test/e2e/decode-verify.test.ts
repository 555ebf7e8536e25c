/**
 * `authbridge decode` and `authbridge verify` as a user runs them: the built bin spawned against a
 * discovery + JWKS server on 127.0.0.1, asserting exit codes, stdout and stderr.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignJWT, UnsecuredJWT, exportSPKI } from 'jose';
import { isolatedEnv, runCli, type RunResult } from '../helpers/cli.js';
import { jwks, makeKey, sign, type TestKey } from '../helpers/keys.js';
import {
  RFC7515_A2,
  RFC7515_PAYLOAD,
  RFC7519_3_1,
  RFC8037_A4,
  b64u,
  closedPort,
  sendJson,
  startServer,
  type TestServer,
} from '../jwt/fixtures.js';

const ROOT = resolve(import.meta.dirname, '../..');
const NOW = 1_800_000_000; // 2027-01-15T08:00:00Z
const NOW_ISO = '2027-01-15T08:00:00Z';
const STACK = /\n\s+at /;

let server: TestServer;
let key: TestKey;
let otherKey: TestKey;
let dir: string;
let jwksFile: string;
let port0: number;

/**
 * Each issuer is `${server.url}/iss/<name>`, with its own discovery document and JWKS, so request
 * counts never mix between tests. Some names misbehave on purpose.
 */
function issuer(name: string): string {
  return `${server.url}/iss/${name}`;
}

function route(path: string, res: ServerResponse): void {
  const m = /^\/iss\/([^/]+)(\/.*)$/.exec(path);
  if (!m) return sendJson(res, { error: 'not_found' }, 404);
  const [, name, rest] = m as unknown as [string, string, string];
  const iss = issuer(name);
  if (rest === '/.well-known/openid-configuration') {
    if (name === 'discovery-500') return sendJson(res, { error: 'boom' }, 500);
    if (name === 'no-jwks-uri') return sendJson(res, { issuer: iss });
    if (name === 'file-jwks-uri') return sendJson(res, { issuer: iss, jwks_uri: 'file:///etc/passwd' });
    return sendJson(res, { issuer: name === 'impostor' ? 'https://someone-else.example' : iss, jwks_uri: `${iss}/jwks` });
  }
  if (rest === '/jwks') {
    if (name === 'jwks-html') {
      res.writeHead(200, { 'content-type': 'text/html' });
      return void res.end('<!doctype html><html><body>Sign in</body></html>');
    }
    if (name === 'jwks-500') return sendJson(res, { error: 'internal' }, 500);
    if (name === 'jwks-array') return sendJson(res, [jwks(key)]);
    if (name === 'jwks-huge') return sendJson(res, { keys: [jwks(key).keys[0]], padding: 'x'.repeat(2 << 20) });
    if (name === 'jwks-hang') return; // never answers; the server's close() drops the connection
    if (name === 'jwks-nokey') return sendJson(res, { keys: [{ kty: 'oct', k: 'c2VjcmV0' }] });
    return sendJson(res, jwks(key));
  }
  // jku / x5u targets: they answer, but must never be asked.
  return sendJson(res, jwks(otherKey));
}

beforeAll(async () => {
  [key, otherKey] = await Promise.all([makeKey('ES256', 'main'), makeKey('ES256', 'other')]);
  server = await startServer((req, res) => route(new URL(req.url ?? '/', 'http://x').pathname, res));
  dir = mkdtempSync(join(tmpdir(), 'authbridge-e2e-dv-'));
  jwksFile = join(dir, 'jwks.json');
  writeFileSync(jwksFile, JSON.stringify(jwks(key)));
  port0 = await closedPort();
});
afterAll(async () => {
  await server.close();
});

/** A token from `name`'s issuer for audience "cli", valid from NOW for an hour. */
function token(name: string, claims: Record<string, unknown> = {}, header: Record<string, unknown> = {}, signer = key) {
  return sign(signer, { iss: issuer(name), ...claims }, { now: NOW, header });
}

function verify(name: string, args: string[], input?: string | Buffer): Promise<RunResult> {
  return runCli(['verify', '--issuer', issuer(name), '--audience', 'cli', '--now', String(NOW), ...args], { input });
}

/** stderr of a failed command: `authbridge: …` and at most one more line (what to do), no stack. */
function expectOneLineError(r: RunResult, pattern: RegExp): void {
  expect(r.stderr).toMatch(/^authbridge: [^\n]+\n([^\n]+\n)?$/);
  expect(r.stderr.split('\n')[0]).toMatch(pattern);
  expect(r.stderr).not.toMatch(STACK);
}

/** The exit code, with stderr in the failure message. */
function expectExit(r: RunResult, code: number): void {
  expect(r.code, r.stderr).toBe(code);
}

function json(r: RunResult): Record<string, unknown> {
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

interface VerifyJson {
  valid: boolean;
  reason: string | null;
  checks: Array<{ name: string; ok: boolean; detail: string }>;
  header: Record<string, unknown> | null;
  payload: Record<string, unknown> | null;
}

function checkOf(doc: VerifyJson, name: string) {
  return doc.checks.find((c) => c.name === name);
}

describe('decode', () => {
  it('prints header, payload and each time claim absolute and relative; the note goes to stderr', async () => {
    const t = await sign(key, { iss: 'https://idp.test', auth_time: NOW - 60, nbf: NOW, updated_at: NOW - 86_400 }, { now: NOW });
    const r = await runCli(['decode', t]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('"alg": "ES256"');
    expect(r.stdout).toContain('"sub": "alice"');
    expect(r.stdout).toMatch(/exp\s+2027-01-15T09:00:00Z \((in|ago) /);
    expect(r.stdout).toMatch(/iat\s+2027-01-15T08:00:00Z /);
    expect(r.stdout).toMatch(/nbf\s+2027-01-15T08:00:00Z /);
    expect(r.stdout).toMatch(/auth_time\s+2027-01-15T07:59:00Z /);
    expect(r.stdout).toMatch(/updated_at\s+2027-01-14T08:00:00Z /);
    expect(r.stdout).toContain('NOT verified');
    expect(r.stderr).toMatch(/Signature NOT verified/);
    expect(r.stderr).not.toMatch(STACK);
  });

  it('--json prints {format, header, payload, signature_present} and nothing else on stdout', async () => {
    const t = await sign(key, {}, { now: NOW });
    const r = await runCli(['decode', '--json', t]);
    expect(r.code, r.stderr).toBe(0);
    expect(json(r)).toEqual({
      format: 'jws',
      header: { alg: 'ES256', kid: 'main' },
      payload: { iss: 'https://idp.test', aud: 'cli', sub: 'alice', iat: NOW, exp: NOW + 3600 },
      signature_present: true,
    });
  });

  it.each([
    ['stdin, no TOKEN', [] as string[]],
    ['stdin, TOKEN "-"', ['-']],
  ])('reads %s, with a "Bearer " prefix and surrounding whitespace', async (_name, extra) => {
    const t = await sign(key, {}, { now: NOW });
    const r = await runCli(['decode', '--json', ...extra], { input: `\n  Bearer ${t}  \n` });
    expect(r.code, r.stderr).toBe(0);
    expect(json(r)).toMatchObject({ format: 'jws', payload: { sub: 'alice' } });
  });

  it('the RFC 7519 §3.1 example shows its claims', async () => {
    const r = await runCli(['decode', '--json', RFC7519_3_1.token]);
    expect(r.code, r.stderr).toBe(0);
    expect(json(r)).toEqual({ format: 'jws', header: RFC7519_3_1.header, payload: RFC7515_PAYLOAD, signature_present: true });
  });

  it('a JWE is reported as encrypted, with its header', async () => {
    const header = { alg: 'RSA-OAEP-256', enc: 'A256GCM', kid: 'enc' };
    const jwe = [b64u(header), b64u('k'.repeat(64)), b64u('iv-iv-iv-iv-'), b64u('ciphertext'), b64u('tag-tag-tag-tag-')].join('.');
    const human = await runCli(['decode', jwe]);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toMatch(/JWE, encrypted/);
    expect(human.stderr).toMatch(/encrypted/i);
    const r = await runCli(['decode', '--json', jwe]);
    expect(r.code, r.stderr).toBe(0);
    expect(json(r)).toEqual({ format: 'jwe', header, payload: null, signature_present: false });
  });

  it.each([
    ['an opaque token', 'gho_16C7e42F292c6912E7710c838347Ae178B4a', /not a JWT \(opaque token\?\)/],
    ['the RFC 8037 Ed25519 JWS (payload not a JSON object)', RFC8037_A4.token, /not a JWT/],
    ['four dots of junk', 'a.b.c.d.e', /not a JWT/],
    ['a payload that is a JSON array', `${b64u({ alg: 'ES256' })}.${b64u([1, 2])}.c2ln`, /not a JWT/],
  ])('%s: exit 1, one line on stderr, nothing on stdout', async (_name, input, message) => {
    const r = await runCli(['decode', input]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toBe('');
    expectOneLineError(r, message);
    expect(r.stderr).toMatch(/^authbridge: could not decode token: /);
  });

  it.each([
    ['empty stdin', '', /empty input/],
    ['NUL bytes', Buffer.from('eyJhbGciOiJIUzI1NiJ9\0.e30.\0\0', 'latin1'), /not a JWT/],
    ['1 MB of garbage', Buffer.alloc(1 << 20, 0xa7), /not a JWT/],
  ])('%s on stdin: exit 1, one line', async (_name, input, message) => {
    const r = await runCli(['decode'], { input });
    expect(r.code, r.stderr).toBe(1);
    expectOneLineError(r, message);
  });

  it('--json errors go to stdout as {"error":{"code","message"}}', async () => {
    const r = await runCli(['decode', '--json', 'not-a-token']);
    expect(r.code, r.stderr).toBe(1);
    expect(json(r)).toEqual({ error: { code: 'token_rejected', message: 'could not decode token: not a JWT (opaque token?)' } });
    expectOneLineError(r, /not a JWT/);
  });
});

describe('verify', () => {
  it('a valid token via discovery: exit 0, a ✓ checklist', async () => {
    const r = await verify('ok', [await token('ok')]);
    expect(r.code, r.stderr).toBe(0);
    for (const name of ['format', 'algorithm', 'key', 'signature', 'issuer', 'audience', 'expiry', 'not_before']) {
      expect(r.stdout).toMatch(new RegExp(`^✓ ${name}\\b`, 'm'));
    }
    expect(r.stdout).not.toContain('✗');
    expect(r.stdout).toMatch(/Token is valid \(sub "alice"\)\./);
    expect(r.stderr).toBe('');
  });

  it('--json: {valid, reason, checks[{name, ok, detail}], header, payload}', async () => {
    const r = await verify('json', ['--json', await token('json')]);
    expect(r.code, r.stderr).toBe(0);
    const doc = json(r) as unknown as VerifyJson;
    expect(Object.keys(doc).sort()).toEqual(['checks', 'header', 'payload', 'reason', 'valid']);
    expect(doc).toMatchObject({ valid: true, reason: null, header: { alg: 'ES256', kid: 'main' }, payload: { iss: issuer('json'), sub: 'alice' } });
    for (const c of doc.checks) {
      expect(Object.keys(c).sort()).toEqual(['detail', 'name', 'ok']);
      expect(c.ok).toBe(true);
      expect(typeof c.detail).toBe('string');
    }
    expect(checkOf(doc, 'expiry')?.detail).toContain('2027-01-15T09:00:00Z');
  });

  it('an expired token: exit 1, every check still reported, reason expired', async () => {
    const r = await verify('expired', ['--json', await token('expired', { aud: 'someone-else', exp: NOW - 10 })]);
    expect(r.code, r.stderr).toBe(1);
    const doc = json(r) as unknown as VerifyJson;
    expect(doc).toMatchObject({ valid: false, reason: 'wrong_audience' });
    expect(doc.checks.filter((c) => !c.ok).map((c) => c.name)).toEqual(['audience', 'expiry']);
    expect(checkOf(doc, 'signature')?.ok).toBe(true);
    expect(r.stderr).toBe('');
  });

  it('human output of a rejected token: ✗ lines and the reason', async () => {
    const r = await verify('expired-human', [await token('expired-human', { exp: NOW - 10 })]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toMatch(/^✗ expiry\s+expired 2027-01-15T07:59:50Z \(10s ago\)$/m);
    expect(r.stdout).toMatch(/^✓ signature\b/m);
    expect(r.stdout).toMatch(/Token is NOT valid: expired\./);
  });

  it('reads stdin with a "Bearer " prefix', async () => {
    const r = await verify('stdin', ['--json'], `Bearer ${await token('stdin')}\n`);
    expect(r.code, r.stderr).toBe(0);
    expect(json(r)).toMatchObject({ valid: true });
  });

  it('a garbage token is malformed: exit 1, no request made', async () => {
    const r = await verify('garbage', ['--json', 'definitely.not.a-jwt']);
    expect(r.code, r.stderr).toBe(1);
    expect(json(r)).toMatchObject({ valid: false, reason: 'malformed', header: null, payload: null });
    expect(server.hitsOf('/iss/garbage/.well-known/openid-configuration')).toBe(0);
  });

  it('an unknown kid: no_matching_key, the JWKS refetched once (two requests), discovery once', async () => {
    const r = await verify('unknown-kid', ['--json', await token('unknown-kid', {}, { kid: 'rotated-away' })]);
    expect(r.code, r.stderr).toBe(1);
    expect(json(r)).toMatchObject({ reason: 'no_matching_key' });
    expect(server.hitsOf('/iss/unknown-kid/.well-known/openid-configuration')).toBe(1);
    expect(server.hitsOf('/iss/unknown-kid/jwks')).toBe(2);
  });

  it('jku and x5u headers are never fetched', async () => {
    const t = await token('jku', {}, { jku: `${issuer('jku')}/attacker-jwks`, x5u: `${issuer('jku')}/attacker.pem`, kid: 'other' }, otherKey);
    const r = await verify('jku', ['--json', t]);
    expect(r.code, r.stderr).toBe(1);
    expect(json(r)).toMatchObject({ valid: false, reason: 'no_matching_key' });
    expect(server.hitsOf('/iss/jku/attacker-jwks')).toBe(0);
    expect(server.hitsOf('/iss/jku/attacker.pem')).toBe(0);
  });

  it('alg none: exit 1, algorithm_not_allowed', async () => {
    const t = new UnsecuredJWT({ iss: issuer('none'), aud: 'cli', exp: NOW + 60 }).encode();
    const r = await verify('none', ['--json', t]);
    expect(r.code, r.stderr).toBe(1);
    expect(json(r)).toMatchObject({ valid: false, reason: 'algorithm_not_allowed' });
  });

  it('HS256 signed with the RSA public key as secret: algorithm_not_allowed, even with --algorithms HS256', async () => {
    const rsa = await makeKey('RS256', 'rsa');
    const file = join(dir, 'rsa-jwks.json');
    writeFileSync(file, JSON.stringify(jwks(rsa)));
    const { createPublicKey } = await import('node:crypto');
    const pem = await exportSPKI(createPublicKey({ key: rsa.publicJwk as never, format: 'jwk' }));
    const forged = await new SignJWT({ iss: 'https://idp.test', aud: 'cli', exp: NOW + 60 })
      .setProtectedHeader({ alg: 'HS256', kid: 'rsa' })
      .sign(new TextEncoder().encode(pem));
    for (const extra of [[], ['--algorithms', 'HS256']]) {
      const r = await runCli(['verify', '--issuer', 'https://idp.test', '--audience', 'cli', '--jwks', file, '--now', String(NOW), '--json', ...extra, forged]);
      expect(r.code, r.stderr).toBe(1);
      expect(json(r)).toMatchObject({ valid: false, reason: 'algorithm_not_allowed' });
    }
  });

  it('RFC 7515 §A.2 with the RFC key from a --jwks file, judged --now in 2011: signature ✓, wrong_audience', async () => {
    const file = join(dir, 'rfc7515-a2.json');
    writeFileSync(file, JSON.stringify({ keys: [RFC7515_A2.jwk] }));
    const r = await runCli(['verify', '--issuer', 'joe', '--audience', 'x', '--jwks', file, '--now', '2011-03-22T00:00:00Z', '--json', RFC7515_A2.token]);
    expect(r.code, r.stderr).toBe(1);
    const doc = json(r) as unknown as VerifyJson;
    expect(checkOf(doc, 'signature')?.ok).toBe(true);
    expect(doc.checks.filter((c) => !c.ok).map((c) => c.name)).toEqual(['audience']);
    expect(doc.reason).toBe('wrong_audience');
  });

  it('RFC 7519 §3.1 (HS256): refused without --secret, a bad signature with a wrong --secret', async () => {
    const file = join(dir, 'rfc7515-a2-b.json');
    writeFileSync(file, JSON.stringify({ keys: [RFC7515_A2.jwk] }));
    const base = ['verify', '--issuer', 'joe', '--audience', 'x', '--now', '2011-03-22T00:00:00Z', '--json'];
    const noSecret = await runCli([...base, '--jwks', file, RFC7519_3_1.token]);
    expect(noSecret.code, noSecret.stderr).toBe(1);
    expect(json(noSecret)).toMatchObject({ reason: 'algorithm_not_allowed' });
    const wrong = await runCli([...base, '--secret', 'guess', RFC7519_3_1.token]);
    expect(wrong.code, wrong.stderr).toBe(1);
    expect(json(wrong)).toMatchObject({ reason: 'bad_signature' });
  });

  it('issuer and audience from AUTHBRIDGE_ISSUER and AUTHBRIDGE_CLIENT_ID when the flags are absent', async () => {
    const env = { ...isolatedEnv(), AUTHBRIDGE_ISSUER: issuer('env'), AUTHBRIDGE_CLIENT_ID: 'cli' };
    const r = await runCli(['verify', '--now', String(NOW), '--json', await token('env')], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(json(r)).toMatchObject({ valid: true });
  });

  it('HS256 with --secret: valid with the right secret, refused with a JWKS', async () => {
    const secret = 'correct horse battery staple, long enough for HS256';
    const t = await new SignJWT({ iss: 'https://idp.test', aud: 'cli', exp: NOW + 60 }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(secret));
    const base = ['verify', '--issuer', 'https://idp.test', '--audience', 'cli', '--now', String(NOW), '--json'];
    const withSecret = await runCli([...base, '--secret', secret, t]);
    expect(withSecret.code, withSecret.stderr).toBe(0);
    expect(json(withSecret)).toMatchObject({ valid: true, reason: null });
    const withJwks = await runCli([...base, '--jwks', jwksFile, t]);
    expect(withJwks.code, withJwks.stderr).toBe(1);
    expect(json(withJwks)).toMatchObject({ reason: 'algorithm_not_allowed' });
  });

  it('--jwks FILE works offline (no discovery)', async () => {
    const r = await runCli(['verify', '--issuer', 'https://offline.test', '--audience', 'cli', '--jwks', jwksFile, '--now', String(NOW), await sign(key, { iss: 'https://offline.test' }, { now: NOW })]);
    expect(r.code, r.stderr).toBe(0);
  });
});

describe('verify options', () => {
  it('--now: ISO or epoch seconds decides expiry', async () => {
    const t = await token('now');
    const base = ['verify', '--issuer', issuer('now'), '--audience', 'cli', '--json', t];
    const before = await runCli([...base, '--now', NOW_ISO]);
    expect(before.code, before.stderr).toBe(0);
    const after = await runCli([...base, '--now', String(NOW + 3600)]);
    expect(after.code, after.stderr).toBe(1);
    expect(json(after)).toMatchObject({ reason: 'expired' });
    const bad = await runCli([...base, '--now', 'yesterday']);
    expect(bad.code, bad.stderr).toBe(2);
    expectOneLineError(bad, /--now must be an ISO-8601 time or epoch seconds/);
  });

  it('--clock-tolerance forgives an expiry within it', async () => {
    const t = await token('tolerance', { exp: NOW - 30 });
    expectExit(await verify('tolerance', [t]), 1);
    expectExit(await verify('tolerance', ['--clock-tolerance', '60', t]), 0);
    const bad = await verify('tolerance', ['--clock-tolerance', '-5', t]);
    expect(bad.code, bad.stderr).toBe(2);
    expectOneLineError(bad, /--clock-tolerance must be a non-negative number of seconds/);
  });

  it('--max-age against auth_time', async () => {
    const t = await token('max-age', { auth_time: NOW - 1000 });
    const old = await verify('max-age', ['--json', '--max-age', '300', t]);
    expect(old.code, old.stderr).toBe(1);
    expect(json(old)).toMatchObject({ reason: 'too_old' });
    expectExit(await verify('max-age', ['--max-age', '3600', t]), 0);
  });

  it('--claim NAME=VALUE, repeatable; arrays match when they contain VALUE', async () => {
    const t = await token('claim', { tenant: 'acme', groups: ['dev', 'ops'] });
    expectExit(await verify('claim', ['--claim', 'tenant=acme', '--claim', 'groups=ops', t]), 0);
    const mismatch = await verify('claim', ['--json', '--claim', 'tenant=umbrella', t]);
    expect(mismatch.code, mismatch.stderr).toBe(1);
    expect(json(mismatch)).toMatchObject({ reason: 'claim_mismatch' });
    const usage = await verify('claim', ['--claim', 'tenant', t]);
    expect(usage.code, usage.stderr).toBe(2);
    expectOneLineError(usage, /--claim must be NAME=VALUE/);
  });

  it('--nonce', async () => {
    const t = await token('nonce', { nonce: 'n-0S6_WzA2Mj' });
    expectExit(await verify('nonce', ['--nonce', 'n-0S6_WzA2Mj', t]), 0);
    const r = await verify('nonce', ['--json', '--nonce', 'other', t]);
    expect(r.code, r.stderr).toBe(1);
    expect(json(r)).toMatchObject({ reason: 'claim_mismatch' });
  });

  it('--type access wants typ at+jwt', async () => {
    const at = await token('type', {}, { typ: 'at+jwt' });
    expectExit(await verify('type', ['--type', 'access', at]), 0);
    const idt = await verify('type', ['--json', '--type', 'id', at]);
    expect(idt.code, idt.stderr).toBe(1);
    expect(json(idt)).toMatchObject({ reason: 'wrong_type' });
    const plain = await verify('type', ['--json', '--type', 'access', await token('type', {}, { typ: 'JWT' })]);
    expect(plain.code, plain.stderr).toBe(1);
    expect(json(plain)).toMatchObject({ reason: 'wrong_type' });
    const bad = await verify('type', ['--type', 'refresh', at]);
    expect(bad.code, bad.stderr).toBe(2);
    expectOneLineError(bad, /invalid usage: .*refresh/);
  });
});

describe('verify --batch', () => {
  it('one NDJSON result a line, in input order; exit 1 if any is invalid; the JWKS fetched once', async () => {
    const valid = await token('batch');
    const lines = [
      valid,
      await token('batch', { exp: NOW - 1 }),
      'garbage',
      '',
      `Bearer ${await token('batch', { sub: 'bob' })}`,
      await token('batch', { aud: 'other' }),
      valid,
    ];
    const r = await verify('batch', ['--batch'], `${lines.join('\n')}\n`);
    expect(r.code, r.stderr).toBe(1);
    const out = r.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as VerifyJson);
    expect(out.map((d) => d.reason)).toEqual([null, 'expired', 'malformed', null, 'wrong_audience', null]);
    expect(out.map((d) => d.valid)).toEqual([true, false, false, true, false, true]);
    expect(out[3]!.payload).toMatchObject({ sub: 'bob' });
    expect(server.hitsOf('/iss/batch/jwks')).toBe(1);
    expect(r.stderr).toMatch(/3 of 6 token\(s\) valid/);
  });

  it('all valid: exit 0', async () => {
    const input = (await Promise.all([1, 2, 3].map((i) => token('batch-ok', { sub: `u${i}` })))).join('\r\n');
    const r = await verify('batch-ok', ['--batch'], input);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trimEnd().split('\n').map((l) => (JSON.parse(l) as VerifyJson).payload?.sub)).toEqual(['u1', 'u2', 'u3']);
  });

  it('JWKS unreachable in the middle of a batch: exit 3, one error line, no stack', async () => {
    const t = await sign(key, { iss: 'https://idp.test' }, { now: NOW });
    const input = `${t}\n${t}\ngarbage\n${t}\n`;
    const r = await runCli(['verify', '--batch', '--issuer', 'https://idp.test', '--audience', 'cli', '--jwks-uri', `http://127.0.0.1:${port0}/jwks`], { input });
    expect(r.code, r.stderr).toBe(3);
    expectOneLineError(r, /could not fetch JWKS from http:\/\/127\.0\.0\.1:\d+\/jwks: /);
  });

  it('a TOKEN argument with --batch is a usage error', async () => {
    const r = await verify('batch', ['--batch', 'x.y.z']);
    expect(r.code, r.stderr).toBe(2);
    expectOneLineError(r, /--batch reads tokens from stdin/);
  });
});

describe('verify: remote failures exit 3', () => {
  it.each([
    ['the JWKS endpoint unreachable (closed port)', () => ['--jwks-uri', `http://127.0.0.1:${port0}/jwks`], /could not fetch JWKS from .*ECONNREFUSED/],
    ['the JWKS endpoint answering HTML', () => ['--issuer', issuer('jwks-html')], /could not fetch JWKS from .*: the answer is not JSON \(content-type text\/html\)/],
    ['the JWKS endpoint answering 500', () => ['--issuer', issuer('jwks-500')], /could not fetch JWKS from .*: HTTP 500/],
    ['the JWKS has no usable key', () => ['--issuer', issuer('jwks-nokey')], /no usable signature verification key/],
    ['the JWKS endpoint not answering within --timeout', () => ['--issuer', issuer('jwks-hang'), '--timeout', '0.3'], /could not fetch JWKS from .*: no answer within 300 ms/],
    ['the JWKS endpoint answering a JSON array', () => ['--issuer', issuer('jwks-array')], /could not fetch JWKS from .*: the answer is not a JSON object/],
    ['the JWKS endpoint answering more than 1 MiB', () => ['--issuer', issuer('jwks-huge')], /could not fetch JWKS from .*: the answer is larger than 1048576 bytes/],
    ['discovery without jwks_uri', () => ['--issuer', issuer('no-jwks-uri')], /could not use the discovery document of .*: it has no jwks_uri/],
    ['discovery naming a jwks_uri that is not http(s)', () => ['--issuer', issuer('file-jwks-uri')], /could not use the discovery document of .*: its jwks_uri is not an http\(s\) URL/],
    ['discovery answering 500', () => ['--issuer', issuer('discovery-500')], /could not fetch the discovery document from .*: HTTP 500/],
    ['the issuer unreachable (discovery)', () => ['--issuer', `http://127.0.0.1:${port0}`], /could not fetch the discovery document from .*ECONNREFUSED/],
  ])('%s', async (_name, args, message) => {
    const t = await sign(key, {}, { now: NOW });
    const r = await runCli(['verify', '--issuer', 'https://idp.test', '--audience', 'cli', '--now', String(NOW), ...args(), t]);
    expect(r.code, r.stderr).toBe(3);
    expect(r.stdout).toBe('');
    expectOneLineError(r, message);
  });

  it.each([
    ['discovery naming another issuer', () => issuer('impostor'), /it names the issuer "https:\/\/someone-else\.example"/, /^Set the issuer to "https:\/\/someone-else\.example" exactly/],
    ['the discovery URL given as the issuer', () => `${issuer('x')}/.well-known/openid-configuration`, /is a discovery document's URL, not an issuer/, /^Set the issuer to "http:\/\/127\.0\.0\.1:\d+\/iss\/x" exactly/],
  ])('%s: a configuration error (exit 2, as in login and doctor) with the exact fix', async (_name, iss, message, fix) => {
    const t = await sign(key, {}, { now: NOW });
    const r = await runCli(['verify', '--audience', 'cli', '--now', String(NOW), '--issuer', iss(), t]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr.split('\n')[0]).toMatch(message);
    expect(r.stderr.split('\n')[1]).toMatch(fix);
  });

  it('--debug adds the error chain with its stack, after the one-line error', async () => {
    const r = await verify('jwks-500', ['--debug', await token('jwks-500')]);
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toMatch(/^authbridge: could not fetch JWKS from .*: HTTP 500\n/);
    expect(r.stderr).toMatch(STACK);
  });

  it('--json: the error also on stdout with code "remote"', async () => {
    const t = await token('jwks-500');
    const r = await verify('jwks-500', ['--json', t]);
    expect(r.code, r.stderr).toBe(3);
    const doc = json(r) as { error: { code: string; message: string } };
    expect(doc.error.code).toBe('remote');
    expect(doc.error.message).toMatch(/HTTP 500/);
    expectOneLineError(r, /HTTP 500/);
  });
});

describe('verify: usage errors exit 2', () => {
  it.each([
    ['no --issuer', () => ['--audience', 'cli'], /missing issuer/],
    ['no --audience', () => ['--issuer', 'https://idp.test'], /missing audience/],
    ['an unreadable --jwks file', () => ['--issuer', 'https://idp.test', '--audience', 'cli', '--jwks', join(dir, 'missing.json')], /could not read --jwks .*missing\.json: .*ENOENT/],
    ['a --jwks directory', () => ['--issuer', 'https://idp.test', '--audience', 'cli', '--jwks', dir], /could not read --jwks .*EISDIR/],
    ['a --jwks file that is not JSON', () => ['--issuer', 'https://idp.test', '--audience', 'cli', '--jwks', notJson()], /could not use --jwks .*: not JSON/],
    ['two key sources', () => ['--issuer', 'https://idp.test', '--audience', 'cli', '--jwks', jwksFile, '--jwks-uri', 'http://127.0.0.1:1/'], /choose one key source/],
    ['a --jwks-uri that is not http(s)', () => ['--issuer', 'https://idp.test', '--audience', 'cli', '--jwks-uri', 'file:///etc/passwd'], /--jwks-uri must be an http\(s\) URL/],
    ['--algorithms none', () => ['--issuer', 'https://idp.test', '--audience', 'cli', '--algorithms', 'none'], /"none" is never accepted/],
    ['an unknown option', () => ['--issuer', 'https://idp.test', '--audience', 'cli', '--frobnicate'], /invalid usage: unknown option '--frobnicate'/],
  ])('%s', async (_name, args, message) => {
    const r = await runCli(['verify', ...args(), 'a.b.c']);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stdout).toBe('');
    expectOneLineError(r, message);
  });

  it('--json: {"error":{"code":"usage"}} on stdout', async () => {
    const r = await runCli(['verify', '--json', '--issuer', 'https://idp.test', 'a.b.c']);
    expect(r.code, r.stderr).toBe(2);
    expect(json(r)).toEqual({ error: { code: 'usage', message: expect.stringMatching(/missing audience/) } });
  });

  it('--jwks file with no usable key', async () => {
    const file = join(dir, 'nokey.json');
    writeFileSync(file, JSON.stringify({ keys: [{ kty: 'RSA', use: 'enc', n: 'AQAB', e: 'AQAB' }] }));
    const r = await runCli(['verify', '--issuer', 'https://idp.test', '--audience', 'cli', '--jwks', file, 'a.b.c']);
    expect(r.code, r.stderr).toBe(2);
    expectOneLineError(r, /no usable signature verification key/);
  });
});

function notJson(): string {
  const file = join(dir, 'not-json.txt');
  writeFileSync(file, 'keys: none\n');
  return file;
}

/** Runs `node --input-type=module -e SCRIPT` in the package root, so `import 'authbridge'` resolves via "exports". */
function runNode(script: string, env: Record<string, string>): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, env: { ...isolatedEnv(), ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => resolvePromise({ code, signal, stdout, stderr }));
  });
}

describe('library', () => {
  it('verifyToken returns what `verify --json` prints; decodeToken what `decode --json` prints', async () => {
    const t = await token('library', { exp: NOW + 60, tenant: 'acme' });
    const script = `
      import { verifyToken, decodeToken } from 'authbridge';
      const env = process.env;
      const result = await verifyToken(env.TOKEN, {
        issuer: env.ISSUER, audience: 'cli', currentDate: new Date(Number(env.NOW) * 1000),
        maxAge: 600, claims: { tenant: 'acme' },
      });
      console.log(JSON.stringify({ result, decoded: decodeToken(env.TOKEN) }));
    `;
    const [lib, cli, decoded] = await Promise.all([
      runNode(script, { TOKEN: t, ISSUER: issuer('library'), NOW: String(NOW) }),
      verify('library', ['--json', '--max-age', '600', '--claim', 'tenant=acme', t]),
      runCli(['decode', '--json', t]),
    ]);
    expect(lib.stderr).toBe('');
    expect(lib.code, lib.stderr).toBe(0);
    expect(cli.code, cli.stderr).toBe(0);
    const fromLib = JSON.parse(lib.stdout) as { result: VerifyJson; decoded: unknown };
    expect(fromLib.result).toEqual(json(cli));
    expect(fromLib.result.valid).toBe(true);
    expect(fromLib.decoded).toEqual(json(decoded));
  });

  it('an invalid token: the same result object, reason and all', async () => {
    const t = await token('library-bad', { exp: NOW - 5, aud: ['x', 'y'] });
    const script = `
      import { verifyToken } from 'authbridge';
      const r = await verifyToken(process.env.TOKEN, { issuer: process.env.ISSUER, audience: 'cli', currentDate: new Date(${NOW * 1000}) });
      console.log(JSON.stringify(r));
    `;
    const [lib, cli] = await Promise.all([
      runNode(script, { TOKEN: t, ISSUER: issuer('library-bad') }),
      verify('library-bad', ['--json', t]),
    ]);
    expect(lib.stderr).toBe('');
    expect(cli.code, cli.stderr).toBe(1);
    expect(JSON.parse(lib.stdout)).toEqual(json(cli));
    expect(json(cli)).toMatchObject({ valid: false, reason: 'wrong_audience' });
  });
});
