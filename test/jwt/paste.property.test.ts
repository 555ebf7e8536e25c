/**
 * `normalizeTokenInput`: a token as people paste it (quotes, a JSON string, `Bearer`, a header
 * line, a redirect URL or fragment, line breaks) comes back exactly; what is not a token is named.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TokenRejectedError } from '../../src/errors.js';
import { normalizeTokenInput, parseToken } from '../../src/jwt/parse.js';

const b64u = (text: string) => Buffer.from(text).toString('base64url');

/** A compact JWS (3 segments) or JWE (5) of base64url: what a real token looks like. */
const segment = fc.stringMatching(/^[A-Za-z0-9_-]{1,60}$/);
const jwt = fc.oneof(
  fc.tuple(fc.jsonValue(), segment).map(([claims, sig]) => `${b64u('{"alg":"RS256"}')}.${b64u(JSON.stringify({ claims }))}.${sig}`),
  fc.array(segment, { minLength: 3, maxLength: 3 }).map((parts) => parts.join('.')),
  fc.array(segment, { minLength: 5, maxLength: 5 }).map((parts) => parts.join('.')),
);
const space = fc.constantFrom('', ' ', '  ', '\t', '\n', '\r\n', ' \n ');
const otherParams = fc.array(
  fc.tuple(fc.constantFrom('state', 'token_type', 'expires_in', 'session_state', 'scope'), fc.string({ maxLength: 20 })),
  { maxLength: 3 },
);

/** The ways a token arrives on the clipboard, each wrapping `t`. */
const wrappers: Array<[string, fc.Arbitrary<(t: string) => string>]> = [
  ['whitespace', fc.tuple(space, space).map(([a, b]) => (t: string) => `${a}${t}${b}`)],
  ['quotes', fc.constantFrom('"', "'", '`').map((q) => (t: string) => `${q}${t}${q}`)],
  ['a JSON string', fc.constant((t: string) => JSON.stringify(t))],
  ['Bearer', fc.constantFrom('Bearer ', 'bearer ', 'BEARER  ').map((b) => (t: string) => `${b}${t}`)],
  ['an Authorization header', fc.constantFrom('Authorization: Bearer ', 'authorization:Bearer ', 'Authorization:  bearer ').map((h) => (t: string) => `${h}${t}`)],
  ['a quoted header (curl -H)', fc.constant((t: string) => `'Authorization: Bearer ${t}'`)],
  [
    'a redirect URL fragment',
    fc.tuple(fc.constantFrom('id_token', 'access_token'), otherParams, fc.constantFrom('', 'http://127.0.0.1:8080/callback', 'https://app.example.com/cb?x=1'), fc.boolean()).map(
      ([name, params, base, first]) =>
        (t: string) => {
          const all = new URLSearchParams(params);
          const list = [...all.entries()].map(([k, v]) => `${k}=${encodeURIComponent(v)}`);
          const pair = `${name}=${t}`;
          return `${base}#${(first ? [pair, ...list] : [...list, pair]).join('&')}`;
        },
    ),
  ],
  ['a query', fc.constant((t: string) => `https://app.example.com/cb?access_token=${t}&token_type=Bearer`)],
  [
    'line breaks inside (a wrapped mail)',
    fc.integer({ min: 1, max: 30 }).map((width) => (t: string) => t.replace(new RegExp(`(.{${width}})`, 'g'), '$1\n').trim()),
  ],
];

describe('normalizeTokenInput', () => {
  it('leaves a plain token exactly as it is', () => {
    fc.assert(fc.property(jwt, (t) => {
        expect(normalizeTokenInput(t)).toBe(t);
      }));
  });

  it.each(wrappers)('takes the token out of %s', (_name, wrap) => {
    fc.assert(fc.property(jwt, wrap, (t, w) => {
        expect(normalizeTokenInput(w(t))).toBe(t);
      }));
  });

  it('takes it out of wrappers within wrappers', () => {
    const isUrl = (name: string) => name === 'a redirect URL fragment' || name === 'a query';
    const anyWrap = fc.oneof(
      ...wrappers.filter(([name]) => !name.startsWith('line breaks')).map(([name, w]) => w.map((f) => ({ name, f }))),
    );
    fc.assert(
      // One URL at most: a URL pasted unencoded inside another URL's parameter is no one's clipboard.
      fc.property(jwt, fc.array(anyWrap, { minLength: 1, maxLength: 3 }).filter((ws) => ws.filter((w) => isUrl(w.name)).length <= 1), (t, ws) => {
        expect(normalizeTokenInput(ws.reduceRight((inner, w) => w.f(inner), t))).toBe(t);
      }),
    );
  });

  it('peels a quoted Authorization header line nested three times (fast-check seed 1377995461 found it stopping after 8 rounds)', () => {
    const t = 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.c2ln';
    const wrap = (inner: string) => `'Authorization: Bearer ${inner}'`;
    expect(normalizeTokenInput(wrap(wrap(wrap(t))))).toBe(t);
  });

  it('is idempotent', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), jwt.map((t) => `"${t}"`)), (input) => {
        let once: string;
        try {
          once = normalizeTokenInput(input);
        } catch {
          return;
        }
        expect(normalizeTokenInput(once)).toBe(once);
      }),
    );
  });

  it('never throws anything but TokenRejectedError, whatever is pasted', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'grapheme' }), fc.jsonValue().map((v) => JSON.stringify(v) ?? '')), (input) => {
        try {
          normalizeTokenInput(input);
        } catch (err) {
          expect(err).toBeInstanceOf(TokenRejectedError);
          expect((err as Error).message).toMatch(/^could not decode token: not a JWT \(opaque token\?\): /);
        }
      }),
    );
  });

  it.each([
    ['{"access_token":"eyJ.a.b","id_token":"eyJ.c.d","token_type":"Bearer"}', 'a JSON object with access_token, id_token (a token response?): pass one of them, e.g. jq -r .id_token'],
    ['{"refresh_token":"x"}', 'a JSON object with refresh_token (a token response?): pass one of them, e.g. jq -r .refresh_token'],
    ['{"sub":"alice"}', 'a JSON object'],
    ['http://127.0.0.1:8080/callback#access_token=a.b.c&id_token=d.e.f&state=s', 'the URL carries id_token and access_token: pass one of them'],
    ['http://127.0.0.1:8080/callback?code=abc&state=s', 'the URL carries an authorization code, not a token (`authbridge login` exchanges codes)'],
    ['#error=access_denied&state=s', 'the URL carries an error (access_denied), not a token'],
    ['https://app.example.com/', 'a URL with no id_token or access_token in it'],
  ])('names what %s is', (input, why) => {
    expect(() => normalizeTokenInput(input)).toThrow(new TokenRejectedError(`could not decode token: not a JWT (opaque token?): ${why}`));
  });

  it('is not what servers parse: the broker sees a pasted form as it is', () => {
    const token = `${b64u('{"alg":"RS256"}')}.${b64u('{"sub":"a"}')}.c2ln`;
    expect(parseToken(`Bearer ${token}`).compact).toBe(token);
    expect(() => parseToken(`"${token}"`)).toThrow(TokenRejectedError);
    expect(() => parseToken(`#id_token=${token}`)).toThrow(TokenRejectedError);
  });
});
