/**
 * Vitest global setup: targets the host at `WEFT_TEST_BASE_URL` (key `WEFT_TEST_API_KEY`) when
 * set, otherwise starts Weft in-process on an ephemeral loopback port with the store named by
 * `WEFT_TEST_STORE`. Test-only names on purpose: the `OPENWOP_BASE_URL` users export for the
 * CLI must never turn `npm test` into a run against some other host.
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
  /** A test key of tenant A (the host's testing.testKeyPrefix): the only kind allowed configurable.mockProvider. */
  keyTest?: string;
  /** Two more tenant-A keys (distinct principals) holding approvals:respond, for quorum tests. */
  approverKeys?: [string, string];
  /** True when the host is Weft started by this suite (its internals are known). */
  inProcess: boolean;
  store: string;
  /** Weft-only routes the host serves (probed on external hosts; always true in-process). */
  routes: HostRoutes;
  /**
   * An http URL the host's outbound allowlist permits (the in-process host allows exactly this
   * loopback target; for an external host set `WEFT_TEST_OUTBOUND_TARGET`). Absent: the
   * allowed-target scenarios skip.
   */
  outboundTarget?: string;
  /**
   * Base URL of a webhook receiver the host's `WEFT_WEBHOOK_ALLOW` permits, speaking the
   * `/hooks/<mode>/<name>` + `/_received/<name>` protocol of `packages/testkit/src/outbound-target.ts`
   * (in-process: the same loopback target; external: `WEFT_TEST_WEBHOOK_TARGET`). Absent: the
   * delivery scenarios skip.
   */
  webhookTarget?: string;
  /**
   * The loopback fake LLM provider (`packages/testkit/src/fake-llm.ts`) the in-process host
   * configures as `fake-openai`, `fake-anthropic`, `fake-restricted` and `fake-disabled` and
   * allowlists, like the outbound target. Absent on external hosts: the LLM scenarios skip.
   */
  fakeLlm?: string;
}

/** Weft host extensions some scenarios need. */
export interface HostRoutes {
  /** `GET /v1/audit/verify` (the audit-log-integrity profile). */
  auditVerify: boolean;
  /** `/v1/host/weft/keys` (managed API keys). */
  managedKeys: boolean;
  /** `/v1/host/weft/secrets` (the secrets vault). */
  vault: boolean;
}

/**
 * True unless the route answers 404 (or 405/501) — any other answer, including 400/401/403,
 * means the host serves it. The request carries the key but asks for nothing that changes state.
 */
async function serves(baseUrl: string, key: string, path: string): Promise<boolean> {
  const res = await fetch(`${baseUrl}${path}`, { headers: { authorization: `Bearer ${key}` }, redirect: 'manual' });
  await res.arrayBuffer();
  return ![404, 405, 501].includes(res.status);
}

/** Probes an external host for the Weft-only routes (scenarios needing a missing one skip, saying so). */
export async function probeRoutes(baseUrl: string, key: string): Promise<HostRoutes> {
  return {
    auditVerify: await serves(baseUrl, key, '/v1/audit/verify?fromSeq=0&toSeq=0'),
    managedKeys: await serves(baseUrl, key, '/v1/host/weft/keys'),
    vault: await serves(baseUrl, key, '/v1/host/weft/secrets'),
  };
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const external = process.env.WEFT_TEST_BASE_URL;
  if (external) {
    const key = process.env.WEFT_TEST_API_KEY;
    if (!key) throw new Error('WEFT_TEST_API_KEY is required with WEFT_TEST_BASE_URL');
    const baseUrl = external.replace(/\/+$/, '');
    const t: TargetInfo = { baseUrl, keyA: key, inProcess: false, store: 'external', routes: await probeRoutes(baseUrl, key) };
    if (process.env.WEFT_TEST_API_KEY_TENANT_B) t.keyB = process.env.WEFT_TEST_API_KEY_TENANT_B;
    if (process.env.WEFT_TEST_API_KEY_READONLY) t.keyReadOnly = process.env.WEFT_TEST_API_KEY_READONLY;
    if (process.env.WEFT_TEST_API_KEY_CANCEL_ONLY) t.keyCancelOnly = process.env.WEFT_TEST_API_KEY_CANCEL_ONLY;
    const approvers = (process.env.WEFT_TEST_API_KEY_APPROVERS ?? '').split(',').filter(Boolean);
    if (approvers.length >= 2) t.approverKeys = [approvers[0] as string, approvers[1] as string];
    if (process.env.WEFT_TEST_WEBHOOK_TARGET) t.webhookTarget = process.env.WEFT_TEST_WEBHOOK_TARGET.replace(/\/+$/, '');
    if (process.env.WEFT_TEST_OUTBOUND_TARGET) t.outboundTarget = process.env.WEFT_TEST_OUTBOUND_TARGET.replace(/\/+$/, '');
    const yesNo = (b: boolean): string => (b ? 'served' : 'absent');
    process.stderr.write(
      `conformance target: external host at ${baseUrl} (audit verify: ${yesNo(t.routes.auditVerify)}, managed keys: ${yesNo(t.routes.managedKeys)})\n`,
    );
    project.provide('target', t);
    return async () => {};
  }
  // A project's `test.env` reaches the workers, not this setup: read it from the project config.
  const store = (project.config.env?.WEFT_TEST_STORE ?? process.env.WEFT_TEST_STORE ?? 'memory') as 'memory' | 'sqlite' | 'postgres';
  const { startFakeLlm, startOutboundTarget, startTestHost, stopTestDatabases, TEST_KEYS, FAKE_LLM_KEY_REF } = await import('@weft/testkit');
  // The host's SSRF guard refuses loopback; it allows exactly this target's address and port,
  // and the fake LLM provider's (an operator points WEFT_OUTBOUND_ALLOW at a local Ollama the same way).
  const outbound = await startOutboundTarget();
  const llm = await startFakeLlm();
  const fake = (id: string, kind: 'openai' | 'anthropic', extra: Record<string, unknown> = {}) => ({
    id,
    kind,
    baseUrl: llm.baseUrl,
    credentialRef: FAKE_LLM_KEY_REF,
    ...extra,
  });
  const host = await startTestHost({
    store,
    config: {
      outboundAllow: [outbound.allowEntry, llm.allowEntry],
      webhookAllow: [outbound.allowEntry],
      webhookTimeoutMs: 1000,
      webhookRetryBaseMs: 20,
      webhookDeadLetteredAfter: 2,
      aiProviders: [
        fake('fake-openai', 'openai', { byok: true, pricing: { inputPerMTok: 1, outputPerMTok: 2 } }),
        fake('fake-anthropic', 'anthropic'),
        fake('fake-restricted', 'openai', { policy: { mode: 'restricted', allowedModels: ['fake-chat*'] } }),
        fake('fake-disabled', 'openai', { policy: { mode: 'disabled' } }),
        fake('fake-required', 'openai', { byok: true, policy: { mode: 'required' } }),
      ],
    },
  });
  project.provide('target', {
    baseUrl: host.url,
    keyA: TEST_KEYS.tenantA,
    keyB: TEST_KEYS.tenantB,
    keyReadOnly: TEST_KEYS.readOnly,
    keyCancelOnly: TEST_KEYS.cancelOnly,
    keyTest: TEST_KEYS.testMode,
    approverKeys: [TEST_KEYS.approverA2, TEST_KEYS.approverA3],
    inProcess: true,
    store,
    routes: { auditVerify: true, managedKeys: true, vault: true },
    outboundTarget: outbound.url,
    webhookTarget: outbound.url,
    fakeLlm: `http://127.0.0.1:${llm.port}`,
  });
  process.stderr.write(`conformance target: in-process Weft on ${store} at ${host.url}\n`);
  return async () => {
    await host.stop();
    await outbound.close();
    await llm.close();
    await stopTestDatabases();
  };
}
