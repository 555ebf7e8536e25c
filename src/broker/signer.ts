/**
 * Signs the broker's tokens off the event loop. An ES256 signature is the largest single cost of
 * a token exchange; the tokens of one event-loop turn go to a signing thread in one message
 * (signing-worker.ts), so the loop goes on with HTTP while another core signs. One message a
 * batch, not one a token: a message costs about as much as a signature.
 *
 * Running from the TypeScript sources (tests) there is no worker script, and a thread that
 * fails is not used again: then tokens are signed on this thread, as correct if slower.
 */
import { Worker } from 'node:worker_threads';
import { signInput, signingInput, type SigningKey } from '../jwt/sign.js';
import { distFile } from '../util/dist-file.js';

/** Main thread → signing thread. */
export interface SignBatch {
  id: number;
  /** JWS signing inputs (`header.payload`). */
  inputs: string[];
}

/** Signing thread → main thread: one base64url signature per input, in order. */
export type SignedBatch = { id: number; signatures: string[]; error?: undefined } | { id: number; error: string };

interface Waiting {
  input: string;
  resolve: (token: string) => void;
  reject: (err: Error) => void;
}

export class TokenSigner {
  private worker: Worker | undefined;
  private queued: Waiting[] = [];
  private readonly inFlight = new Map<number, Waiting[]>();
  private nextId = 0;

  /** `script`: the signing thread's module (default: dist/signing-worker.js beside this bundle). */
  constructor(
    private readonly key: SigningKey,
    script: string | undefined = distFile('signing-worker.js'),
  ) {
    if (!script) return;
    const worker = new Worker(script, { workerData: { privateJwk: key.privateJwk } });
    worker.unref();
    worker.on('message', (answer: SignedBatch) => this.answered(answer));
    // A thread that dies takes nothing with it: its batches are signed here, and so is what follows.
    const lost = () => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      for (const batch of this.inFlight.values()) this.signHere(batch);
      this.inFlight.clear();
    };
    worker.on('error', lost);
    worker.on('exit', lost);
    this.worker = worker;
  }

  /** A compact ES256 JWS of `payload` (the header gets `alg`, `kid` and `header`). */
  sign(payload: Record<string, unknown>, header: Record<string, unknown> = {}): Promise<string> {
    const input = signingInput(this.key, payload, header);
    if (!this.worker) return Promise.resolve(signInput(this.key.privateKey, input));
    return new Promise((resolve, reject) => {
      if (this.queued.push({ input, resolve, reject }) === 1) setImmediate(() => this.send());
    });
  }

  private send(): void {
    const batch = this.queued;
    this.queued = [];
    if (batch.length === 0) return;
    if (!this.worker) return this.signHere(batch);
    const id = this.nextId++;
    this.inFlight.set(id, batch);
    // Keeps the process alive while signatures are owed, and only then.
    this.worker.ref();
    this.worker.postMessage({ id, inputs: batch.map((w) => w.input) } satisfies SignBatch);
  }

  private answered(answer: SignedBatch): void {
    const batch = this.inFlight.get(answer.id);
    this.inFlight.delete(answer.id);
    if (this.inFlight.size === 0) this.worker?.unref();
    if (!batch) return;
    if (answer.error !== undefined) {
      for (const w of batch) w.reject(new Error(`could not sign: ${answer.error}`));
      return;
    }
    batch.forEach((w, i) => w.resolve(`${w.input}.${answer.signatures[i]!}`));
  }

  private signHere(batch: Waiting[]): void {
    for (const w of batch) {
      try {
        w.resolve(signInput(this.key.privateKey, w.input));
      } catch (err) {
        w.reject(err as Error);
      }
    }
  }

  /** Stops the signing thread once the batches it holds are answered. */
  async close(): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    while (this.queued.length > 0 || this.inFlight.size > 0) await new Promise((r) => setImmediate(r));
    this.worker = undefined;
    await worker.terminate();
  }
}
