import { describe, expect, it } from 'vitest';
import { docsOf, lacks, sse, startRun, target, waitForEvent, waitForTerminal } from '../harness.js';

describe.skipIf(await lacks('the SSE mode scenarios', { fixtures: ['conformance-delay', 'conformance-multi-node', 'conformance-noop'] }))(
  'stream-sse: modes',
  () => {
    it('defaults to updates: run transitions, no node.started, closed by the server after the terminal event', async () => {
      const { runId } = await startRun('conformance-noop');
      const s = await sse(runId);
      expect(s.status).toBe(200);
      expect(s.headers.get('content-type')).toContain('text/event-stream');
      const types = s.frames.map((f) => f.event);
      expect(types).toContain('run.started');
      expect(types).toContain('run.completed');
      expect(types).not.toContain('node.started');
      expect(types.at(-1)).toBe('run.completed');
      expect(s.closedBy).toBe('server');
      for (const f of s.frames) {
        const doc = JSON.parse(f.data) as { sequence: number; type: string };
        expect(f.id).toBe(String(doc.sequence));
        expect(f.event).toBe(doc.type);
      }
    });

    it('debug carries every event and at least as many as updates', async () => {
      const { runId } = await startRun('conformance-multi-node');
      await waitForTerminal(runId);
      const updates = await sse(runId, 'streamMode=updates');
      const debug = await sse(runId, 'streamMode=debug');
      expect(debug.frames.length).toBeGreaterThanOrEqual(updates.frames.length);
      expect(debug.frames.map((f) => f.event)).toContain('node.started');
      expect(docsOf(debug.frames).map((d) => d.sequence)).toEqual(docsOf(debug.frames).map((_, i) => i));
    });

    it('values emits state.snapshot frames with the run snapshot and closes', async () => {
      const { runId } = await startRun('conformance-noop');
      const s = await sse(runId, 'streamMode=values');
      expect(s.status).toBe(200);
      expect(s.frames.length).toBeGreaterThanOrEqual(1);
      expect(s.frames.every((f) => f.event === 'state.snapshot')).toBe(true);
      const last = JSON.parse(s.frames.at(-1)?.data ?? '{}') as { payload: { runId: string; status: string } };
      expect(last.payload.runId).toBe(runId);
      expect(last.payload.status).toBe('completed');
      expect(s.closedBy).toBe('server');
    });

    it('messages is accepted and closes at the end of the run', async () => {
      const { runId } = await startRun('conformance-noop');
      const s = await sse(runId, 'streamMode=messages');
      expect(s.status).toBe(200);
      expect(s.closedBy).toBe('server');
      expect(s.frames.every((f) => f.event === 'ai.message.chunk')).toBe(true);
    });

    it('mixed modes are the union, keep the event type as the event name, and include the terminal event', async () => {
      const { runId } = await startRun('conformance-multi-node');
      await waitForTerminal(runId);
      const mixed = await sse(runId, 'streamMode=updates,messages');
      expect(mixed.status).toBe(200);
      expect(mixed.frames.map((f) => f.event)).toContain('run.completed');
      const updates = await sse(runId, 'streamMode=updates');
      const union = await sse(runId, 'streamMode=updates,debug');
      const unionTypes = new Set(union.frames.map((f) => f.event));
      for (const t of updates.frames.map((f) => f.event)) expect(unionTypes.has(t)).toBe(true);
    });

    it.each(['values,updates', 'updates,bogus', 'bogus', 'updates,'])(
      'rejects streamMode=%s with 400 unsupported_stream_mode listing supported modes',
      async (mode) => {
        const { runId } = await startRun('conformance-noop');
        const s = await sse(runId, `streamMode=${encodeURIComponent(mode)}`);
        expect(s.status).toBe(400);
        expect(s.error).toMatchObject({ error: 'unsupported_stream_mode' });
        const supported = (s.error?.details as { supported: string[] }).supported;
        expect(supported).toEqual(expect.arrayContaining(['updates', 'values', 'messages', 'debug']));
        expect(supported.every((m) => !m.includes(','))).toBe(true);
      },
    );

    it('bufferMs batches events into non-empty JSON-array frames', async () => {
      const { runId } = await startRun('conformance-delay', { inputs: { delayMs: 300 } });
      const s = await sse(runId, 'streamMode=debug&bufferMs=200');
      const batches = s.frames.filter((f) => f.event === 'batch');
      expect(batches.length).toBeGreaterThanOrEqual(1);
      for (const b of batches) {
        const docs = JSON.parse(b.data) as { sequence: number; type: string }[];
        expect(Array.isArray(docs) && docs.length > 0).toBe(true);
        expect(b.id).toBe(String(docs.at(-1)?.sequence));
      }
      expect(docsOf(s.frames).at(-1)?.type).toBe('run.completed');
    });

    it('force-flushes the terminal event instead of waiting out a long buffer', async () => {
      const { runId } = await startRun('conformance-noop');
      // The stream must end with the terminal event well before the 4 s buffer would elapse.
      const s = await sse(runId, 'bufferMs=4000', { deadlineMs: 1500 });
      expect(s.closedBy).toBe('server');
      expect(docsOf(s.frames).at(-1)?.type).toBe('run.completed');
    });

    it('bufferMs=0 sends no batch frames; out-of-range bufferMs is 400', async () => {
      const { runId } = await startRun('conformance-noop');
      const s = await sse(runId, 'bufferMs=0');
      expect(s.frames.some((f) => f.event === 'batch')).toBe(false);
      expect(s.frames.length).toBeGreaterThan(0);
      for (const bad of ['99999', '-1', 'abc', '1.5']) expect((await sse(runId, `bufferMs=${bad}`)).status, bad).toBe(400);
    });
  },
);

describe.skipIf(await lacks('the SSE resume scenarios', { fixtures: ['conformance-delay', 'conformance-multi-node', 'conformance-noop'] }))(
  'stream-sse: resume and live delivery',
  () => {
    it('resumes strictly after Last-Event-ID', async () => {
      const { runId } = await startRun('conformance-multi-node');
      await waitForTerminal(runId);
      const s = await sse(runId, 'streamMode=debug', { headers: { 'last-event-id': '2' } });
      const seqs = docsOf(s.frames).map((d) => d.sequence);
      expect(seqs[0]).toBe(3);
      expect(seqs.every((q) => q > 2)).toBe(true);
    });

    it('reconnecting after the terminal event gets 200 and nothing more', async () => {
      const { runId } = await startRun('conformance-noop');
      const evs = await waitForTerminal(runId);
      const s = await sse(runId, 'streamMode=debug', { headers: { 'last-event-id': String(evs.at(-1)?.sequence) } });
      expect(s.status).toBe(200);
      expect(s.frames).toHaveLength(0);
      expect(s.closedBy).toBe('server');
    });

    it('a subscriber joining mid-run loses and duplicates nothing', async (ctx) => {
      const why = await lacks('the mid-run subscriber scenario', { workflows: ['weft-fanout'] });
      if (why) return ctx.skip(why);
      const { runId } = await startRun('weft-fanout');
      const s = await sse(runId, 'streamMode=debug');
      const seqs = docsOf(s.frames).map((d) => d.sequence);
      expect(seqs).toEqual(seqs.map((_, i) => i));
      expect(docsOf(s.frames).at(-1)?.type).toBe('run.completed');
    });

    it('streams live events of a running delay and closes after run.completed', async () => {
      const { runId } = await startRun('conformance-delay', { inputs: { delayMs: 300 } });
      await waitForEvent(runId, 'node.started');
      const s = await sse(runId, 'streamMode=debug');
      const types = docsOf(s.frames).map((d) => d.type);
      expect(types).toEqual(['run.started', 'node.started', 'node.completed', 'run.completed']);
      expect(s.closedBy).toBe('server');
    });

    it.skipIf(!target.inProcess)('sends keepalive comments while a run is idle', async () => {
      const { runId } = await startRun('conformance-delay', { inputs: { delayMs: 5000 } });
      const s = await sse(runId, 'streamMode=updates', { stopWhen: (r) => r.comments.includes('keepalive'), deadlineMs: 4000 });
      expect(s.comments).toContain('keepalive');
      await fetch(`${target.baseUrl}/v1/runs/${runId}/cancel`, { method: 'POST', headers: { authorization: `Bearer ${target.keyA}` } });
    });

    it('an Accept: application/json caller gets the events as JSON', async () => {
      const { runId } = await startRun('conformance-noop');
      await waitForTerminal(runId);
      const res = await fetch(`${target.baseUrl}/v1/runs/${runId}/events?streamMode=debug`, {
        headers: { accept: 'application/json', authorization: `Bearer ${target.keyA}` },
      });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { events: { type: string }[] };
      expect(body.events.map((e) => e.type)).toEqual(['run.started', 'node.started', 'node.completed', 'run.completed']);
    });
  },
);
