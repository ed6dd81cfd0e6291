import { describe, expect, it } from 'vitest';
import { loadTelemetryConfig, traceContextOf } from './telemetry-config.js';

describe('telemetry configuration', () => {
  it('is off without an OTLP endpoint, and when OTEL_SDK_DISABLED is true', () => {
    expect(loadTelemetryConfig({})).toBeUndefined();
    expect(loadTelemetryConfig({ OTEL_SDK_DISABLED: 'true', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' })).toBeUndefined();
    expect(loadTelemetryConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_TRACES_EXPORTER: 'none', OTEL_METRICS_EXPORTER: 'none' })).toBeUndefined();
  });

  it('reads the standard variables, with the spec default sampler', () => {
    const c = loadTelemetryConfig({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318/',
      OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: 'http://m:9/x',
      OTEL_EXPORTER_OTLP_HEADERS: 'api-key=a%3Db,x=1',
      OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=prod',
    });
    expect(c).toMatchObject({
      tracesUrl: 'http://c:4318/v1/traces',
      metricsUrl: 'http://m:9/x',
      headers: { 'api-key': 'a=b', x: '1' },
      serviceName: 'weft',
      resourceAttributes: { 'deployment.environment': 'prod' },
      sampler: 'parentbased_traceidratio',
      samplerArg: 0.1,
    });
  });

  it('refuses what it cannot honour instead of ignoring it', () => {
    const base = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' };
    expect(() => loadTelemetryConfig({ ...base, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf' })).toThrow(/http\/json/);
    expect(() => loadTelemetryConfig({ ...base, OTEL_TRACES_SAMPLER: 'sometimes' })).toThrow(/OTEL_TRACES_SAMPLER/);
    expect(() => loadTelemetryConfig({ ...base, OTEL_TRACES_SAMPLER_ARG: '2' })).toThrow(/ARG/);
    expect(() => loadTelemetryConfig({ ...base, OTEL_TRACES_EXPORTER: 'zipkin' })).toThrow(/otlp or none/);
  });
});

describe('traceContextOf', () => {
  const tp = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
  it('accepts a valid version-00 traceparent (normalised) with a bounded tracestate', () => {
    expect(traceContextOf(` ${tp.toUpperCase()} `, 'a=1')).toEqual({ traceparent: tp, tracestate: 'a=1' });
    expect(traceContextOf(tp, 'x'.repeat(513))).toEqual({ traceparent: tp });
  });
  it('ignores malformed or all-zero ids', () => {
    for (const bad of [
      undefined,
      ['a'],
      'garbage',
      `01-${tp.slice(3)}`,
      `00-${'0'.repeat(32)}-00f067aa0ba902b7-01`,
      `00-4bf92f3577b34da6a3ce929d0e0e4736-${'0'.repeat(16)}-01`,
    ]) {
      expect(traceContextOf(bad, undefined)).toBeUndefined();
    }
  });
});
