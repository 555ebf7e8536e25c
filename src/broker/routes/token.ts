/** `POST /oauth/token`: RFC 8693 token exchange, the broker's one grant. */
import type { FastifyInstance } from 'fastify';
import { TOKEN_TYPE } from '../../oidc/urls.js';
import type { ExchangeResult } from '../broker.js';
import { readTokenExchangeRequest } from '../protocol/token-exchange.js';
import { authenticateClient } from '../shared/client-auth.js';
import { parseForm } from '../shared/form.js';
import { NO_STORE } from '../shared/http.js';
import { EXCHANGE_ROUTE } from '../shared/exchange-route.js';
import type { RouteDeps } from '../shared/route-deps.js';

/** RFC 8693 §2.2.1, with `account_status` (whether this login registered the customer). */
function tokenResponse(result: ExchangeResult) {
  return {
    access_token: result.accessToken,
    issued_token_type: TOKEN_TYPE.accessToken,
    token_type: 'Bearer',
    expires_in: result.expiresIn,
    account_status: result.accountStatus,
  };
}

export function tokenRoute(app: FastifyInstance, { broker, clients, limiter }: Pick<RouteDeps, 'broker' | 'clients' | 'limiter'>): void {
  app.post('/oauth/token', { config: EXCHANGE_ROUTE }, async (request, reply) => {
    reply.headers(NO_STORE);
    const b = broker();
    const params = parseForm(request);
    const client = await authenticateClient(request, params, clients, limiter);
    const { subjectToken, subjectTokenType } = readTokenExchangeRequest(params, b.config.audience);
    const result = await b.exchange({ subjectToken, kind: subjectTokenType, clientId: client.clientId });
    request.accountStatus = result.accountStatus;
    return tokenResponse(result);
  });
}
