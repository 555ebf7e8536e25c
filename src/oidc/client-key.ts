/**
 * The client's private key for `private_key_jwt` (RFC 7523 §2.2, OpenID Connect Core §9): read
 * from a PEM file (PKCS#8, PKCS#1 or SEC1) or a JWK / JWK Set JSON file, as OpenSSH reads an
 * identity file: the user's own regular file, not through a symlink, and refused when group or
 * others may read it. Imported as a non-extractable WebCrypto key (jose), its `kid` and `alg`
 * settled here so every assertion says the same.
 */
import { createPrivateKey, createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, importJWK, type JWK } from 'jose';
import { UsageError, describeError } from '../errors.js';
import { UnsafePathError, currentUid, openOwnFile } from '../util/own-file.js';

/** Where the key is and what to call it: the profile's `clientKey`, `clientKeyId`, `clientKeyAlg`. */
export interface ClientKeySettings {
  /** Path of a PEM private key or a JWK / JWK Set JSON file. */
  path: string;
  /** The `kid` of the assertions' header. Default: the JWK's `kid`, else its RFC 7638 thumbprint. */
  kid?: string;
  /** The JWS algorithm. Default from the key: RS256 (RSA), ES256/ES384/ES512 (P-256/384/521), EdDSA (Ed25519). */
  alg?: string;
}

/** A loaded client key, ready to sign client assertions. */
export interface ClientKey {
  key: CryptoKey;
  kid: string;
  alg: string;
  path: string;
}

/** The JWS algorithms each kind of key can sign with, the default first. */
const ALGORITHMS: Record<string, readonly string[]> = {
  rsa: ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'],
  'P-256': ['ES256'],
  'P-384': ['ES384'],
  'P-521': ['ES512'],
  ed25519: ['EdDSA', 'Ed25519'],
};

/** Every algorithm a client key may name (`clientKeyAlg`). */
export const CLIENT_KEY_ALGORITHMS = [...new Set(Object.values(ALGORITHMS).flat())];

const MAX_KEY_BYTES = 256 * 1024;

function refuse(path: string, why: string, hint?: string, cause?: unknown): never {
  throw new UsageError(`could not use the client key ${path}: ${why}`, { hint, cause });
}

/** Reads the key file as ssh reads an identity file: one's own, not a symlink, private (0600). */
async function readKeyFile(path: string): Promise<string> {
  let opened;
  try {
    opened = await openOwnFile(path);
  } catch (err) {
    if (err instanceof UnsafePathError) {
      if (err.reason === 'foreign_owner') refuse(path, err.message, `Use a key file of your own (chown ${currentUid()} ${path}).`, err);
      if (err.reason === 'symlink') refuse(path, err.message, 'Point clientKey (--client-key) at the file itself.', err);
      refuse(path, err.message, 'Point clientKey (--client-key) at a PEM or JWK file.', err);
    }
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') refuse(path, 'no such file', 'Check clientKey (--client-key, AUTHBRIDGE_CLIENT_KEY).', err);
    refuse(path, describeError(err), undefined, err);
  }
  const { handle, info } = opened;
  try {
    if ((info.mode & 0o077) !== 0) {
      const who = [info.mode & 0o070 && 'group', info.mode & 0o007 && 'others'].filter(Boolean).join(' and ');
      refuse(path, `it is accessible by ${who} (mode ${(info.mode & 0o777).toString(8).padStart(4, '0')}); a private key must be yours alone`, `chmod 600 ${path}`);
    }
    if (info.size > MAX_KEY_BYTES) refuse(path, 'it is larger than 256 KiB, not a key');
    return await handle.readFile('utf8');
  } catch (err) {
    if (err instanceof UsageError) throw err;
    return refuse(path, describeError(err), undefined, err);
  } finally {
    await handle.close().catch(() => {});
  }
}

/** The private JWK a JSON file holds: itself, or the one key of a JWK Set (the one with `kid`). */
function jwkFrom(path: string, text: string, kid: string | undefined): JWK {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    return refuse(path, `not valid JSON (${(err as Error).message})`);
  }
  const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
  if (!isObject(doc)) return refuse(path, 'expected a JWK or a JWK Set object');
  let keys: unknown[] = [doc];
  if (Array.isArray(doc.keys)) keys = doc.keys;
  const privateKeys = keys.filter((k): k is JWK => isObject(k) && typeof k.kty === 'string' && 'd' in k);
  if (privateKeys.length === 0) {
    refuse(path, keys.some((k) => isObject(k) && typeof k.kty === 'string') ? 'it holds a public key only (no "d")' : 'no JWK in it (expected "kty")', 'Give the private key file.');
  }
  if (kid !== undefined) {
    const found = privateKeys.find((k) => k.kid === kid);
    if (found) return found;
    if (privateKeys.length > 1 || privateKeys[0]!.kid !== undefined) {
      refuse(path, `no private key with kid "${kid}" in it (it has ${privateKeys.map((k) => (k.kid ? `"${k.kid}"` : 'one without kid')).join(', ')})`);
    }
    return privateKeys[0]!;
  }
  if (privateKeys.length > 1) refuse(path, `it holds ${privateKeys.length} private keys`, 'Say which with clientKeyId (--client-key-id).');
  return privateKeys[0]!;
}

/** The private key a PEM file holds, or a refusal naming what it holds instead. */
function pemKey(path: string, text: string): KeyObject {
  if (/-----BEGIN CERTIFICATE-----/.test(text)) refuse(path, 'it is a certificate, not a private key', 'Give the private key the certificate was made for.');
  if (/-----BEGIN (RSA |EC )?PUBLIC KEY-----/.test(text)) refuse(path, 'it is a public key, not a private key', 'Give the private key; register the public one at the IdP.');
  if (/-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/.test(text)) {
    refuse(path, 'it is encrypted with a passphrase', `Store it unencrypted, readable by you alone: openssl pkey -in ${path} -out KEY.pem && chmod 600 KEY.pem`);
  }
  try {
    return createPrivateKey({ key: text, format: 'pem' });
  } catch (err) {
    return refuse(path, 'not a PEM private key nor a JWK', 'Give a PEM (-----BEGIN PRIVATE KEY-----) or JWK file.', err);
  }
}

/** The key's kind as {@link ALGORITHMS} names it. */
function kindOf(path: string, key: KeyObject): string {
  const type = key.asymmetricKeyType;
  if (type === 'rsa') return 'rsa';
  if (type === 'ed25519') return 'ed25519';
  if (type === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    const named = curve === 'prime256v1' ? 'P-256' : curve === 'secp384r1' ? 'P-384' : curve === 'secp521r1' ? 'P-521' : undefined;
    if (named) return named;
    return refuse(path, `its curve ${curve ?? '(unknown)'} is not one of P-256, P-384, P-521`);
  }
  return refuse(path, `a ${type ?? 'symmetric'} key cannot sign client assertions (use RSA, EC P-256/384/521 or Ed25519)`);
}

/**
 * Loads the client's private key for `private_key_jwt`.
 * @param supported The server's `token_endpoint_auth_signing_alg_values_supported`, as found: the
 *   default algorithm is the first of the key's that it lists, and a configured one must be listed.
 * @throws UsageError (exit 2), one line naming the file: missing, unreadable, a symlink, another
 *   user's, readable by group or others, not a private key (a public key, a certificate,
 *   garbage), or an algorithm the key cannot sign with or the server does not accept.
 * @example
 * const { key, kid, alg } = await loadClientKey({ path: '/home/me/.config/authbridge/ci.pem' });
 */
export async function loadClientKey(settings: ClientKeySettings, supported?: unknown): Promise<ClientKey> {
  const { path } = settings;
  const text = await readKeyFile(path);
  const json = text.trimStart().startsWith('{');
  const jwk = json ? jwkFrom(path, text, settings.kid) : undefined;
  let keyObject: KeyObject;
  try {
    keyObject = jwk ? createPrivateKey({ key: jwk as JsonWebKey, format: 'jwk' }) : pemKey(path, text);
  } catch (err) {
    if (err instanceof UsageError) throw err;
    return refuse(path, `not a usable private JWK (${describeError(err)})`, undefined, err);
  }
  const kind = kindOf(path, keyObject);
  const possible = ALGORITHMS[kind]!;
  const listed = Array.isArray(supported) ? supported.filter((a): a is string => typeof a === 'string') : undefined;
  let alg = settings.alg ?? (typeof jwk?.alg === 'string' ? jwk.alg : undefined);
  if (alg !== undefined && !possible.includes(alg)) {
    refuse(path, `clientKeyAlg ${alg} does not fit this ${kind === 'rsa' ? 'RSA' : kind} key (it signs with ${possible.join(', ')})`, 'Fix --client-key-alg, or leave it out to use the key\'s default.');
  }
  if (alg === undefined) alg = (listed && possible.find((a) => listed.includes(a))) ?? possible[0]!;
  // Ed25519 is spelt EdDSA (RFC 8037) or Ed25519 (RFC 9864): either will do where the other is listed.
  const accepted = (a: string) => listed!.includes(a) || (kind === 'ed25519' && listed!.some((l) => possible.includes(l)));
  if (listed && listed.length > 0 && !accepted(alg)) {
    refuse(path, `the server accepts client assertions signed with ${listed.join(', ')}, not ${alg}`, 'Use a key of a kind it accepts, or set --client-key-alg.');
  }
  const exported = keyObject.export({ format: 'jwk' }) as JWK;
  const kid = settings.kid ?? (typeof jwk?.kid === 'string' ? jwk.kid : await calculateJwkThumbprint(createPublicKey(keyObject).export({ format: 'jwk' }) as JWK));
  const importAlg = alg === 'Ed25519' ? 'EdDSA' : alg;
  const key = (await importJWK({ ...exported, ext: false }, importAlg)) as CryptoKey;
  return { key, kid, alg, path };
}
