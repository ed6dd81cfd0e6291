import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const root = fileURLToPath(new URL('.', import.meta.url));
const alias = [{ find: /^@weft\/([a-z-]+)$/, replacement: `${root}packages/$1/src/index.ts` }];
const setupFiles = [`${root}scripts/vitest-setup.ts`];

const OWN_HOST_SCENARIOS = ['auth-jwt', 'auth-mtls', 'rate-limit', 'scope-matrix', 'shutdown'].map((n) => `packages/conformance/src/scenarios/${n}.test.ts`);

/** One conformance project per store, so every black-box scenario runs on all three. */
const conformance = (store: 'memory' | 'sqlite' | 'postgres') => ({
  resolve: { alias },
  test: {
    name: `conformance-${store}`,
    include: ['packages/conformance/src/**/*.test.ts'],
    // Scenarios that start their own specially configured host exercise the HTTP pipeline,
    // which no store changes: they run once, in the memory project.
    exclude: store === 'memory' ? [] : OWN_HOST_SCENARIOS,
    setupFiles,
    globalSetup: [`${root}packages/conformance/src/global-setup.ts`],
    env: { WEFT_TEST_STORE: store },
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});

export default defineConfig({
  test: {
    reporters: process.env.CI ? ['default', ['json', { outputFile: '.ci/out/vitest.json' }]] : ['default'],
    projects: [
      {
        resolve: { alias },
        test: {
          name: 'unit',
          include: ['packages/*/src/**/*.test.ts'],
          exclude: ['packages/conformance/**'],
          setupFiles,
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
      ...(process.env.OPENWOP_BASE_URL ? [conformance('memory')] : [conformance('memory'), conformance('sqlite'), conformance('postgres')]),
    ],
  },
});
