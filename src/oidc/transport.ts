/**
 * How the CLI's calls to an IdP or a broker endpoint reach the network: one order of fetch
 * wrappers, for openid-client's `customFetch` and for the Synerise call alike. No openid-client
 * here, so the Synerise call does not load it.
 */
import { MAX_ANSWER_BYTES, limitedFetch } from '../http/fetch-json.js';
import { tracingFetch } from './trace.js';

/** Seconds for each HTTP request to an IdP or broker when the caller gives none. */
export const DEFAULT_TIMEOUT_SECONDS = 30;

export interface TransportOptions {
  fetch: typeof fetch;
  /** Milliseconds since the epoch (trace timings only). */
  now: () => number;
  /** `--verbose`: receives one masked line a request and answer. */
  trace?: (line: string) => void;
  /** Largest answer body read, in bytes. Default {@link MAX_ANSWER_BYTES} (1 MiB). */
  maxBytes?: number;
}

/**
 * The `fetch` for endpoint calls: `limitedFetch(tracingFetch(fetch))`.
 *
 * Tracing is innermost, next to the network, so a trace line reports what the server sent
 * (status, content type, time to headers), as for the metadata GET, which is traced the same way
 * and limited by `fetchJson` itself. The size limit is outermost, next to the reader
 * (openid-client reads answers whole): whatever wrapper is added in between can never hand the
 * reader a body that escaped the limit. (The IdP used to have the two the other way round; as
 * tracing passes the response through untouched, no trace line or error changes.)
 *
 * @example
 * config[oidc.customFetch] = endpointFetch({ fetch, now, trace });
 */
export function endpointFetch(options: TransportOptions): typeof fetch {
  return limitedFetch(tracingFetch(options.fetch, options.trace, options.now), options.maxBytes ?? MAX_ANSWER_BYTES);
}
