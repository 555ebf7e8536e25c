/**
 * The `callback` provider: an opaque token is checked by asking the app's own backend, as the
 * seed's broker does. `GET` sends `Authorization: Bearer <token>`; `POST` is an RFC 7662
 * introspection request. A 2xx JSON object (with `active: true` for RFC 7662) means valid;
 * any other answer means the token is refused. No answer at all (down, timed out, 502/503/504)
 * is the backend's outage, not a verdict, and becomes 503 temporarily_unavailable.
 */
import type { CallbackProviderConfig } from '../config.js';
import { OAuthError, invalidRequest, temporarilyUnavailable } from '../oauth-error.js';
import { readLimited } from '../../http/fetch-json.js';
import type { ProviderDeps } from './jwt.js';
import { compileMapping, readFields, readSubject, type CompiledMapping } from './mapping.js';
import type { Provider, ValidatedSubject } from './types.js';

const MAX_ANSWER_BYTES = 256 * 1024;
/** Longest opaque token sent to a backend: well within any server's header limit (Node's: 16 KiB). */
export const MAX_OPAQUE_TOKEN_LENGTH = 8 * 1024;
/** Visible ASCII only (RFC 6750 §2.1's b64token and more): no CR/LF, NUL, space or anything a header cannot carry. */
const OPAQUE_TOKEN = /^[\x21-\x7e]+$/;
const OUTAGE_STATUSES = new Set([502, 503, 504]);

export class CallbackProvider implements Provider {
  readonly id: string;
  private readonly mapping: CompiledMapping;

  constructor(
    readonly config: CallbackProviderConfig,
    private readonly deps: ProviderDeps,
  ) {
    this.id = config.id;
    this.mapping = compileMapping(config.subjectPointer, config.mapping);
  }

  async validate(token: string): Promise<ValidatedSubject> {
    const { config } = this;
    // A token that cannot be a header value is the caller's mistake (or a header injection), not
    // the backend's outage: refused here, never sent.
    if (token.length > MAX_OPAQUE_TOKEN_LENGTH || !OPAQUE_TOKEN.test(token)) {
      throw invalidRequest(`subject_token is not a well-formed opaque token (visible ASCII, at most ${MAX_OPAQUE_TOKEN_LENGTH} characters)`);
    }
    const signal = AbortSignal.timeout(config.timeoutMs);
    const unavailable = () => temporarilyUnavailable('the backend that validates this token did not answer');
    const init: RequestInit =
      config.method === 'GET'
        ? { method: 'GET', headers: { accept: 'application/json', ...config.headers, authorization: `Bearer ${token}` } }
        : {
            method: 'POST',
            headers: { accept: 'application/json', ...config.headers, 'content-type': 'application/x-www-form-urlencoded' },
            body: new URLSearchParams({ token, token_type_hint: 'access_token' }).toString(),
          };
    let response: Response;
    try {
      // Redirects are not followed: the token must not travel anywhere but the configured URL.
      response = await this.deps.fetch(config.url, { ...init, redirect: 'manual', signal });
    } catch {
      throw unavailable();
    }
    if (OUTAGE_STATUSES.has(response.status)) {
      await response.body?.cancel().catch(() => {});
      throw unavailable();
    }
    if (response.status < 200 || response.status > 299) {
      await response.body?.cancel().catch(() => {});
      throw invalidRequest('the backend did not accept the token');
    }
    let text: string;
    try {
      text = await readLimited(response, MAX_ANSWER_BYTES, () => {
        throw invalidRequest('the backend answer is too large');
      });
    } catch (err) {
      if (err instanceof OAuthError) throw err;
      throw unavailable();
    }
    let answer: unknown;
    try {
      answer = JSON.parse(text);
    } catch {
      throw invalidRequest('the backend answer is not JSON');
    }
    if (answer === null || typeof answer !== 'object' || Array.isArray(answer)) throw invalidRequest('the backend answer is not a JSON object');
    if (config.method === 'POST' && (answer as { active?: unknown }).active !== true) {
      throw invalidRequest('the backend says the token is not active');
    }
    return { subject: readSubject(this.mapping, answer, 'the backend answer'), fields: readFields(this.mapping, answer) };
  }
}
