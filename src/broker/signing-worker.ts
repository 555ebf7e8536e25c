/**
 * The broker's signing thread: ES256 signatures for batches of token signing inputs. The event
 * loop, busy reading requests and writing answers, hands each turn's tokens over in one message
 * (signer.ts); the ECDSA work then runs on another core.
 */
import { createPrivateKey, type JsonWebKey } from 'node:crypto';
import { parentPort, workerData } from 'node:worker_threads';
import { signInput } from '../jwt/sign.js';
import type { SignBatch, SignedBatch } from './signer.js';

const key = createPrivateKey({ key: (workerData as { privateJwk: JsonWebKey }).privateJwk, format: 'jwk' });

parentPort!.on('message', (batch: SignBatch) => {
  let answer: SignedBatch;
  try {
    // Only the signatures travel back: the main thread has the inputs.
    const signatures = batch.inputs.map((input) => signInput(key, input).slice(input.length + 1));
    answer = { id: batch.id, signatures };
  } catch (err) {
    answer = { id: batch.id, error: (err as Error).message };
  }
  parentPort!.postMessage(answer);
});
