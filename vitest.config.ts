import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // One temporary directory for the whole run, removed at its end (npm test leaves nothing in /tmp).
    globalSetup: ['test/helpers/global-tmp.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Two cores: end-to-end files spawn processes and servers of their own.
    maxWorkers: 2,
    // Under CI a JSON report is written too, so .ci/run can print the plain "N passed, N failed" line.
    reporters: process.env.CI ? ['default', ['json', { outputFile: '.ci/test-results.json' }]] : ['default'],
  },
});
