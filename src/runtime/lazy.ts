/**
 * Modules loaded on first use, by name. The CLI's start-up budget (a hot command within a few
 * milliseconds of a bare `node`) leaves no room for openid-client or the lock library in the
 * commands that rarely need them (a `token` whose cache is fresh, a `status` without `--check`).
 * The build puts each of these in dist/lazy/ (scripts/build.mjs, `LAZY`), out of dist/cli.cjs
 * and its code cache; only the imports in this file are treated so, so a module imported
 * statically anywhere else is simply bundled where it is used.
 */

/** The IdP adapter (openid-client): discovery, PKCE, code exchange, refresh, revocation, introspection. */
export const loadIdpAdapter = () => import('../oidc/client.js');

/** The broker adapter (openid-client): RFC 8414 metadata, RFC 8693 exchange, RFC 7009/7662 at the broker. */
export const loadBrokerAdapter = () => import('../oidc/broker-client.js');

/** The Synerise-compatible login call. */
export const loadSyneriseAdapter = () => import('../oidc/synerise.js');

/** proper-lockfile, for the cache's and config's inter-process lock (only writes take it). */
export const loadLockfile = () => import('proper-lockfile');

/**
 * The OS keychain binding (native, CommonJS), for `--token-storage keychain|auto`: required, not
 * imported. `import()` of it starts Node's ES module loader in the CommonJS CLI, which measured
 * 32 ms against 6 ms for `require`, on every `token` whose session is in the keychain.
 */
export const loadKeyring = async (): Promise<typeof import('@napi-rs/keyring')> =>
  process.getBuiltinModule('node:module').createRequire(import.meta.url)('@napi-rs/keyring') as typeof import('@napi-rs/keyring');
