/**
 * The broker's crypto thread: ES256 signatures for the broker's tokens and signature checks of
 * subject tokens, a batch a message (crypto-thread.ts).
 */
import { createPrivateKey, type JsonWebKey } from 'node:crypto';
import { parentPort, workerData } from 'node:worker_threads';
import { verifySignatureSync } from '../jwt/jws.js';
import { signInput } from '../jwt/sign.js';
import type { CryptoAnswer, CryptoBatch } from './crypto-thread.js';

const key = createPrivateKey({ key: (workerData as { privateJwk: JsonWebKey }).privateJwk, format: 'jwk' });

parentPort!.on('message', (batch: CryptoBatch) => {
  let answer: CryptoAnswer;
  try {
    // Only the signatures travel back: the main thread has the inputs.
    // Low-S only (ecdsa.ts): a broker token has one spelling.
    const signatures = batch.sign.map((input) => signInput(key, input).slice(input.length + 1));
    const verified = batch.verify.map((c) => verifySignatureSync(c.alg, batch.keys[c.key]!, c.input, c.signature));
    answer = { id: batch.id, signatures, verified };
  } catch (err) {
    answer = { id: batch.id, error: (err as Error).message };
  }
  parentPort!.postMessage(answer);
});
