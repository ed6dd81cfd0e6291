import pc from 'picocolors';
import { describe, expect, it } from 'vitest';
import { exitCodeForStatus, formatFinalStatus, formatSnapshot, formatTable, formatWorkflowList } from './run-format.js';

const plain = pc.createColors(false);

describe('run formatting', () => {
  it('maps final statuses to distinct exit codes', () => {
    expect(['completed', 'failed', 'cancelled', 'running'].map(exitCodeForStatus)).toEqual([0, 2, 3, 1]);
  });

  it('aligns table columns without trailing spaces', () => {
    expect(
      formatTable([
        ['A', 'LONG HEADER', 'C'],
        ['long value', 'b', ''],
      ]),
    ).toBe('A           LONG HEADER  C\nlong value  b');
  });

  it('shows the present snapshot fields only', () => {
    const text = formatSnapshot(
      { runId: 'r1', workflowId: 'wf', status: 'failed', startedAt: 's', endedAt: 'e', error: { code: 'x', message: 'y' }, variables: {} },
      plain,
    );
    expect(text).toBe(['run       r1', 'workflow  wf', 'status    failed', 'started   s', 'ended     e', 'error     x: y'].join('\n'));
    expect(formatFinalStatus({ runId: 'r1', workflowId: 'wf', status: 'completed' }, plain)).toBe('run r1 completed');
  });

  it('shows pause, pending interrupts and the run family', () => {
    const text = formatSnapshot(
      {
        runId: 'r1',
        workflowId: 'wf',
        status: 'waiting-approval',
        pausedAt: 'p',
        interrupt: { kind: 'approval', nodeId: 'gate', interruptId: 'i1', key: 'gate', payload: {}, requestedAt: 't' },
        pendingInterrupts: [
          { nodeId: 'gate', interruptId: 'i1', kind: 'approval' },
          { nodeId: 'ask', interruptId: 'i2', kind: 'clarification' },
        ],
        parentRunId: 'r0',
        parentNodeId: 'sub',
        childRuns: [{ runId: 'r2', nodeId: 'child', workflowId: 'wf2' }],
      },
      plain,
    );
    expect(text.split('\n').slice(2)).toEqual([
      'status      waiting-approval',
      'paused      p',
      'waiting on  approval at node gate, clarification at node ask; see weft interrupts show r1',
      'parent      r0 (node sub)',
      'child runs  r2 (node child)',
    ]);
  });

  it('lists workflows with a short hash', () => {
    expect(formatWorkflowList([{ id: 'wf', name: 'Wf', version: '1', hash: 'abcdef0123456789', source: 'api', createdAt: 'c', runnable: false }])).toBe(
      'ID  NAME  VERSION  HASH          SOURCE  RUNNABLE\nwf  Wf    1        abcdef012345  api     no',
    );
    expect(formatWorkflowList([])).toBe('no workflows');
  });
});
