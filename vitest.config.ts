import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    testTimeout: 60_000,
    pool: 'forks',
    // Lets tests call gc() to check what happens to dropped sessions.
    execArgv: ['--expose-gc'],
    // Every test on the default backend (wasm); the op tests once more on the JavaScript backend.
    projects: [
      {
        extends: true,
        test: { name: 'wasm', include: ['test/**/*.test.ts'], setupFiles: ['test/setup/backend.ts'], env: { NDGRAPH_TEST_BACKEND: 'wasm' } },
      },
      {
        extends: true,
        test: {
          name: 'js',
          include: ['test/ops/**/*.test.ts', 'test/graph/**/*.test.ts', 'test/errors.test.ts'],
          setupFiles: ['test/setup/backend.ts'],
          env: { NDGRAPH_TEST_BACKEND: 'js' },
        },
      },
    ],
  },
});
