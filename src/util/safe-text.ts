/**
 * The one sanitizer of what reaches a terminal. Tokens, IdPs, brokers and files that someone
 * else may have written decide many of the strings authbridge shows (kid, iss, sub, email, claim
 * values, `error_description`, a discovery `issuer`); a terminal acts on control characters in
 * them: ESC and C1 sequences clear the screen, move the cursor, recolour or retitle; `\r`
 * overwrites the line; bidi controls reorder what is read (CVE-2021-42574, "Trojan Source").
 * Human output escapes every such code point at the renderers (src/output/) and in `main`'s error
 * line, so it shows as text that can be read and copied, never acted on; JSON output, the batch's
 * NDJSON included, is written with `safeJson`.
 */

/**
 * Code points a terminal may act on: C0 controls (U+0000–U+001F), DEL (U+007F), C1 controls
 * (U+0080–U+009F; a UTF-8 terminal may take U+009B as CSI), the bidi embeddings, overrides and
 * isolates (U+202A–U+202E, U+2066–U+2069), the directional marks U+200E, U+200F and U+061C, and
 * the line and paragraph separators U+2028 and U+2029.
 */
const UNSAFE = /[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/gu;
/** The same, line feeds aside. */
const UNSAFE_BUT_LF = /[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/gu;
/** What `JSON.stringify` leaves raw of {@link UNSAFE}: it escapes C0 itself. */
const RAW_IN_JSON = /[\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/gu;

/** `\xNN` up to U+00FF, `\u{…}` beyond: visible, unambiguous, and what a shell's `$'…'` reads back. */
function escape(char: string): string {
  const code = char.codePointAt(0)!;
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u{${code.toString(16)}}`;
}

/**
 * A one-line field (a claim, an issuer, an error message) as it may be shown on a terminal: every
 * control, line feeds included, escaped as `\xNN` / `\u{…}`. Printable text is unchanged,
 * backslashes too. Anything not a string is shown through `String()`.
 *
 * @example
 * safeText('evil\x1b[2J\u202e'); // 'evil\\x1b[2J\\u{202e}'
 */
export function safeText(value: unknown): string {
  return String(value).replace(UNSAFE, escape);
}

/** Like {@link safeText}, for text of several lines (a `--debug` chain): line feeds are kept. */
export function safeLines(value: string): string {
  return value.replace(UNSAFE_BUT_LF, escape);
}

/**
 * `JSON.stringify(value, null, indent)`, and what JSON leaves raw of the controls above (DEL, C1,
 * bidi controls, U+2028/U+2029) written as `\uXXXX` escapes: the document parses back to exactly
 * the same values (`--json` keeps raw claims unchanged), yet prints safely on a terminal.
 *
 * @example
 * safeJson({ sub: '\x9b' }); // '{"sub":"\\u009b"}'
 */
export function safeJson(value: unknown, indent?: number): string {
  return String(JSON.stringify(value, null, indent)).replace(RAW_IN_JSON, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
