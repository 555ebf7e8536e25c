import { readFileSync } from 'node:fs';
import type { KeyObject } from 'node:crypto';
import { RemoteError, UsageError, describeError } from '../errors.js';
import { fetchJson } from '../http/fetch-json.js';
import { judgeTransport } from '../http/loopback.js';
import { endpointProblem, fetchMetadata } from '../oidc/metadata.js';
import { discoveryUrl } from '../oidc/urls.js';
import { importPublicJwk, importSecret } from './jws.js';

/** A JSON Web Key as found in a key set (RFC 7517). */
export type JWK = Record<string, unknown> & { kty?: string; kid?: string; alg?: string; use?: string; crv?: string; key_ops?: string[] };

/** The asymmetric algorithms authbridge accepts, and what key each needs. */
const ASYMMETRIC: Record<string, { kty: string; crv?: string[] }> = {
  RS256: { kty: 'RSA' },
  RS384: { kty: 'RSA' },
  RS512: { kty: 'RSA' },
  PS256: { kty: 'RSA' },
  PS384: { kty: 'RSA' },
  PS512: { kty: 'RSA' },
  ES256: { kty: 'EC', crv: ['P-256'] },
  ES384: { kty: 'EC', crv: ['P-384'] },
  ES512: { kty: 'EC', crv: ['P-521'] },
  EdDSA: { kty: 'OKP', crv: ['Ed25519', 'Ed448'] },
  Ed25519: { kty: 'OKP', crv: ['Ed25519'] },
};

export const SYMMETRIC_ALGORITHMS = ['HS256', 'HS384', 'HS512'] as const;
export const SUPPORTED_ALGORITHMS: readonly string[] = [...Object.keys(ASYMMETRIC), ...SYMMETRIC_ALGORITHMS];

export interface JsonWebKeySet {
  keys: JWK[];
}

/** A key found for a token, ready to verify with. */
export interface ResolvedKey {
  key: KeyObject;
  /** How the key is described to the user: `kid "abc" (RSA)`. */
  label: string;
}

/** Where verification keys come from: a local set, a remote set, or a shared secret. */
export interface KeySet {
  /** Where the keys came from, for messages. */
  readonly source: string;
  /** True for a shared secret (HS*), false for public keys. */
  readonly symmetric: boolean;
  /** The algorithms this key set can verify, used as the default allow-list. */
  algorithms(): Promise<readonly string[]>;
  /**
   * The candidate keys for a token's header, best first (several when no `kid` narrows them).
   * An empty array means no key matches.
   */
  candidates(header: { alg?: unknown; kid?: unknown }): Promise<ResolvedKey[]>;
}

/** Per key object: every token of a batch asks again (allow-list, key matching). */
const algorithmsOfJwk = new WeakMap<JWK, string[]>();

function algorithmsForJwk(jwk: JWK): string[] {
  let algorithms = algorithmsOfJwk.get(jwk);
  if (!algorithms) {
    algorithms =
      typeof jwk.alg === 'string'
        ? ASYMMETRIC[jwk.alg]
          ? [jwk.alg]
          : []
        : Object.entries(ASYMMETRIC)
            .filter(([, need]) => need.kty === jwk.kty && (!need.crv || need.crv.includes(String(jwk.crv))))
            .map(([alg]) => alg);
    algorithmsOfJwk.set(jwk, algorithms);
  }
  return algorithms;
}

function usableForVerify(jwk: JWK): boolean {
  if (jwk.use !== undefined && jwk.use !== 'sig') return false;
  if (Array.isArray(jwk.key_ops) && !jwk.key_ops.includes('verify')) return false;
  // A private key in a published key set is a mistake, never a reason to accept it.
  if ('d' in jwk) return false;
  return algorithmsForJwk(jwk).length > 0;
}

function describeJwk(jwk: JWK): string {
  const kid = typeof jwk.kid === 'string' ? `kid "${jwk.kid}"` : 'key without kid';
  return `${kid} (${jwk.kty}${jwk.crv ? ` ${jwk.crv}` : ''})`;
}

/** Validates the shape of a JWKS document and keeps the keys usable for verification. */
export function parseJwks(doc: unknown, fail: (why: string) => never): JWK[] {
  if (doc === null || typeof doc !== 'object' || !Array.isArray((doc as { keys?: unknown }).keys)) {
    fail('not a JWKS (expected an object with a "keys" array)');
  }
  const keys = ((doc as { keys: unknown[] }).keys).filter(
    (k): k is JWK => k !== null && typeof k === 'object' && !Array.isArray(k) && typeof (k as JWK).kty === 'string',
  );
  const usable = keys.filter(usableForVerify);
  if (usable.length === 0) fail('the key set has no usable signature verification key');
  return usable;
}

/** The header's `alg` as a string; anything else (a JSON object without toString…) matches no key. */
const algOf = (header: { alg?: unknown }): string => (typeof header.alg === 'string' ? header.alg : '');

/** A key set held in memory; imported keys are cached per key and algorithm. */
class JwkKeySet implements KeySet {
  readonly symmetric = false;
  // Keyed by the JWK object, not its position: a refetched set brings new objects, so a rotated
  // key is never verified with the key that used to sit at the same index.
  private readonly imported = new WeakMap<JWK, Map<string, KeyObject | null>>();

  constructor(
    readonly source: string,
    protected keys: JWK[],
  ) {}

  /** The allow-list of the current `keys` array (a refetch replaces the array, not its content). */
  private allowList: { of: JWK[]; algorithms: readonly string[] } | undefined;

  async algorithms(): Promise<readonly string[]> {
    if (this.allowList?.of !== this.keys) {
      this.allowList = { of: this.keys, algorithms: [...new Set(this.keys.flatMap(algorithmsForJwk))] };
    }
    return this.allowList.algorithms;
  }

  protected match(header: { alg?: unknown; kid?: unknown }): JWK[] {
    const alg = typeof header.alg === 'string' ? header.alg : '';
    return this.keys.filter(
      (jwk) => (header.kid === undefined || jwk.kid === header.kid) && algorithmsForJwk(jwk).includes(alg),
    );
  }

  protected async resolve(matches: JWK[], alg: string): Promise<ResolvedKey[]> {
    const out: ResolvedKey[] = [];
    for (const jwk of matches) {
      let byAlg = this.imported.get(jwk);
      if (!byAlg) this.imported.set(jwk, (byAlg = new Map()));
      let key = byAlg.get(alg);
      if (key === undefined) {
        try {
          key = importPublicJwk(jwk, alg);
        } catch {
          // A malformed or unsuitable key in the set (bad modulus, wrong curve, short RSA) matches nothing.
          key = null;
        }
        byAlg.set(alg, key);
      }
      if (key) out.push({ key, label: describeJwk(jwk) });
    }
    return out;
  }

  async candidates(header: { alg?: unknown; kid?: unknown }): Promise<ResolvedKey[]> {
    return this.resolve(this.match(header), algOf(header));
  }
}

/** Keys from a local JWKS file: offline verification. */
export async function loadJwksFile(path: string): Promise<KeySet> {
  let text: string;
  try {
    // A small file, read once: synchronously, so neither fs/promises nor libuv's thread pool has to
    // be started for it (`verify --jwks` start-up).
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError(`could not read --jwks ${path}: ${describeError(err)}`, { cause: err });
  }
  const fail = (why: string): never => {
    throw new UsageError(`could not use --jwks ${path}: ${why}`);
  };
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    fail('not JSON');
  }
  return new JwkKeySet(path, parseJwks(doc, fail));
}

/** Keys given in memory (library use). */
export function localKeySet(jwks: JsonWebKeySet, source = 'the given key set'): KeySet {
  return new JwkKeySet(
    source,
    parseJwks(jwks, (why) => {
      throw new UsageError(`could not use ${source}: ${why}`);
    }),
  );
}

export interface RemoteKeySetOptions {
  fetch: typeof fetch;
  timeoutMs?: number;
  /** Milliseconds between two refetches caused by an unknown `kid`. Default 30 000. */
  cooldownMs?: number;
  now?: () => number;
}

/**
 * A key set fetched from a `jwks_uri`, cached for the life of the object and refetched once
 * when a token names a `kid` it does not hold (key rotation).
 */
class RemoteKeySet extends JwkKeySet {
  private loading: Promise<void> | undefined;
  /** When a token's unknown `kid` last caused a refetch (the first fetch does not count). */
  private refetchedAt = -Infinity;

  constructor(
    private readonly uri: string,
    private readonly options: RemoteKeySetOptions,
  ) {
    super(uri, []);
  }

  private load(): Promise<void> {
    this.loading ??= (async () => {
      try {
        const doc = await fetchJson(this.options.fetch, this.uri, { what: 'JWKS', timeoutMs: this.options.timeoutMs });
        this.keys = parseJwks(doc, (why) => {
          throw new RemoteError(`could not use JWKS from ${this.uri}: ${why}`);
        });
      } finally {
        this.loading = undefined;
      }
    })();
    return this.loading;
  }

  override async algorithms(): Promise<readonly string[]> {
    if (this.keys.length === 0) await this.load();
    return super.algorithms();
  }

  override async candidates(header: { alg?: unknown; kid?: unknown }): Promise<ResolvedKey[]> {
    if (this.keys.length === 0) await this.load();
    let matches = this.match(header);
    if (matches.length === 0) {
      const now = (this.options.now ?? Date.now)();
      if (this.loading) {
        // A refetch is already under way (another token of a batch): it may bring this kid too.
        await this.loading;
        matches = this.match(header);
      } else if (now - this.refetchedAt >= (this.options.cooldownMs ?? 30_000)) {
        this.refetchedAt = now;
        await this.load();
        matches = this.match(header);
      }
    }
    return this.resolve(matches, algOf(header));
  }
}

export function remoteKeySet(uri: string, options: RemoteKeySetOptions): KeySet {
  let parsed: URL;
  try {
    parsed = new URL(uri);
  } catch {
    throw new UsageError(`--jwks-uri must be an http(s) URL, got "${uri}"`);
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    throw new UsageError(`--jwks-uri must be an http(s) URL, got "${uri}"`);
  }
  return new RemoteKeySet(uri, options);
}

/** A shared secret for HS256/384/512, only ever used when the user passes `--secret`. */
export function secretKeySet(secret: string | Uint8Array): KeySet {
  const key = importSecret(typeof secret === 'string' ? new TextEncoder().encode(secret) : secret);
  return {
    source: 'the shared secret',
    symmetric: true,
    algorithms: async () => [...SYMMETRIC_ALGORITHMS],
    candidates: async (header) =>
      SYMMETRIC_ALGORITHMS.includes(header.alg as (typeof SYMMETRIC_ALGORITHMS)[number])
        ? [{ key, label: 'the shared secret' }]
        : [],
  };
}

export interface DiscoverJwksUriOptions {
  fetch: typeof fetch;
  /** Milliseconds for the discovery request. Default 10 000. */
  timeoutMs?: number;
  /**
   * Accepts a `jwks_uri` on plain http to a host other than this machine (a development setup),
   * telling this callback. Absent (the default): such a `jwks_uri` is refused.
   */
  plainHttp?: (url: URL) => void;
}

/**
 * Finds the `jwks_uri` of an issuer by OIDC discovery, checking that the document names
 * exactly that issuer (OpenID Connect Discovery §4.3, RFC 8414 §3.3) and that the `jwks_uri` is
 * https (http only on loopback, unless `options.plainHttp` takes it).
 * @throws RemoteError when discovery fails, names another issuer, or has no such `jwks_uri`.
 */
export async function discoverJwksUri(issuer: string, options: DiscoverJwksUriOptions): Promise<string> {
  const doc = await fetchMetadata(options.fetch, discoveryUrl(issuer), {
    issuer,
    what: 'the discovery document',
    configuredIssuer: true,
    required: ['jwks_uri'],
    timeoutMs: options.timeoutMs,
  });
  const jwksUri = doc.jwks_uri as string;
  // The provider's answer, not the user's flag: a bad URL here is a remote failure (exit 3).
  const problem = endpointProblem(doc, ['jwks_uri']);
  if (problem && !(options.plainHttp && judgeTransport(jwksUri) === 'plain-http')) {
    throw new RemoteError(`could not use the discovery document of ${issuer}: ${problem}`);
  }
  if (problem) options.plainHttp!(new URL(jwksUri));
  return jwksUri;
}
