/** ES256 signatures in their low-S form (jwt/ecdsa.ts): still valid, and one spelling a token. */
import { generateKeyPairSync, sign, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isLowS, toLowS } from '../../src/jwt/ecdsa.js';
import { generateSigningKey, signJwt, verifyOwnJwt } from '../../src/jwt/sign.js';

/** The order of the P-256 group. */
const N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;

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

  it('own tokens: signInput issues the low-S form only, and verifyOwnJwt refuses the high-S twin of a valid token', () => {
    const key = generateSigningKey();
    const keys = new Map([[key.kid, key]]);
    for (let i = 0; i < 32; i++) {
      const token = signJwt(key, { n: i }, { typ: 'at+jwt' });
      const [input, signature] = [token.slice(0, token.lastIndexOf('.')), Buffer.from(token.slice(token.lastIndexOf('.') + 1), 'base64url')];
      expect(isLowS(signature)).toBe(true);
      expect(verifyOwnJwt(token, keys, 'at+jwt')).toMatchObject({ ok: true, payload: { n: i } });
      // The other spelling: (r, n - s) is a valid ECDSA signature of the same input.
      const s = N - BigInt(`0x${signature.subarray(32).toString('hex')}`);
      const twin = Buffer.concat([signature.subarray(0, 32), Buffer.from(s.toString(16).padStart(64, '0'), 'hex')]);
      expect(verify('sha256', Buffer.from(input), { key: key.publicKey, dsaEncoding: 'ieee-p1363' }, twin)).toBe(true);
      expect(verifyOwnJwt(`${input}.${twin.toString('base64url')}`, keys, 'at+jwt')).toEqual({ ok: false, problem: 'bad_signature' });
    }
  });
});
