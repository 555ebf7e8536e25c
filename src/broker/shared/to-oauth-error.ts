/** What any failure of a request becomes on the wire: an RFC 6749 §5.2 error, never a stack trace. */
import type { FastifyError } from 'fastify';
import { RemoteError } from '../../errors.js';
import { OAuthError, invalidRequest, temporarilyUnavailable } from '../oauth-error.js';
import { StoreUnavailableError } from '../store/types.js';
import { BODY_LIMIT } from './http.js';

/**
 * Turns anything a route threw into the OAuth error to answer with. An outage of the database
 * and an unexpected error are logged (`log`, one JSON line); the client gets a short reason only.
 */
export function toOAuthError(err: unknown, log: (line: string) => void): OAuthError {
  if (err instanceof OAuthError) return err;
  if (err instanceof StoreUnavailableError) {
    log(JSON.stringify({ level: 'error', msg: 'database unavailable', code: err.code }));
    return temporarilyUnavailable('the broker cannot use its database right now');
  }
  if (err instanceof RemoteError) return temporarilyUnavailable('an upstream service did not answer');
  const status = (err as FastifyError).statusCode;
  if (status === 413) return new OAuthError('invalid_request', `the request body is larger than ${BODY_LIMIT} bytes`, 413);
  if (status === 415) return new OAuthError('invalid_request', 'unsupported content type', 415);
  if (typeof status === 'number' && status >= 400 && status < 500) return invalidRequest('the request could not be read');
  log(JSON.stringify({ level: 'error', msg: 'unexpected error', error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) }));
  return new OAuthError('server_error', 'unexpected error', 500);
}
