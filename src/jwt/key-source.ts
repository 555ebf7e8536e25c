import { UsageError } from '../errors.js';
import { judgeTransport } from '../http/loopback.js';
import { discoverJwksUri, loadJwksFile, remoteKeySet, secretKeySet, type KeySet } from './keys.js';

export interface KeySourceInput {
  /** A local JWKS file (offline). */
  jwksFile?: string;
  /** A JWKS URL. */
  jwksUri?: string;
  /** A shared secret for HS*; the only way symmetric algorithms are ever accepted. */
  secret?: string | Uint8Array;
  /** Used for discovery when neither a file nor a URL is given. */
  issuer?: string;
  fetch: typeof fetch;
  now: () => number;
  /** Milliseconds for each HTTP request. */
  timeoutMs?: number;
  /**
   * Accept keys over plain http from a host other than this machine (`--jwks-uri`, the issuer's
   * discovery, the `jwks_uri` it names): `verify --allow-insecure-http`, for development only.
   * Default false: https, or http on loopback (RFC 8725 §3.2 needs the keys' integrity).
   */
  allowInsecureHttp?: boolean;
  /** Told once a host when keys do come over plain http from another machine. */
  warn?: (message: string) => void;
}

/**
 * Picks the key set for verification: `--jwks FILE`, `--jwks-uri URL`, `--secret`, or else the
 * `jwks_uri` that OIDC discovery at the issuer names. Remote sets are fetched lazily, once.
 * @throws UsageError when more than one source is given, a file cannot be used, or `--jwks-uri`
 *   or the issuer to discover is plain http to another host (without `allowInsecureHttp`).
 */
export async function resolveKeySet(input: KeySourceInput): Promise<KeySet> {
  const given = [input.jwksFile && '--jwks', input.jwksUri && '--jwks-uri', input.secret !== undefined && '--secret'].filter(Boolean);
  if (given.length > 1) throw new UsageError(`choose one key source: ${given.join(' or ')}`);
  if (input.secret !== undefined) {
    if (input.secret.length === 0) throw new UsageError('--secret must not be empty');
    return secretKeySet(input.secret);
  }
  if (input.jwksFile) return loadJwksFile(input.jwksFile);
  const options = { fetch: input.fetch, now: input.now, timeoutMs: input.timeoutMs };
  const warned = new Set<string>();
  const plainHttp = input.allowInsecureHttp
    ? (url: URL) => {
        if (warned.has(url.host)) return;
        warned.add(url.host);
        input.warn?.(`the keys come over plain HTTP from ${url.host}: anyone on the way can swap them; use https`);
      }
    : undefined;
  /** `--jwks-uri` / the issuer: https, http on loopback, or plain http elsewhere only when allowed. */
  const checkTransport = (value: string, flag: string) => {
    if (judgeTransport(value) !== 'plain-http') return;
    if (!plainHttp) {
      throw new UsageError(`${flag} must be an https URL (http only on 127.0.0.1/localhost), got "${value}"`, {
        hint: 'Keys fetched over plain http can be swapped on the way; for a development setup only: --allow-insecure-http.',
      });
    }
    plainHttp(new URL(value));
  };
  if (input.jwksUri) {
    checkTransport(input.jwksUri, '--jwks-uri');
    return remoteKeySet(input.jwksUri, options);
  }
  if (!input.issuer) throw new UsageError('missing issuer: give --issuer URL (or --jwks FILE / --jwks-uri URL)');
  checkTransport(input.issuer, '--issuer');
  return lazyDiscovered(input.issuer, { ...options, plainHttp });
}

/** Discovery happens on first use, so a malformed token is reported without a network call. */
function lazyDiscovered(
  issuer: string,
  options: { fetch: typeof fetch; now: () => number; timeoutMs?: number; plainHttp?: (url: URL) => void },
): KeySet {
  let inner: Promise<KeySet> | undefined;
  const get = () => (inner ??= discoverJwksUri(issuer, options).then((uri) => remoteKeySet(uri, options)));
  return {
    symmetric: false,
    get source() {
      return `the JWKS of ${issuer}`;
    },
    algorithms: async () => (await get()).algorithms(),
    candidates: async (header) => (await get()).candidates(header),
  };
}
