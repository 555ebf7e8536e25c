/**
 * JWS signature verification with node:crypto (RFC 7515, RFC 7518 §3, RFC 8037).
 *
 * Why not jose's `compactVerify`: it goes through WebCrypto, whose per-call promise and key
 * handling cost more than the signature itself for RS256, and `verify --batch` must keep up with
 * a bare node:crypto loop (see bench/verify-batch.mjs). Here a key is imported once into a
 * KeyObject and each asymmetric verification runs on libuv's thread pool (the callback form of
 * `crypto.verify`), so a batch uses every core without worker threads.
 */
import {
  constants,
  createHmac,
  createPublicKey,
  createSecretKey,
  timingSafeEqual,
  verify as cryptoVerify,
  type KeyObject,
} from 'node:crypto';

type Family = 'rsa' | 'pss' | 'ec' | 'okp' | 'hmac';

interface AlgorithmSpec {
  family: Family;
  hash: 'sha256' | 'sha384' | 'sha512' | null;
  /** EC: the curve node names, and the raw r||s signature length. */
  curve?: string;
  signatureLength?: number;
}

const ALGORITHMS: Record<string, AlgorithmSpec> = {
  RS256: { family: 'rsa', hash: 'sha256' },
  RS384: { family: 'rsa', hash: 'sha384' },
  RS512: { family: 'rsa', hash: 'sha512' },
  PS256: { family: 'pss', hash: 'sha256' },
  PS384: { family: 'pss', hash: 'sha384' },
  PS512: { family: 'pss', hash: 'sha512' },
  ES256: { family: 'ec', hash: 'sha256', curve: 'prime256v1', signatureLength: 64 },
  ES384: { family: 'ec', hash: 'sha384', curve: 'secp384r1', signatureLength: 96 },
  ES512: { family: 'ec', hash: 'sha512', curve: 'secp521r1', signatureLength: 132 },
  EdDSA: { family: 'okp', hash: null },
  Ed25519: { family: 'okp', hash: null },
  HS256: { family: 'hmac', hash: 'sha256' },
  HS384: { family: 'hmac', hash: 'sha384' },
  HS512: { family: 'hmac', hash: 'sha512' },
};

/** RFC 7518 §3.3/§3.5: RSA keys of 2048 bits or more. */
const MIN_RSA_BITS = 2048;

/**
 * Imports a public JWK for `alg`, checking that the key fits it (type, curve, RSA size).
 * @throws Error when the key is malformed or unsuitable: the caller treats it as no match.
 */
export function importPublicJwk(jwk: Record<string, unknown>, alg: string): KeyObject {
  const spec = ALGORITHMS[alg];
  if (!spec || spec.family === 'hmac') throw new Error(`unsupported algorithm ${alg}`);
  // Only the public members: a JWK carrying `d` must never make a private key here.
  const { kty, n, e, crv, x, y } = jwk;
  const key = createPublicKey({ key: { kty, n, e, crv, x, y } as import('node:crypto').JsonWebKey, format: 'jwk' });
  const type = key.asymmetricKeyType;
  const details = key.asymmetricKeyDetails ?? {};
  if (spec.family === 'rsa' || spec.family === 'pss') {
    if (type !== 'rsa') throw new Error(`${alg} needs an RSA key`);
    if ((details.modulusLength ?? 0) < MIN_RSA_BITS) throw new Error(`RSA keys must be at least ${MIN_RSA_BITS} bits`);
  } else if (spec.family === 'ec') {
    if (type !== 'ec' || details.namedCurve !== spec.curve) throw new Error(`${alg} needs an EC ${spec.curve} key`);
  } else if (alg === 'Ed25519' ? type !== 'ed25519' : type !== 'ed25519' && type !== 'ed448') {
    throw new Error(`${alg} needs an Ed25519/Ed448 key`);
  }
  return key;
}

/** A shared secret for HS256/384/512. */
export function importSecret(secret: Uint8Array): KeyObject {
  return createSecretKey(secret);
}

/**
 * Checks `signature` over `signingInput` (the ASCII `header.payload`) with `key` for `alg`.
 * Resolves false for a wrong signature, a wrong-length one, or a key of the wrong kind.
 * Asymmetric checks run on libuv's thread pool, so the calling thread goes on meanwhile.
 */
export function verifySignature(alg: string, key: KeyObject, signingInput: string, signature: Uint8Array): Promise<boolean> {
  const job = prepare(alg, key, signingInput, signature);
  if (typeof job === 'boolean') return Promise.resolve(job);
  return new Promise((resolve) => {
    try {
      cryptoVerify(job.hash, job.data, job.key, signature, (err, ok) => resolve(!err && ok));
    } catch {
      resolve(false);
    }
  });
}

/**
 * The same check on the calling thread. For a thread that has nothing else to do (a
 * `verify --batch` worker): a hop to the thread pool and back costs it more than it saves.
 */
export function verifySignatureSync(alg: string, key: KeyObject, signingInput: string, signature: Uint8Array): boolean {
  const job = prepare(alg, key, signingInput, signature);
  if (typeof job === 'boolean') return job;
  try {
    return cryptoVerify(job.hash, job.data, job.key, signature);
  } catch {
    return false;
  }
}

type KeyInput = KeyObject | { key: KeyObject; padding?: number; saltLength?: number; dsaEncoding?: 'ieee-p1363' };

/** An asymmetric check to run, or its answer when none is needed (HMAC, wrong key kind or length). */
function prepare(
  alg: string,
  key: KeyObject,
  signingInput: string,
  signature: Uint8Array,
): boolean | { hash: string | null; data: Buffer; key: KeyInput } {
  const spec = ALGORITHMS[alg];
  if (!spec) return false;
  const data = Buffer.from(signingInput, 'latin1');
  if (spec.family === 'hmac') {
    if (key.type !== 'secret') return false;
    const expected = createHmac(spec.hash!, key).update(data).digest();
    return expected.length === signature.length && timingSafeEqual(expected, signature);
  }
  if (key.type !== 'public') return false;
  if (spec.signatureLength !== undefined && signature.length !== spec.signatureLength) return false;
  const keyInput: KeyInput =
    spec.family === 'pss'
      ? { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST }
      : spec.family === 'ec'
        ? { key, dsaEncoding: 'ieee-p1363' }
        : key;
  return { hash: spec.hash, data, key: keyInput };
}
