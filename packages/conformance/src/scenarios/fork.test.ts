/**
 * Fork and replay (`POST /v1/runs/{runId}:fork`), black-box: a replay fork of a run with an HTTP
 * effect serves the recorded outcome (the target never sees a second request) and reaches the
 * same outputs; a branch fork runs live from `fromSeq` with its overlay; a replay that reaches an
 * effect the source never recorded fails closed with `replay_source_missing`; and every refusal
 * the wire digest lists (400, 401, 403, 404, 409, 422).
 *
 * The HTTP scenarios need the `weft-http-request` example workflow and an outbound target the
 * host allows that counts requests (`/hits`, packages/testkit/src/outbound-target.ts).
 */
import { describe, expect, it } from 'vitest';
import type { RunEventDoc } from '@weft/contract';
import { call, freshKey, lacks, snapshot, startRun, target, waitForEvent, waitForTerminal } from '../harness.js';

const discovery = (await call('GET', '/.well-known/openwop', { key: null })).body as {
  replay?: { supported?: boolean; modes?: string[]; sideEffectSuppression?: string };
};
const gated = discovery.replay?.supported === true ? await lacks('the fork scenarios', { workflows: ['weft-http-request', 'weft-hello'] }) : 'no replay';
if (gated === 'no replay') process.stderr.write('skipping the fork scenarios: the host does not advertise replay\n');
const noTarget = !target.outboundTarget;

interface ForkBody {
  runId: string;
  sourceRunId: string;
  fromSeq: number;
  mode: string;
  status: string;
  eventsUrl: string;
}

const fork = (runId: string, body: unknown, opts: { key?: string | null; idem?: string } = {}) =>
  call<ForkBody>('POST', `/v1/runs/${runId}:fork`, {
    body,
    ...(opts.key === undefined ? {} : { key: opts.key }),
    ...(opts.idem ? { headers: { 'idempotency-key': opts.idem } } : {}),
  });

/** How many requests the outbound target saw with `count=<key>`. */
async function hits(key: string): Promise<number> {
  const r = await fetch(`${target.outboundTarget}/hits?key=${encodeURIComponent(key)}`);
  return ((await r.json()) as { count: number }).count;
}

/** A completed weft-http-request run that called the target once under a fresh counter key. */
async function httpRun(): Promise<{ runId: string; key: string; events: RunEventDoc[] }> {
  const key = freshKey();
  const { runId } = await startRun('weft-http-request', { inputs: { url: `${target.outboundTarget}/echo?count=${key}` } });
  const events = await waitForTerminal(runId);
  expect(events.at(-1)?.type).toBe('run.completed');
  expect(await hits(key)).toBe(1);
  return { runId, key, events };
}

const outputsOf = (evs: RunEventDoc[]) => evs.find((e) => e.type === 'node.completed')?.payload as { outputs?: Record<string, unknown> } | undefined;
/** An event as the fork should carry it: everything but the run-bound ids. */
const comparable = (e: RunEventDoc) => ({ ...e, runId: undefined, eventId: undefined });
/** Type, node and payload without measured durations (they are timing, not outcome). */
const shape = (e: RunEventDoc) => {
  const { durationMs: _d, ...payload } = (e.payload ?? {}) as Record<string, unknown>;
  return { type: e.type, nodeId: e.nodeId, payload };
};

describe.skipIf(gated)('fork and replay', () => {
  it('discovery advertises replay with both modes and recorded-outcome suppression', () => {
    expect(discovery.replay).toEqual({ supported: true, modes: ['replay', 'branch'], sideEffectSuppression: 'recorded-outcome' });
  });

  it.skipIf(noTarget)(
    'invariant: replay-side-effect-suppression — a replay fork from seq 0 does not call the target again and reaches the same outputs',
    async () => {
      const src = await httpRun();
      const r = await fork(src.runId, { mode: 'replay', fromSeq: 0 });
      expect(r.status).toBe(201);
      expect(r.body).toEqual({
        runId: expect.any(String),
        sourceRunId: src.runId,
        fromSeq: 0,
        mode: 'replay',
        status: 'pending',
        eventsUrl: `/v1/runs/${r.body.runId}/events`,
      });
      expect(r.body.runId).not.toBe(src.runId);
      const evs = await waitForTerminal(r.body.runId);
      expect(evs.at(-1)?.type).toBe('run.completed');
      expect(evs.map((e) => [e.type, e.nodeId])).toEqual(src.events.map((e) => [e.type, e.nodeId]));
      expect(outputsOf(evs)?.outputs).toEqual(outputsOf(src.events)?.outputs);
      expect(evs.some((e) => e.type === 'replay.diverged')).toBe(false);
      expect(await hits(src.key)).toBe(1);
      const snap = await snapshot(r.body.runId);
      expect(snap).toMatchObject({ status: 'completed', workflowId: 'weft-http-request', forkedFrom: { runId: src.runId, fromSeq: 0, mode: 'replay' } });
      expect(snap.outputs).toEqual((await snapshot(src.runId)).outputs);
    },
  );

  it.skipIf(noTarget)('a replay fork from the middle copies the prefix verbatim (new run id) and re-executes the rest from the record', async () => {
    const src = await httpRun();
    const fromSeq = (src.events.find((e) => e.type === 'node.started')?.sequence ?? 0) + 1;
    const r = await fork(src.runId, { mode: 'replay', fromSeq });
    expect(r.status).toBe(201);
    const evs = await waitForTerminal(r.body.runId);
    expect(evs.slice(0, fromSeq).map(comparable)).toEqual(src.events.slice(0, fromSeq).map(comparable));
    for (const e of evs) expect(e).toMatchObject({ runId: r.body.runId, eventId: `${r.body.runId}.${e.sequence}` });
    expect(evs.at(-1)?.type).toBe('run.completed');
    expect(outputsOf(evs)?.outputs).toEqual(outputsOf(src.events)?.outputs);
    expect(await hits(src.key)).toBe(1);
  });

  it.skipIf(noTarget)('two replay forks from the same point produce the same events (type, node, payload)', async () => {
    const src = await httpRun();
    const [a, b] = await Promise.all([fork(src.runId, { mode: 'replay' }), fork(src.runId, { mode: 'replay' })]);
    expect([a.status, b.status]).toEqual([201, 201]);
    const [ea, eb] = await Promise.all([waitForTerminal(a.body.runId), waitForTerminal(b.body.runId)]);
    expect(ea.map(shape)).toEqual(eb.map(shape));
    expect(ea.map(shape)).toEqual(src.events.map(shape));
    expect(await hits(src.key)).toBe(1);
  });

  it.skipIf(noTarget)('a branch fork with an overlay runs live from fromSeq: the target is called again, the overlay shows', async () => {
    const src = await httpRun();
    const fromSeq = src.events.find((e) => e.type === 'node.started')?.sequence as number;
    const r = await fork(src.runId, { mode: 'branch', fromSeq, runOptionsOverlay: { tags: ['branched'], metadata: { why: 'try again' } } });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ sourceRunId: src.runId, fromSeq, mode: 'branch', status: 'pending' });
    const evs = await waitForTerminal(r.body.runId);
    expect(evs.slice(0, fromSeq).map(comparable)).toEqual(src.events.slice(0, fromSeq).map(comparable));
    expect(evs.at(-1)?.type).toBe('run.completed');
    expect(await hits(src.key)).toBe(2);
    expect(await snapshot(r.body.runId)).toMatchObject({
      tags: ['branched'],
      metadata: { why: 'try again' },
      forkedFrom: { runId: src.runId, fromSeq, mode: 'branch' },
    });
  });

  it.skipIf(noTarget)(
    'invariant: replay-side-effect-suppression — a replayed effect the source never recorded fails closed with replay_source_missing, and nothing is sent',
    async () => {
      // The source's call is cancelled in flight: its invocation was never recorded.
      const key = freshKey();
      const { runId } = await startRun('weft-http-request', { inputs: { url: `${target.outboundTarget}/slow?ms=10000&count=${key}` } });
      await waitForEvent(runId, 'node.started');
      await expect.poll(() => hits(key), { timeout: 5000 }).toBe(1);
      expect((await call('POST', `/v1/runs/${runId}/cancel`, { body: {} })).status).toBe(200);
      expect((await waitForTerminal(runId)).at(-1)?.type).toBe('run.cancelled');
      const r = await fork(runId, { mode: 'replay' });
      expect(r.status).toBe(201);
      const evs = await waitForTerminal(r.body.runId);
      expect(evs.find((e) => e.type === 'node.failed')?.payload).toMatchObject({ nodeId: 'call', error: { code: 'replay_source_missing' } });
      expect(evs.at(-1)?.type).toBe('run.failed');
      expect(await hits(key)).toBe(1);
    },
  );

  it('a replay fork of a run without effects re-executes its pure nodes and reaches the same events', async () => {
    const { runId } = await startRun('weft-hello', { inputs: { greeting: 'hi' } });
    const src = await waitForTerminal(runId);
    const r = await fork(runId, { mode: 'replay' });
    const evs = await waitForTerminal(r.body.runId);
    expect(evs.map(shape)).toEqual(src.map(shape));
  });

  describe('refusals', () => {
    let source = '';
    let lastSeq = 0;
    const ensureSource = async () => {
      if (source) return source;
      const { runId } = await startRun('weft-hello', { inputs: { greeting: 'hi' } });
      lastSeq = (await waitForTerminal(runId)).at(-1)?.sequence as number;
      source = runId;
      return source;
    };

    it.each([
      ['no mode', {}],
      ['an unknown mode', { mode: 'rewind' }],
      ['a negative fromSeq', { mode: 'replay', fromSeq: -1 }],
      ['a fractional fromSeq', { mode: 'replay', fromSeq: 1.5 }],
      ['a string fromSeq', { mode: 'branch', fromSeq: '2' }],
      ['a branch without fromSeq', { mode: 'branch' }],
      ['an overlay on a replay', { mode: 'replay', runOptionsOverlay: { tags: ['x'] } }],
      ['an unknown body field', { mode: 'replay', inputs: {} }],
      ['an unknown overlay field', { mode: 'branch', fromSeq: 0, runOptionsOverlay: { inputs: {} } }],
    ])('%s → 400 validation_error', async (_what, body) => {
      const r = await fork(await ensureSource(), body);
      expect(r.status).toBe(400);
      expect(r.body).toMatchObject({ error: 'validation_error' });
    });

    it('a fromSeq past the source log → 422 invalid_from_seq; the last event itself is a valid fork point', async () => {
      const runId = await ensureSource();
      const past = await fork(runId, { mode: 'branch', fromSeq: lastSeq + 1 });
      expect(past.status).toBe(422);
      expect(past.body).toMatchObject({ error: 'invalid_from_seq', details: { sourceRunId: runId, fromSeq: lastSeq + 1, lastSequence: lastSeq } });
      expect((await fork(runId, { mode: 'replay', fromSeq: 1_000_000 })).status).toBe(422);
      const ok = await fork(runId, { mode: 'branch', fromSeq: lastSeq });
      expect(ok.status).toBe(201);
      expect((await waitForTerminal(ok.body.runId)).at(-1)?.type).toBe('run.completed');
    });

    it('invariant: no-cross-tenant-oracle — forking another tenant’s run answers exactly like a missing run', async () => {
      const runId = await ensureSource();
      const missing = await fork('run_does_not_exist', { mode: 'replay' });
      expect(missing.status).toBe(404);
      if (!target.keyB) return;
      const foreign = await fork(runId, { mode: 'replay' }, { key: target.keyB });
      expect(foreign.status).toBe(404);
      expect(foreign.body).toEqual(missing.body);
    });

    it('invariant: fork-scopes — a fork needs runs:create and runs:read; unauthenticated is 401 before any lookup', async () => {
      const runId = await ensureSource();
      expect((await fork(runId, { mode: 'replay' }, { key: null })).status).toBe(401);
      expect((await fork('run_does_not_exist', { mode: 'replay' }, { key: null })).status).toBe(401);
      if (target.keyReadOnly) {
        const r = await fork(runId, { mode: 'replay' }, { key: target.keyReadOnly });
        expect(r.status).toBe(403);
        expect(r.body).toMatchObject({ error: 'forbidden', details: { scopeRequired: 'runs:create' } });
      }
      if (target.keyCancelOnly) {
        const r = await fork(runId, { mode: 'replay' }, { key: target.keyCancelOnly });
        expect(r.status).toBe(403);
        expect(r.body).toMatchObject({ error: 'forbidden' });
      }
    });

    it('invariant: idempotency-single-execution — two concurrent forks with one Idempotency-Key make one run; a retry replays it', async () => {
      const { runId } = await startRun('weft-hello', { inputs: { greeting: 'hi' } });
      await waitForTerminal(runId);
      const idem = freshKey();
      const body = { mode: 'replay', fromSeq: 0 };
      const both = await Promise.all([fork(runId, body, { idem }), fork(runId, body, { idem })]);
      const created = both.filter((r) => r.status === 201);
      expect(created.length).toBeGreaterThanOrEqual(1);
      for (const r of both) {
        if (r.status === 409) expect(r.body).toMatchObject({ error: 'idempotency_in_flight' });
        else expect(r.status).toBe(201);
      }
      const ids = new Set(created.map((r) => r.body.runId));
      expect(ids.size).toBe(1);
      const again = await fork(runId, body, { idem });
      expect(again.status).toBe(201);
      expect(again.headers.get('openwop-idempotent-replay')).toBe('true');
      expect(again.body.runId).toBe(created[0]?.body.runId);
      const list = await call<{ runs: { runId: string; forkedFrom?: { runId: string } }[] }>('GET', '/v1/runs?workflowId=weft-hello&limit=200');
      expect(list.body.runs.filter((s) => s.forkedFrom?.runId === runId).map((s) => s.runId)).toEqual([again.body.runId]);
      const mismatch = await fork(runId, { mode: 'replay', fromSeq: 1 }, { idem });
      expect(mismatch.status).toBe(409);
      expect(mismatch.body).toMatchObject({ error: 'idempotency_key_mismatch' });
      expect(mismatch.body).not.toHaveProperty('runId');
    });
  });
});
