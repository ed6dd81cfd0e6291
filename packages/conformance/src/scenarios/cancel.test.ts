import { describe, expect, it } from 'vitest';
import { call, lacks, snapshot, startRun, waitForEvent, waitForTerminal } from '../harness.js';

describe.skipIf(await lacks('the cancellation scenarios', { fixtures: ['conformance-cancellable', 'conformance-noop'] }))('core: cancellation', () => {
  it('cancels a sleeping run: node.cancelled then run.cancelled, status cancelled', async () => {
    const { runId } = await startRun('conformance-cancellable');
    await waitForEvent(runId, 'node.started');
    const r = await call('POST', `/v1/runs/${runId}/cancel`, { body: { reason: 'test says stop' } });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ runId });
    expect(['cancelled', 'cancelling']).toContain((r.body as { status: string }).status);
    const evs = await waitForTerminal(runId, 5000);
    expect(evs.map((e) => e.type).slice(-2)).toEqual(['node.cancelled', 'run.cancelled']);
    expect(evs.at(-1)?.payload).toMatchObject({ reason: 'test says stop' });
    expect((await snapshot(runId)).status).toBe('cancelled');
  });

  it('cancel is idempotent on a cancelled run and refuses completed runs with 409 run_terminal', async () => {
    const { runId } = await startRun('conformance-cancellable');
    await waitForEvent(runId, 'node.started');
    await call('POST', `/v1/runs/${runId}/cancel`, { body: {} });
    await waitForTerminal(runId, 5000);
    const again = await call('POST', `/v1/runs/${runId}/cancel`, { body: {} });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ status: 'cancelled' });
    const done = await startRun('conformance-noop');
    await waitForTerminal(done.runId);
    const late = await call('POST', `/v1/runs/${done.runId}/cancel`, { body: {} });
    expect(late.status).toBe(409);
    expect(late.body).toMatchObject({ error: 'run_terminal', details: { runStatus: 'completed' } });
  });

  it('cancel accepts an empty body and answers 404 for unknown runs', async () => {
    const r = await call('POST', '/v1/runs/run_nope_nope/cancel');
    expect(r.status).toBe(404);
    const bad = await call('POST', '/v1/runs/run_nope_nope/cancel', { body: { reason: 5 } });
    expect(bad.status).toBe(400);
  });

  it('bulk-cancels in request order with per-run results', async () => {
    const a = await startRun('conformance-cancellable');
    const done = await startRun('conformance-noop');
    await waitForTerminal(done.runId);
    await waitForEvent(a.runId, 'node.started');
    const r = await call<{ results: { runId: string; ok: boolean; status?: string; error?: { code: string } }[] }>('POST', '/v1/runs:bulk-cancel', {
      body: { runIds: [a.runId, 'run_missing_1', done.runId], reason: 'bulk' },
    });
    expect(r.status).toBe(200);
    expect(r.body.results.map((x) => x.runId)).toEqual([a.runId, 'run_missing_1', done.runId]);
    expect(r.body.results[0]).toMatchObject({ ok: true });
    expect(r.body.results[1]).toMatchObject({ ok: false, error: { code: 'not_found' } });
    expect(r.body.results[2]).toMatchObject({ ok: false, error: { code: 'run_terminal' } });
    const evs = await waitForTerminal(a.runId, 5000);
    expect(evs.at(-1)?.type).toBe('run.cancelled');
  });

  it('bulk-cancel validates its body', async () => {
    expect((await call('POST', '/v1/runs:bulk-cancel', { body: { runIds: [] } })).status).toBe(400);
    expect((await call('POST', '/v1/runs:bulk-cancel', { body: { runIds: [1, 2] } })).status).toBe(400);
    const tooMany = await call('POST', '/v1/runs:bulk-cancel', { body: { runIds: Array.from({ length: 101 }, (_, i) => `run_${i}`) } });
    expect(tooMany.status).toBe(400);
    expect(tooMany.body).toMatchObject({ error: 'validation_error', details: { maxRunIds: 100 } });
  });
});
