/**
 * `core.code` black-box, through the `weft-code` example workflow: the function runs in the
 * sandbox and its result becomes the node's outputs; a throw fails the node with `code_failed`;
 * reaching for `process` is denied by the sandbox.
 */
import { describe, expect, it } from 'vitest';
import type { RunEventDoc } from '@weft/contract';
import { lacks, startRun, waitForTerminal } from '../harness.js';

const failed = (evs: RunEventDoc[]) => (evs.find((e) => e.type === 'node.failed')?.payload as { error?: { code: string } } | undefined)?.error;

describe.skipIf(await lacks('the core.code scenarios', { workflows: ['weft-code'] }))('core.code: a JavaScript function in the sandbox', () => {
  it('returns the function result as the node outputs', async () => {
    const { runId } = await startRun('weft-code', { inputs: { items: [1, 2, 3.5] } });
    const evs = await waitForTerminal(runId);
    expect(evs.at(-1)?.type).toBe('run.completed');
    expect(evs.find((e) => e.type === 'node.completed')?.payload).toMatchObject({ outputs: { total: 6.5, count: 3 } });
  });

  it('a throw fails the node with code_failed and the message', async () => {
    const evs = await waitForTerminal((await startRun('weft-code', { inputs: { mode: 'throw' } })).runId);
    expect(evs.at(-1)?.type).toBe('run.failed');
    expect(failed(evs)).toMatchObject({ code: 'code_failed' });
  });

  it('invariant: node-pack-sandbox-no-process — core.code reaching for process is denied; the host is unaffected', async () => {
    const evs = await waitForTerminal((await startRun('weft-code', { inputs: { mode: 'escape' } })).runId);
    expect(evs.at(-1)?.type).toBe('run.failed');
    expect(failed(evs)?.code).toBe('sandbox_capability_denied');
    const ok = await waitForTerminal((await startRun('weft-code', { inputs: { items: [2] } })).runId);
    expect(ok.at(-1)?.type).toBe('run.completed');
  });
});
