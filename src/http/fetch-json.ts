import { RemoteError, describeError, isAuthbridgeError } from '../errors.js';

export interface FetchJsonOptions {
  /** What is being fetched, for messages: "JWKS", "discovery document". */
  what: string;
  /** Milliseconds before the request is abandoned. Default 10 000. */
  timeoutMs?: number;
  /** Largest body accepted, in bytes. Default 1 MiB. */
  maxBytes?: number;
  init?: RequestInit;
}

export const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_BYTES = 1024 * 1024;
const MAX_REDIRECTS = 3;

/**
 * Reads a response body as UTF-8, calling `fail` (which throws) once it passes `maxBytes`:
 * a JWKS or backend answer that never ends costs at most that much memory.
 */
export async function readLimited(response: Response, maxBytes: number, fail: (why: string) => never): Promise<string> {
  const declared = Number(response.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > maxBytes) fail(`the answer is larger than ${maxBytes} bytes`);
  if (!response.body) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => {});
      fail(`the answer is larger than ${maxBytes} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * GETs (or sends `init`) and parses a JSON object, with a time limit, a size limit, and
 * redirects followed only within the same origin.
 * @throws RemoteError for anything but a 2xx JSON object: unreachable, timed out, 4xx/5xx, HTML.
 */
export async function fetchJson(
  fetchImpl: typeof fetch,
  url: string,
  options: FetchJsonOptions,
): Promise<Record<string, unknown>> {
  const { what } = options;
  const fail = (why: string, cause?: unknown): never => {
    throw new RemoteError(`could not fetch ${what} from ${url}: ${why}`, { cause });
  };
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const signal = AbortSignal.timeout(timeoutMs);
  let current = url;
  let response: Response;
  try {
    for (let hop = 0; ; hop++) {
      response = await fetchImpl(current, { ...options.init, redirect: 'manual', signal });
      if (response.status < 300 || response.status >= 400) break;
      const location = response.headers.get('location');
      await response.body?.cancel().catch(() => {});
      if (!location || hop >= MAX_REDIRECTS) fail(`too many redirects or a redirect without Location`);
      const next = new URL(location!, current);
      if (next.origin !== new URL(url).origin) fail(`redirected to another origin (${next.origin}), refused`);
      current = next.href;
    }
  } catch (err) {
    // Our own errors (a refused redirect, a malformed proxy setting) keep their class and words.
    if (isAuthbridgeError(err)) throw err;
    if (signal.aborted) fail(`no answer within ${timeoutMs} ms`, err);
    fail(describeError(err), err);
  }
  let text: string;
  try {
    text = await readLimited(response!, options.maxBytes ?? DEFAULT_MAX_BYTES, fail);
  } catch (err) {
    if (err instanceof RemoteError) throw err;
    if (signal.aborted) fail(`no complete answer within ${timeoutMs} ms`, err);
    fail(describeError(err), err);
  }
  if (!response!.ok) fail(`HTTP ${response!.status}`);
  let body: unknown;
  try {
    body = JSON.parse(text!);
  } catch {
    fail(`the answer is not JSON (content-type ${response!.headers.get('content-type') ?? 'none'})`);
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) fail('the answer is not a JSON object');
  return body as Record<string, unknown>;
}

/** The largest answer an IdP or broker endpoint may send (token, userinfo, introspection). */
export const MAX_ANSWER_BYTES = 1024 * 1024;

/**
 * `fetchImpl` whose response bodies stop with a RemoteError past `maxBytes`, for libraries that
 * read answers whole (openid-client): a token endpoint that never stops costs at most that much.
 */
export function limitedFetch(fetchImpl: typeof fetch, maxBytes = MAX_ANSWER_BYTES): typeof fetch {
  return async (input, init) => {
    const response = await fetchImpl(input, init);
    // Statuses that cannot carry a body are passed through as they are.
    if (!response.body || [101, 204, 205, 304].includes(response.status)) return response;
    const url = input instanceof Request ? input.url : String(input);
    let size = 0;
    const limited = response.body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          size += chunk.byteLength;
          if (size > maxBytes) controller.error(new RemoteError(`could not read the answer of ${url}: it is larger than ${maxBytes} bytes`));
          else controller.enqueue(chunk);
        },
      }),
    );
    return new Response(limited, { status: response.status, statusText: response.statusText, headers: response.headers });
  };
}
