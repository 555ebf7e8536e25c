/** JSON Pointer (RFC 6901), the way the broker's `mapping` and `subjectPointer` name values. */

/** True for "" (the whole document) and strings of `/`-prefixed reference tokens with valid escapes. */
export function isJsonPointer(pointer: string): boolean {
  return pointer === '' || (pointer.startsWith('/') && !/~[^01]|~$/.test(pointer));
}

/** Splits a pointer into its unescaped reference tokens (§4: `~1` → `/` first, then `~0` → `~`). */
export function parsePointer(pointer: string): string[] {
  if (!isJsonPointer(pointer)) throw new Error(`not a JSON Pointer: "${pointer}"`);
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((token) => token.replace(/~1/g, '/').replace(/~0/g, '~'));
}

const ARRAY_INDEX = /^(0|[1-9][0-9]*)$/;

/**
 * Evaluates a parsed pointer against a JSON value (§4). Returns `undefined` when the value does
 * not exist: a missing member, an index past the end, `-`, or a token applied to a scalar.
 */
export function resolvePointer(document: unknown, tokens: readonly string[]): unknown {
  let current: unknown = document;
  for (const token of tokens) {
    if (Array.isArray(current)) {
      if (!ARRAY_INDEX.test(token)) return undefined;
      current = current[Number(token)];
    } else if (current !== null && typeof current === 'object') {
      if (!Object.prototype.hasOwnProperty.call(current, token)) return undefined;
      current = (current as Record<string, unknown>)[token];
    } else {
      return undefined;
    }
    if (current === undefined) return undefined;
  }
  return current;
}
