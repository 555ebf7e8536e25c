/**
 * The broker's public-key work, off the event loop. An ES256 signature for every token issued,
 * and a signature check for every subject token not seen before, are the largest costs of a token
 * exchange. What one event-loop turn needs goes to a crypto thread in one message
 * (crypto-worker.ts), so the loop goes on with HTTP while another core does the mathematics. One
 * message a batch, not one an operation: a message costs about as much as a signature.
 *
 * Running from the TypeScript sources (tests) there is no worker script, and a thread that fails
 * is not used again: then the work is done on this thread, as correct if slower.
 */
import type { KeyObject } from 'node:crypto';
import type { Worker } from 'node:worker_threads';
import { verifySignatureSync } from '../jwt/jws.js';
import { signInput, signingInput, type SigningKey } from '../jwt/sign.js';
import { startWorker } from '../runtime/worker.js';

/** One signature to check. */
export interface SignatureCheck {
  alg: string;
  /** An index into the batch's `keys`: a key used by many checks travels once. */
  key: number;
  input: string;
  signature: Uint8Array;
}

/** Main thread → crypto thread. */
export interface CryptoBatch {
  id: number;
  /** JWS signing inputs (`header.payload`) to sign, each with the broker key `kid`. */
  sign: { input: string; kid: string }[];
  /** Broker keys (private JWKs) the thread has not been sent yet. */
  signKeys: { kid: string; privateJwk: Record<string, string> }[];
  keys: KeyObject[];
  verify: SignatureCheck[];
}

/** Crypto thread → main thread: base64url signatures and check results, in request order. */
export type CryptoAnswer = { id: number; signatures: string[]; verified: boolean[]; error?: undefined } | { id: number; error: string };

interface Pending<T> {
  resolve: (value: T) => void;
  reject: (err: Error) => void;
}
interface SignJob extends Pending<string> {
  input: string;
  key: SigningKey;
}
interface VerifyJob extends Pending<boolean> {
  alg: string;
  key: KeyObject;
  input: string;
  signature: Uint8Array;
}
interface Batch {
  sign: SignJob[];
  verify: VerifyJob[];
}

/** Milliseconds close() waits for owed answers before it stops the thread anyway. */
const CLOSE_WAIT_MS = 5000;

export class CryptoThread {
  private worker: Worker | undefined;
  private queued: Batch = { sign: [], verify: [] };
  private scheduled = false;
  private readonly inFlight = new Map<number, Batch>();
  private nextId = 0;
  /** The kids of the broker keys the thread has. */
  private readonly sent = new Set<string>();
  private readonly signingKey: () => SigningKey;

  /**
   * `key`: the broker's signing key, or a function giving the one to sign with now (key rotation:
   * key-ring.ts). `script`: the thread's module (default: dist/crypto-worker.js beside this bundle).
   */
  constructor(key: SigningKey | (() => SigningKey), script?: string) {
    this.signingKey = typeof key === 'function' ? key : () => key;
    const worker = startWorker('crypto-worker', {
      script,
      unref: true,
      // A thread that dies takes nothing with it: its batches are done here, and so is what follows.
      onLost: () => {
        if (this.worker !== worker) return;
        this.worker = undefined;
        for (const batch of this.inFlight.values()) this.doHere(batch);
        this.inFlight.clear();
      },
    });
    worker?.on('message', (answer: CryptoAnswer) => this.answered(answer));
    this.worker = worker;
  }

  /** A compact ES256 JWS of `payload` with the broker's key (the header gets `alg`, `kid` and `header`), its signature low-S (ecdsa.ts). */
  sign(payload: Record<string, unknown>, header: Record<string, unknown> = {}): Promise<string> {
    const key = this.signingKey();
    const input = signingInput(key, payload, header);
    if (!this.worker) return Promise.resolve(signInput(key.privateKey, input));
    return new Promise((resolve, reject) => {
      this.queued.sign.push({ input, key, resolve, reject });
      this.schedule();
    });
  }

  /** Checks a signature of another issuer's token (as verifyJwt's `checkSignature`). */
  verify(alg: string, key: KeyObject, input: string, signature: Uint8Array): Promise<boolean> {
    if (!this.worker) return Promise.resolve(verifySignatureSync(alg, key, input, signature));
    return new Promise((resolve, reject) => {
      this.queued.verify.push({ alg, key, input, signature, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.send());
  }

  private send(): void {
    this.scheduled = false;
    const batch = this.queued;
    this.queued = { sign: [], verify: [] };
    if (!this.worker) return this.doHere(batch);
    const id = this.nextId++;
    this.inFlight.set(id, batch);
    const keys: KeyObject[] = [];
    const index = new Map<KeyObject, number>();
    const verify = batch.verify.map((job): SignatureCheck => {
      let key = index.get(job.key);
      if (key === undefined) index.set(job.key, (key = keys.push(job.key) - 1));
      return { alg: job.alg, key, input: job.input, signature: job.signature };
    });
    // Keeps the process alive while answers are owed, and only then.
    this.worker.ref();
    const signKeys: CryptoBatch['signKeys'] = [];
    for (const { key } of batch.sign) {
      if (this.sent.has(key.kid)) continue;
      this.sent.add(key.kid);
      signKeys.push({ kid: key.kid, privateJwk: key.privateJwk });
    }
    const sign = batch.sign.map((job) => ({ input: job.input, kid: job.key.kid }));
    this.worker.postMessage({ id, sign, signKeys, keys, verify } satisfies CryptoBatch);
  }

  private answered(answer: CryptoAnswer): void {
    const batch = this.inFlight.get(answer.id);
    this.inFlight.delete(answer.id);
    if (this.inFlight.size === 0) this.worker?.unref();
    if (!batch) return;
    if (answer.error !== undefined) {
      const err = new Error(`the crypto thread failed: ${answer.error}`);
      for (const job of [...batch.sign, ...batch.verify]) job.reject(err);
      return;
    }
    batch.sign.forEach((job, i) => job.resolve(`${job.input}.${answer.signatures[i]!}`));
    batch.verify.forEach((job, i) => job.resolve(answer.verified[i]!));
  }

  private doHere(batch: Batch): void {
    for (const job of batch.sign) {
      try {
        job.resolve(signInput(job.key.privateKey, job.input));
      } catch (err) {
        job.reject(err as Error);
      }
    }
    for (const job of batch.verify) job.resolve(verifySignatureSync(job.alg, job.key, job.input, job.signature));
  }

  /**
   * Stops the thread once what it was given is answered, waiting a few seconds at most: what is
   * still owed then is done on this thread (the 'exit' handler), so no caller waits for ever.
   */
  async close(): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    const deadline = Date.now() + CLOSE_WAIT_MS;
    while ((this.scheduled || this.inFlight.size > 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 1));
    await worker.terminate();
  }
}
