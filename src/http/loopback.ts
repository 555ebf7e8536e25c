/** The names of this machine's loopback interface, as URL hostnames. */
export const LOOPBACK_HOSTS: readonly string[] = ['127.0.0.1', 'localhost', '[::1]'];

/**
 * True for a hostname on this machine's loopback: plain HTTP is acceptable there (RFC 8252 §8.3)
 * and a proxy elsewhere could never reach it.
 */
export function isLoopbackHost(hostname: string): boolean {
  return LOOPBACK_HOSTS.includes(hostname);
}
