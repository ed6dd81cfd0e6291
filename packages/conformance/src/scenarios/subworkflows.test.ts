import { describe, expect, it } from 'vitest';
import { call, lacks, snapshot, startRun, waitForEvent, waitForTerminal } from '../harness.js';

describe.skipIf(
  await lacks('the sub-workflow scenarios', {
    fixtures: [
      'conformance-interrupt-parent-child-cancel',
      'conformance-subworkflow-child',
      'conformance-subworkflow-input-mapping',
      'conformance-subworkflow-parent',
    ],
  }),
)('interrupts: sub-workflows', () => {
  it('runs a child to completion, links parent and child, and maps child variables back', async () => {
    const { runId } = await startRun('conformance-subworkflow-parent');
    const evs = await waitForTerminal(runId);
    expect(evs.at(-1)?.type).toBe('run.completed');
    const dispatched = evs.find((e) => e.type === 'node.dispatched');
    expect(dispatched?.nodeId).toBe('subwf-call');
    const childRunId = (dispatched?.payload as { childRunId: string }).childRunId;
    const parent = await snapshot(runId);
    expect(parent.childRuns).toEqual([expect.objectContaining({ runId: childRunId, nodeId: 'subwf-call' })]);
    expect(parent.variables).toMatchObject({ childOutcome: 'child-completed' });
    const child = await snapshot(childRunId);
    expect(child).toMatchObject({ status: 'completed', parentRunId: runId, parentNodeId: 'subwf-call', workflowId: 'conformance-subworkflow-child' });
    expect(evs.find((e) => e.type === 'node.completed' && e.nodeId === 'subwf-call')?.payload).toMatchObject({
      outputs: { childOutcome: 'child-completed', childRunId },
    });
  });

  it('seeds child variables through inputMapping', async () => {
    const { runId } = await startRun('conformance-subworkflow-input-mapping');
    const evs = await waitForTerminal(runId);
    expect(evs.at(-1)?.type).toBe('run.completed');
    const childRunId = (evs.find((e) => e.type === 'node.dispatched')?.payload as { childRunId: string }).childRunId;
    expect((await snapshot(childRunId)).variables).toMatchObject({ receivedPrdId: 'prd-1' });
  });

  it('mirrors the child waiting status and cascades cancellation; the child interrupt is then gone (410)', async () => {
    const { runId } = await startRun('conformance-interrupt-parent-child-cancel');
    const evs = await waitForEvent(runId, 'node.dispatched');
    const childRunId = (evs.find((e) => e.type === 'node.dispatched')?.payload as { childRunId: string }).childRunId;
    await waitForEvent(childRunId, 'interrupt.requested');
    expect((await snapshot(runId)).status).toBe('waiting-approval');
    const childSnap = await snapshot(childRunId);
    const token = (childSnap.interrupt as { interruptToken: string }).interruptToken;
    expect((await call('POST', `/v1/runs/${runId}/cancel`, { body: { reason: 'stop all' } })).status).toBe(200);
    const parentEvs = await waitForTerminal(runId, 5000);
    expect(parentEvs.at(-1)?.type).toBe('run.cancelled');
    const childEvs = await waitForTerminal(childRunId, 5000);
    expect(childEvs.at(-1)?.payload).toMatchObject({ reason: 'parent-cancelled', parentRunId: runId });
    const late = await call('POST', `/v1/runs/${childRunId}/interrupts/child-gate`, { body: { resumeValue: { action: 'accept' } } });
    expect(late.status).toBe(410);
    expect(late.body).toMatchObject({ error: 'interrupt_gone' });
    expect((await call('POST', `/v1/interrupts/${token}`, { key: null, body: { resumeValue: { action: 'accept' } } })).status).toBe(410);
  });

  it('a child approval resolved directly lets the parent finish', async () => {
    const { runId } = await startRun('conformance-interrupt-parent-child-cancel');
    const evs = await waitForEvent(runId, 'node.dispatched');
    const childRunId = (evs.find((e) => e.type === 'node.dispatched')?.payload as { childRunId: string }).childRunId;
    await waitForEvent(childRunId, 'interrupt.requested');
    expect((await call('POST', `/v1/runs/${childRunId}/interrupts/child-gate`, { body: { resumeValue: { action: 'accept' } } })).status).toBe(200);
    expect((await waitForTerminal(runId)).at(-1)?.type).toBe('run.completed');
    expect((await snapshot(runId)).status).toBe('completed');
  });

  it('onChildFailure absorb records the child failure and the parent continues', async (ctx) => {
    if ((await call('GET', '/v1/workflows/weft-absorb')).status !== 200) return ctx.skip();
    const { runId } = await startRun('weft-absorb');
    const evs = await waitForTerminal(runId);
    expect(evs.at(-1)?.type).toBe('run.completed');
    const childDone = evs.find((e) => e.type === 'node.completed' && e.nodeId === 'child');
    expect(childDone?.payload).toMatchObject({ outputs: { childStatus: 'failed', childError: { code: 'deterministic_fail' } } });
    expect(evs.filter((e) => e.type === 'node.completed').map((e) => e.nodeId)).toEqual(['child', 'after']);
    const childRunId = (evs.find((e) => e.type === 'node.dispatched')?.payload as { childRunId: string }).childRunId;
    expect((await snapshot(childRunId)).status).toBe('failed');
  });
});
