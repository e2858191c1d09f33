import { defineConfig } from 'vitest/config';

// Test files share one engine-heavy machine (2 cores in CI): run them one at a time, each in
// its own process, so native threads and model memory never overlap between files.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 300_000,
  },
});
