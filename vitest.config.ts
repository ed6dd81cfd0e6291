import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import { chromiumGate } from './packages/testkit/src/chromium-gate.ts';
import { contractsGate } from './packages/testkit/src/contracts-gate.ts';

const root = fileURLToPath(new URL('.', import.meta.url));
const alias = [
  { find: /^@weft\/contract\/types$/, replacement: `${root}packages/contract/src/types.ts` },
  { find: /^@weft\/([a-z-]+)$/, replacement: `${root}packages/$1/src/index.ts` },
];
const setupFiles = [`${root}scripts/vitest-setup.ts`];

const OWN_HOST_SCENARIOS = ['auth-jwt', 'auth-mtls', 'rate-limit', 'scope-matrix', 'shutdown'].map((n) => `packages/conformance/src/scenarios/${n}.test.ts`);

/**
 * The official OpenWOP contracts (schemas + conformance fixtures) are data read at test time,
 * never copied into the repository: `WEFT_CONTRACTS_DIR`, else `../shared/contracts` beside
 * the repository root. The resolved path is exported so the workers and the global setup agree.
 */
const contractsDir = resolve(root, process.env.WEFT_CONTRACTS_DIR || join('..', 'shared', 'contracts'));
process.env.WEFT_CONTRACTS_DIR = contractsDir;
/** Tests that read the official contracts: every black-box scenario (schema checks, fixtures) and the crash test (fixtures). */
const NEEDS_CONTRACTS = ['packages/testkit/src/crash-recovery.test.ts'];
// Throws under CI when the contracts are missing: the official-schema check is never silently off there.
const gate = contractsGate(contractsDir, process.env);
if (!gate.run) {
  process.stderr.write(
    `skipping the conformance suites and the crash test: ${gate.reason}; set WEFT_CONTRACTS_DIR to the directory holding schemas/ and conformance-fixtures/ to run them\n`,
  );
}
const haveContracts = gate.run;

/**
 * The conformance suite targets an external host when `WEFT_TEST_BASE_URL` is set (see
 * packages/conformance/src/global-setup.ts). A test-only name, so that the `OPENWOP_BASE_URL`
 * users export for the CLI never redirects `npm test`.
 */
const external = Boolean(process.env.WEFT_TEST_BASE_URL);

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

/**
 * The console's end-to-end tests drive Debian's chromium (scripts/ensure-chromium.sh installs
 * it; .ci/run calls that first). Without it they are skipped with one line, except under CI,
 * where they run and fail.
 */
const chromium = chromiumGate(process.env);
if (chromium.skip) process.stderr.write(`skipping the console end-to-end tests: ${chromium.reason}\n`);
const consoleE2e = {
  resolve: { alias },
  test: {
    name: 'console-e2e',
    include: ['packages/console/e2e/**/*.test.ts'],
    setupFiles,
    // A browser on a busy 2-core machine: give polled expectations room (they still end early on success).
    expect: { poll: { timeout: 10_000 } },
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
};

const conformanceProjects = !haveContracts ? [] : external ? [conformance('memory')] : [conformance('memory'), conformance('sqlite'), conformance('postgres')];

export default defineConfig({
  test: {
    reporters: process.env.CI ? ['default', ['json', { outputFile: '.ci/out/vitest.json' }]] : ['default'],
    projects: [
      {
        resolve: { alias },
        test: {
          name: 'unit',
          include: ['packages/*/src/**/*.test.ts'],
          exclude: ['packages/conformance/**', ...(haveContracts ? [] : NEEDS_CONTRACTS)],
          setupFiles,
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
      consoleE2e,
      ...conformanceProjects,
    ],
  },
});
