/**
 * OpenTelemetry over real HTTP, on a host of its own that exports to a loopback OTLP/HTTP (JSON)
 * receiver: `traceparent` on `POST /v1/runs` is carried into the run's events and its outbound
 * calls; the exported spans (HTTP request → `openwop.run` → node attempt) share the caller's
 * trace with the right parents and attributes; the metrics arrive; and a host without `OTEL_*`
 * configuration exports nothing and advertises no OTLP.
 *
 * @see execution-semantics.md §8
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TEST_KEYS, startTestHost, type TestHost } from '@weft/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callAt } from '../harness.js';
import { OWN_HOSTS } from '../own-host.js';

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  attributes?: { key: string; value: Record<string, unknown> }[];
}

/** A tiny HTTP server recording what it is sent (`/v1/traces`, `/v1/metrics`, anything else). */
async function recorder(): Promise<{ server: Server; url: string; port: number; bodies: { path: string; headers: IncomingHttpHeaders; body: string }[] }> {
  const bodies: { path: string; headers: IncomingHttpHeaders; body: string }[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      bodies.push({ path: req.url ?? '', headers: req.headers, body });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { server, url: `http://127.0.0.1:${port}`, port, bodies };
}

const spansOf = (bodies: { path: string; body: string }[]): OtlpSpan[] =>
  bodies
    .filter((b) => b.path === '/v1/traces')
    .flatMap((b) => (JSON.parse(b.body) as { resourceSpans: { scopeSpans: { spans: OtlpSpan[] }[] }[] }).resourceSpans)
    .flatMap((r) => r.scopeSpans.flatMap((s) => s.spans));

const attr = (s: OtlpSpan, key: string): unknown => {
  const v = s.attributes?.find((a) => a.key === key)?.value;
  return v && (v.stringValue ?? v.intValue ?? v.boolValue);
};

/** Waits (with a deadline) until `probe` returns something. */
async function until<T>(probe: () => T | undefined, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('deadline passed');
    await new Promise((r) => setTimeout(r, 25));
  }
}

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT_SPAN = '00f067aa0ba902b7';
const TRACEPARENT = `00-${TRACE_ID}-${PARENT_SPAN}-01`;

describe.runIf(OWN_HOSTS)('telemetry: traceparent and OTLP export', () => {
  let otlp: Awaited<ReturnType<typeof recorder>>;
  let target: Awaited<ReturnType<typeof recorder>>;
  let host: TestHost;

  beforeAll(async () => {
    otlp = await recorder();
    target = await recorder();
    host = await startTestHost({
      store: 'memory',
      config: {
        outboundAllow: [`127.0.0.1:${target.port}`],
        telemetry: {
          tracesUrl: `${otlp.url}/v1/traces`,
          metricsUrl: `${otlp.url}/v1/metrics`,
          headers: {},
          serviceName: 'weft-conformance',
          resourceAttributes: {},
          sampler: 'parentbased_always_on',
          samplerArg: 1,
          spanDelayMs: 50,
          metricIntervalMs: 200,
        },
      },
    });
  });
  afterAll(async () => {
    await host?.stop();
    otlp?.server.close();
    target?.server.close();
  });

  it('invariant: trace-context-propagation — traceparent reaches the events, the outbound call and the exported spans', async () => {
    const created = await callAt<{ runId: string }>(host.url, 'POST', '/v1/runs', {
      bearer: TEST_KEYS.tenantA,
      headers: { traceparent: TRACEPARENT, tracestate: 'conf=1' },
      body: { workflowId: 'weft-http-request', inputs: { url: `${target.url}/hello` } },
    });
    expect(created.status).toBe(201);
    const runId = created.body.runId;
    let events: { type: string; traceparent?: string }[] = [];
    const end = Date.now() + 15_000;
    while (!events.some((e) => e.type.startsWith('run.') && e.type !== 'run.started') && Date.now() < end) {
      const r = await callAt<{ events: { type: string; traceparent?: string }[] }>(host.url, 'GET', `/v1/runs/${runId}/events/poll?lastSequence=-1&timeout=5`, {
        bearer: TEST_KEYS.tenantA,
      });
      events = r.body.events;
    }
    expect(events.at(-1)?.type).toBe('run.completed');
    // Durable events carry the originating trace (the id of the caller's trace).
    for (const e of events) expect(e.traceparent?.split('-')[1], e.type).toBe(TRACE_ID);

    // The outbound call carried the trace too, as the node attempt's child context.
    const call = target.bodies.find((b) => b.path === '/hello');
    expect(String(call?.headers.traceparent).split('-')[1]).toBe(TRACE_ID);

    const spans = await until(() => {
      const all = spansOf(otlp.bodies);
      return all.some((s) => s.name === 'openwop.run' && attr(s, 'openwop.run_id') === runId) ? all : undefined;
    });
    const http = spans.find((s) => s.name === 'POST /v1/runs' && s.traceId === TRACE_ID);
    expect(http?.parentSpanId).toBe(PARENT_SPAN);
    const run = spans.find((s) => s.name === 'openwop.run' && attr(s, 'openwop.run_id') === runId) as OtlpSpan;
    expect(run.traceId).toBe(TRACE_ID);
    expect(run.parentSpanId).toBe(http?.spanId);
    expect(attr(run, 'openwop.workflow_id')).toBe('weft-http-request');
    const attempt = spans.find((s) => s.name === 'openwop.node.core.http.request.attempt' && attr(s, 'openwop.run_id') === runId) as OtlpSpan;
    expect(attempt.parentSpanId).toBe(run.spanId);
    expect(attr(attempt, 'openwop.node_id')).toBe('call');
    expect(String(attr(attempt, 'openwop.node_attempt'))).toBe('0');
    expect(String(call?.headers.traceparent).split('-')[2]).toBe(attempt.spanId);

    // Metrics: runs started and completed by workflow, the latency histograms, the gauges.
    const names = await until(() => {
      const metrics = otlp.bodies.filter((b) => b.path === '/v1/metrics').map((b) => b.body);
      const seen = new Set([...metrics.join('\n').matchAll(/"name":"([a-z._]+)"/g)].map((m) => m[1]));
      return seen.has('openwop.run.completed') && seen.has('openwop.run.duration') ? seen : undefined;
    });
    for (const n of [
      'openwop.run.created',
      'openwop.run.completed',
      'openwop.run.duration',
      'weft.run.create.duration',
      'openwop.queue.depth',
      'weft.sse.open_streams',
    ]) {
      expect(names.has(n), n).toBe(true);
    }
    const discovery = await callAt<{ observability?: { otel?: { exportProtocols?: string[] } } }>(host.url, 'GET', '/.well-known/openwop');
    expect(discovery.body.observability?.otel?.exportProtocols).toEqual(['http/json']);
  });

  it('ignores a malformed traceparent (never an error) and starts a fresh trace', async () => {
    const created = await callAt<{ runId: string }>(host.url, 'POST', '/v1/runs', {
      bearer: TEST_KEYS.tenantA,
      headers: { traceparent: `00-${'0'.repeat(32)}-${PARENT_SPAN}-01` },
      body: { workflowId: 'weft-hello', inputs: { greeting: 'hi' } },
    });
    expect(created.status).toBe(201);
  });
});

describe.runIf(OWN_HOSTS)('telemetry: off by default', () => {
  it('a host without OTEL_* configuration advertises no OTLP export and still carries traceparent into events', async () => {
    const host = await startTestHost({ store: 'memory' });
    try {
      const d = await callAt<Record<string, unknown>>(host.url, 'GET', '/.well-known/openwop');
      expect(d.body.observability).toBeUndefined();
      const created = await callAt<{ runId: string }>(host.url, 'POST', '/v1/runs', {
        bearer: TEST_KEYS.tenantA,
        headers: { traceparent: TRACEPARENT },
        body: { workflowId: 'weft-hello', inputs: { greeting: 'hi' } },
      });
      const r = await callAt<{ events: { traceparent?: string }[] }>(host.url, 'GET', `/v1/runs/${created.body.runId}/events/poll?lastSequence=-1`, {
        bearer: TEST_KEYS.tenantA,
      });
      expect(r.body.events[0]?.traceparent).toBe(TRACEPARENT);
    } finally {
      await host.stop();
    }
  });
});
