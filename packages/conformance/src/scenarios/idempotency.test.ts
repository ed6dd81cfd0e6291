import { describe, expect, it } from 'vitest';
import { call, freshKey, lacks, target, waitForTerminal } from '../harness.js';

describe.skipIf(await lacks('the idempotency scenarios', { fixtures: ['conformance-idempotent', 'conformance-identity', 'conformance-noop'] }))(
  'core: idempotency',
  () => {
    it('invariant: idempotency-replay — same key and body replays the same run with openwop-Idempotent-Replay', async () => {
      const key = freshKey();
      const body = { workflowId: 'conformance-idempotent', inputs: { nonce: key } };
      const a = await call<{ runId: string }>('POST', '/v1/runs', { body, headers: { 'idempotency-key': key } });
      expect(a.status).toBe(201);
      const b = await call<{ runId: string }>('POST', '/v1/runs', { body, headers: { 'idempotency-key': key } });
      expect([200, 201]).toContain(b.status);
      expect(b.body.runId).toBe(a.body.runId);
      expect(b.headers.get('openwop-idempotent-replay')).toBe('true');
      expect(b.text).toBe(a.text);
      await waitForTerminal(a.body.runId);
    });

    it('invariant: idempotency-key-mismatch — same key with a different body is 409 without a runId', async () => {
      const key = freshKey();
      const a = await call('POST', '/v1/runs', {
        body: { workflowId: 'conformance-idempotent', inputs: { nonce: 'one' } },
        headers: { 'idempotency-key': key },
      });
      expect(a.status).toBe(201);
      const b = await call('POST', '/v1/runs', {
        body: { workflowId: 'conformance-idempotent', inputs: { nonce: 'two' } },
        headers: { 'idempotency-key': key },
      });
      expect(b.status).toBe(409);
      expect((b.body as { error: string }).error).toBe('idempotency_key_mismatch');
      expect(b.text).not.toContain('runId');
    });

    it('invariant: idempotency-single-execution — 20 concurrent requests with one key create exactly one run', async () => {
      const key = freshKey();
      const body = { workflowId: 'conformance-idempotent', inputs: { nonce: key } };
      const all = await Promise.all(
        Array.from({ length: 20 }, () => call<{ runId?: string; error?: string }>('POST', '/v1/runs', { body, headers: { 'idempotency-key': key } })),
      );
      const runIds = new Set(all.filter((r) => r.status === 200 || r.status === 201).map((r) => r.body.runId));
      expect(runIds.size).toBe(1);
      for (const r of all) {
        if (r.status === 409) expect(r.body.error).toBe('idempotency_in_flight');
        else expect([200, 201]).toContain(r.status);
      }
      const listed = await call<{ runs: { runId: string; variables: { nonce?: string } }[] }>('GET', '/v1/runs?workflowId=conformance-idempotent&limit=200');
      expect(listed.body.runs.filter((r) => r.variables.nonce === key)).toHaveLength(1);
    });

    it.skipIf(!target.keyB)('invariant: idempotency-key-tenant-endpoint-scoped — another tenant reusing a key gets its own run', async () => {
      const key = freshKey();
      const body = { workflowId: 'conformance-idempotent', inputs: { nonce: key } };
      const a = await call<{ runId: string }>('POST', '/v1/runs', { body, headers: { 'idempotency-key': key } });
      const b = await call<{ runId: string }>('POST', '/v1/runs', { key: target.keyB as string, body, headers: { 'idempotency-key': key } });
      expect(a.status).toBe(201);
      expect(b.status).toBe(201);
      expect(b.body.runId).not.toBe(a.body.runId);
      expect(b.headers.get('openwop-idempotent-replay')).toBeNull();
    });

    it('invariant: idempotency-key-tenant-endpoint-scoped — the same key on another route is another operation', async () => {
      const key = freshKey();
      const run = await call<{ runId: string }>('POST', '/v1/runs', { body: { workflowId: 'conformance-noop' }, headers: { 'idempotency-key': key } });
      expect(run.status).toBe(201);
      await waitForTerminal(run.body.runId);
      const bulk = await call<{ results: unknown[] }>('POST', '/v1/runs:bulk-cancel', {
        body: { runIds: [run.body.runId] },
        headers: { 'idempotency-key': key },
      });
      expect(bulk.status).toBe(200);
      expect(bulk.body.results).toHaveLength(1);
    });

    it('does not cache validation failures: a corrected retry with the same key succeeds', async () => {
      const key = freshKey();
      const bad = await call('POST', '/v1/runs', { body: { workflowId: 'conformance-identity' }, headers: { 'idempotency-key': key } });
      expect(bad.status).toBe(400);
      const again = await call('POST', '/v1/runs', { body: { workflowId: 'conformance-identity' }, headers: { 'idempotency-key': key } });
      expect(again.status).toBe(400);
      expect(again.headers.get('openwop-idempotent-replay')).toBeNull();
    });

    it('rejects a malformed Idempotency-Key', async () => {
      const r = await call('POST', '/v1/runs', { body: { workflowId: 'conformance-noop' }, headers: { 'idempotency-key': 'x'.repeat(300) } });
      expect(r.status).toBe(400);
    });
  },
);
