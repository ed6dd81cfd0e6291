/**
 * Vitest global setup: targets `OPENWOP_BASE_URL` when set, otherwise starts Weft in-process
 * on an ephemeral loopback port with the store named by `WEFT_TEST_STORE`.
 */
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    target: TargetInfo;
  }
}

/** What the scenarios need to reach the host under test. */
export interface TargetInfo {
  baseUrl: string;
  /** Primary key (tenant A, all scopes). */
  keyA: string;
  /** A key of another tenant, when available. */
  keyB?: string;
  /** A key of tenant A holding only runs:read + manifest:read. */
  keyReadOnly?: string;
  /** A key of tenant A holding only runs:cancel. */
  keyCancelOnly?: string;
  /** Two more tenant-A keys (distinct principals) holding approvals:respond, for quorum tests. */
  approverKeys?: [string, string];
  /** True when the host is Weft started by this suite (its internals are known). */
  inProcess: boolean;
  store: string;
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const external = process.env.OPENWOP_BASE_URL;
  if (external) {
    const key = process.env.OPENWOP_API_KEY;
    if (!key) throw new Error('OPENWOP_API_KEY is required with OPENWOP_BASE_URL');
    const t: TargetInfo = { baseUrl: external.replace(/\/+$/, ''), keyA: key, inProcess: false, store: 'external' };
    if (process.env.OPENWOP_API_KEY_TENANT_B) t.keyB = process.env.OPENWOP_API_KEY_TENANT_B;
    if (process.env.OPENWOP_API_KEY_READONLY) t.keyReadOnly = process.env.OPENWOP_API_KEY_READONLY;
    if (process.env.OPENWOP_API_KEY_CANCEL_ONLY) t.keyCancelOnly = process.env.OPENWOP_API_KEY_CANCEL_ONLY;
    const approvers = (process.env.OPENWOP_API_KEY_APPROVERS ?? '').split(',').filter(Boolean);
    if (approvers.length >= 2) t.approverKeys = [approvers[0] as string, approvers[1] as string];
    project.provide('target', t);
    return async () => {};
  }
  // A project's `test.env` reaches the workers, not this setup: read it from the project config.
  const store = (project.config.env?.WEFT_TEST_STORE ?? process.env.WEFT_TEST_STORE ?? 'memory') as 'memory' | 'sqlite' | 'postgres';
  const { startTestHost, stopTestDatabases, TEST_KEYS } = await import('@weft/testkit');
  const host = await startTestHost({ store });
  project.provide('target', {
    baseUrl: host.url,
    keyA: TEST_KEYS.tenantA,
    keyB: TEST_KEYS.tenantB,
    keyReadOnly: TEST_KEYS.readOnly,
    keyCancelOnly: TEST_KEYS.cancelOnly,
    approverKeys: [TEST_KEYS.approverA2, TEST_KEYS.approverA3],
    inProcess: true,
    store,
  });
  process.stderr.write(`conformance target: in-process Weft on ${store} at ${host.url}\n`);
  return async () => {
    await host.stop();
    await stopTestDatabases();
  };
}
