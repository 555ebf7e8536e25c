/**
 * `--verbose` HTTP tracing with secrets masked: tokens, codes, secrets and verifiers never reach
 * the terminal, only their names.
 */

/** Form and query parameters whose values are secrets (RFC 6749, 7009, 7636, 7662, 8693). */
const SECRET_PARAMS = new Set([
  'access_token',
  'refresh_token',
  'id_token',
  'token',
  'code',
  'code_verifier',
  'client_secret',
  'client_assertion',
  'subject_token',
  'actor_token',
  'assertion',
  'password',
  'device_code',
  'identityProviderToken',
  'apiKey',
]);

export const MASK = '***';

/** `a=1&code=xyz` → `a=1&code=***`. */
export function maskParams(params: URLSearchParams): string {
  const parts: string[] = [];
  for (const [key, value] of params) parts.push(`${key}=${SECRET_PARAMS.has(key) ? MASK : value}`);
  return parts.join('&');
}

/** The URL with secret query parameters masked. */
export function maskUrl(url: string | URL): string {
  let parsed: URL;
  try {
    parsed = new URL(String(url));
  } catch {
    return String(url);
  }
  if (!parsed.search) return parsed.href;
  return `${parsed.origin}${parsed.pathname}?${maskParams(parsed.searchParams)}`;
}

function describeBody(body: unknown): string | undefined {
  if (body instanceof URLSearchParams) return maskParams(body);
  if (typeof body === 'string') {
    if (/^[\w.~%+-]+=/.test(body)) return maskParams(new URLSearchParams(body));
    return `(${body.length} characters)`;
  }
  return undefined;
}

/**
 * Wraps `fetchImpl` so each request and its answer are reported to `trace`, masked.
 * Without `trace` the original fetch is returned untouched.
 */
export function tracingFetch(fetchImpl: typeof fetch, trace: ((line: string) => void) | undefined, now: () => number): typeof fetch {
  if (!trace) return fetchImpl;
  return async (input, init) => {
    const url = input instanceof Request ? input.url : String(input);
    const method = init?.method ?? (input instanceof Request ? input.method : 'GET');
    const headers = new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined));
    const auth = headers.get('authorization');
    const scheme = auth ? ` [authorization: ${auth.split(' ')[0]} ${MASK}]` : '';
    const body = describeBody(init?.body);
    trace(`> ${method} ${maskUrl(url)}${scheme}${body ? ` ${body}` : ''}`);
    const started = now();
    try {
      const response = await fetchImpl(input, init);
      trace(`< ${response.status} ${maskUrl(url)} (${response.headers.get('content-type') ?? 'no content-type'}, ${now() - started} ms)`);
      return response;
    } catch (err) {
      trace(`< failed ${maskUrl(url)}: ${err instanceof Error ? err.message : String(err)}`);
      throw err;
    }
  };
}
