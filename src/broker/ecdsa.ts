/**
 * ECDSA signature malleability (RFC 8725 §3.1 asks for canonical checks; SEC 1 §4.1.4): for
 * every P-256 signature (r, s), (r, n - s) verifies too, so anyone holding a broker token can
 * make a second, different string that is "the same" token. The broker issues only the low-S
 * form (s ≤ n/2) and honours only that form: a token has one spelling.
 *
 * (Here rather than in jwt/sign.ts, whose signInput/verifyOwnJwt would be the natural home.)
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

/** A base64url ES256 signature in its low-S form. */
export function lowSignature(base64url: string): string {
  const raw = Buffer.from(base64url, 'base64url');
  return isLowS(raw) ? base64url : toLowS(raw).toString('base64url');
}

/** A compact ES256 JWS with its signature in the low-S form. */
export function lowSJws(jws: string): string {
  const dot = jws.lastIndexOf('.');
  return `${jws.slice(0, dot + 1)}${lowSignature(jws.slice(dot + 1))}`;
}

/** True when a compact JWS's signature is a 64-byte low-S one; false for anything else. */
export function hasLowSSignature(jws: string): boolean {
  const dot = jws.lastIndexOf('.');
  const part = jws.slice(dot + 1);
  return dot >= 0 && /^[A-Za-z0-9_-]+$/.test(part) && isLowS(Buffer.from(part, 'base64url'));
}
