// Keys and tokens for the benchmarks, made with node:crypto (fast to sign in bulk).
import { createPrivateKey, generateKeyPairSync, randomUUID, sign } from 'node:crypto';
import { writeFileSync } from 'node:fs';

const b64 = (v) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

/** A key pair with its public JWKS, for RS256 or ES256. */
export function makeKeyPair(alg) {
  const { privateKey, publicKey } =
    alg === 'RS256' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid: `${alg}-bench`, alg, use: 'sig' };
  return { alg, privateKey, publicKey, jwks: { keys: [jwk] }, kid: jwk.kid };
}

export const ISSUER = 'https://idp.bench';
export const AUDIENCE = 'bench-client';

/** Writes `count` tokens, one a line, signed with `pair`. */
export function writeTokens(file, pair, count, now = Math.floor(Date.now() / 1000)) {
  const header = b64({ alg: pair.alg, typ: 'JWT', kid: pair.kid });
  const lines = [];
  for (let i = 0; i < count; i++) {
    const payload = b64({ iss: ISSUER, aud: AUDIENCE, sub: `user-${i}`, iat: now, exp: now + 3600, jti: randomUUID() });
    const input = `${header}.${payload}`;
    const sig =
      pair.alg === 'RS256'
        ? sign('sha256', Buffer.from(input), pair.privateKey)
        : sign('sha256', Buffer.from(input), { key: pair.privateKey, dsaEncoding: 'ieee-p1363' });
    lines.push(`${input}.${sig.toString('base64url')}`);
  }
  writeFileSync(file, `${lines.join('\n')}\n`);
  return lines;
}

export { createPrivateKey };
