/**
 * The Synerise-compatible login call (`POST /sauth/v3/auth/login/client`), for brokers that speak
 * the Synerise SDK's REST API instead of RFC 8693. Plain `fetch`, no openid-client.
 */
import { AuthorizationRefusedError, OAuthRefusedError, RemoteError, describeError, isAuthbridgeError } from '../errors.js';
import { secureUrl } from '../http/loopback.js';
import { DEFAULT_TIMEOUT_SECONDS, endpointFetch } from './transport.js';

export interface SyneriseLoginInput {
  /** The broker's base URL: https, or http on loopback. */
  url: string;
  /** The API key of the broker's client (sent in the body, masked in traces). */
  apiKey: string;
  /** The IdP token (`identityProviderToken`). */
  token: string;
  fetch: typeof fetch;
  /** Milliseconds since the epoch (trace timings only). */
  now: () => number;
  /** Seconds for the request. Default 30. */
  timeoutSeconds?: number;
  /** `--verbose`: receives one masked line a request and answer. */
  trace?: (line: string) => void;
  /** A stable device id for this CLI installation. */
  deviceId: string;
  uuid: string;
}

export interface SyneriseLoginResult {
  token: string;
  /** Seconds since the epoch. */
  expiration: number;
  customId?: string;
}

/**
 * `POST /sauth/v3/auth/login/client` with `identityProvider: OAUTH`, for brokers speaking the
 * Synerise SDK's REST call. The request goes through the same fetch wrappers as openid-client's
 * (traced, answer at most 1 MiB; see `endpointFetch`).
 *
 * @example
 * const { token, expiration } = await syneriseLogin({ url, apiKey, token: idpToken, fetch, now, deviceId, uuid });
 *
 * @throws UsageError for a URL that is not https (http allowed on loopback);
 *   AuthorizationRefusedError for a 4xx answer; RemoteError when unreachable, timed out, 5xx,
 *   larger than 1 MiB or garbage.
 */
export async function syneriseLogin(input: SyneriseLoginInput): Promise<SyneriseLoginResult> {
  const url = `${secureUrl(input.url, 'broker url').href.replace(/\/$/, '')}/sauth/v3/auth/login/client`;
  const timeoutSeconds = input.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS;
  const fetchImpl = endpointFetch(input);
  const unreachable = (err: unknown): Error => {
    if (isAuthbridgeError(err)) return err;
    const why = (err as Error).name === 'TimeoutError' ? `no answer within ${timeoutSeconds} s` : describeError(err);
    return new RemoteError(`could not sign in at the broker ${input.url}: ${why}`, { cause: err });
  };
  let response: Response;
  try {
    response = await fetchImpl(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({
        apiKey: input.apiKey,
        identityProvider: 'OAUTH',
        identityProviderToken: input.token,
        uuid: input.uuid,
        deviceId: input.deviceId,
      }),
      signal: AbortSignal.timeout(timeoutSeconds * 1000),
    });
  } catch (err) {
    throw unreachable(err);
  }
  let text: string;
  try {
    // The time limit and the size limit hold while the body is read, too.
    text = await response.text();
  } catch (err) {
    throw unreachable(err);
  }
  let body: Record<string, unknown> | undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) body = parsed as Record<string, unknown>;
  } catch {
    // not JSON: reported below
  }
  if (response.status >= 400 && response.status < 500) {
    const error = String(body?.error ?? `HTTP ${response.status}`);
    const description = body?.error_description ?? body?.message;
    const message = `could not sign in at the broker ${input.url}: ${error}${description ? `: ${String(description)}` : ''}`;
    throw typeof body?.error === 'string' && body.error
      ? new OAuthRefusedError(message, body.error)
      : new AuthorizationRefusedError(message);
  }
  if (!response.ok || !body) {
    throw new RemoteError(`could not sign in at the broker ${input.url}: ${response.ok ? 'the answer is not JSON' : `HTTP ${response.status}`}`);
  }
  if (typeof body.token !== 'string' || typeof body.expiration !== 'number') {
    throw new RemoteError(`could not sign in at the broker ${input.url}: the answer has no token/expiration`);
  }
  return { token: body.token, expiration: body.expiration, customId: typeof body.customId === 'string' ? body.customId : undefined };
}
