// Peer: what a Node developer writes to verify a file of tokens, with jose.jwtVerify.
// Usage: node jose-verify.mjs TOKENS_FILE JWKS_FILE ISSUER AUDIENCE; prints one line per token.
import { readFileSync } from 'node:fs';
import { createLocalJWKSet, jwtVerify } from 'jose';

const [tokensFile, jwksFile, issuer, audience] = process.argv.slice(2);
const jwks = createLocalJWKSet(JSON.parse(readFileSync(jwksFile, 'utf8')));
let out = '';
for (const token of readFileSync(tokensFile, 'utf8').split('\n')) {
  if (!token) continue;
  try {
    await jwtVerify(token, jwks, { issuer, audience });
    out += 'valid\n';
  } catch (err) {
    out += `${err.code}\n`;
  }
}
process.stdout.write(out);
