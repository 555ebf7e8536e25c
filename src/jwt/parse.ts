import { TokenRejectedError } from '../errors.js';

/** A JSON object as found in a JOSE header or JWT payload. */
export type JsonObject = Record<string, unknown>;

export interface ParsedJws {
  format: 'jws';
  /** The compact token, without `Bearer ` and surrounding whitespace. */
  compact: string;
  header: JsonObject;
  payload: JsonObject;
  signaturePresent: boolean;
  /** `BASE64URL(header).BASE64URL(payload)`: what the signature covers. */
  signingInput: string;
  signature: Uint8Array;
}

export interface ParsedJwe {
  format: 'jwe';
  compact: string;
  header: JsonObject;
  payload: null;
  signaturePresent: false;
}

export type ParsedToken = ParsedJws | ParsedJwe;

const BASE64URL = /^[A-Za-z0-9_-]*$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

export const NOT_A_JWT = 'not a JWT (opaque token?)';

/** Strips surrounding whitespace and a leading `Bearer ` (any case) from pasted input. */
export function normalizeTokenInput(input: string): string {
  let token = input.trim();
  if (/^bearer\s+/i.test(token)) token = token.replace(/^bearer\s+/i, '').trim();
  return token;
}

function decodeSegment(segment: string): Uint8Array | undefined {
  // A base64url string never has length 1 mod 4; Buffer would silently drop the stray character.
  if (!BASE64URL.test(segment) || segment.length % 4 === 1) return undefined;
  return Buffer.from(segment, 'base64url');
}

function decodeJsonObject(segment: string): JsonObject | undefined {
  const bytes = decodeSegment(segment);
  if (!bytes || bytes.length === 0) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(utf8.decode(bytes));
  } catch {
    return undefined;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  return value as JsonObject;
}

function reject(why: string): never {
  throw new TokenRejectedError(`could not decode token: ${why}`);
}

/**
 * Splits and decodes a compact JWS (3 parts) or JWE (5 parts). Nothing is verified.
 * @throws TokenRejectedError when the input is not a JWT.
 */
export function parseToken(input: string): ParsedToken {
  const compact = normalizeTokenInput(input);
  if (compact === '') reject('empty input');
  const parts = compact.split('.');
  if (parts.length !== 3 && parts.length !== 5) reject(NOT_A_JWT);
  const header = decodeJsonObject(parts[0]!);
  if (!header) reject(`${NOT_A_JWT}: the header is not base64url-encoded JSON`);
  if (parts.length === 5) {
    for (const part of parts.slice(1)) if (!decodeSegment(part)) reject(`${NOT_A_JWT}: a JWE segment is not base64url`);
    return { format: 'jwe', compact, header, payload: null, signaturePresent: false };
  }
  const payload = decodeJsonObject(parts[1]!);
  if (!payload) reject(`${NOT_A_JWT}: the payload is not a base64url-encoded JSON object`);
  const signature = decodeSegment(parts[2]!);
  if (!signature) reject(`${NOT_A_JWT}: the signature is not base64url`);
  return {
    format: 'jws',
    compact,
    header,
    payload,
    signaturePresent: signature.length > 0,
    signingInput: compact.slice(0, parts[0]!.length + parts[1]!.length + 1),
    signature,
  };
}
