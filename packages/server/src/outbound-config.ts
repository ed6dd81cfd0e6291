/**
 * Configuration of the outbound HTTP client (`core.http.request`) and its SSRF guard. Part of
 * {@link HostConfig}; every field has a `WEFT_OUTBOUND_*` variable documented in
 * docs/operations.md and docs/security/README.md.
 */
import { DEFAULT_PORTS, OUTBOUND_DEFAULTS, OUTBOUND_METHODS, OutboundClient, parseOutboundAllow, parsePortPolicy } from '@weft/security';

/** Outbound HTTP settings (part of `HostConfig`). */
export interface OutboundConfig {
  /** Offer outbound HTTP to nodes at all (`WEFT_OUTBOUND`, default on). */
  outboundEnabled: boolean;
  /**
   * Destinations the SSRF guard would refuse but the operator permits: CIDRs, addresses,
   * `address:port`, host names, `*.suffix`, `name:port` (`WEFT_OUTBOUND_ALLOW`).
   */
  outboundAllow: string[];
  /** Port policy (`WEFT_OUTBOUND_PORTS`, default `80,443,1024-65535`; `*` = every port). */
  outboundPorts: string;
  /** Largest response body read, after decompression (`WEFT_OUTBOUND_MAX_BODY_BYTES`). */
  outboundMaxBodyBytes: number;
  /** Deadline of one call, redirects and body included (`WEFT_OUTBOUND_TIMEOUT_MS`). */
  outboundTimeoutMs: number;
  /** Most redirects followed, each re-checked (`WEFT_OUTBOUND_MAX_REDIRECTS`). */
  outboundMaxRedirects: number;
  /**
   * Webhook receivers the SSRF guard would refuse but the operator permits
   * (`WEFT_WEBHOOK_ALLOW`, the same syntax); a plain `http://` receiver is accepted only when
   * its host or `host:port` is listed here verbatim. Separate from `outboundAllow`.
   */
  webhookAllow: string[];
  /** Per-attempt webhook deadline (`WEFT_WEBHOOK_TIMEOUT_MS`, default and maximum 5000). */
  webhookTimeoutMs: number;
  /** First retry delay of a durable delivery, doubling per attempt up to 5 min (`WEFT_WEBHOOK_RETRY_BASE_MS`, default 2000). */
  webhookRetryBaseMs: number;
  /** Durable dead letters in a row that make a subscription `dead-lettered` (`WEFT_WEBHOOK_DEAD_LETTERED_AFTER`, default 10). */
  webhookDeadLetteredAfter: number;
}

const int = (v: string | undefined, name: string, def: number, min: number, max: number): number => {
  if (v === undefined || v === '') return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${name} must be an integer between ${min} and ${max}`);
  return n;
};

/**
 * Reads the outbound settings from the environment.
 * @throws Error on a malformed value (the allowlist error names the entry).
 */
export function loadOutboundConfig(env: NodeJS.ProcessEnv): OutboundConfig {
  const enabled = (env.WEFT_OUTBOUND ?? 'on').trim().toLowerCase();
  if (!['on', 'off', 'true', 'false', '1', '0', ''].includes(enabled)) throw new Error('WEFT_OUTBOUND must be on or off');
  const cfg: OutboundConfig = {
    outboundEnabled: !['off', 'false', '0'].includes(enabled),
    outboundAllow: (env.WEFT_OUTBOUND_ALLOW ?? '').split(/[\s,]+/).filter(Boolean),
    outboundPorts: env.WEFT_OUTBOUND_PORTS?.trim() || DEFAULT_PORTS,
    outboundMaxBodyBytes: int(env.WEFT_OUTBOUND_MAX_BODY_BYTES, 'WEFT_OUTBOUND_MAX_BODY_BYTES', OUTBOUND_DEFAULTS.maxResponseBytes, 1, 64 * 1_048_576),
    outboundTimeoutMs: int(env.WEFT_OUTBOUND_TIMEOUT_MS, 'WEFT_OUTBOUND_TIMEOUT_MS', OUTBOUND_DEFAULTS.timeoutMs, 100, 600_000),
    outboundMaxRedirects: int(env.WEFT_OUTBOUND_MAX_REDIRECTS, 'WEFT_OUTBOUND_MAX_REDIRECTS', OUTBOUND_DEFAULTS.maxRedirects, 0, 20),
    webhookAllow: (env.WEFT_WEBHOOK_ALLOW ?? '').split(/[\s,]+/).filter(Boolean),
    webhookTimeoutMs: int(env.WEFT_WEBHOOK_TIMEOUT_MS, 'WEFT_WEBHOOK_TIMEOUT_MS', 5000, 100, 5000),
    webhookRetryBaseMs: int(env.WEFT_WEBHOOK_RETRY_BASE_MS, 'WEFT_WEBHOOK_RETRY_BASE_MS', 2000, 10, 300_000),
    webhookDeadLetteredAfter: int(env.WEFT_WEBHOOK_DEAD_LETTERED_AFTER, 'WEFT_WEBHOOK_DEAD_LETTERED_AFTER', 10, 1, 100_000),
  };
  checkOutboundConfig(cfg);
  return cfg;
}

/**
 * Checks the allowlist and port policy (also after overrides are merged).
 * @throws Error naming the malformed entry.
 */
export function checkOutboundConfig(cfg: OutboundConfig): void {
  parseOutboundAllow(cfg.outboundAllow);
  parseOutboundAllow(cfg.webhookAllow);
  parsePortPolicy(cfg.outboundPorts);
}

/** The SSRF-guarded client the host hands the engine, or undefined when outbound HTTP is off. */
export function createOutbound(cfg: OutboundConfig, userAgent: string): OutboundClient | undefined {
  if (!cfg.outboundEnabled) return undefined;
  return new OutboundClient({
    allow: cfg.outboundAllow,
    ports: cfg.outboundPorts,
    maxResponseBytes: cfg.outboundMaxBodyBytes,
    timeoutMs: cfg.outboundTimeoutMs,
    maxRedirects: cfg.outboundMaxRedirects,
    userAgent,
  });
}

/** The discovery `httpClient` block: advertised only when the guarded client is on. */
export function httpClientCapability(cfg: OutboundConfig): Record<string, unknown> | undefined {
  if (!cfg.outboundEnabled) return undefined;
  return {
    supported: true,
    ssrfGuard: true,
    maxResponseBodyBytes: cfg.outboundMaxBodyBytes,
    requestTimeoutMs: cfg.outboundTimeoutMs,
    methods: [...OUTBOUND_METHODS],
  };
}
