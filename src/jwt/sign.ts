/**
 * Signing and checking the tokens authbridge issues itself (the broker's ES256 access tokens).
 *
 * This uses node:crypto directly rather than jose: the key is imported once, and a token costs
 * one synchronous ECDSA operation. (On libuv's thread pool instead, the hop there and back cost
 * the broker's busy event loop more than the signature: bench/broker.mjs.) Tokens from other
 * issuers are verified with `verifyJwt`, never here.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type JsonWebKey, type KeyObject } from 'node:crypto';
import { isLowS, toLowS } from './ecdsa.js';

/** A public key as published in a JWKS. */
export interface PublicJwk {
  kty: 'EC';
  crv: 'P-256';
  x: string;
  y: string;
  kid: string;
  alg: 'ES256';
  use: 'sig';
}

/** An ES256 signing key with its `kid` (the RFC 7638 thumbprint of the public key). */
export interface SigningKey {
  readonly kid: string;
  readonly alg: 'ES256';
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly publicJwk: PublicJwk;
  /** The private key as a JWK, for storage. */
  readonly privateJwk: Record<string, string>;
}

function thumbprint(jwk: { crv: string; kty: string; x: string; y: string }): string {
  // RFC 7638 §3.2: the required members in lexicographic order, no whitespace.
  const canonical = JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y });
  return createHash('sha256').update(canonical).digest('base64url');
}

function fromPrivateKey(privateKey: KeyObject): SigningKey {
  const publicKey = createPublicKey(privateKey);
  const pub = publicKey.export({ format: 'jwk' }) as { kty: string; crv: string; x: string; y: string };
  if (pub.kty !== 'EC' || pub.crv !== 'P-256') throw new Error(`not a P-256 key (${pub.kty} ${pub.crv ?? ''})`);
  const kid = thumbprint(pub);
  const privateJwk = privateKey.export({ format: 'jwk' }) as Record<string, string>;
  return {
    kid,
    alg: 'ES256',
    privateKey,
    publicKey,
    publicJwk: { kty: 'EC', crv: 'P-256', x: pub.x, y: pub.y, kid, alg: 'ES256', use: 'sig' },
    privateJwk: { kty: privateJwk.kty!, crv: privateJwk.crv!, x: privateJwk.x!, y: privateJwk.y!, d: privateJwk.d! },
  };
}

/** Generates a fresh ES256 (P-256) key. */
export function generateSigningKey(): SigningKey {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return fromPrivateKey(privateKey);
}

/**
 * Imports a stored private JWK.
 * @throws Error when the JWK is not a P-256 private key.
 */
export function signingKeyFromJwk(jwk: Record<string, unknown>): SigningKey {
  return fromPrivateKey(createPrivateKey({ key: jwk as JsonWebKey, format: 'jwk' }));
}

const b64json = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/**
 * Signs `payload` as a compact JWS with ES256; the header gets `alg` and `kid` besides `header`.
 * Synchronous.
 */
export function signJwt(key: SigningKey, payload: Record<string, unknown>, header: Record<string, unknown> = {}): string {
  return signInput(key.privateKey, signingInput(key, payload, header));
}

/** The JWS signing input (`header.payload`, base64url) of a token `key` will sign. */
export function signingInput(key: SigningKey, payload: Record<string, unknown>, header: Record<string, unknown> = {}): string {
  return `${b64json({ alg: key.alg, kid: key.kid, ...header })}.${b64json(payload)}`;
}

/** The compact JWS of a signing input: the input, a dot and its ES256 signature, low-S (ecdsa.ts). */
export function signInput(privateKey: KeyObject, input: string): string {
  return `${input}.${toLowS(sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' })).toString('base64url')}`;
}

export type OwnTokenProblem = 'malformed' | 'unknown_key' | 'bad_signature' | 'wrong_type';

export type OwnTokenResult =
  | { ok: true; header: Record<string, unknown>; payload: Record<string, unknown> }
  | { ok: false; problem: OwnTokenProblem };

function decodePart(part: string): Record<string, unknown> | undefined {
  if (!/^[A-Za-z0-9_-]+$/.test(part)) return undefined;
  try {
    const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Checks the signature of a token this program signed: ES256 only, low-S only (the one spelling
 * `signInput` issues), `kid` must name one of `keys`, and (when `typ` is given) the header's
 * `typ` must equal it. Claims (`iss`, `exp`…) are the caller's to judge. Synchronous.
 */
export function verifyOwnJwt(token: string, keys: ReadonlyMap<string, SigningKey>, typ?: string): OwnTokenResult {
  const parts = token.split('.');
  if (parts.length !== 3 || !parts[2]) return { ok: false, problem: 'malformed' };
  const header = decodePart(parts[0]!);
  const payload = decodePart(parts[1]!);
  if (!header || !payload || header.alg !== 'ES256' || header.crit !== undefined) return { ok: false, problem: 'malformed' };
  if (typ !== undefined && header.typ !== typ) return { ok: false, problem: 'wrong_type' };
  const key = typeof header.kid === 'string' ? keys.get(header.kid) : undefined;
  if (!key) return { ok: false, problem: 'unknown_key' };
  const signature = Buffer.from(parts[2], 'base64url');
  if (signature.length !== 64 || !isLowS(signature)) return { ok: false, problem: 'bad_signature' };
  const ok = verify('sha256', Buffer.from(`${parts[0]}.${parts[1]}`), { key: key.publicKey, dsaEncoding: 'ieee-p1363' }, signature);
  return ok ? { ok: true, header, payload } : { ok: false, problem: 'bad_signature' };
}
