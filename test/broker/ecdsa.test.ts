/** ES256 signatures in their low-S form (broker/ecdsa.ts): still valid, and one spelling a token. */
import { generateKeyPairSync, sign, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hasLowSSignature, isLowS, lowSJws, toLowS } from '../../src/broker/ecdsa.js';

const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const es256 = (data: string) => sign('sha256', Buffer.from(data), { key: privateKey, dsaEncoding: 'ieee-p1363' });
const valid = (data: string, signature: Buffer) => verify('sha256', Buffer.from(data), { key: publicKey, dsaEncoding: 'ieee-p1363' }, signature);

describe('low-S ES256 signatures', () => {
  it('toLowS keeps a signature valid and makes it low-S; both forms verify, only one is low', () => {
    let high = 0;
    for (let i = 0; i < 64; i++) {
      const data = `input-${i}`;
      const signature = es256(data);
      const low = toLowS(signature);
      expect(valid(data, low)).toBe(true);
      expect(isLowS(low)).toBe(true);
      if (!isLowS(signature)) {
        high += 1;
        expect(valid(data, signature)).toBe(true);
        expect(low.equals(signature)).toBe(false);
      } else {
        expect(low.equals(signature)).toBe(true);
      }
    }
    // OpenSSL does not normalise: about half its signatures are high-S.
    expect(high).toBeGreaterThan(5);
  });

  it('lowSJws rewrites the signature part only; hasLowSSignature refuses high-S and malformed ones', () => {
    for (let i = 0; i < 32; i++) {
      const input = `eyJhbGciOiJFUzI1NiJ9.${Buffer.from(`{"n":${i}}`).toString('base64url')}`;
      const jws = `${input}.${es256(input).toString('base64url')}`;
      const low = lowSJws(jws);
      expect(low.startsWith(`${input}.`)).toBe(true);
      expect(hasLowSSignature(low)).toBe(true);
      expect(hasLowSSignature(jws)).toBe(low === jws);
    }
    for (const bad of ['', 'a.b', 'a.b.', 'a.b.c', `a.b.${Buffer.alloc(63).toString('base64url')}`, 'a.b.+/==']) expect(hasLowSSignature(bad)).toBe(false);
  });
});
