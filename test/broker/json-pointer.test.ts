import { describe, expect, it } from 'vitest';
import { isJsonPointer, parsePointer, resolvePointer } from '../../src/broker/json-pointer.js';

// RFC 6901 §5.
const doc = { foo: ['bar', 'baz'], '': 0, 'a/b': 1, 'c%d': 2, 'e^f': 3, 'g|h': 4, 'i\\j': 5, 'k"l': 6, ' ': 7, 'm~n': 8 };

describe('JSON Pointer (RFC 6901)', () => {
  it.each([
    ['', doc],
    ['/foo', ['bar', 'baz']],
    ['/foo/0', 'bar'],
    ['/', 0],
    ['/a~1b', 1],
    ['/c%d', 2],
    ['/e^f', 3],
    ['/g|h', 4],
    ['/i\\j', 5],
    ['/k"l', 6],
    ['/ ', 7],
    ['/m~0n', 8],
  ])('%j resolves as in §5', (pointer, expected) => {
    expect(resolvePointer(doc, parsePointer(pointer))).toEqual(expected);
  });

  it('decodes ~01 as "~1", not "/"', () => {
    expect(parsePointer('/~01')).toEqual(['~1']);
  });

  it.each([['/foo/2'], ['/foo/-'], ['/foo/01'], ['/missing'], ['/foo/0/x'], ['/constructor'], ['/__proto__']])('%j finds nothing', (pointer) => {
    expect(resolvePointer(doc, parsePointer(pointer))).toBeUndefined();
  });

  it.each([['email', false], ['/a~2', false], ['/a~', false], ['/a~0~1', true], ['', true]])('isJsonPointer(%j) is %s', (pointer, ok) => {
    expect(isJsonPointer(pointer)).toBe(ok);
  });
});
