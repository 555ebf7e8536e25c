/**
 * The HTTP dispatcher used when the environment asks for more than Node's defaults: a proxy
 * (`HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY`, lower-case forms too) or extra trusted CAs
 * (`--ca-file`). Loaded only then, so commands without either never pay for undici.
 */
import { readFile } from 'node:fs/promises';
import { rootCertificates } from 'node:tls';
import type { Dispatcher } from 'undici';
import { UsageError, describeError } from '../errors.js';
import { LOOPBACK_HOSTS } from './loopback.js';

type Env = Readonly<Record<string, string | undefined>>;

export interface DispatcherOptions {
  /** PEM file of CA certificates trusted in addition to the system's (`--ca-file`). */
  caFile?: string;
}

/** The variable that is set, lower-case first as curl reads them. */
function pick(env: Env, name: string): { name: string; value: string } | undefined {
  for (const n of [name.toLowerCase(), name]) if (env[n]) return { name: n, value: env[n]! };
  return undefined;
}

/** `http://user:secret@proxy:3128` → `http://***@proxy:3128`, for messages. */
function redact(value: string): string {
  return value.replace(/\/\/[^/@]*@/, '//***@');
}

/** A proxy URL; without a scheme `http://` is assumed, as curl does. */
function proxyUrl(found: { name: string; value: string } | undefined): string | undefined {
  if (!found) return undefined;
  const value = found.value.trim();
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `http://${value}`;
  let url: URL | undefined;
  try {
    url = new URL(withScheme);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || !url.hostname) {
    throw new UsageError(`${found.name} must be a proxy URL such as http://proxy.example:3128, got "${redact(found.value)}"`);
  }
  return url.href;
}

/**
 * The proxy settings of `env`, lower-case names first as curl does; loopback hosts are added to
 * NO_PROXY.
 * @throws UsageError naming the variable when a proxy URL is malformed.
 */
export function proxySettings(env: Env): { httpProxy?: string; httpsProxy?: string; noProxy: string } {
  const noProxy = pick(env, 'NO_PROXY')?.value.trim();
  return {
    httpProxy: proxyUrl(pick(env, 'HTTP_PROXY')),
    httpsProxy: proxyUrl(pick(env, 'HTTPS_PROXY')),
    // Loopback is always reached directly, as Go's ProxyFromEnvironment does: a proxy elsewhere
    // cannot reach this machine's loopback (the login redirect, `demo`, an IdP or broker on 127.0.0.1).
    noProxy: noProxy === '*' ? '*' : [noProxy, ...LOOPBACK_HOSTS].filter(Boolean).join(','),
  };
}

/**
 * Reads a PEM bundle of CA certificates.
 * @throws UsageError when the file cannot be read or holds no certificate.
 */
export async function readCaFile(path: string): Promise<string> {
  let pem: string;
  try {
    pem = await readFile(path, 'utf8');
  } catch (err) {
    throw new UsageError(`could not read --ca-file ${path}: ${describeError(err)}`, { cause: err });
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
    throw new UsageError(`could not use --ca-file ${path}: no PEM certificate in it`, {
      hint: 'Give a file of "-----BEGIN CERTIFICATE-----" blocks (the CA that signed the server certificate).',
    });
  }
  return pem;
}

/**
 * undici's EnvHttpProxyAgent with the proxy settings of `env` (not `process.env`, so tests and
 * the Context agree) and, with a CA file, the system CAs plus those of the file and of
 * `NODE_EXTRA_CA_CERTS` (giving `ca` replaces Node's default list).
 */
export async function createDispatcher(env: Env, options: DispatcherOptions = {}): Promise<Dispatcher> {
  const { EnvHttpProxyAgent } = await import('undici');
  const proxies = proxySettings(env);
  let tls: { ca: string[] } | undefined;
  if (options.caFile) {
    const ca = [...rootCertificates, await readCaFile(options.caFile)];
    if (env.NODE_EXTRA_CA_CERTS) {
      const extra = await readFile(env.NODE_EXTRA_CA_CERTS, 'utf8').catch(() => undefined);
      if (extra) ca.push(extra);
    }
    tls = { ca };
  }
  return new EnvHttpProxyAgent({
    // undici reads process.env when a setting is undefined: '' keeps it to `env`.
    httpProxy: proxies.httpProxy ?? '',
    httpsProxy: proxies.httpsProxy ?? '',
    noProxy: proxies.noProxy,
    ...(tls ? { connect: tls, requestTls: tls } : {}),
  });
}

/**
 * A `fetch` that sends every request through {@link createDispatcher}'s agent, with undici's
 * own fetch: Node's bundled undici may be another major version than the agent's.
 */
export async function dispatchingFetch(env: Env, options: DispatcherOptions = {}): Promise<typeof fetch> {
  const [{ fetch: undiciFetch }, dispatcher] = await Promise.all([import('undici'), createDispatcher(env, options)]);
  return (async (input: Parameters<typeof fetch>[0], init?: RequestInit) =>
    (await undiciFetch(input as Parameters<typeof undiciFetch>[0], {
      ...(init as Parameters<typeof undiciFetch>[1]),
      dispatcher,
    })) as unknown as Response) as typeof fetch;
}
