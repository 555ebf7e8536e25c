/**
 * ECDSA signature malleability (RFC 8725 §3.1 asks for canonical checks; SEC 1 §4.1.4): for
 * every P-256 signature (r, s), (r, n - s) verifies too, so anyone holding a broker token can
 * make a second, different string that is "the same" token. authbridge's own tokens (sign.ts:
 * the broker's) are issued in the low-S form (s ≤ n/2) only, and only that form is honoured: a
 * token has one spelling.
 */

/** The order of the P-256 group (SEC 2 §2.4.2). */
const N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const HALF_N = N >> 1n;

const toBigInt = (bytes: Uint8Array): bigint => BigInt(`0x${Buffer.from(bytes).toString('hex') || '0'}`);

/** True for a 64-byte ES256 signature (JWS: r ‖ s) whose s is at most n/2. */
export function isLowS(signature: Uint8Array): boolean {
  return signature.length === 64 && toBigInt(signature.subarray(32)) <= HALF_N;
}

/** The low-S form of a 64-byte ES256 signature (the signature itself when it is already). */
export function toLowS(signature: Buffer): Buffer {
  if (signature.length !== 64 || isLowS(signature)) return signature;
  const s = N - toBigInt(signature.subarray(32));
  return Buffer.concat([signature.subarray(0, 32), Buffer.from(s.toString(16).padStart(64, '0'), 'hex')]);
}
