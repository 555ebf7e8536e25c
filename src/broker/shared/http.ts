/** HTTP constants every endpoint shares. */

/** Largest request body accepted, in bytes. */
export const BODY_LIMIT = 64 * 1024;

/** RFC 6749 §5.1: token responses, and errors, are never cached. */
export const NO_STORE = { 'cache-control': 'no-store', pragma: 'no-cache' };

/** `Authorization: Bearer <token>` (RFC 6750 §2.1); undefined when absent or another scheme. */
export function bearerToken(authorization: string | undefined): string | undefined {
  if (!authorization) return undefined;
  const match = /^bearer\s+(\S+)\s*$/i.exec(authorization);
  return match ? match[1] : undefined;
}
