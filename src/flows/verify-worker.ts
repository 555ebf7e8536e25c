/**
 * A `verify --batch` worker thread: verifies chunks of tokens with a local key set and answers
 * each chunk with its NDJSON lines. Only local key sources (a JWKS file, a shared secret) are
 * used here: remote key sets stay on the main thread, where the Context's fetch lives.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { loadJwksFile, secretKeySet, type KeySet } from '../jwt/keys.js';
import type { VerifyOptions } from '../jwt/verify.js';
import { verifyLine, type BatchChunk, type BatchChunkResult, type LocalKeySource } from './verify-batch.js';

interface WorkerSetup {
  options: Omit<VerifyOptions, 'keys'>;
  keySource: LocalKeySource;
}

const setup = workerData as WorkerSetup;
const keys: Promise<KeySet> =
  setup.keySource.secret !== undefined ? Promise.resolve(secretKeySet(setup.keySource.secret)) : loadJwksFile(setup.keySource.jwksFile!);

parentPort!.on('message', async (chunk: BatchChunk) => {
  try {
    const options: VerifyOptions = { ...setup.options, keys: await keys };
    const results = await Promise.all(chunk.lines.map((line) => verifyLine(line, options)));
    let valid = 0;
    let out = '';
    for (const result of results) {
      if (result.valid) valid++;
      out += `${JSON.stringify(result)}\n`;
    }
    const answer: BatchChunkResult = { id: chunk.id, out, valid, total: results.length };
    parentPort!.postMessage(answer);
  } catch (err) {
    parentPort!.postMessage({ id: chunk.id, error: (err as Error).message, exitClass: (err as { exitClass?: string }).exitClass });
  }
});
