import { UsageError } from '../errors.js';
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
}

/**
 * Picks the key set for verification: `--jwks FILE`, `--jwks-uri URL`, `--secret`, or else the
 * `jwks_uri` that OIDC discovery at the issuer names. Remote sets are fetched lazily, once.
 * @throws UsageError when more than one source is given or a file cannot be used.
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
  if (input.jwksUri) return remoteKeySet(input.jwksUri, options);
  if (!input.issuer) throw new UsageError('missing issuer: give --issuer URL (or --jwks FILE / --jwks-uri URL)');
  return lazyDiscovered(input.issuer, options);
}

/** Discovery happens on first use, so a malformed token is reported without a network call. */
function lazyDiscovered(issuer: string, options: { fetch: typeof fetch; now: () => number; timeoutMs?: number }): KeySet {
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
