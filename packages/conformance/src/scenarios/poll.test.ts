import { describe, expect, it } from 'vitest';
import { lacks, poll, startRun, waitForEvent, waitForTerminal } from '../harness.js';

describe.skipIf(await lacks('the poll scenarios', { fixtures: ['conformance-delay', 'conformance-failure', 'conformance-multi-node', 'conformance-noop'] }))(
  'stream-poll: events',
  () => {
    it('returns all events without parameters, then only newer ones after lastSequence', async () => {
      const { runId } = await startRun('conformance-multi-node');
      const all = await waitForTerminal(runId);
      const r = await poll(runId);
      expect(r.status).toBe(200);
      expect(r.body.events.map((e) => e.sequence)).toEqual(all.map((e) => e.sequence));
      expect(r.body).toMatchObject({ runId, runStatus: 'completed', isTerminal: true, isComplete: true, lastEventSeq: all.length - 1 });
      const after = await poll(runId, 'lastSequence=2');
      expect(after.body.events.map((e) => e.sequence)).toEqual(all.filter((e) => e.sequence > 2).map((e) => e.sequence));
      const legacy = await poll(runId, 'since=2');
      expect(legacy.body.events).toEqual(after.body.events);
    });

    it('answers a cursor past the end with 200 and no events', async () => {
      const { runId } = await startRun('conformance-noop');
      await waitForTerminal(runId);
      const r = await poll(runId, 'lastSequence=999999&timeout=1');
      expect(r.status).toBe(200);
      expect(r.body.events).toEqual([]);
    });

    it('gives identical answers for repeated polls of a terminal run', async () => {
      const { runId } = await startRun('conformance-failure');
      await waitForTerminal(runId);
      const a = await poll(runId);
      const b = await poll(runId);
      expect(b.body.events).toEqual(a.body.events);
    });

    it('rejects malformed cursors and timeouts with 400', async () => {
      const { runId } = await startRun('conformance-noop');
      for (const q of ['lastSequence=abc', 'lastSequence=-5', 'since=1.5', 'timeout=61', 'timeout=x']) {
        expect((await poll(runId, q)).status, q).toBe(400);
      }
      expect((await poll('run_unknown_poll')).status).toBe(404);
    });

    it('long-polls: a poll at the head of a running run returns when the next event is appended', async () => {
      const { runId } = await startRun('conformance-delay', { inputs: { delayMs: 400 } });
      const seen = await waitForEvent(runId, 'node.started');
      const head = seen.at(-1)?.sequence ?? 0;
      const r = await poll(runId, `lastSequence=${head}&timeout=20`);
      expect(r.status).toBe(200);
      expect(r.body.events.length).toBeGreaterThan(0);
      expect(r.body.events[0]?.sequence).toBe(head + 1);
      expect(r.body.events[0]?.type).toBe('node.completed');
    });
  },
);
