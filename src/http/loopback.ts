import { UsageError } from '../errors.js';

/** The names of this machine's loopback interface, as URL hostnames. */
export const LOOPBACK_HOSTS: readonly string[] = ['127.0.0.1', 'localhost', '[::1]'];

/**
 * True for a hostname on this machine's loopback: plain HTTP is acceptable there (RFC 8252 §8.3)
 * and a proxy elsewhere could never reach it.
 */
export function isLoopbackHost(hostname: string): boolean {
  return LOOPBACK_HOSTS.includes(hostname);
}

/**
 * The one transport rule for servers authbridge trusts with credentials (an IdP, a broker):
 * https anywhere, plain http only on this machine's loopback (RFC 8252 §8.3).
 *
 * @example
 * isSecureOrLoopback(new URL('http://127.0.0.1:8080')); // true
 * isSecureOrLoopback(new URL('http://idp.example.com')); // false
 */
export function isSecureOrLoopback(url: URL): boolean {
  return url.protocol === 'https:' || (url.protocol === 'http:' && isLoopbackHost(url.hostname));
}

/**
 * How `value` stands against {@link isSecureOrLoopback}: `ok`; `plain-http`, http to a host other
 * than this machine's loopback; `not-http`, not a URL, or a scheme other than http(s).
 *
 * @example
 * judgeTransport('javascript:alert(1)'); // 'not-http'
 * judgeTransport('http://idp.example.com/jwks'); // 'plain-http'
 */
export function judgeTransport(value: string): 'ok' | 'plain-http' | 'not-http' {
  const url = URL.canParse(value) ? new URL(value) : undefined;
  if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:')) return 'not-http';
  return isSecureOrLoopback(url) ? 'ok' : 'plain-http';
}

/**
 * Parses `value` as a URL that {@link isSecureOrLoopback} accepts.
 *
 * @param what How the value was given, for the message: `--issuer`, `broker url`.
 * @example
 * const issuer = secureUrl(options.issuer, '--issuer');
 * @throws UsageError `<what> must be an https URL (http only on 127.0.0.1/localhost), got "<value>"`
 *   for an unparsable value, another scheme, or plain http to a host that is not loopback.
 */
export function secureUrl(value: string, what: string): URL {
  const url = URL.canParse(value) ? new URL(value) : undefined;
  if (!url || !isSecureOrLoopback(url)) {
    throw new UsageError(`${what} must be an https URL (http only on 127.0.0.1/localhost), got "${value}"`);
  }
  return url;
}
