/**
 * `broker serve --help`'s account of `--config`: the format, as a config that starts a broker
 * (test/e2e/first-contact.test.ts parses it with the broker's own validation), and where the
 * rest is described.
 */

/** A broker config to start from: one IdP whose JWTs are trusted, one backend, two clients. */
export const BROKER_CONFIG_EXAMPLE = `{
  "issuer": "http://127.0.0.1:8787",
  "audience": "my-app",
  "tokenTtl": 3600,
  "clients": [
    { "clientId": "cli", "tokenEndpointAuthMethod": "client_secret_basic", "clientSecret": "s3cret" },
    { "clientId": "mobile-app", "tokenEndpointAuthMethod": "none" }
  ],
  "providers": [
    { "id": "idp", "type": "jwt", "issuer": "https://idp.example.com", "audience": ["cli"],
      "algorithms": ["RS256", "ES256"], "mapping": { "email": "/email", "firstName": "/given_name" } },
    { "id": "backend", "type": "callback", "url": "https://backend.example.com/me",
      "subjectPointer": "/id", "mapping": { "email": "/email" } }
  ]
}`;

/** The help text after `broker serve`'s options. */
export const BROKER_SERVE_HELP = `
Config (--config FILE or env AUTHBRIDGE_BROKER_CONFIG; required): a JSON file. Unknown keys and
bad values are refused at start, naming the field. For example:

${BROKER_CONFIG_EXAMPLE.replace(/^/gm, '  ')}

  issuer     default http://HOST:PORT, the URL clients reach the broker at
  audience   default the issuer; tokenTtl in seconds (default 3600)
  clients    tokenEndpointAuthMethod client_secret_basic | client_secret_post (with a
             clientSecret) | none (public); or only an apiKey (the Synerise-compatible login)
  providers  "jwt": tokens of that issuer, verified against its JWKS (jwksUri, else discovery);
             "callback": opaque tokens sent to url, any 2xx JSON answer is valid;
             mapping: customer field -> JSON Pointer into the claims or the answer
More settings (rateLimit, sessions, trustProxy, maxConnections, acceptedTypes, leeway): README,
section "The broker".`;
