/**
 * The broker's config file: parsed and validated once at start, so a bad value stops the
 * broker with one line naming the field instead of failing a request later.
 */
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { z } from 'zod';
import { UsageError, describeError } from '../errors.js';
import { isSecureOrLoopback } from '../http/loopback.js';
import { SUPPORTED_ALGORITHMS, SYMMETRIC_ALGORITHMS } from '../jwt/keys.js';
import { isJsonPointer } from './json-pointer.js';
import { DEFAULT_RATE_LIMIT } from './rate-limit.js';

const httpUrl = (what = 'an https or http URL') =>
  z.string({ error: `expected ${what}` }).refine(
    (value) => {
      try {
        const url = new URL(value);
        return (url.protocol === 'https:' || url.protocol === 'http:') && !url.hash && !url.username && !url.password;
      } catch {
        return false;
      }
    },
    { message: `expected ${what}` },
  );

/** What an http URL to a host off loopback is told, without the development switch. */
const INSECURE_URL = 'expected an https URL (http only on 127.0.0.1/localhost, or "allowInsecureHttp": true for development)';

/** Whole seconds from `min` to `max` (each with its message), `fallback` when absent. */
const wholeSeconds = (min: [number, string], max: [number, string], fallback: number) =>
  z
    .number({ error: 'expected seconds' })
    .int({ message: 'expected whole seconds' })
    .min(min[0], { message: min[1] })
    .max(max[0], { message: max[1] })
    .default(fallback);

const nonEmpty = (what: string) => z.string({ error: `expected ${what}` }).min(1, { message: `expected ${what}, got an empty string` });

/** An IP address or CIDR block, or proxy-addr's names `loopback`, `linklocal`, `uniquelocal`. */
const proxyAddress = z.string({ error: 'expected an IP address or CIDR such as "10.0.0.0/8"' }).refine(
  (value) => {
    if (value === 'loopback' || value === 'linklocal' || value === 'uniquelocal') return true;
    const [address, prefix, ...rest] = value.split('/');
    const family = isIP(address ?? '');
    if (family === 0 || rest.length > 0) return false;
    if (prefix === undefined) return true;
    return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128);
  },
  { message: 'expected an IP address or CIDR such as "10.0.0.0/8"' },
);

const pointer = z
  .string({ error: 'expected a JSON Pointer such as "/email"' })
  .refine(isJsonPointer, { message: 'expected a JSON Pointer such as "/email" (RFC 6901)' });

/** Names the broker itself puts in /userinfo; a mapping may not overwrite them. */
const RESERVED_FIELDS = new Set(['sub', 'created_at', 'updated_at']);

const mapping = z
  .record(z.string(), pointer, { error: 'expected an object of field name to JSON Pointer' })
  .refine((m) => Object.keys(m).every((k) => k !== '' && !RESERVED_FIELDS.has(k)), {
    message: 'field names must be non-empty and not "sub", "created_at" or "updated_at"',
  });

const asymmetricAlgorithm = z.string().refine(
  (alg) => SUPPORTED_ALGORITHMS.includes(alg) && !(SYMMETRIC_ALGORITHMS as readonly string[]).includes(alg),
  { message: `expected an asymmetric JWS algorithm (${SUPPORTED_ALGORITHMS.filter((a) => !a.startsWith('HS')).join(', ')})` },
);

const providerId = z
  .string({ error: 'expected a provider id' })
  .regex(/^[A-Za-z0-9._-]+$/, { message: 'expected letters, digits, ".", "_" or "-" (it appears in urn:authbridge:token-type:<id>)' });

const common = {
  id: providerId,
  subjectPointer: pointer.default('/sub'),
  mapping: mapping.default({}),
  updatePolicy: z.enum(['each-login', 'first-login'], { error: 'expected "each-login" or "first-login"' }).default('each-login'),
  registration: z.enum(['auto', 'existing-only'], { error: 'expected "auto" or "existing-only"' }).default('auto'),
};

/**
 * JWT `typ` values (RFC 7515 §4.1.9: compared case-insensitively, "application/" optional) of
 * JWTs that are not tokens a customer signs in with: logout tokens, security event tokens, DPoP
 * proofs, signed introspection answers, request objects, signed key sets, key-binding JWTs,
 * federation statements. Never accepted, and refused in `acceptedTypes`.
 */
export const NEVER_ACCEPTED_TYPES: readonly string[] = [
  'logout+jwt',
  'secevent+jwt',
  'dpop+jwt',
  'token-introspection+jwt',
  'oauth-authz-req+jwt',
  'jwk-set+jwt',
  'kb+jwt',
  'entity-statement+jwt',
];

/** A `typ` as compared: lower case, without "application/" (RFC 7515 §4.1.9). */
export function normalizeType(typ: string): string {
  return typ.toLowerCase().replace(/^application\//, '');
}

/**
 * The default types: RFC 9068 access tokens, and access tokens typed "JWT" as Keycloak, Okta,
 * Entra ID, Auth0 and LemonLDAP::NG sign them — those only when their claims say access token
 * (see `JWT_ACCESS_TOKEN_CLAIMS`), so an ID token is still refused as an access token; ID tokens
 * typed "JWT" or untyped (null). A configured `accessToken` list is taken as it is.
 */
export const DEFAULT_ACCEPTED_TYPES = { accessToken: ['at+jwt', 'JWT'], idToken: ['JWT', null] } as const;

/** Claims that mark a "JWT"-typed token as an access token (OAuth scope, client): ID tokens carry none. */
export const JWT_ACCESS_TOKEN_CLAIMS = ['scope', 'scp', 'client_id', 'cid', 'roles'] as const;
/** Claims only an ID token carries (OpenID Connect Core §2, §3.3.2.11): never an access token. */
export const ID_TOKEN_ONLY_CLAIMS = ['nonce', 'at_hash', 'c_hash'] as const;

const acceptedType = z
  .union([z.string(), z.null()], { error: 'expected a typ string, or null for a JWT without typ' })
  .superRefine((typ, ctx) => {
    if (typ === '') ctx.addIssue({ code: 'custom', message: 'expected a typ string, or null for a JWT without typ' });
    else if (typ !== null && NEVER_ACCEPTED_TYPES.includes(normalizeType(typ))) {
      ctx.addIssue({ code: 'custom', message: `${JSON.stringify(typ)} is never accepted: it is not a token to sign in with` });
    }
  });
const acceptedTypeList = z.array(acceptedType, { error: 'expected an array of typ values' }).min(1, { message: 'expected at least one type' });

const jwtProvider = z.strictObject({
  ...common,
  type: z.literal('jwt'),
  issuer: httpUrl(),
  audience: z.union([nonEmpty('an audience'), z.array(nonEmpty('an audience')).min(1, { message: 'expected at least one audience' })], {
    error: 'expected an audience string or a non-empty array of them',
  }),
  jwksUri: httpUrl().optional(),
  algorithms: z.array(asymmetricAlgorithm).min(1, { message: 'expected at least one algorithm' }).optional(),
  /** Seconds of clock skew allowed for exp/nbf/iat (at most 60). */
  leeway: z.number({ error: 'expected seconds (0 to 60)' }).int({ message: 'expected whole seconds' }).min(0).max(60, { message: 'at most 60 seconds' }).default(30),
  /** Milliseconds for discovery, JWKS and userinfo requests. */
  timeoutMs: z.number({ error: 'expected milliseconds' }).int().min(1).max(60_000).default(5000),
  /**
   * The header `typ` values taken for each kind of subject token (null: no typ). A token sent as
   * `jwt`, by the Synerise call or by this provider's custom type may be either kind.
   */
  acceptedTypes: z
    .strictObject({
      // Absent: the default policy (DEFAULT_ACCEPTED_TYPES with the claims check).
      accessToken: acceptedTypeList.optional(),
      idToken: acceptedTypeList.default([...DEFAULT_ACCEPTED_TYPES.idToken]),
    })
    .default({ idToken: [...DEFAULT_ACCEPTED_TYPES.idToken] }),
});

const callbackProvider = z.strictObject({
  ...common,
  type: z.literal('callback'),
  url: httpUrl(),
  method: z.enum(['GET', 'POST'], { error: 'expected "GET" (bearer token) or "POST" (RFC 7662)' }).default('GET'),
  headers: z.record(z.string(), z.string({ error: 'expected header values as strings' })).default({}),
  timeoutMs: z.number({ error: 'expected milliseconds' }).int().min(1).max(60_000, { message: 'at most 60000 ms' }).default(5000),
});

/** RFC 7591 §2 names of the client authentication methods the RFC 6749 endpoints accept. */
export const CLIENT_AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'] as const;
export type ClientAuthMethod = (typeof CLIENT_AUTH_METHODS)[number];

/**
 * A client states how it authenticates: a missing secret is never read as "public". A client
 * with only an `apiKey` may use the Synerise-compatible endpoint alone; an API key is never an
 * RFC 6749 credential. Messages name the field, never a secret.
 */
const client = z
  .strictObject({
    clientId: nonEmpty('a client id'),
    tokenEndpointAuthMethod: z
      .enum(CLIENT_AUTH_METHODS, { error: 'expected "client_secret_basic", "client_secret_post", "private_key_jwt" or "none" (RFC 7591)' })
      .optional(),
    clientSecret: nonEmpty('a client secret').optional(),
    /** `private_key_jwt` (RFC 7523): the client's public keys, inline (RFC 7591 `jwks`) … */
    jwks: z.looseObject({ keys: z.array(z.looseObject({ kty: z.string({ error: 'expected a JWK with "kty"' }) }), { error: 'expected an array of JWKs' }).min(1, { message: 'expected at least one key' }) }, { error: 'expected a JWK Set: {"keys":[…]}' }).optional(),
    /** … or where to fetch them (RFC 7591 `jwks_uri`). */
    jwksUri: httpUrl().optional(),
    apiKey: nonEmpty('an API key').optional(),
    /** Resource servers: the clients whose tokens this one may introspect besides its own. */
    introspects: z.array(nonEmpty('a client id'), { error: 'expected an array of client ids' }).optional(),
  })
  .superRefine((c, ctx) => {
    const method = c.tokenEndpointAuthMethod;
    if (method === undefined) {
      if (c.clientSecret !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['tokenEndpointAuthMethod'], message: 'required with a clientSecret: "client_secret_basic" or "client_secret_post"' });
      } else if (c.apiKey === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['tokenEndpointAuthMethod'],
          message: 'required: "client_secret_basic", "client_secret_post" or "none" (or give only an apiKey, for the Synerise-compatible endpoint alone)',
        });
      }
    } else if (method === 'none') {
      if (c.clientSecret !== undefined) ctx.addIssue({ code: 'custom', path: ['clientSecret'], message: 'a client with tokenEndpointAuthMethod "none" has no secret' });
    } else if (method === 'private_key_jwt') {
      if (c.clientSecret !== undefined) ctx.addIssue({ code: 'custom', path: ['clientSecret'], message: 'a private_key_jwt client authenticates with its key, not a secret' });
      if ((c.jwks === undefined) === (c.jwksUri === undefined)) {
        ctx.addIssue({ code: 'custom', path: ['jwks'], message: 'a private_key_jwt client needs its public keys: give one of jwks or jwksUri' });
      }
    } else if (c.clientSecret === undefined) {
      ctx.addIssue({ code: 'custom', path: ['clientSecret'], message: `required with tokenEndpointAuthMethod "${method}"` });
    }
    if (method !== 'private_key_jwt' && (c.jwks !== undefined || c.jwksUri !== undefined)) {
      ctx.addIssue({ code: 'custom', path: [c.jwks !== undefined ? 'jwks' : 'jwksUri'], message: 'keys are for tokenEndpointAuthMethod "private_key_jwt"' });
    }
    if (c.introspects !== undefined && (method === undefined || method === 'none')) {
      ctx.addIssue({ code: 'custom', path: ['introspects'], message: 'only a confidential client (client_secret_basic, client_secret_post or private_key_jwt) may introspect' });
    }
  });

const schema = z
  .strictObject({
    $schema: z.string().optional(),
    /**
     * Development only: plain HTTP to IdPs, JWKS and backends that are not on loopback (the
     * broker says so at start). Off: https everywhere, http only on 127.0.0.1/localhost/[::1].
     */
    allowInsecureHttp: z.boolean({ error: 'expected true or false' }).default(false),
    issuer: httpUrl().optional(),
    audience: nonEmpty('an audience').optional(),
    tokenTtl: wholeSeconds([60, 'at least 60 seconds'], [86_400 * 30, 'at most 30 days'], 3600),
    /** Rate limits of the requests that authenticate a client (rate-limit.ts). */
    rateLimit: z
      .strictObject({
        maxFailures: z
          .number({ error: 'expected a number of failures (0 switches the limit off)' })
          .int({ message: 'expected a whole number' })
          .min(0, { message: 'expected a number of failures (0 switches the limit off)' })
          .default(DEFAULT_RATE_LIMIT.maxFailures),
        windowSeconds: wholeSeconds([1, 'at least 1 second'], [86_400, 'at most 1 day'], DEFAULT_RATE_LIMIT.windowSeconds),
        maxRequestsPerClient: z
          .number({ error: 'expected a number of requests (0 switches the limit off)' })
          .int({ message: 'expected a whole number' })
          .min(0, { message: 'expected a number of requests (0 switches the limit off)' })
          .default(DEFAULT_RATE_LIMIT.maxRequestsPerClient),
      })
      .default(DEFAULT_RATE_LIMIT),
    /**
     * The reverse proxies in front of the broker (addresses or CIDRs): from them, the client's
     * address is read from X-Forwarded-For (fastify's `trustProxy`). Default false: the peer's.
     */
    trustProxy: z
      .union([z.literal(false), z.array(proxyAddress, { error: 'expected a list of proxy addresses' }).min(1, { message: 'expected at least one proxy address' })], {
        error: 'expected false or a list of proxy addresses or CIDRs (never true: anyone could then choose their address)',
      })
      .default(false),
    /** Bounds on stored sessions: how many a customer keeps open at one client, and how long ended ones are kept. */
    sessions: z
      .strictObject({
        /** Open sessions of one customer at one client; the login that would pass it ends the oldest, down to three quarters. */
        maxPerClient: z.number({ error: 'expected a number of sessions' }).int({ message: 'expected a whole number' }).min(1, { message: 'at least 1' }).default(100),
        /** Seconds an expired or revoked session is kept before it is purged. */
        retentionSeconds: wholeSeconds([0, 'expected seconds (0 or more)'], [86_400 * 365, 'at most a year'], 86_400),
        /** Seconds between purges. */
        purgeIntervalSeconds: wholeSeconds([1, 'at least 1 second'], [86_400, 'at most 1 day'], 3600),
      })
      .default({ maxPerClient: 100, retentionSeconds: 86_400, purgeIntervalSeconds: 3600 }),
    /**
     * Signing keys: seconds between an instance's re-reads of the keys (how late it learns of a
     * rotation made elsewhere; `broker keys rotate` leaves the JWKS max-age and this before a new key signs).
     */
    keys: z
      .strictObject({ refreshSeconds: wholeSeconds([1, 'at least 1 second'], [3600, 'at most 1 hour'], 30) })
      .default({ refreshSeconds: 30 }),
    /** Open connections at most (node's server.maxConnections): past it new ones are closed at once. */
    maxConnections: z
      .number({ error: 'expected a number of connections' })
      .int({ message: 'expected a whole number' })
      .min(1, { message: 'at least 1' })
      .max(1_000_000, { message: 'at most 1000000' })
      .default(1024),
    clients: z.array(client, { error: 'expected an array of clients' }).min(1, { message: 'expected at least one client' }),
    providers: z
      .array(z.discriminatedUnion('type', [jwtProvider, callbackProvider], { error: 'expected "jwt" or "callback"' }), {
        error: 'expected an array of providers',
      })
      .min(1, { message: 'expected at least one provider' }),
  })
  .superRefine((config, ctx) => {
    const seen = (list: (string | undefined)[], path: (i: number) => (string | number)[], describe: (value: string) => string) => {
      const first = new Map<string, number>();
      list.forEach((value, i) => {
        if (value === undefined) return;
        const earlier = first.get(value);
        if (earlier !== undefined) ctx.addIssue({ code: 'custom', path: path(i), message: `${describe(value)} is already used by entry ${earlier}` });
        else first.set(value, i);
      });
    };
    seen(config.clients.map((c) => c.clientId), (i) => ['clients', i, 'clientId'], (v) => `client id "${v}"`);
    // The key itself is a secret: never repeated in the message.
    seen(config.clients.map((c) => c.apiKey), (i) => ['clients', i, 'apiKey'], () => 'this API key');
    seen(config.providers.map((p) => p.id), (i) => ['providers', i, 'id'], (v) => `provider id "${v}"`);
    const ids = new Set(config.clients.map((c) => c.clientId));
    config.clients.forEach((c, i) =>
      c.introspects?.forEach((id, j) => {
        if (!ids.has(id)) ctx.addIssue({ code: 'custom', path: ['clients', i, 'introspects', j], message: `no client ${JSON.stringify(id)} is configured` });
      }),
    );
    // RFC 8252 §8.3 / RFC 9700 §2.6: the IdP, its keys and the backends only over https, loopback aside.
    if (!config.allowInsecureHttp) {
      config.providers.forEach((p, i) => {
        const urls: Array<[string, string | undefined]> = p.type === 'jwt' ? [['issuer', p.issuer], ['jwksUri', p.jwksUri]] : [['url', p.url]];
        for (const [field, value] of urls) {
          if (value !== undefined && URL.canParse(value) && !isSecureOrLoopback(new URL(value))) ctx.addIssue({ code: 'custom', path: ['providers', i, field], message: INSECURE_URL });
        }
      });
    }
    config.providers.forEach((p, i) => {
      if (p.type !== 'jwt') return;
      const other = config.providers.findIndex((q) => q.type === 'jwt' && q.issuer === p.issuer);
      if (other !== i) ctx.addIssue({ code: 'custom', path: ['providers', i, 'issuer'], message: `issuer is already trusted by providers[${other}]` });
    });
  });

export type BrokerConfigFile = z.infer<typeof schema>;
export type JwtProviderConfig = z.infer<typeof jwtProvider>;
export type CallbackProviderConfig = z.infer<typeof callbackProvider>;
export type ProviderConfig = JwtProviderConfig | CallbackProviderConfig;
export type ClientConfig = z.infer<typeof client>;

/** The validated config with defaults that depend on where the broker listens filled in. */
export interface BrokerConfig extends Omit<BrokerConfigFile, 'issuer' | 'audience' | '$schema'> {
  issuer: string;
  audience: string;
}

function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out;
}

function valueAt(doc: unknown, path: readonly PropertyKey[]): unknown {
  let current = doc;
  for (const key of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}

function formatIssue(issue: z.core.$ZodIssue, doc: unknown): string {
  if (issue.code === 'unrecognized_keys') {
    const path = formatPath([...issue.path, issue.keys[0]!]);
    return `${path}: unknown key${issue.keys.length > 1 ? ` (also ${issue.keys.slice(1).join(', ')})` : ''}`;
  }
  let message = issue.message.replace(/^Invalid input: /, '');
  if (issue.code === 'invalid_type' && valueAt(doc, issue.path) === undefined) message = `required (${message.replace(/, received undefined$/, '')})`;
  const path = formatPath(issue.path);
  return path ? `${path}: ${message}` : message;
}

/**
 * Validates a parsed config document.
 * @throws UsageError naming the first bad field: `providers[0].issuer: expected an https or http URL`.
 */
export function parseBrokerConfig(doc: unknown, source: string): BrokerConfigFile {
  const result = schema.safeParse(doc);
  if (!result.success) {
    throw new UsageError(`could not load broker config ${source}: ${formatIssue(result.error.issues[0]!, doc)}`, {
      hint: 'See "The broker" in the README for the config file format.',
    });
  }
  return result.data;
}

/**
 * Reads and validates the broker config file.
 * @throws UsageError when the file cannot be read, is not JSON, or has a bad value.
 */
export async function loadBrokerConfig(path: string): Promise<BrokerConfigFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new UsageError(`could not load broker config ${path}: ${describeError(err)}`, { cause: err });
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`could not load broker config ${path}: not valid JSON (${describeError(err)})`, { cause: err });
  }
  return parseBrokerConfig(doc, path);
}

/** Fills in `issuer` (default `http://HOST:PORT`) and `audience` (default the issuer). */
export function resolveBrokerConfig(file: BrokerConfigFile, listening: { host: string; port: number }): BrokerConfig {
  const host = listening.host.includes(':') ? `[${listening.host}]` : listening.host;
  const issuer = file.issuer ?? `http://${host}:${listening.port}`;
  const { $schema: _schema, ...rest } = file;
  return { ...rest, issuer, audience: file.audience ?? issuer };
}
