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

/** Strips surrounding whitespace and a leading `Bearer ` (any case): what every parser accepts. */
function stripBearer(input: string): string {
  let token = input.trim();
  if (/^bearer\s+/i.test(token)) token = token.replace(/^bearer\s+/i, '').trim();
  return token;
}

/** A compact JWS/JWE, or any token made of base64url segments: nothing of it is ever rewritten. */
const PLAIN_TOKEN = /^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]*)*$/;
/** The parameters of a redirect URL (or a fragment, a query) that carry a token. */
const TOKEN_PARAMS = ['id_token', 'access_token'] as const;
/** The fields of a JSON object (a token response) that carry a token. */
const TOKEN_FIELDS = ['access_token', 'id_token', 'refresh_token', 'token'];

function notAToken(what: string): never {
  throw new TokenRejectedError(`could not decode token: ${NOT_A_JWT}: ${what}`);
}

/** A redirect URL, a fragment (`#id_token=…&state=…`) or a query, reduced to its one token. */
function tokenFromParams(text: string): string {
  const params = new URLSearchParams();
  const hash = text.indexOf('#');
  const query = text.indexOf('?');
  const parts = [hash >= 0 ? text.slice(hash + 1) : '', query >= 0 ? text.slice(query + 1, hash > query ? hash : undefined) : ''];
  if (hash < 0 && query < 0) parts.push(text);
  for (const part of parts) for (const [key, value] of new URLSearchParams(part)) params.append(key, value);
  const found = TOKEN_PARAMS.filter((name) => params.get(name));
  if (found.length === 1) return params.get(found[0]!)!;
  if (found.length > 1) notAToken(`the URL carries ${found.join(' and ')}: pass one of them`);
  if (params.has('code')) notAToken('the URL carries an authorization code, not a token (`authbridge login` exchanges codes)');
  if (params.has('error')) notAToken(`the URL carries an error (${params.get('error')}), not a token`);
  return notAToken('a URL with no id_token or access_token in it');
}

/**
 * A token as people paste it → the token. Accepted around it: whitespace, quotes (`'…'`, `"…"`,
 * backticks), a JSON string (`"eyJ…"`, escapes decoded), `Bearer `, a header line
 * `Authorization: Bearer …`, a redirect URL or fragment carrying one token (`#id_token=…&state=…`,
 * `?access_token=…`), and line breaks inside a token (a mail client's wrapping). A plain token
 * comes back unchanged. Servers never use this: what they are sent is parsed as it is
 * ({@link parseToken} takes only whitespace and `Bearer `).
 * @throws TokenRejectedError naming what was pasted instead: a JSON object (its token fields), a
 *   URL with several tokens, a code or an error, or none.
 * @example normalizeTokenInput('Authorization: Bearer "eyJ…"') // 'eyJ…'
 */
export function normalizeTokenInput(input: string): string {
  let token = input.trim();
  if (PLAIN_TOKEN.test(token)) return token;
  // Each wrapper peeled reveals the next (`'Authorization: Bearer "eyJ…"'`). Every round shortens
  // the text or stops, so the input's length bounds the rounds; 64 is only a backstop (a quoted
  // header line alone takes three: the quotes, `Authorization:`, `Bearer`).
  for (let round = 0; round < 64; round++) {
    const before = token;
    const first = token[0];
    if (token.length >= 2 && (first === '"' || first === "'" || first === '`') && token.endsWith(first)) {
      let unquoted = token.slice(1, -1);
      if (first === '"') {
        try {
          unquoted = JSON.parse(token) as string;
        } catch {
          // Not JSON: plain double quotes.
        }
      }
      token = unquoted.trim();
    } else if (first === '{') {
      let doc: unknown;
      try {
        doc = JSON.parse(token);
      } catch {
        break;
      }
      const fields = doc !== null && typeof doc === 'object' ? TOKEN_FIELDS.filter((f) => typeof (doc as Record<string, unknown>)[f] === 'string') : [];
      notAToken(
        fields.length
          ? `a JSON object with ${fields.join(', ')} (a token response?): pass one of them, e.g. jq -r .${fields.includes('id_token') ? 'id_token' : fields[0]}`
          : 'a JSON object',
      );
    } else if (/^authorization\s*:/i.test(token)) {
      token = token.replace(/^authorization\s*:/i, '').trim();
    } else if (/^bearer\s+/i.test(token)) {
      token = token.replace(/^bearer\s+/i, '').trim();
    } else if (first === '#' || first === '?' || /^https?:\/\//i.test(token) || /(?:^|&)(?:id_token|access_token)=/.test(token)) {
      token = tokenFromParams(token).trim();
    } else if (/^[A-Za-z0-9_.\s-]+$/.test(token) && /\s/.test(token)) {
      const joined = token.replace(/\s+/g, '');
      const dots = joined.split('.').length - 1;
      if (dots === 2 || dots === 4) token = joined;
    }
    if (token === before || PLAIN_TOKEN.test(token)) break;
  }
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
  const compact = stripBearer(input);
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
