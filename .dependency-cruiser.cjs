/**
 * The import rules of src/ (docs/architecture.md), checked by test/architecture.test.ts and by
 * `npx depcruise src`. Imports flow one way: main → commands → flows → adapters; commands and
 * demo compose; adapters never reach up; each third-party package lives in one folder.
 */
const ADAPTERS = '^src/(oidc|jwt|cache|config|loopback|inspect|http|util|runtime|broker)/';

/** A package that only the files matching `allowed` may import. */
const onlyIn = (pkg, allowed, why) => ({
  name: `${pkg}-only-in-its-folder`,
  comment: why,
  severity: 'error',
  from: { path: '^src/', pathNot: allowed },
  to: { path: `node_modules/${pkg}/` },
});

module.exports = {
  forbidden: [
    {
      name: 'no-cycle',
      comment: 'The import graph has no cycle, type-only imports included.',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'only-the-entry-imports-main',
      comment: 'main.ts turns outcomes into exit codes; commands get what they need from commands/invocation.ts.',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/cli\\.ts$' },
      to: { path: '^src/main\\.ts$' },
    },
    {
      name: 'commands-only-from-main',
      comment: 'Commands are the top: only main.ts and other commands import them.',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/(main\\.ts|commands/)' },
      to: { path: '^src/commands/' },
    },
    {
      name: 'adapters-do-not-reach-up',
      comment: 'Adapters (oidc, jwt, cache, config, loopback, inspect, http, util, runtime, broker) do not import flows, commands, output or demo.',
      severity: 'error',
      from: { path: ADAPTERS },
      to: { path: '^src/(flows|commands|output|demo|main\\.ts)' },
    },
    {
      name: 'output-renders-only',
      comment: 'Output may name the types of what it renders, nothing else of flows or demo.',
      severity: 'error',
      from: { path: '^src/output/' },
      to: { path: '^src/(flows|demo)/', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'flows-below-commands',
      comment: 'Flows are use cases: they do not render and do not know the command line.',
      severity: 'error',
      from: { path: '^src/flows/' },
      to: { path: '^src/(output|commands|demo)/' },
    },
    onlyIn('openid-client', '^src/oidc/', 'openid-client is the oidc/ adapter.'),
    onlyIn('commander', '^src/(main\\.ts|commands/)', 'commander belongs to main.ts and the commands.'),
    onlyIn('chalk', '^src/output/', 'chalk belongs to output/.'),
    onlyIn('open', '^src/context\\.ts$', 'Only the Context opens a browser.'),
    onlyIn('better-sqlite3', '^src/broker/(store/sqlite/|checkpoint-worker\\.ts$)', 'SQLite is one broker store adapter (store/sqlite/).'),
    onlyIn('pg', '^src/broker/store/postgres/', 'pg is the PostgreSQL broker store adapter (store/postgres/), loaded only for a postgres:// database.'),
    onlyIn('prom-client', '^src/broker/metrics\\.ts$', 'prom-client is the broker /metrics registry.'),
    onlyIn('fastify', '^src/broker/', 'fastify is the broker HTTP face.'),
    onlyIn('oidc-provider', '^src/demo/', 'oidc-provider is the demo IdP.'),
    onlyIn('undici', '^src/http/', 'undici is the proxy and CA dispatcher.'),
    onlyIn('zod', '^src/broker/', 'zod validates the broker config.'),
    onlyIn('proper-lockfile', '^src/runtime/lazy\\.ts$', 'The lock library is loaded on first use, through runtime/lazy.ts.'),
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'] },
  },
};
