import { afterEach, describe, expect, it } from 'vitest';
import type { RunEventDoc, WorkflowDefinition } from '@weft/contract';
import { initialProjection } from '../fold.js';
import { MemoryStore } from '../memory-store.js';
import { NodeError, NodeRegistry, type NodeType } from '../nodes.js';
import type { Outbound, RunRecord } from '../ports.js';
import { RunEngine } from '../run-engine.js';
import { checkFromSeq, deliversOutbound, restampPrefix } from './fork.js';

const wf = (id: string, typeIds: string[]): WorkflowDefinition =>
  ({
    id,
    name: id,
    version: '1',
    nodes: typeIds.map((typeId, i) => ({ id: `n${i}`, typeId, name: `n${i}`, position: { x: 0, y: 0 }, config: {}, inputs: {} })),
    edges: typeIds.slice(1).map((_, i) => ({ id: `e${i}`, sourceNodeId: `n${i}`, targetNodeId: `n${i + 1}` })),
    triggers: [{ id: 'manual', type: 'manual', enabled: true }],
    variables: [],
    metadata: {},
    settings: {},
  }) as WorkflowDefinition;

const engines: RunEngine[] = [];
afterEach(async () => {
  for (const e of engines.splice(0)) await e.stop();
});

/** An engine on `store` with the built-in nodes and `extra` node types. */
async function engineOn(store: MemoryStore, extra: NodeType[], outbound?: Outbound): Promise<RunEngine> {
  const registry = new NodeRegistry();
  for (const t of extra) registry.register(t);
  const e = new RunEngine({ store, limits: { maxNodeExecutions: 100, maxRunDurationMs: 60_000 }, registry, ...(outbound ? { outbound } : {}) });
  engines.push(e);
  await e.start();
  return e;
}

/** Waits for the run's terminal status through the bus (with a deadline) and returns its log. */
async function terminal(store: MemoryStore, e: RunEngine, runId: string, ms = 5000): Promise<RunEventDoc[]> {
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out waiting for ${runId}`)), ms);
    const check = (): void => {
      void store.getRunInternal(runId).then((r) => {
        if (r && ['completed', 'failed', 'cancelled'].includes(r.projection.status)) {
          clearTimeout(t);
          off();
          resolve();
        }
      });
    };
    const off = e.bus.subscribe(runId, check);
    check();
  });
  return (await store.readEvents(runId, -1, 1000)).map((x) => JSON.parse(x.json) as RunEventDoc);
}

const types = (evs: RunEventDoc[]) => evs.map((e) => (e.nodeId ? `${e.type}:${e.nodeId}` : e.type));
const outputsOf = (evs: RunEventDoc[], nodeId: string) =>
  (evs.find((e) => e.type === 'node.completed' && e.nodeId === nodeId)?.payload as { outputs: unknown }).outputs;

describe('fork helpers', () => {
  it('deliversOutbound: everything for a plain run, nothing for a replay fork, a branch fork from fromSeq on', () => {
    expect(deliversOutbound({}, 0)).toBe(true);
    expect([0, 3, 99].map((s) => deliversOutbound({ fork: { sourceRunId: 'r', fromSeq: 3, mode: 'replay' } }, s))).toEqual([false, false, false]);
    expect([0, 2, 3, 4].map((s) => deliversOutbound({ fork: { sourceRunId: 'r', fromSeq: 3, mode: 'branch' } }, s))).toEqual([false, false, true, true]);
  });

  it('checkFromSeq: at most one past the last event, never past a terminal event', () => {
    const ev = (sequence: number, type: string) => ({ sequence, type }) as RunEventDoc;
    expect(() => checkFromSeq('r', 0, [])).not.toThrow();
    expect(() => checkFromSeq('r', 1, [])).toThrow(expect.objectContaining({ code: 'invalid_from_seq' }));
    const running = [ev(0, 'run.started'), ev(1, 'node.started')];
    expect(() => checkFromSeq('r', 2, running)).not.toThrow();
    expect(() => checkFromSeq('r', 3, running)).toThrow(
      expect.objectContaining({ code: 'invalid_from_seq', details: { sourceRunId: 'r', fromSeq: 3, lastSequence: 1 } }),
    );
    const done = [...running, ev(2, 'run.completed')];
    expect(() => checkFromSeq('r', 2, done)).not.toThrow();
    expect(() => checkFromSeq('r', 3, done)).toThrow(expect.objectContaining({ code: 'invalid_from_seq' }));
  });

  it('restampPrefix: the fork runId and eventIds, everything else verbatim', () => {
    const doc = { eventId: 'src.0', runId: 'src', type: 'run.started', payload: { a: 1 }, timestamp: 't', sequence: 0 } as RunEventDoc;
    const { docs, events } = restampPrefix([doc], 'fork');
    expect(docs).toEqual([{ ...doc, runId: 'fork', eventId: 'fork.0' }]);
    expect(JSON.parse(events[0]?.json ?? '{}')).toEqual(docs[0]);
  });
});

describe('RunEngine.forkRun', () => {
  it('invariant: replay-side-effect-suppression — a replay fork serves recorded effects, a fork of that fork too; the call runs once', async () => {
    let calls = 0;
    const effectful: NodeType = { typeId: 'test.effect', execute: async (ctx) => ({ outputs: await ctx.effect('test:call', async () => ({ n: ++calls })) }) };
    const store = new MemoryStore();
    const e = await engineOn(store, [effectful]);
    await e.catalog.register(wf('eff', ['test.effect', 'core.noop']), 'test');
    const src = await e.createRun({ tenant: 't', principal: 'p', workflowId: 'eff' });
    const srcLog = await terminal(store, e, src.runId);
    const replay = await e.forkRun({ tenant: 't', sourceRunId: src.runId, mode: 'replay', fromSeq: 0 });
    expect(replay.projection.status).toBe('pending');
    expect(replay.fork).toEqual({ sourceRunId: src.runId, fromSeq: 0, mode: 'replay' });
    const log = await terminal(store, e, replay.runId);
    expect(types(log)).toEqual(types(srcLog));
    expect(outputsOf(log, 'n0')).toEqual({ n: 1 });
    const again = await e.forkRun({ tenant: 't', sourceRunId: replay.runId, mode: 'replay', fromSeq: 0 });
    expect(outputsOf(await terminal(store, e, again.runId), 'n0')).toEqual({ n: 1 });
    expect(calls).toBe(1);
    // A branch fork is live: the call is made again.
    const branch = await e.forkRun({ tenant: 't', sourceRunId: src.runId, mode: 'branch', fromSeq: 1 });
    expect(outputsOf(await terminal(store, e, branch.runId), 'n0')).toEqual({ n: 2 });
  });

  it('a recorded failure is served as the failure; a direct outbound call from a replay fork is refused and never made', async () => {
    let requests = 0;
    const outbound: Outbound = {
      request: async () => {
        requests++;
        return { status: 200, headers: {}, body: new Uint8Array(), url: 'http://x/', redirects: 0 };
      },
    };
    const failing: NodeType = {
      typeId: 'test.failing',
      execute: async (ctx) =>
        ctx.effect('test:fail', async () => {
          throw new NodeError('remote_refused', 'no');
        }),
    };
    const direct: NodeType = {
      typeId: 'test.direct',
      execute: async (ctx) => ({ outputs: { status: (await ctx.http?.request({ method: 'GET', url: 'http://x/' }))?.status } }),
    };
    const store = new MemoryStore();
    const e = await engineOn(store, [failing, direct], outbound);
    await e.catalog.register(wf('fail', ['test.failing']), 'test');
    await e.catalog.register(wf('direct', ['test.direct']), 'test');
    const f = await e.createRun({ tenant: 't', principal: 'p', workflowId: 'fail' });
    await terminal(store, e, f.runId);
    const ff = await e.forkRun({ tenant: 't', sourceRunId: f.runId, mode: 'replay', fromSeq: 0 });
    const fl = await terminal(store, e, ff.runId);
    expect(fl.find((x) => x.type === 'node.failed')?.payload).toMatchObject({ error: { code: 'remote_refused' } });
    expect(fl.some((x) => x.type === 'replay.diverged')).toBe(false);

    const d = await e.createRun({ tenant: 't', principal: 'p', workflowId: 'direct' });
    await terminal(store, e, d.runId);
    expect(requests).toBe(1);
    const df = await e.forkRun({ tenant: 't', sourceRunId: d.runId, mode: 'replay', fromSeq: 0 });
    const dl = await terminal(store, e, df.runId);
    expect(dl.find((x) => x.type === 'node.failed')?.payload).toMatchObject({ error: { code: 'replay_source_missing' } });
    expect(requests).toBe(1);
  });

  it('a re-executed node whose output differs emits replay.diverged before its node.completed, and the replay keeps going', async () => {
    let n = 0;
    const drifting: NodeType = { typeId: 'test.drift', execute: () => ({ outputs: { n: n++ } }) };
    const store = new MemoryStore();
    const e = await engineOn(store, [drifting]);
    await e.catalog.register(wf('drift', ['test.drift', 'core.noop']), 'test');
    const src = await e.createRun({ tenant: 't', principal: 'p', workflowId: 'drift' });
    const srcLog = await terminal(store, e, src.runId);
    const original = srcLog.find((x) => x.type === 'node.completed' && x.nodeId === 'n0') as RunEventDoc;
    const fork = await e.forkRun({ tenant: 't', sourceRunId: src.runId, mode: 'replay', fromSeq: 0 });
    const log = await terminal(store, e, fork.runId);
    expect(types(log)).toEqual([
      'run.started',
      'node.started:n0',
      'replay.diverged:n0',
      'node.completed:n0',
      'node.started:n1',
      'node.completed:n1',
      'run.completed',
    ]);
    expect(log[2]?.payload).toEqual({
      sourceRunId: src.runId,
      atSequence: original.sequence,
      originalEventId: original.eventId,
      divergenceKind: 'output',
      divergencePoint: 'node.completed',
      nodeId: 'n0',
    });
  });

  it('a fork whose prefix was not copied (a crash after the run row) copies it when it is loaded', async () => {
    const store = new MemoryStore();
    const e = await engineOn(store, []);
    await e.catalog.register(wf('two', ['core.noop', 'core.noop']), 'test');
    const src = await e.createRun({ tenant: 't', principal: 'p', workflowId: 'two' });
    const srcLog = await terminal(store, e, src.runId);
    const graph = e.catalog.graphOf((await e.catalog.byContentHash(src.workflowHash)) as NonNullable<Awaited<ReturnType<typeof e.catalog.byContentHash>>>);
    const rec: RunRecord = {
      ...src,
      runId: 'run_orphan_fork',
      projection: initialProjection(graph),
      leaseOwner: null,
      leaseEpoch: 0,
      leaseExpiresAt: null,
      fork: { sourceRunId: src.runId, fromSeq: 3, mode: 'branch' },
    };
    await store.createRun(rec);
    await e.stop();
    const e2 = await engineOn(store, []);
    const log = await terminal(store, e2, rec.runId);
    expect(log.slice(0, 3).map((x) => ({ ...x, runId: '', eventId: '' }))).toEqual(srcLog.slice(0, 3).map((x) => ({ ...x, runId: '', eventId: '' })));
    expect(types(log)).toEqual(types(srcLog));
  });

  it('invariant: no-cross-tenant-oracle — another tenant cannot fork a run (not_found, as for a missing one)', async () => {
    const store = new MemoryStore();
    const e = await engineOn(store, []);
    await e.catalog.register(wf('one', ['core.noop']), 'test');
    const src = await e.createRun({ tenant: 't', principal: 'p', workflowId: 'one' });
    await terminal(store, e, src.runId);
    await expect(e.forkRun({ tenant: 'other', sourceRunId: src.runId, mode: 'replay', fromSeq: 0 })).rejects.toMatchObject({ code: 'not_found' });
    await expect(e.forkRun({ tenant: 't', sourceRunId: 'nope', mode: 'replay', fromSeq: 0 })).rejects.toMatchObject({ code: 'not_found' });
  });
});
