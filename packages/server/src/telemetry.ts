/**
 * OpenTelemetry for the host: traces (a span per HTTP request, per run, per node attempt) and
 * metrics, exported over OTLP/HTTP (JSON) and configured by the standard `OTEL_*` variables.
 * Off unless an OTLP endpoint is configured: then nothing here is constructed, no hook is
 * registered and the engine gets no telemetry port — the hot path does no telemetry work.
 *
 * The engine sees only its `RunTelemetry` port; the SDK stays in this file (decision 0024). No
 * global provider or context manager is registered: parents are passed explicitly, so no
 * AsyncLocalStorage context is kept per request.
 *
 * @see execution-semantics.md §8, ../../../docs/operations.md §Telemetry
 */
import {
  INVALID_SPAN_CONTEXT,
  SpanKind,
  SpanStatusCode,
  TraceFlags,
  context,
  trace,
  type Attributes,
  type Context,
  type Counter,
  type Histogram,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  NodeTracerProvider,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  type Sampler,
} from '@opentelemetry/sdk-trace-node';
import { TERMINAL_STATUSES, PROTOCOL_VERSION } from '@weft/contract';
import type { EncodedEvent, NodeAttemptInfo, NodeAttemptSpan, RunProjection, RunRecord, RunTelemetry, TraceContext } from '@weft/engine';
import { TRACEPARENT, traceContextOf, type TelemetryConfig } from './telemetry-config.js';

export { loadTelemetryConfig, traceContextOf, type TelemetryConfig } from './telemetry-config.js';

/** A parent context for `traceparent` (remote), or the root context. */
function parentOf(traceparent: string | undefined): Context {
  const m = traceparent ? TRACEPARENT.exec(traceparent) : null;
  if (!m) return context.active();
  return trace.setSpanContext(context.active(), {
    traceId: m[1] as string,
    spanId: m[2] as string,
    traceFlags: Number.parseInt(m[3] as string, 16),
    isRemote: true,
  });
}

/** The `traceparent` of a span. */
function traceparentOf(span: Span): string {
  const c = span.spanContext();
  return `00-${c.traceId}-${c.spanId}-${(c.traceFlags & TraceFlags.SAMPLED) === TraceFlags.SAMPLED ? '01' : '00'}`;
}

function samplerOf(cfg: TelemetryConfig): Sampler {
  const ratio = new TraceIdRatioBasedSampler(cfg.samplerArg);
  switch (cfg.sampler) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return ratio;
    case 'parentbased_always_on':
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    default:
      return new ParentBasedSampler({ root: ratio });
  }
}

/** Live gauges the host reads at collection time. */
export interface TelemetryGauges {
  /** Runs this process drives (loaded, not terminal): the runnable queue. */
  runnable(): number;
  openSseStreams(): number;
}

const seconds = (ms: number): number => Math.max(0, ms) / 1000;

/** The host's telemetry: the engine port plus what the HTTP layer records. */
export class HostTelemetry implements RunTelemetry {
  private readonly tracer: Tracer | undefined;
  private readonly tracerProvider: NodeTracerProvider | undefined;
  private readonly meterProvider: MeterProvider | undefined;
  /** Open `openwop.run` spans of the runs this process drives, by run id. */
  private readonly runSpans = new Map<string, Span>();
  private readonly runsStarted: Counter | undefined;
  private readonly runsEnded: Counter | undefined;
  private readonly runDuration: Histogram | undefined;
  private readonly createDuration: Histogram | undefined;
  private readonly takeovers: Counter | undefined;
  private readonly nodeAttempts: Counter | undefined;

  constructor(cfg: TelemetryConfig, version: string, gauges: TelemetryGauges) {
    const resource = resourceFromAttributes({ ...cfg.resourceAttributes, 'service.name': cfg.serviceName, 'service.version': version });
    if (cfg.tracesUrl) {
      const exporter = new OTLPTraceExporter({ url: cfg.tracesUrl, headers: cfg.headers });
      this.tracerProvider = new NodeTracerProvider({
        resource,
        sampler: samplerOf(cfg),
        spanProcessors: [new BatchSpanProcessor(exporter, { scheduledDelayMillis: cfg.spanDelayMs })],
      });
      this.tracer = this.tracerProvider.getTracer('weft', version);
    }
    if (cfg.metricsUrl) {
      const exporter = new OTLPMetricExporter({ url: cfg.metricsUrl, headers: cfg.headers });
      this.meterProvider = new MeterProvider({
        resource,
        readers: [
          new PeriodicExportingMetricReader({
            exporter,
            exportIntervalMillis: cfg.metricIntervalMs,
            exportTimeoutMillis: Math.min(30_000, cfg.metricIntervalMs),
          }),
        ],
      });
      const meter = this.meterProvider.getMeter('weft', version);
      this.runsStarted = meter.createCounter('openwop.run.created', { description: 'Runs started', unit: '{run}' });
      this.runsEnded = meter.createCounter('openwop.run.completed', { description: 'Runs that ended, by openwop.run_status', unit: '{run}' });
      this.runDuration = meter.createHistogram('openwop.run.duration', {
        description: 'End-to-end run latency, creation to terminal event',
        unit: 's',
        advice: { explicitBucketBoundaries: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600] },
      });
      this.createDuration = meter.createHistogram('weft.run.create.duration', {
        description: 'POST /v1/runs latency (request to 201)',
        unit: 's',
        advice: { explicitBucketBoundaries: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5] },
      });
      this.nodeAttempts = meter.createCounter('openwop.node.attempts', { description: 'Node attempts started', unit: '{attempt}' });
      this.takeovers = meter.createCounter('weft.run.lease.takeovers', { description: 'Runs taken over from another lease owner', unit: '{run}' });
      meter
        .createObservableGauge('openwop.queue.depth', { description: 'Runs this process drives (loaded, not terminal)', unit: '{run}' })
        .addCallback((r) => r.observe(gauges.runnable()));
      meter
        .createObservableGauge('weft.sse.open_streams', { description: 'Open SSE streams', unit: '{stream}' })
        .addCallback((r) => r.observe(gauges.openSseStreams()));
    }
  }

  // ---------------------------------------------------------------- engine port

  committed(run: RunRecord, events: readonly EncodedEvent[], projection: RunProjection): void {
    const wf = { 'openwop.workflow_id': run.workflowId };
    for (const e of events) {
      if (e.type === 'run.started') {
        this.runsStarted?.add(1, wf);
        this.runSpan(run);
      }
    }
    if (!TERMINAL_STATUSES.has(projection.status)) return;
    const last = events[events.length - 1];
    if (!last || !(last.type === 'run.completed' || last.type === 'run.failed' || last.type === 'run.cancelled')) return;
    this.runsEnded?.add(1, { ...wf, 'openwop.run_status': projection.status });
    const ended = projection.endedAt ? Date.parse(projection.endedAt) : Date.now();
    this.runDuration?.record(seconds(ended - Date.parse(run.createdAt)), { ...wf, 'openwop.run_status': projection.status });
    const span = this.runSpans.get(run.runId) ?? (this.tracer ? this.runSpan(run) : undefined);
    if (span) {
      span.setAttribute('openwop.run_status', projection.status);
      if (projection.status === 'failed') span.setStatus({ code: SpanStatusCode.ERROR, ...(projection.error ? { message: projection.error.code } : {}) });
      span.end();
      this.runSpans.delete(run.runId);
    }
  }

  nodeAttempt(a: NodeAttemptInfo): NodeAttemptSpan {
    this.nodeAttempts?.add(1, { 'openwop.workflow_id': a.run.workflowId, 'openwop.node_type': a.typeId });
    if (!this.tracer) return { end: () => undefined };
    const parent = this.runSpans.get(a.run.runId) ?? this.runSpan(a.run);
    const span = this.tracer.startSpan(
      `openwop.node.${a.typeId}.attempt`,
      {
        kind: SpanKind.INTERNAL,
        attributes: {
          'openwop.run_id': a.run.runId,
          'openwop.workflow_id': a.run.workflowId,
          'openwop.node_id': a.nodeId,
          'openwop.node_type': a.typeId,
          'openwop.node_attempt': a.attempt,
        },
      },
      trace.setSpan(context.active(), parent),
    );
    let open = true;
    return {
      traceparent: traceparentOf(span),
      end: (error?: unknown) => {
        if (!open) return;
        open = false;
        if (error !== undefined) {
          const code = typeof error === 'object' && error !== null && 'code' in error ? String((error as { code: unknown }).code) : 'error';
          span.setStatus({ code: SpanStatusCode.ERROR, message: code });
        }
        span.end();
      },
    };
  }

  leaseTakeover(_runId: string): void {
    this.takeovers?.add(1);
  }

  /** The open run span, started now (a child of the run's originating trace) when missing. */
  private runSpan(run: RunRecord): Span {
    const open = this.runSpans.get(run.runId);
    if (open || !this.tracer) return open ?? trace.wrapSpanContext(INVALID_SPAN_CONTEXT);
    const attributes: Attributes = {
      'openwop.run_id': run.runId,
      'openwop.workflow_id': run.workflowId,
      'openwop.protocol_version': PROTOCOL_VERSION,
      'openwop.tenant_id': run.tenant,
    };
    if (run.projection.parent) attributes['openwop.parent.run_id'] = run.projection.parent.runId;
    const span = this.tracer.startSpan('openwop.run', { kind: SpanKind.INTERNAL, attributes }, parentOf(run.traceContext?.traceparent));
    this.runSpans.set(run.runId, span);
    return span;
  }

  // ---------------------------------------------------------------- HTTP layer

  /** HTTP server spans by raw request, while the request is open. */
  private readonly requests = new WeakMap<object, Span>();

  /**
   * Starts the span of one HTTP request (a server span, child of its `traceparent`) and ends it
   * when the response closes; `POST /v1/runs` answered 201 also records the create latency.
   */
  httpRequest(
    raw: object,
    res: { once(ev: 'close', fn: () => void): unknown; statusCode: number },
    method: string,
    route: string | undefined,
    traceparent: unknown,
  ): void {
    const t0 = performance.now();
    const span = this.tracer?.startSpan(
      `${method} ${route ?? 'unmatched'}`,
      { kind: SpanKind.SERVER, attributes: { 'http.request.method': method, ...(route ? { 'http.route': route } : {}) } },
      parentOf(traceContextOf(traceparent, undefined)?.traceparent),
    );
    if (span) this.requests.set(raw, span);
    res.once('close', () => {
      const status = res.statusCode;
      if (status === 201 && method === 'POST' && route === '/v1/runs') this.runCreated(performance.now() - t0);
      if (!span) return;
      span.setAttribute('http.response.status_code', status);
      if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    });
  }

  /**
   * The trace context a run created by this request carries: the request's server span (so the
   * run span is its child), keeping the caller's `tracestate`; else what the caller sent.
   */
  runTraceContext(raw: object, sent: TraceContext | undefined): TraceContext | undefined {
    const span = this.requests.get(raw);
    if (!span?.isRecording()) return sent;
    return { traceparent: traceparentOf(span), ...(sent?.tracestate ? { tracestate: sent.tracestate } : {}) };
  }

  /** Records a `POST /v1/runs` that answered 201, `ms` after it arrived. */
  runCreated(ms: number): void {
    this.createDuration?.record(seconds(ms));
  }

  /** Flushes and stops the exporters (at shutdown). */
  async shutdown(): Promise<void> {
    for (const s of this.runSpans.values()) s.end();
    this.runSpans.clear();
    await Promise.allSettled([this.tracerProvider?.shutdown(), this.meterProvider?.shutdown()]);
  }
}
