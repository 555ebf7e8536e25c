/**
 * Finding 1 of the second review (terminal injection): the one sanitizer of human output and
 * error messages, and the JSON encoder that leaves nothing raw that a terminal would act on.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { safeJson, safeLines, safeText } from '../../src/util/safe-text.js';

/** Every code point a terminal may act on: C0, DEL, C1, bidi controls, line separators. */
const DANGEROUS = /[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/u;

describe('terminal injection: safeText', () => {
  it.each([
    ['ESC (clear screen)', '\x1b[2J', '\\x1b[2J'],
    ['OSC title with BEL', '\x1b]0;pwned\x07', '\\x1b]0;pwned\\x07'],
    ['carriage return', 'ok\rforged', 'ok\\x0dforged'],
    ['newline in a one-line field', 'a\nb', 'a\\x0ab'],
    ['tab', 'a\tb', 'a\\x09b'],
    ['NUL', 'a\0b', 'a\\x00b'],
    ['DEL', 'a\x7fb', 'a\\x7fb'],
    ['C1 CSI', '\x9b31m', '\\x9b31m'],
    ['C1 NEL', 'a\x85b', 'a\\x85b'],
    ['RLO', 'txt.\u202eexe', 'txt.\\u{202e}exe'],
    ['LRE … PDF', '\u202aa\u202c', '\\u{202a}a\\u{202c}'],
    ['isolates', '\u2066\u2067\u2068\u2069', '\\u{2066}\\u{2067}\\u{2068}\\u{2069}'],
    ['LRM, RLM, ALM', '\u200e\u200f\u061c', '\\u{200e}\\u{200f}\\u{61c}'],
    ['line and paragraph separators', '\u2028\u2029', '\\u{2028}\\u{2029}'],
  ])('escapes %s visibly', (_name, input, expected) => {
    expect(safeText(input)).toBe(expected);
  });

  it('leaves printable text alone: ASCII, accents, emoji, CJK, right-to-left letters, backslashes', () => {
    for (const text of ['alice@example.com', 'Zoë Ågren', '👩‍💻 ok', '東京', 'שלום', 'C:\\path', '✓ signature']) {
      expect(safeText(text)).toBe(text);
    }
  });

  it('never lets a dangerous code point through (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (text) => {
        expect(safeText(text)).not.toMatch(DANGEROUS);
      }),
      { numRuns: 2000 },
    );
  });

  it('safeLines keeps line feeds, escapes the rest', () => {
    expect(safeLines('one\ntwo\x1b[2J\r')).toBe('one\ntwo\\x1b[2J\\x0d');
  });
});

describe('terminal injection: safeJson', () => {
  it('parses back to the very same value, with nothing raw that JSON.stringify leaves raw', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.string({ unit: 'binary' }), (value, text) => {
        const doc = { value, text, [text]: text };
        const encoded = safeJson(doc, 2);
        // Pretty-printed: its own line feeds are the only control characters in it.
        expect(encoded.replaceAll('\n', '')).not.toMatch(DANGEROUS);
        expect(JSON.parse(encoded)).toEqual(JSON.parse(JSON.stringify(doc)));
      }),
      { numRuns: 1000 },
    );
  });

  it('uses JSON escapes (\\u009b, \\u202e), never a raw byte', () => {
    expect(safeJson({ sub: '\x9b\u202e\x7f' })).toBe('{"sub":"\\u009b\\u202e\\u007f"}');
  });
});
