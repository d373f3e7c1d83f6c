import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    pool: 'forks',
    // Lets tests call gc() to check what happens to dropped sessions.
    execArgv: ['--expose-gc'],
  },
});
