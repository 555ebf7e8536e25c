/**
 * A `verify --batch` worker thread: verifies chunks of tokens with a local key set and answers
 * each chunk with its NDJSON lines. Only local key sources (a JWKS file, a shared secret) are
 * used here: remote key sets stay on the main thread, where the Context's fetch lives.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { loadJwksFile, secretKeySet, type KeySet } from '../jwt/keys.js';
import type { VerifyOptions } from '../jwt/verify.js';
import { verifySignatureSync } from '../jwt/jws.js';
import { formatResult, verifyLine, type BatchChunk, type BatchChunkResult, type BatchOutput, type LocalKeySource } from './verify-batch.js';

interface WorkerSetup {
  options: Omit<VerifyOptions, 'keys'>;
  keySource: LocalKeySource;
  output: BatchOutput;
}

const setup = workerData as WorkerSetup;
const keys: Promise<KeySet> =
  setup.keySource.secret !== undefined ? Promise.resolve(secretKeySet(setup.keySource.secret)) : loadJwksFile(setup.keySource.jwksFile!);

parentPort!.on('message', async (chunk: BatchChunk) => {
  try {
    // This thread does nothing else: signatures are checked here, one after another, rather than
    // queued on libuv's pool, which the other workers share.
    const options: VerifyOptions = { ...setup.options, keys: await keys, checkSignature: verifySignatureSync };
    let valid = 0;
    let out = '';
    for (const line of chunk.lines) {
      const result = await verifyLine(line, options);
      if (result.valid) valid++;
      out += formatResult(result, setup.output);
    }
    const answer: BatchChunkResult = { id: chunk.id, out, valid, total: chunk.lines.length };
    parentPort!.postMessage(answer);
  } catch (err) {
    parentPort!.postMessage({ id: chunk.id, error: (err as Error).message, code: (err as { code?: unknown }).code });
  }
});
