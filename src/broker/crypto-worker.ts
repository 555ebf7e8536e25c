/**
 * The broker's crypto thread: ES256 signatures for the broker's tokens and signature checks of
 * subject tokens, a batch a message (crypto-thread.ts).
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { parentPort } from 'node:worker_threads';
import { verifySignatureSync } from '../jwt/jws.js';
import { signInput } from '../jwt/sign.js';
import type { CryptoAnswer, CryptoBatch } from './crypto-thread.js';

/** The broker's keys by kid, as the main thread sends them (one at first, more after a rotation). */
const keys = new Map<string, KeyObject>();

parentPort!.on('message', (batch: CryptoBatch) => {
  let answer: CryptoAnswer;
  try {
    // Only the signatures travel back: the main thread has the inputs.
    // Low-S only (ecdsa.ts): a broker token has one spelling.
    for (const k of batch.signKeys) keys.set(k.kid, createPrivateKey({ key: k.privateJwk, format: 'jwk' }));
    const signatures = batch.sign.map(({ input, kid }) => signInput(keys.get(kid)!, input).slice(input.length + 1));
    const verified = batch.verify.map((c) => verifySignatureSync(c.alg, batch.keys[c.key]!, c.input, c.signature));
    answer = { id: batch.id, signatures, verified };
  } catch (err) {
    answer = { id: batch.id, error: (err as Error).message };
  }
  parentPort!.postMessage(answer);
});
