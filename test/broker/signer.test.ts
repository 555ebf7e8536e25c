/** The broker's signing thread: batches, order, and a thread that dies. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TokenSigner } from '../../src/broker/signer.js';
import { generateSigningKey, verifyOwnJwt } from '../../src/jwt/sign.js';

// Built by `npm test`'s pretest step; the thread runs the bundled module, as the broker does.
const SCRIPT = join(import.meta.dirname, '..', '..', 'dist', 'signing-worker.js');

function claims(token: string, key: ReturnType<typeof generateSigningKey>): Record<string, unknown> {
  const result = verifyOwnJwt(token, new Map([[key.kid, key]]), 'at+jwt');
  if (!result.ok) throw new Error(`not a valid token: ${result.problem}`);
  return result.payload;
}

describe('TokenSigner', () => {
  it('signs a turn\'s tokens on its thread: each answer is its own payload, validly signed', async () => {
    expect(existsSync(SCRIPT)).toBe(true);
    const key = generateSigningKey();
    const signer = new TokenSigner(key, SCRIPT);
    try {
      const tokens = await Promise.all(Array.from({ length: 300 }, (_, i) => signer.sign({ sub: `user-${i}` }, { typ: 'at+jwt' })));
      tokens.forEach((token, i) => expect(claims(token, key)).toEqual({ sub: `user-${i}` }));
      // A later turn, a second batch.
      expect(claims(await signer.sign({ sub: 'late' }, { typ: 'at+jwt' }), key)).toEqual({ sub: 'late' });
    } finally {
      await signer.close();
    }
  });

  it('without a thread (sources, or none could start) signs on the calling thread', async () => {
    const key = generateSigningKey();
    const signer = new TokenSigner(key, undefined);
    expect(claims(await signer.sign({ sub: 'here' }, { typ: 'at+jwt' }), key)).toEqual({ sub: 'here' });
    await signer.close();
  });

  it('a thread that dies with tokens owed: they are signed here, and so is what follows', async () => {
    const key = generateSigningKey();
    const signer = new TokenSigner(key, SCRIPT);
    const owed = Array.from({ length: 50 }, (_, i) => signer.sign({ sub: `owed-${i}` }, { typ: 'at+jwt' }));
    // Kill it as the batch is posted.
    setImmediate(() => void (signer as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate());
    const tokens = await Promise.all(owed);
    tokens.forEach((token, i) => expect(claims(token, key)).toEqual({ sub: `owed-${i}` }));
    expect((signer as unknown as { worker: unknown }).worker).toBeUndefined();
    expect(claims(await signer.sign({ sub: 'after' }, { typ: 'at+jwt' }), key)).toEqual({ sub: 'after' });
    await signer.close();
  });
});
