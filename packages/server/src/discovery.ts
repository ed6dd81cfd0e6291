/**
 * The discovery document. Lists only what this host enforces and tests.
 *
 * @see wire-contract.md §2, §10 A
 */
import { ENGINE_VERSION, EVENT_LOG_SCHEMA_VERSION, PROTOCOL_VERSION, STREAM_MODES, WEBHOOK_SIGNATURE_ALGORITHM } from '@weft/contract';
import { CONFIGURABLE_KEYS, MAX_LOOP_ITERATIONS, MOCK_PROVIDER_IDS, SCHEMA_ROUNDS, type AiProviderConfig } from '@weft/engine';
import { authCapabilities, rateLimitCapabilities, type AuthAdvertisement } from './auth-discovery.js';
import type { HostConfig } from './config.js';
import { httpClientCapability } from './outbound-config.js';

/**
 * Official fixture ids whose features this host implements and tests. A seeded fixture is
 * advertised only if it is listed here *and* every node type resolves, so `fixtures` never
 * promises a scenario the host would fail.
 */
export const SUPPORTED_FIXTURES: ReadonlySet<string> = new Set([
  'conformance-noop',
  'conformance-identity',
  'conformance-delay',
  'conformance-cancellable',
  'conformance-failure',
  'conformance-multi-node',
  'conformance-idempotent',
  'conformance-cap-breach',
  'conformance-run-duration-breach',
  'conformance-configurable-schema',
  'conformance-capability-missing',
  'conformance-approval',
  'conformance-clarification',
  'conformance-interrupt-external-event',
  'conformance-interrupt-quorum',
  'conformance-interrupt-auth-required',
  'conformance-interrupt-parent-child-cancel',
  'conformance-interrupt-parent-child-cancel-child',
  'conformance-subworkflow-parent',
  'conformance-model-capability-insufficient',
  'conformance-subworkflow-child',
  'conformance-subworkflow-input-mapping',
  'conformance-subworkflow-input-mapping-child',
  // Multi-agent (decision 0026).
  'conformance-orchestrator-dispatch',
  'conformance-orchestrator-terminate',
  'conformance-orchestrator-low-confidence',
  'conformance-dispatch-loop',
  'conformance-dispatch-input-mapping',
  'conformance-dispatch-input-mapping-child',
  'conformance-dispatch-input-mapping-no-default',
  'conformance-dispatch-output-mapping',
  'conformance-dispatch-output-mapping-child',
  'conformance-dispatch-cross-worker-handoff',
  'conformance-dispatch-cross-worker-handoff-child-a',
  'conformance-dispatch-cross-worker-handoff-child-b',
  'conformance-dispatch-per-worker-override',
  'conformance-dispatch-cancellable-child',
  'conformance-dispatch-deterministic-fail-child',
  'conformance-agent-reasoning',
  'conformance-agent-reasoning-streaming',
  'conformance-agent-low-confidence',
]);

/** Interrupt profiles whose scenarios pass (extensions.interrupts.profiles). */
export const INTERRUPT_PROFILES = [
  'openwop-interrupt-quorum',
  'openwop-interrupt-auth-required',
  'openwop-interrupt-external-event',
  'openwop-interrupt-cascade-cancel',
] as const;

export interface DiscoveryInput {
  config: HostConfig;
  version: string;
  fixtures: string[];
  runtimeCapabilities: string[];
  /** Auth profiles contributed by other subsystems; merged into `auth` with the configured ones. */
  auth?: AuthAdvertisement[];
  /** True when the secrets vault API is served (a master key is configured). */
  vault?: boolean;
  /** Root blocks contributed by attached subsystems (the pack sandbox's `sandbox`, `nodePackRuntimes`). */
  extra?: Record<string, unknown>;
  /** True when webhooks are served (they need the vault's master key). */
  webhooks?: boolean;
  /** The configured LLM providers (decision 0022). */
  aiProviders?: readonly AiProviderConfig[];
  /** True when OpenTelemetry export is configured. */
  telemetry?: boolean;
}

export function buildDiscovery(d: DiscoveryInput): Record<string, unknown> {
  const doc: Record<string, unknown> = {
    protocolVersion: PROTOCOL_VERSION,
    protocolVersions: [PROTOCOL_VERSION],
    implementation: { name: 'weft', version: d.version, vendor: 'weft' },
    engineVersion: ENGINE_VERSION,
    eventLogSchemaVersion: EVENT_LOG_SCHEMA_VERSION,
    supportedEnvelopes: ['clarification.request'],
    schemaVersions: {},
    limits: {
      clarificationRounds: 0,
      // core.ai.structuredOutput retries at most this many times (enforced in the node).
      schemaRounds: SCHEMA_ROUNDS,
      envelopesPerTurn: 0,
      maxNodeExecutions: d.config.maxNodeExecutions,
      maxRunDurationMs: d.config.maxRunDurationMs,
      maxRequestBodyBytes: d.config.maxBodyBytes,
      // Orchestrator turns per run (decision 0026): cap.breached loop-iterations + loop_limit_exceeded.
      maxLoopIterations: MAX_LOOP_ITERATIONS,
    },
    supportedTransports: ['rest'],
    configurable: Object.fromEntries(
      Object.entries(CONFIGURABLE_KEYS).map(([k, v]) => [
        k,
        {
          type: v.type,
          ...(v.min !== undefined ? { min: v.min } : {}),
          ...(v.max !== undefined ? { max: v.max } : {}),
          ...(v.enum ? { enum: v.enum } : {}),
          description: v.description,
        },
      ]),
    ),
    idempotency: {
      supported: true,
      layer1RetentionSeconds: Math.floor(d.config.idempotencyRetentionMs / 1000),
      crossRegion: 'single-region',
    },
    stream: { modes: [...STREAM_MODES], maxBufferMs: 5000 },
    runs: { pauseResume: { supported: true, drainPolicies: ['immediate', 'drain-current-node'] } },
    // Fork and replay (docs/fork-replay.md): every effect seam of a replay fork serves the
    // source's recorded outcome or fails closed (RPL-02), tested in scenarios/fork.test.ts.
    replay: { supported: true, modes: ['replay', 'branch'], sideEffectSuppression: 'recorded-outcome' },
    // Multi-agent (decision 0026): supervisor + dispatch over child runs with the RFC 0022
    // mappings, the mock agent's agent.* events (reasoning deltas too), CP-1 low-confidence.
    agents: { supported: true, orchestrator: true, dispatch: true, dispatchMapping: true, reasoning: { verbosity: 'summary', streaming: true } },
    orchestrator: { supported: true, workerIdInterpretation: 'workflow-id', fanOutSupported: true },
    dispatch: {
      supported: true,
      models: ['child-run'],
      fanOutSupported: true,
      fanOutPolicies: ['sequential', 'reject'],
      askUserRouting: ['clarification', 'auto'],
    },
    // core.subWorkflow seeds the child's variables from inputMapping {childVar: parentVar}.
    subWorkflow: { inputMapping: true },
    // Nodes resolve vault references (decision 0022) when the vault is open; the management
    // API is advertised on its own below (decision 0018).
    secrets: d.vault ? { supported: true, scopes: ['tenant'], resolution: 'host-managed' } : { supported: false },
    extensions: {
      interrupts: { profiles: [...INTERRUPT_PROFILES], signedCallbackTokens: true, tokenTtlSeconds: Math.floor(d.config.interruptTokenTtlMs / 1000) },
    },
  };
  if (d.vault) {
    (doc.extensions as Record<string, unknown>).vault = {
      supported: true,
      endpoint: '/v1/host/weft/secrets',
      scopes: ['tenant'],
      encryption: 'aes-256-gcm-envelope',
      nodeResolution: true,
    };
  }
  const providers = d.aiProviders ?? [];
  if (providers.length > 0) {
    // Only configured providers; BYOK where the operator allows a node's own credentialRef
    // (and the vault can resolve it); the four policy modes are enforced per provider.
    doc.aiProviders = {
      supported: providers.map((p) => p.id),
      byok: d.vault ? providers.filter((p) => p.byok).map((p) => p.id) : [],
      policies: { modes: ['disabled', 'optional', 'required', 'restricted'], scopes: ['host'], errorCode: 'provider_policy_denied' },
    };
  }
  // Mock providers are test-keys-only (decision 0026): advertised only when test keys exist.
  if (d.config.testKeyPrefix) doc.testing = { mockProviders: [...MOCK_PROVIDER_IDS], testKeyPrefix: d.config.testKeyPrefix };
  // Both modes: best-effort by default, durable (outbox) per subscription (decision 0019).
  // `subscriptionStates` (the WH-17 vocabulary, all four enforced) and `runCallbacks` (the
  // `callbackUrl` of POST /v1/runs is called, decision 0025) are Weft additions to the open
  // block; `triggerBridge` is not claimed (no `trigger.*` events are emitted).
  if (d.webhooks)
    doc.webhooks = {
      supported: true,
      signatureAlgorithms: [WEBHOOK_SIGNATURE_ALGORITHM],
      signed: true,
      durable: true,
      subscriptionStates: ['active', 'paused', 'failed', 'dead-lettered'],
      runCallbacks: true,
    };
  // OTLP export is on (OTEL_EXPORTER_OTLP_ENDPOINT): say how it is sent.
  if (d.telemetry) doc.observability = { otel: { exportProtocols: ['http/json'] } };
  // GET /v1/runs/{runId}/debug-bundle (debug-bundle.md): redacted, size-capped with truncation metadata.
  doc.debugBundle = { supported: true, endpoint: '/v1/runs/{runId}/debug-bundle', maxBytes: d.config.debugBundleMaxBytes };
  // The production profile (execution-semantics.md §9; docs/operations.md §Production profile):
  // claimed only where every MUST holds — a durable store (run state and logs outside process
  // memory, stale-claim recovery; the memory store never qualifies), a retention window of at
  // least 7 days, idempotency records kept ≥ 24 h (the config floor), 503 + Retry-After
  // backpressure, the redacted and truncation-stating debug bundle, and the structured request
  // and run-transition log lines (request-log.ts). Decision 0028.
  const windowSeconds = Math.floor(d.config.runRetentionMs / 1000);
  const durable = d.config.store === 'sqlite' || d.config.store === 'postgres';
  doc.production = {
    supported: durable && windowSeconds >= 604_800 && d.config.idempotencyRetentionMs >= 86_400_000,
    backpressure: { supported: true, inflightCap: d.config.maxInFlight, retryAfterSeconds: 1 },
    retention:
      windowSeconds >= 604_800 ? { supported: true, minWindowSeconds: windowSeconds, testForceExpire: false } : { supported: false, testForceExpire: false },
    debugBundle: { supported: true, truncationMetadata: true },
  };
  if (d.runtimeCapabilities.length > 0) doc.runtimeCapabilities = d.runtimeCapabilities;
  const auth = authCapabilities(d.config, d.auth);
  if (auth) doc.auth = auth;
  const rateLimits = rateLimitCapabilities(d.config);
  if (rateLimits) doc.rateLimits = rateLimits;
  if (d.fixtures.length > 0) doc.fixtures = d.fixtures;
  const httpClient = httpClientCapability(d.config);
  if (httpClient) doc.httpClient = httpClient;
  if (d.extra) Object.assign(doc, d.extra);
  return doc;
}
