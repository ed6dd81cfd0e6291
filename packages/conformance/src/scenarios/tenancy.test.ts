import { describe, expect, it } from 'vitest';
import { call, lacks, snapshot, startRun, target, waitForTerminal } from '../harness.js';

/** Run-scoped routes, each probed with a foreign run id and a missing one. */
const ROUTES: [string, (id: string) => string, unknown?][] = [
  ['GET', (id) => `/v1/runs/${id}`],
  ['GET', (id) => `/v1/runs/${id}/events/poll?timeout=0`],
  ['GET', (id) => `/v1/runs/${id}/events`],
  ['POST', (id) => `/v1/runs/${id}/cancel`, {}],
  ['GET', (id) => `/v1/runs/${id}/artifacts/artifact-1`],
  ['GET', (id) => `/v1/runs/${id}/interrupts`],
  ['POST', (id) => `/v1/runs/${id}/interrupts/gate`, { resumeValue: { action: 'accept' } }],
  ['POST', (id) => `/v1/runs/${id}/approvals/gate`, { action: 'accept' }],
  ['POST', (id) => `/v1/runs/${id}:pause`, {}],
  ['POST', (id) => `/v1/runs/${id}:resume`, {}],
];

describe.skipIf(!target.keyB || (await lacks('the tenancy scenarios', { fixtures: ['conformance-cancellable', 'conformance-noop'] })))(
  'security: tenancy',
  () => {
    it.each(ROUTES)('invariant: no-cross-tenant-oracle — %s on a foreign run looks exactly like a missing run', async (method, path, body) => {
      const { runId } = await startRun('conformance-noop');
      await waitForTerminal(runId);
      const opts = { key: target.keyB as string, ...(body === undefined ? {} : { body }) };
      const foreign = await call(method, path(runId), opts);
      const missing = await call(method, path('run_AAAAAAAAAAAAAAAAAAAAAAAA'), opts);
      expect(foreign.status).toBe(404);
      expect(foreign.status).toBe(missing.status);
      expect(foreign.body).toEqual(missing.body);
      expect(foreign.headers.get('www-authenticate')).toBeNull();
      expect(foreign.text).not.toContain(runId);
    });

    it("invariant: no-cross-tenant-oracle — a foreign tenant never sees another tenant's runs in the list", async () => {
      const { runId } = await startRun('conformance-noop');
      const listed = await call<{ runs: { runId: string }[] }>('GET', '/v1/runs?limit=200', { key: target.keyB as string });
      expect(listed.status).toBe(200);
      expect(listed.body.runs.some((r) => r.runId === runId)).toBe(false);
    });

    it('invariant: no-cross-tenant-oracle — bulk-cancel of a foreign run reports not_found and leaves it alone', async () => {
      const { runId } = await startRun('conformance-cancellable');
      const r = await call<{ results: { ok: boolean; error?: { code: string } }[] }>('POST', '/v1/runs:bulk-cancel', {
        key: target.keyB as string,
        body: { runIds: [runId] },
      });
      expect(r.body.results[0]).toMatchObject({ ok: false, error: { code: 'not_found' } });
      expect((await snapshot(runId)).status).not.toBe('cancelled');
      await call('POST', `/v1/runs/${runId}/cancel`, { body: {} });
    });

    it('invariant: tenant-from-credential — a tenantId in the body never changes the run owner', async () => {
      const r = await call<{ runId: string }>('POST', '/v1/runs', { body: { workflowId: 'conformance-noop', tenantId: 'tenant-b' } });
      expect(r.status).toBe(201);
      await waitForTerminal(r.body.runId);
      const snap = await snapshot(r.body.runId);
      if (target.inProcess) expect(snap.owner).toMatchObject({ tenant: 'tenant-a' });
      expect((await call('GET', `/v1/runs/${r.body.runId}`, { key: target.keyB as string })).status).toBe(404);
    });
  },
);
