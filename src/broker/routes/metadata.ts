/** `GET /.well-known/oauth-authorization-server`: RFC 8414 metadata. */
import type { FastifyInstance } from 'fastify';
import { TOKEN_EXCHANGE_GRANT } from '../../oidc/urls.js';
import type { Broker } from '../broker.js';
import type { ClientAuthMethod } from '../config.js';
import type { RouteDeps } from '../shared/route-deps.js';

/** The JWS algorithms the broker checks client assertions with (jwt/keys.ts, asymmetric). */
const ASSERTION_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'];

/**
 * RFC 8414 §2, with the subject token types this broker accepts (an authbridge extension). The
 * client authentication methods are those the configured clients use; introspection lists only
 * the confidential ones, as only confidential clients may introspect.
 */
export function metadataDocument(broker: Broker, methods: readonly ClientAuthMethod[]): Record<string, unknown> {
  const { issuer } = broker.config;
  const base = issuer.replace(/\/$/, '');
  return {
    issuer,
    token_endpoint: `${base}/oauth/token`,
    jwks_uri: `${base}/jwks.json`,
    introspection_endpoint: `${base}/oauth/introspect`,
    revocation_endpoint: `${base}/oauth/revoke`,
    userinfo_endpoint: `${base}/userinfo`,
    grant_types_supported: [TOKEN_EXCHANGE_GRANT],
    response_types_supported: [],
    token_endpoint_auth_methods_supported: [...methods],
    introspection_endpoint_auth_methods_supported: methods.filter((m) => m !== 'none'),
    revocation_endpoint_auth_methods_supported: [...methods],
    // RFC 8414 §2: the algorithms client assertions may be signed with (asymmetric only: no client_secret_jwt).
    ...(methods.includes('private_key_jwt') ? { token_endpoint_auth_signing_alg_values_supported: ASSERTION_ALGORITHMS } : {}),
    authbridge_subject_token_types_supported: broker.subjectTokenTypes(),
  };
}

export function metadataRoute(app: FastifyInstance, { broker, clients }: Pick<RouteDeps, 'broker' | 'clients'>): void {
  const methods = clients.authMethods();
  app.get('/.well-known/oauth-authorization-server', async () => metadataDocument(broker(), methods));
}
