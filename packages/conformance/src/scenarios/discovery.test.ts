import { describe, expect, it } from 'vitest';
import { checkContract } from '../contract-check.js';
import { call, target } from '../harness.js';

describe('core: discovery', () => {
  it('serves the discovery document without credentials with the required fields', async () => {
    const r = await call('GET', '/.well-known/openwop', { key: null });
    expect(r.status).toBe(200);
    checkContract('capabilities', r.body);
    const d = r.body as Record<string, unknown> & { limits: Record<string, unknown> };
    expect(d.protocolVersion).toMatch(/^1\.(0|[1-9]\d*)$/);
    expect(Array.isArray(d.supportedEnvelopes)).toBe(true);
    expect(typeof d.schemaVersions).toBe('object');
    for (const k of ['clarificationRounds', 'schemaRounds', 'envelopesPerTurn']) {
      expect(Number.isInteger(d.limits[k]) && (d.limits[k] as number) >= 0).toBe(true);
    }
    expect(r.headers.get('cache-control')).toMatch(/max-age=\d+/);
  });

  it('keeps families at the root and advertises only REST transport', async () => {
    const d = (await call('GET', '/.well-known/openwop', { key: null })).body;
    expect(d.capabilities).toBeUndefined();
    if (d.supportedTransports !== undefined) expect(d.supportedTransports).toContain('rest');
  });

  it('answers 304 to a matching If-None-Match and keeps Capabilities-Etag stable', async () => {
    const a = await call('GET', '/.well-known/openwop', { key: null });
    const etag = a.headers.get('etag');
    expect(etag).toBeTruthy();
    const b = await call('GET', '/.well-known/openwop', { key: null, headers: { 'if-none-match': etag as string } });
    expect(b.status).toBe(304);
    const c = await call('GET', '/.well-known/openwop', { key: null });
    expect(c.headers.get('capabilities-etag')).toBe(a.headers.get('capabilities-etag'));
  });

  it('lists unique fixture ids, each of which the host serves', async () => {
    const d = (await call('GET', '/.well-known/openwop', { key: null })).body as { fixtures?: string[] };
    const fixtures = d.fixtures ?? [];
    expect(new Set(fixtures).size).toBe(fixtures.length);
    for (const id of fixtures) {
      expect(id.length).toBeGreaterThan(0);
      const wf = await call('GET', `/v1/workflows/${id}`);
      expect(wf.status).toBe(200);
      expect((wf.body as { id: string }).id).toBe(id);
    }
    if (target.inProcess) {
      expect(fixtures).toEqual(
        expect.arrayContaining([
          'conformance-noop',
          'conformance-delay',
          'conformance-cancellable',
          'conformance-failure',
          'conformance-identity',
          'conformance-multi-node',
          'conformance-idempotent',
        ]),
      );
      expect(fixtures).toEqual(expect.arrayContaining(['conformance-approval', 'conformance-clarification', 'conformance-interrupt-quorum']));
      // Fixtures for features this host does not implement are seeded but never advertised.
      expect(fixtures).toContain('conformance-dispatch-loop');
      expect(fixtures).not.toContain('conformance-conversation-lifecycle');
      expect(fixtures).not.toContain('conformance-stream-text');
    }
  });

  it('advertises interrupts only with their profiles, and pause/resume with its drain policies', async () => {
    const d = (await call('GET', '/.well-known/openwop', { key: null })).body as {
      supportedEnvelopes: string[];
      extensions?: { interrupts?: { profiles: string[] } };
      runs?: { pauseResume?: { supported: boolean; drainPolicies: string[] } };
    };
    if (d.supportedEnvelopes.includes('clarification.request')) {
      expect(d.extensions?.interrupts?.profiles).toEqual(expect.arrayContaining(['openwop-interrupt-quorum', 'openwop-interrupt-external-event']));
    }
    if (d.runs?.pauseResume?.supported) expect(d.runs.pauseResume.drainPolicies).toEqual(expect.arrayContaining(['immediate', 'drain-current-node']));
    if (target.inProcess) expect(d.supportedEnvelopes).toContain('clarification.request');
  });

  it.skipIf(!target.inProcess)('advertises subWorkflow.inputMapping, which core.subWorkflow honours', async () => {
    const d = (await call('GET', '/.well-known/openwop', { key: null })).body as { subWorkflow?: { inputMapping?: boolean } };
    expect(d.subWorkflow).toEqual({ inputMapping: true });
  });

  it('serves an OpenAPI 3.1 document without credentials', async () => {
    const r = await call('GET', '/v1/openapi.json', { key: null });
    expect(r.status).toBe(200);
    const doc = r.body as { openapi: string; paths: Record<string, unknown> };
    expect(doc.openapi).toMatch(/^3\.[1-9]/);
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/v1/runs', '/v1/runs/{runId}', '/v1/runs/{runId}/events']));
  });

  it('invariant: discovery-no-credentials — advertises integer limits and carries no key material', async () => {
    const d = (await call('GET', '/.well-known/openwop', { key: null })).body as { limits: Record<string, number>; configurable?: Record<string, unknown> };
    if (d.limits.maxNodeExecutions !== undefined) expect(Number.isInteger(d.limits.maxNodeExecutions)).toBe(true);
    if (d.limits.maxRunDurationMs !== undefined) expect(d.limits.maxRunDurationMs).toBeGreaterThanOrEqual(1000);
    expect(JSON.stringify(d)).not.toContain(target.keyA);
  });
});
