// The upstream IdP both broker benches exchange tokens of: a JWKS endpoint on 127.0.0.1 (fetched
// once by each broker, then cached), ES256 access tokens it signs for any subject, the provider
// entry a broker config trusts it with, and the RFC 8693 form body that presents a token.
import { generateKeyPairSync, randomUUID, sign } from 'node:crypto';
import { createServer } from 'node:http';

const b64 = (v) => Buffer.from(JSON.stringify(v)).toString('base64url');

/** Starts the JWKS endpoint; `close()` it at the end. */
export async function startBenchIdp() {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid: 'bench-idp', alg: 'ES256', use: 'sig' };
  const server = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${server.address().port}`;
  return {
    url,
    /** The broker config's provider that trusts these tokens. */
    provider: { id: 'idp', type: 'jwt', issuer: url, jwksUri: `${url}/jwks`, audience: 'bench-api', algorithms: ['ES256'], mapping: { email: '/email' } },
    /** An access token (RFC 9068) for `sub`, valid for an hour. */
    accessToken(sub) {
      const now = Math.floor(Date.now() / 1000);
      const input = `${b64({ alg: 'ES256', typ: 'at+jwt', kid: 'bench-idp' })}.${b64({ iss: url, aud: 'bench-api', sub, client_id: 'app', iat: now, exp: now + 3600, jti: randomUUID() })}`;
      return `${input}.${sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
    },
    close: () => server.close(),
  };
}

/** The token exchange request body presenting `token` as an access token. */
export const exchangeForm = (token) =>
  new URLSearchParams({
    grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
    subject_token: token,
    subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
  }).toString();
