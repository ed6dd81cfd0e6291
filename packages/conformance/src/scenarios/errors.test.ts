import { describe, expect, it } from 'vitest';
import { call, lacks, target } from '../harness.js';

describe.skipIf(await lacks('the error scenarios', { fixtures: ['conformance-noop'] }))('core: errors', () => {
  it('invariant: closed-error-envelope — unknown /v1 routes answer 404 with the envelope', async () => {
    const r = await call('GET', '/v1/definitely-not-a-route');
    expect(r.status).toBe(404);
    expect((r.body as { error: string }).error).toBe('not_found');
  });

  it('answers 400 under unversioned roots', async () => {
    for (const p of ['/runs', '/api/runs', '/']) {
      const r = await call('GET', p);
      expect(r.status, p).toBe(400);
    }
  });

  it('invariant: closed-error-envelope — an empty create body is a 400 validation_error', async () => {
    const r = await call('POST', '/v1/runs', { body: {} });
    expect(r.status).toBe(400);
    expect((r.body as { error: string }).error).toBe('validation_error');
  });

  it('rejects unknown top-level fields (the create body is closed)', async () => {
    const r = await call('POST', '/v1/runs', { body: { workflowId: 'conformance-noop', surprise: 1 } });
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ error: 'validation_error' });
  });

  it('answers malformed JSON with 400, never 5xx', async () => {
    const r = await call('POST', '/v1/runs', { rawBody: '{"workflowId":', headers: { 'content-type': 'application/json' } });
    expect(r.status).toBe(400);
  });

  it('answers a non-JSON content type with 415', async () => {
    const r = await call('POST', '/v1/runs', { rawBody: 'workflowId=conformance-noop', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(r.status).toBe(415);
  });

  it('answers an oversized body with 413', async () => {
    const big = JSON.stringify({ workflowId: 'conformance-noop', inputs: { blob: 'x'.repeat(2 * 1024 * 1024) } });
    const r = await call('POST', '/v1/runs', { rawBody: big, headers: { 'content-type': 'application/json' } });
    expect(r.status).toBe(413);
  });

  it('answers a non-object JSON body with 400', async () => {
    for (const raw of ['[]', '"x"', '42', 'null']) {
      const r = await call('POST', '/v1/runs', { rawBody: raw, headers: { 'content-type': 'application/json' } });
      expect(r.status, raw).toBe(400);
    }
  });

  it('answers unknown and oversized run ids with a clear 4xx', async () => {
    const unknown = await call('GET', '/v1/runs/run_unknown_123');
    expect(unknown.status).toBe(404);
    const long = await call('GET', `/v1/runs/${'r'.repeat(300)}`);
    expect([400, 404]).toContain(long.status);
    const odd = await call('GET', '/v1/runs/%F0%9F%92%A5');
    expect([400, 404]).toContain(odd.status);
  });

  it('rejects an unknown workflowId on create with a 4xx naming it', async () => {
    const r = await call('POST', '/v1/runs', { body: { workflowId: 'no-such-workflow' } });
    expect([400, 404]).toContain(r.status);
    if (target.inProcess) expect(r.body).toMatchObject({ error: 'validation_error', details: { workflowId: 'no-such-workflow' } });
  });

  it('validates list query parameters', async () => {
    expect((await call('GET', '/v1/runs?status=exploded')).status).toBe(400);
    expect((await call('GET', '/v1/runs?limit=0')).status).toBe(400);
    expect((await call('GET', '/v1/runs?cursor=@@@')).status).toBe(400);
  });
});
