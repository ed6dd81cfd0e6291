import { RUN_SNAPSHOT_FIELDS, compileValidator, type RunSnapshot } from '@weft/contract';
import type { RunRecord, StoredWorkflow } from '@weft/engine';
import { describe, expect, it } from 'vitest';
import { toSnapshot } from './snapshot.js';

/** The builder's output against the contract schema with its root closed: every field is declared. */
const checkClosed = compileValidator<RunSnapshot>(RUN_SNAPSHOT_FIELDS);

const baseRecord = (over: Partial<RunRecord['projection']> = {}, rec: Partial<RunRecord> = {}): RunRecord => ({
  runId: 'run-1',
  tenant: 't1',
  principal: 'key:alice',
  workflowId: 'wf',
  workflowHash: 'h',
  createdAt: '2026-01-01T00:00:00.000Z',
  variables: { name: 'x', secret: 's3cret' },
  configurable: {},
  tags: ['a'],
  metadata: { m: 1 },
  cancelRequested: null,
  projection: { status: 'running', lastSequence: 3, nodeExecutions: 1, nodeStates: { n1: { status: 'running', typeId: 'core.noop' } }, ...over },
  leaseOwner: null,
  leaseEpoch: 0,
  leaseExpiresAt: null,
  ...rec,
});

const workflow: StoredWorkflow = {
  id: 'wf',
  hash: 'h',
  source: 'api',
  createdAt: '2026-01-01T00:00:00.000Z',
  definition: {
    id: 'wf',
    name: 'wf',
    version: '1',
    nodes: [{ id: 'n1', typeId: 'core.noop', name: 'n1', position: { x: 0, y: 0 }, config: {}, inputs: {} }],
    edges: [],
    triggers: [],
    variables: [{ name: 'secret', type: 'string', sensitive: true }],
    metadata: {},
    settings: {},
  },
};

describe('toSnapshot', () => {
  it('emits only fields the contract declares, for a run that waits, failed, was paused or has children', () => {
    const waiting = baseRecord({
      status: 'waiting-approval',
      currentNodeId: 'n1',
      startedAt: '2026-01-01T00:00:01.000Z',
      interrupts: {
        i1: {
          interruptId: 'i1',
          nodeId: 'n1',
          kind: 'approval',
          key: 'k',
          status: 'pending',
          data: { title: 'ok?' },
          requestedAt: '2026-01-01T00:00:02.000Z',
          expiresAt: '2026-01-01T01:00:00.000Z',
          resumeSchema: { type: 'object' },
          votes: [{ principal: 'key:bob', action: 'accept', at: '2026-01-01T00:00:03.000Z', comment: 'fine' }],
        },
      },
      parent: { runId: 'run-0', nodeId: 'sub' },
      children: { sub: { runId: 'run-2', workflowId: 'child' } },
      paused: { at: '2026-01-01T00:00:04.000Z', drainPolicy: 'immediate' },
    });
    const mint = () => ({ token: 'tok', expiresAt: Date.parse('2026-01-01T01:00:00.000Z') });
    const failed = baseRecord(
      { status: 'failed', endedAt: '2026-01-01T00:00:05.000Z', error: { code: 'boom', message: 'it broke' }, outputs: { o: 1 } },
      { cancelRequested: { reason: 'stop' } },
    );
    for (const snap of [toSnapshot(waiting, workflow, mint), toSnapshot(failed, workflow), toSnapshot(baseRecord(), undefined)]) {
      expect(() => checkClosed(snap)).not.toThrow();
    }
    const w = toSnapshot(waiting, workflow, mint);
    expect(w.interrupt).toMatchObject({
      interruptId: 'i1',
      interruptToken: 'tok',
      votes: [{ principal: 'key:bob', action: 'accept', at: '2026-01-01T00:00:03.000Z' }],
    });
    expect(w.childRuns).toEqual([{ runId: 'run-2', nodeId: 'sub', workflowId: 'child' }]);
    expect(w.variables).toEqual({ name: 'x', secret: '[REDACTED]' });
    const f = toSnapshot(failed, workflow);
    expect(f).toMatchObject({ status: 'failed', completedAt: '2026-01-01T00:00:05.000Z', endedAt: '2026-01-01T00:00:05.000Z', error: { code: 'boom' } });
  });

  it('the closed check refuses an undeclared field', () => {
    const snap = { ...toSnapshot(baseRecord(), undefined), inventedField: 1 };
    expect(() => checkClosed(snap)).toThrow(/invalid/);
  });
});
