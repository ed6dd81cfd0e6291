/**
 * The reserved flow and variable nodes, black-box, through the `weft-flow` example workflow:
 * `core.conditional` routes by a predicate (the untaken branch is skipped), `core.merge` joins,
 * `core.setVariable` / `core.getVariable` write and read a run variable (with
 * `variable.changed`), `core.loop` iterates under its cap.
 */
import { describe, expect, it } from 'vitest';
import type { RunEventDoc } from '@weft/contract';
import { lacks, snapshot, startRun, waitForTerminal } from '../harness.js';

const byNode = (evs: RunEventDoc[], type: string) => new Map(evs.filter((e) => e.type === type).map((e) => [e.nodeId, e.payload as Record<string, unknown>]));

describe.skipIf(await lacks('the flow-node scenarios', { workflows: ['weft-flow'] }))('flow nodes: core.conditional, core.merge, core.loop, variables', () => {
  it('a large order takes the then-branch; the else-branch is skipped; the variable is set and read back', async () => {
    const { runId } = await startRun('weft-flow', { inputs: { amount: 250, items: ['a', 'b', 'c'] } });
    const evs = await waitForTerminal(runId);
    expect(evs.at(-1)?.type).toBe('run.completed');
    const done = byNode(evs, 'node.completed');
    expect(done.get('check')?.outputs).toEqual({ branch: 'then', matched: true, value: 250 });
    expect(byNode(evs, 'node.skipped').has('small')).toBe(true);
    expect(done.has('join')).toBe(true);
    expect(done.get('lines')?.outputs).toMatchObject({
      count: 3,
      items: [
        { index: 0, item: 'a' },
        { index: 1, item: 'b' },
        { index: 2, item: 'c' },
      ],
    });
    expect(done.get('read')?.outputs).toEqual({ name: 'size', value: 'big' });
    expect(done.get('end')?.outputs).toEqual({ size: 'big' });
    expect(evs.find((e) => e.type === 'variable.changed')?.payload).toMatchObject({ name: 'size', next: 'big' });
    expect((await snapshot(runId)).variables).toMatchObject({ size: 'big' });
  });

  it('a small order takes the else-branch', async () => {
    const { runId } = await startRun('weft-flow', { inputs: { amount: 20 } });
    const evs = await waitForTerminal(runId);
    expect(byNode(evs, 'node.completed').get('read')?.outputs).toEqual({ name: 'size', value: 'small' });
    expect(byNode(evs, 'node.skipped').has('big')).toBe(true);
  });

  it('more line items than the loop allows fail the run with loop_limit_exceeded', async () => {
    const { runId } = await startRun('weft-flow', { inputs: { amount: 1, items: Array.from({ length: 101 }, (_, i) => i) } });
    const evs = await waitForTerminal(runId);
    expect(evs.at(-1)?.type).toBe('run.failed');
    expect(byNode(evs, 'node.failed').get('lines')).toMatchObject({ error: { code: 'loop_limit_exceeded' } });
  });
});
