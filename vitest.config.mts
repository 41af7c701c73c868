import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Each file gets its own process, database and task queue; two cores, so two at a time.
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    testTimeout: 60_000,
    // The first run on a fresh machine builds the Temporal CLI (and the server) with Go.
    hookTimeout: 900_000,
    // The SQL expression parser (WebAssembly) loads before each file's tests, as config loading and the worker do.
    setupFiles: ['test/sql-parser-setup.ts'],
    projects: [
      {
        extends: true,
        test: { name: 'dev-server', include: ['test/**/*.test.ts'], exclude: ['test/cluster/**'], globalSetup: ['test/global-setup.ts'] },
      },
      {
        // A real Temporal server on PostgreSQL (test/cluster/global-setup.ts). Its files stop and
        // restart that one server, so they run one at a time. `npm run test:cluster` runs it alone.
        extends: true,
        test: {
          name: 'cluster',
          include: ['test/cluster/**/*.test.ts'],
          globalSetup: ['test/cluster/global-setup.ts'],
          poolOptions: { forks: { singleFork: true } },
          testTimeout: 180_000,
        },
      },
    ],
  },
});
