// Keys and tokens for the benchmarks, made with node:crypto (fast to sign in bulk).
import { createPrivateKey, generateKeyPairSync, randomUUID, sign } from 'node:crypto';
import { writeFileSync } from 'node:fs';

const b64 = (v) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

/** A key pair with its public JWKS, for RS256, ES256 or EdDSA (Ed25519). */
export function makeKeyPair(alg) {
  const { privateKey, publicKey } =
    alg === 'RS256'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : alg === 'EdDSA'
        ? generateKeyPairSync('ed25519')
        : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid: `${alg}-bench`, alg, use: 'sig' };
  return { alg, privateKey, publicKey, jwks: { keys: [jwk] }, kid: jwk.kid };
}

/** The digest node:crypto's sign/verify take for each algorithm (none for EdDSA). */
export const HASH = { RS256: 'sha256', ES256: 'sha256', EdDSA: null };

export const ISSUER = 'https://idp.bench';
export const AUDIENCE = 'bench-client';

/** Writes `count` tokens, one a line, signed with `pair`. */
export function writeTokens(file, pair, count, now = Math.floor(Date.now() / 1000)) {
  const header = b64({ alg: pair.alg, typ: 'JWT', kid: pair.kid });
  const lines = [];
  for (let i = 0; i < count; i++) {
    const payload = b64({ iss: ISSUER, aud: AUDIENCE, sub: `user-${i}`, iat: now, exp: now + 3600, jti: randomUUID() });
    const input = `${header}.${payload}`;
    const sig = sign(HASH[pair.alg], Buffer.from(input), pair.alg === 'ES256' ? { key: pair.privateKey, dsaEncoding: 'ieee-p1363' } : pair.privateKey);
    lines.push(`${input}.${sig.toString('base64url')}`);
  }
  writeFileSync(file, `${lines.join('\n')}\n`);
  return lines;
}

export { createPrivateKey };
