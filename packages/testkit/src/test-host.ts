/**
 * Starts Weft in-process on an ephemeral loopback port for black-box tests.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLogger, loadConfig, startHost, type ApiKeyConfig, type HostConfig, type RunningHost } from '@weft/server';
import type { DestinationStream } from 'pino';
import { createTestDatabase } from './pg.js';

/** Repository root (packages/testkit/src → ../../..). */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/**
 * The official contracts directory (read-only data): `WEFT_CONTRACTS_DIR` (vitest.config.ts
 * resolves it), else `../shared/contracts` beside the repository.
 */
export const CONTRACTS_DIR = process.env.WEFT_CONTRACTS_DIR || join(REPO_ROOT, '..', 'shared', 'contracts');

/** Keys every test host accepts: two tenants with all scopes, plus narrow keys for scope tests. */
export const TEST_KEYS = {
  tenantA: 'test-tenant-a-key-0123456789abcdef',
  tenantB: 'test-tenant-b-key-0123456789abcdef',
  readOnly: 'test-tenant-a-readonly-key-0123456789',
  cancelOnly: 'test-tenant-a-cancelonly-key-012345',
  approverA2: 'test-tenant-a-approver-two-0123456789',
  approverA3: 'test-tenant-a-approver-three-012345678',
  /** A test key of tenant A (starts with {@link TEST_KEY_PREFIX}): may use configurable.mockProvider. */
  testMode: 'weft_test_tenant-a-key-0123456789abcdef',
} as const;

/** The in-process host's `testKeyPrefix` (WEFT_TEST_KEY_PREFIX). */
export const TEST_KEY_PREFIX = 'weft_test_';

export const TEST_API_KEYS: ApiKeyConfig[] = [
  { tenant: 'tenant-a', key: TEST_KEYS.tenantA },
  { tenant: 'tenant-b', key: TEST_KEYS.tenantB },
  { tenant: 'tenant-a', key: TEST_KEYS.readOnly, scopes: ['runs:read', 'manifest:read'] },
  { tenant: 'tenant-a', key: TEST_KEYS.cancelOnly, scopes: ['runs:cancel'] },
  { tenant: 'tenant-a', key: TEST_KEYS.approverA2, scopes: ['runs:read', 'approvals:respond'] },
  { tenant: 'tenant-a', key: TEST_KEYS.approverA3, scopes: ['runs:read', 'approvals:respond'] },
  { tenant: 'tenant-a', key: TEST_KEYS.testMode },
];

export interface TestHost extends RunningHost {
  /** Stops the host and removes its data. */
  stop(): Promise<void>;
  /** The throwaway database of a Postgres host (for host-internal tests). */
  pgUrl?: string;
  /** The data directory (SQLite database, generated keys). */
  dataDir: string;
}

export interface TestHostOptions {
  store?: HostConfig['store'];
  workflowsDirs?: string[];
  config?: Partial<HostConfig>;
  /** Where log lines go (e.g. a capturing stream for canary scans); stdout by default. */
  logDestination?: DestinationStream;
  /** Reuse this data directory (e.g. to restart a SQLite host); it is kept on stop. */
  dataDir?: string;
}

/** Starts a host; Postgres gets a fresh throwaway database, SQLite a temp directory. */
export async function startTestHost(opts: TestHostOptions = {}): Promise<TestHost> {
  const store = opts.store ?? 'memory';
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'weft-test-'));
  const db = store === 'postgres' ? await createTestDatabase() : undefined;
  const config = loadConfig(
    {},
    {
      host: '127.0.0.1',
      port: 0,
      store,
      dataDir,
      apiKeys: TEST_API_KEYS,
      testKeyPrefix: TEST_KEY_PREFIX,
      generateDevKey: false,
      workflowsDirs: opts.workflowsDirs ?? [join(CONTRACTS_DIR, 'conformance-fixtures'), join(REPO_ROOT, 'examples', 'workflows')],
      announce: false,
      logLevel: 'silent',
      sseKeepaliveMs: 1000,
      ...(db ? { pgUrl: db.url } : {}),
      // A Postgres host keeps the vault disabled without a configured master key (SQLite
      // generates one into the data directory, memory uses a per-process key).
      ...(store === 'postgres' ? { masterKey: `test-pg:${randomBytes(32).toString('base64url')}` } : {}),
      ...opts.config,
    },
  );
  const host = await startHost(config, { logger: createLogger(config.logLevel, opts.logDestination) });
  return {
    ...host,
    ...(config.pgUrl ? { pgUrl: config.pgUrl } : {}),
    dataDir,
    async stop() {
      await host.close();
      await db?.drop();
      if (opts.dataDir === undefined) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
