/** The broker's crypto thread: batches, order, and a thread that dies. */
import { generateKeyPairSync, sign } from 'node:crypto';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CryptoThread } from '../../src/broker/crypto-thread.js';
import { generateSigningKey, verifyOwnJwt, type SigningKey } from '../../src/jwt/sign.js';

// Built by `npm test`'s pretest step; the thread runs the bundled module, as the broker does.
const SCRIPT = join(import.meta.dirname, '..', '..', 'dist', 'crypto-worker.js');

function claims(token: string, key: SigningKey): Record<string, unknown> {
  const result = verifyOwnJwt(token, new Map([[key.kid, key]]), 'at+jwt');
  if (!result.ok) throw new Error(`not a valid token: ${result.problem}`);
  return result.payload;
}

/** An upstream RS256 signature over `input`, and one that does not match it. */
const upstream = generateKeyPairSync('rsa', { modulusLength: 2048 });
const upstreamPublic = upstream.publicKey;
const rs256 = (input: string) => new Uint8Array(sign('sha256', Buffer.from(input), upstream.privateKey));

describe('CryptoThread', () => {
  it('signs and checks a turn\'s work on its thread: each answer is its own', async () => {
    expect(existsSync(SCRIPT)).toBe(true);
    const key = generateSigningKey();
    const crypto = new CryptoThread(key, SCRIPT);
    try {
      const [tokens, checks] = await Promise.all([
        Promise.all(Array.from({ length: 300 }, (_, i) => crypto.sign({ sub: `user-${i}` }, { typ: 'at+jwt' }))),
        Promise.all(
          Array.from({ length: 40 }, (_, i) => crypto.verify('RS256', upstreamPublic, `in-${i}`, rs256(i % 3 === 0 ? 'other' : `in-${i}`))),
        ),
      ]);
      tokens.forEach((token, i) => expect(claims(token, key)).toEqual({ sub: `user-${i}` }));
      checks.forEach((ok, i) => expect(ok).toBe(i % 3 !== 0));
      // A later turn, a second batch; a key of the wrong kind is a failed check, not an error.
      expect(claims(await crypto.sign({ sub: 'late' }, { typ: 'at+jwt' }), key)).toEqual({ sub: 'late' });
      expect(await crypto.verify('ES256', upstreamPublic, 'x', rs256('x'))).toBe(false);
    } finally {
      await crypto.close();
    }
  });

  it('without a thread (sources, or none could start) works on the calling thread', async () => {
    const key = generateSigningKey();
    const crypto = new CryptoThread(key, undefined);
    expect(claims(await crypto.sign({ sub: 'here' }, { typ: 'at+jwt' }), key)).toEqual({ sub: 'here' });
    expect(await crypto.verify('RS256', upstreamPublic, 'in', rs256('in'))).toBe(true);
    await crypto.close();
  });

  it('a thread that dies with work owed: it is done here, and so is what follows', async () => {
    const key = generateSigningKey();
    const crypto = new CryptoThread(key, SCRIPT);
    const owed = Array.from({ length: 50 }, (_, i) => crypto.sign({ sub: `owed-${i}` }, { typ: 'at+jwt' }));
    const check = crypto.verify('RS256', upstreamPublic, 'in', rs256('in'));
    // Kill it as the batch is posted.
    setImmediate(() => void (crypto as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate());
    const tokens = await Promise.all(owed);
    tokens.forEach((token, i) => expect(claims(token, key)).toEqual({ sub: `owed-${i}` }));
    expect(await check).toBe(true);
    expect((crypto as unknown as { worker: unknown }).worker).toBeUndefined();
    expect(claims(await crypto.sign({ sub: 'after' }, { typ: 'at+jwt' }), key)).toEqual({ sub: 'after' });
    await crypto.close();
  });

  it('close() does not wait for ever on a thread that never answers: what it owes is done here', async () => {
    const mute = join(mkdtempSync(join(tmpdir(), 'authbridge-crypto-')), 'mute-worker.mjs');
    writeFileSync(mute, "import { parentPort } from 'node:worker_threads'; parentPort.on('message', () => {});\n");
    const key = generateSigningKey();
    const crypto = new CryptoThread(key, mute);
    const owed = crypto.sign({ sub: 'owed' }, { typ: 'at+jwt' });
    await new Promise((r) => setTimeout(r, 50));
    // The test's own time limit is the bound: close() gives up waiting after a few seconds.
    await crypto.close();
    expect(claims(await owed, key)).toEqual({ sub: 'owed' });
  }, 20_000);
});
