/**
 * Host configuration. Every field has a `WEFT_*` environment variable; `weft serve` flags
 * mirror them. The configuration contract is documented in docs/operations.md.
 */
import { resolve } from 'node:path';
import { loadAiConfig, parseAiProviders, type AiConfig } from './ai-config.js';
import { checkOutboundConfig, loadOutboundConfig, type OutboundConfig } from './outbound-config.js';
import { checkPacksConfig, loadPacksConfig, type PacksConfig } from './packs.js';
import { loadSandboxConfig, type SandboxConfig } from './sandbox-config.js';
import { checkSecurityConfig, loadSecurityConfig, type SecurityConfig } from './security-config.js';
import { loadTelemetryConfig, type TelemetryConfig } from './telemetry-config.js';

/** One configured API key: a tenant and its secret (hashed at load, never logged). */
export interface ApiKeyConfig {
  tenant: string;
  key: string;
  /** Scopes granted; all scopes when omitted. */
  scopes?: string[];
}

export interface HostConfig extends SecurityConfig, OutboundConfig, PacksConfig, SandboxConfig, AiConfig {
  host: string;
  /** 0 = pick a free port. */
  port: number;
  dataDir: string;
  store: 'sqlite' | 'memory' | 'postgres';
  pgUrl?: string;
  workflowsDirs: string[];
  apiKeys: ApiKeyConfig[];
  /** When no key is configured, mint a random key for tenant `default` and print it once. */
  generateDevKey: boolean;
  /** Largest accepted request body. */
  maxBodyBytes: number;
  /** Engine limits advertised in discovery and enforced. */
  maxNodeExecutions: number;
  maxRunDurationMs: number;
  leaseTtlMs: number;
  /** Idempotency record retention (≥ 24 h). */
  idempotencyRetentionMs: number;
  /** SSE keepalive comment interval (≤ 30 s). */
  sseKeepaliveMs: number;
  logLevel: string;
  /** `kid:secret,…` signing keys for interrupt tokens (first signs). */
  interruptTokenKeys?: string;
  /** Interrupt token lifetime (capped by each interrupt's deadline). */
  interruptTokenTtlMs: number;
  /** Print the base URL line on start. */
  announce: boolean;
  /** Longest a clean shutdown waits for open requests and running steps before it closes anyway. */
  shutdownTimeoutMs: number;
  /** Grace window (s) a rotated managed key keeps working; the default and the minimum (≥ 0). */
  keyRotationGraceSeconds: number;
  /** PEM file of the Ed25519 audit-checkpoint key; else generated into the data dir (SQLite) or per process. */
  auditSigningKey?: string;
  /** Sign an audit checkpoint after this many entries… */
  auditCheckpointEntries: number;
  /** …or once the oldest unsigned entry is this many seconds old, whichever comes first. */
  auditCheckpointSeconds: number;
  /** Vault master keys `kid:key,…` (first wraps); never logged. */
  masterKey?: string;
  /** File holding the vault master keys (same format); refused when group- or world-writable. */
  masterKeyFile?: string;
  /** Serve the console at `/console` (`WEFT_CONSOLE=off` switches it off). */
  console: boolean;
  /** Directory of the console build; default `packages/console/dist` of this repository. */
  consoleDir?: string;
  /**
   * How long a terminal run (its row, event log, timers, commands and invocation records) is
   * kept after it ended; afterwards the sweeper deletes it and the run answers 410 `run_expired`.
   * Default 7 days (the production-profile minimum); shorter only for development and tests.
   */
  runRetentionMs: number;
  /** Interval of the retention sweeper (and the idempotency/invocation purge). */
  retentionSweepMs: number;
  /** Largest debug bundle (bytes of JSON) before its events are truncated. */
  debugBundleMaxBytes: number;
  /** OpenTelemetry export, from the standard `OTEL_*` variables; absent = off (the default). */
  telemetry?: TelemetryConfig;
}

const int = (v: string | undefined, name: string, def: number, min: number, max: number): number => {
  if (v === undefined || v === '') return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${name} must be an integer between ${min} and ${max}`);
  return n;
};

/** `WEFT_CONSOLE`: `on` (default) or `off`. */
function consoleSwitch(v: string | undefined): boolean {
  if (v === undefined || v === '' || v === 'on') return true;
  if (v === 'off') return false;
  throw new Error('WEFT_CONSOLE must be on or off');
}

/**
 * Parses `WEFT_API_KEYS`: comma-separated `tenant:key` pairs. The key is never echoed in
 * the thrown message.
 */
export function parseApiKeys(raw: string | undefined): ApiKeyConfig[] {
  if (!raw) return [];
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((pair, i) => {
      const at = pair.indexOf(':');
      const tenant = at > 0 ? pair.slice(0, at).trim() : '';
      const key = at > 0 ? pair.slice(at + 1).trim() : '';
      if (!/^[A-Za-z0-9._-]{1,128}$/.test(tenant) || key.length < 16) {
        throw new Error(`WEFT_API_KEYS entry #${i + 1} must be tenant:key with a tenant of [A-Za-z0-9._-] and a key of at least 16 characters`);
      }
      return { tenant, key };
    });
}

/** Builds the configuration from the environment, with explicit overrides winning. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<HostConfig> = {}): HostConfig {
  const store = (env.WEFT_STORE ?? 'sqlite') as HostConfig['store'];
  if (!['sqlite', 'memory', 'postgres'].includes(store)) throw new Error('WEFT_STORE must be sqlite, memory or postgres');
  const base: HostConfig = {
    host: env.WEFT_HOST ?? '127.0.0.1',
    port: int(env.WEFT_PORT, 'WEFT_PORT', 3737, 0, 65535),
    dataDir: resolve(env.WEFT_DATA_DIR ?? '.weft'),
    store,
    workflowsDirs: (env.WEFT_WORKFLOWS_DIR ?? '')
      .split(':')
      .filter(Boolean)
      .map((d) => resolve(d)),
    apiKeys: parseApiKeys(env.WEFT_API_KEYS),
    generateDevKey: true,
    maxBodyBytes: int(env.WEFT_MAX_BODY_BYTES, 'WEFT_MAX_BODY_BYTES', 1_048_576, 1024, 64 * 1_048_576),
    maxNodeExecutions: int(env.WEFT_MAX_NODE_EXECUTIONS, 'WEFT_MAX_NODE_EXECUTIONS', 1000, 1, 1_000_000),
    maxRunDurationMs: int(env.WEFT_MAX_RUN_DURATION_MS, 'WEFT_MAX_RUN_DURATION_MS', 86_400_000, 1000, 31 * 86_400_000),
    leaseTtlMs: int(env.WEFT_LEASE_TTL_MS, 'WEFT_LEASE_TTL_MS', 5_000, 500, 3_600_000),
    idempotencyRetentionMs: int(env.WEFT_IDEMPOTENCY_RETENTION_MS, 'WEFT_IDEMPOTENCY_RETENTION_MS', 86_400_000, 86_400_000, 30 * 86_400_000),
    sseKeepaliveMs: int(env.WEFT_SSE_KEEPALIVE_MS, 'WEFT_SSE_KEEPALIVE_MS', 15_000, 100, 30_000),
    logLevel: env.WEFT_LOG_LEVEL ?? 'info',
    interruptTokenTtlMs: int(env.WEFT_INTERRUPT_TOKEN_TTL_MS, 'WEFT_INTERRUPT_TOKEN_TTL_MS', 1_800_000, 1000, 30 * 86_400_000),
    announce: true,
    shutdownTimeoutMs: int(env.WEFT_SHUTDOWN_TIMEOUT_MS, 'WEFT_SHUTDOWN_TIMEOUT_MS', 10_000, 0, 600_000),
    keyRotationGraceSeconds: int(env.WEFT_KEY_ROTATION_GRACE_SECONDS, 'WEFT_KEY_ROTATION_GRACE_SECONDS', 86_400, 0, 30 * 86_400),
    auditCheckpointEntries: int(env.WEFT_AUDIT_CHECKPOINT_ENTRIES, 'WEFT_AUDIT_CHECKPOINT_ENTRIES', 1000, 1, 1_000_000),
    auditCheckpointSeconds: int(env.WEFT_AUDIT_CHECKPOINT_SECONDS, 'WEFT_AUDIT_CHECKPOINT_SECONDS', 300, 1, 86_400),
    console: consoleSwitch(env.WEFT_CONSOLE),
    runRetentionMs: int(env.WEFT_RUN_RETENTION_MS, 'WEFT_RUN_RETENTION_MS', 7 * 86_400_000, 1000, 3650 * 86_400_000),
    retentionSweepMs: int(env.WEFT_RETENTION_SWEEP_MS, 'WEFT_RETENTION_SWEEP_MS', 60_000, 100, 86_400_000),
    debugBundleMaxBytes: int(env.WEFT_DEBUG_BUNDLE_MAX_BYTES, 'WEFT_DEBUG_BUNDLE_MAX_BYTES', 8 * 1_048_576, 1024, 64 * 1_048_576),
    ...loadSecurityConfig(env),
    ...loadOutboundConfig(env),
    ...loadPacksConfig(env),
    ...loadSandboxConfig(env),
    ...loadAiConfig(env),
  };
  if (env.WEFT_PG_URL) base.pgUrl = env.WEFT_PG_URL;
  const telemetry = loadTelemetryConfig(env);
  if (telemetry) base.telemetry = telemetry;
  if (env.WEFT_INTERRUPT_TOKEN_KEYS) base.interruptTokenKeys = env.WEFT_INTERRUPT_TOKEN_KEYS;
  if (env.WEFT_CONSOLE_DIR) base.consoleDir = resolve(env.WEFT_CONSOLE_DIR);
  if (env.WEFT_AUDIT_SIGNING_KEY) base.auditSigningKey = resolve(env.WEFT_AUDIT_SIGNING_KEY);
  if (env.WEFT_MASTER_KEY) base.masterKey = env.WEFT_MASTER_KEY;
  if (env.WEFT_MASTER_KEY_FILE) base.masterKeyFile = resolve(env.WEFT_MASTER_KEY_FILE);
  const cfg: HostConfig = { ...base, ...Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined)) };
  if (cfg.store === 'postgres' && !cfg.pgUrl) throw new Error('WEFT_STORE=postgres needs WEFT_PG_URL');
  checkSecurityConfig(cfg);
  checkOutboundConfig(cfg);
  checkPacksConfig(cfg);
  if (overrides.aiProviders) cfg.aiProviders = parseAiProviders(JSON.stringify(overrides.aiProviders));
  return cfg;
}
