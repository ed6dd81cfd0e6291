/**
 * Telemetry configuration from the standard `OTEL_*` variables and W3C trace-context parsing —
 * without the OpenTelemetry SDK, which only `telemetry.ts` loads (and only when configured).
 *
 * @see ../../../docs/operations.md §Telemetry
 */
import type { TraceContext } from '@weft/engine';

/** Telemetry settings, read from the standard `OTEL_*` variables by {@link loadTelemetryConfig}. */
export interface TelemetryConfig {
  /** Where traces are POSTed (`…/v1/traces`); absent = no traces. */
  tracesUrl?: string;
  /** Where metrics are POSTed (`…/v1/metrics`); absent = no metrics. */
  metricsUrl?: string;
  /** Extra request headers of the exporters (`OTEL_EXPORTER_OTLP_HEADERS`). */
  headers: Record<string, string>;
  serviceName: string;
  /** `OTEL_RESOURCE_ATTRIBUTES`, parsed. */
  resourceAttributes: Record<string, string>;
  sampler: string;
  samplerArg: number;
  /** Batch span processor delay (`OTEL_BSP_SCHEDULE_DELAY`). */
  spanDelayMs: number;
  /** Metric export interval (`OTEL_METRIC_EXPORT_INTERVAL`). */
  metricIntervalMs: number;
}

const SAMPLERS = new Set(['always_on', 'always_off', 'traceidratio', 'parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio']);

/** `k=v,k2=v2` (W3C baggage-like, percent-decoded) as an object. */
function keyValues(raw: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of (raw ?? '').split(',')) {
    const at = pair.indexOf('=');
    if (at <= 0) continue;
    out[decodeURIComponent(pair.slice(0, at).trim())] = decodeURIComponent(pair.slice(at + 1).trim());
  }
  return out;
}

const posInt = (v: string | undefined, name: string, def: number): number => {
  if (v === undefined || v === '') return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer (milliseconds)`);
  return n;
};

/**
 * Reads the standard variables: `OTEL_SDK_DISABLED`, `OTEL_EXPORTER_OTLP_ENDPOINT` (or the
 * per-signal `…_TRACES_ENDPOINT` / `…_METRICS_ENDPOINT`), `OTEL_TRACES_EXPORTER` /
 * `OTEL_METRICS_EXPORTER` (`otlp` or `none`), `OTEL_EXPORTER_OTLP_PROTOCOL` (`http/json` only),
 * `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`,
 * `OTEL_TRACES_SAMPLER` / `_ARG` (default `parentbased_traceidratio` at 0.1, per the spec),
 * `OTEL_BSP_SCHEDULE_DELAY`, `OTEL_METRIC_EXPORT_INTERVAL`. Undefined when telemetry is off.
 */
export function loadTelemetryConfig(env: NodeJS.ProcessEnv): TelemetryConfig | undefined {
  if ((env.OTEL_SDK_DISABLED ?? '').toLowerCase() === 'true') return undefined;
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.replace(/\/+$/, '');
  const signal = (exporter: string | undefined, own: string | undefined, path: string): string | undefined => {
    const kind = (exporter ?? 'otlp').toLowerCase();
    if (kind === 'none') return undefined;
    if (kind !== 'otlp') throw new Error(`OTEL_*_EXPORTER must be otlp or none, not ${kind}`);
    return own || (base ? `${base}${path}` : undefined);
  };
  const tracesUrl = signal(env.OTEL_TRACES_EXPORTER, env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, '/v1/traces');
  const metricsUrl = signal(env.OTEL_METRICS_EXPORTER, env.OTEL_EXPORTER_OTLP_METRICS_ENDPOINT, '/v1/metrics');
  if (!tracesUrl && !metricsUrl) return undefined;
  const protocol = env.OTEL_EXPORTER_OTLP_PROTOCOL ?? 'http/json';
  if (protocol !== 'http/json') throw new Error(`OTEL_EXPORTER_OTLP_PROTOCOL: Weft exports http/json only, not ${protocol}`);
  const sampler = (env.OTEL_TRACES_SAMPLER ?? 'parentbased_traceidratio').toLowerCase();
  if (!SAMPLERS.has(sampler)) throw new Error(`OTEL_TRACES_SAMPLER must be one of ${[...SAMPLERS].join(', ')}`);
  const arg = env.OTEL_TRACES_SAMPLER_ARG === undefined || env.OTEL_TRACES_SAMPLER_ARG === '' ? 0.1 : Number(env.OTEL_TRACES_SAMPLER_ARG);
  if (!(arg >= 0 && arg <= 1)) throw new Error('OTEL_TRACES_SAMPLER_ARG must be a number between 0 and 1');
  return {
    ...(tracesUrl ? { tracesUrl } : {}),
    ...(metricsUrl ? { metricsUrl } : {}),
    headers: keyValues(env.OTEL_EXPORTER_OTLP_HEADERS),
    serviceName: env.OTEL_SERVICE_NAME || 'weft',
    resourceAttributes: keyValues(env.OTEL_RESOURCE_ATTRIBUTES),
    sampler,
    samplerArg: arg,
    spanDelayMs: posInt(env.OTEL_BSP_SCHEDULE_DELAY, 'OTEL_BSP_SCHEDULE_DELAY', 5000),
    metricIntervalMs: posInt(env.OTEL_METRIC_EXPORT_INTERVAL, 'OTEL_METRIC_EXPORT_INTERVAL', 60_000),
  };
}

/** W3C `traceparent`, version 00. */
export const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);
/** tracestate: at most 512 printable characters (W3C allows 32 members; longer is dropped). */
const TRACESTATE = /^[\x20-\x7e]{1,512}$/;

/**
 * The trace context of a request, when its `traceparent` is valid W3C version 00 (all-zero ids
 * refused); an invalid header is ignored, never an error. Trace headers are never authorization
 * evidence.
 */
export function traceContextOf(traceparent: unknown, tracestate: unknown): TraceContext | undefined {
  if (typeof traceparent !== 'string') return undefined;
  const tp = traceparent.trim().toLowerCase();
  const m = TRACEPARENT.exec(tp);
  if (!m || m[1] === ZERO_TRACE || m[2] === ZERO_SPAN) return undefined;
  const tc: TraceContext = { traceparent: tp };
  if (typeof tracestate === 'string' && TRACESTATE.test(tracestate.trim())) tc.tracestate = tracestate.trim();
  return tc;
}
