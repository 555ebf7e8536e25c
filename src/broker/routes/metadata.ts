/** `GET /.well-known/oauth-authorization-server`: RFC 8414 metadata. */
import type { FastifyInstance } from 'fastify';
import { TOKEN_EXCHANGE_GRANT } from '../../oidc/urls.js';
import type { Broker } from '../broker.js';
import type { RouteDeps } from '../shared/route-deps.js';

/** RFC 8414 §2, with the subject token types this broker accepts (an authbridge extension). */
export function metadataDocument(broker: Broker): Record<string, unknown> {
  const { issuer } = broker.config;
  const base = issuer.replace(/\/$/, '');
  const auth = ['client_secret_basic', 'client_secret_post', 'none'];
  return {
    issuer,
    token_endpoint: `${base}/oauth/token`,
    jwks_uri: `${base}/jwks.json`,
    introspection_endpoint: `${base}/oauth/introspect`,
    revocation_endpoint: `${base}/oauth/revoke`,
    userinfo_endpoint: `${base}/userinfo`,
    grant_types_supported: [TOKEN_EXCHANGE_GRANT],
    response_types_supported: [],
    token_endpoint_auth_methods_supported: auth,
    introspection_endpoint_auth_methods_supported: auth,
    revocation_endpoint_auth_methods_supported: auth,
    authbridge_subject_token_types_supported: broker.subjectTokenTypes(),
  };
}

export function metadataRoute(app: FastifyInstance, { broker }: Pick<RouteDeps, 'broker'>): void {
  app.get('/.well-known/oauth-authorization-server', async () => metadataDocument(broker()));
}
