import { parseToken, type JsonObject } from './parse.js';

/** What `decode --json` prints, and what the library's `decodeToken` returns. */
export interface DecodedToken {
  format: 'jws' | 'jwe';
  header: JsonObject;
  /** `null` for an encrypted token (JWE): its payload cannot be read without the key. */
  payload: JsonObject | null;
  signature_present: boolean;
}

/** The claims shown as times when numeric (seconds since the epoch). */
export const TIME_CLAIMS = ['exp', 'iat', 'nbf', 'auth_time', 'updated_at'] as const;

/**
 * Decodes a JWS or JWE without verifying anything.
 * Accepts a leading `Bearer ` and surrounding whitespace.
 * @throws TokenRejectedError ("not a JWT (opaque token?)") for anything else.
 * @example
 * const { header, payload } = decodeToken(token);
 */
export function decodeToken(token: string): DecodedToken {
  const parsed = parseToken(token);
  return {
    format: parsed.format,
    header: parsed.header,
    payload: parsed.payload,
    signature_present: parsed.signaturePresent,
  };
}
