/**
 * The engine (driver + state machine + memory store) on a {@link ManualClock}: durable timers,
 * interrupt and run deadlines fire when the clock is advanced, so hour-long waits are tested in
 * milliseconds, and a restart (a second engine on the same store) keeps every wait.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { RunEventDoc, WorkflowDefinition } from '@weft/contract';
import { ManualClock } from './manual-clock.js';
import { MemoryStore } from './memory-store.js';
import { BUILTIN_NODES, NodeError, NodeRegistry, type NodeResult } from './nodes.js';
import { RunEngine } from './run-engine.js';
import { testNode, testWorkflow } from './workflow-builders.test-support.js';

const node = testNode;
const wf = testWorkflow;

const HOUR = 3_600_000;
const engines: RunEngine[] = [];
afterEach(async () => {
  for (const e of engines.splice(0)) await e.stop();
});

/** Bodies of `test.hold` wait until the test releases them. */
const held: (() => void)[] = [];
/** Invocation ids the `test:charge` effect was called with, and errors it throws first. */
const effectCalls: string[] = [];
const effectPlan: unknown[] = [];
function registry(): NodeRegistry {
  const r = new NodeRegistry();
  for (const n of BUILTIN_NODES) r.register(n);
  r.register({ typeId: 'test.hold', execute: () => new Promise<NodeResult>((resolve) => held.push(() => resolve({ outputs: {} }))) });
  // One effect, then a wait the test releases: a restart in between re-executes the node.
  r.register({
    typeId: 'test.effect-then-hold',
    execute: async (ctx) => {
      const out = await ctx.effect('test:charge', async (e) => {
        effectCalls.push(e.invocationId);
        if (effectPlan.length > 0) throw effectPlan.shift();
        return { charged: effectCalls.length };
      });
      await new Promise<void>((resolve) => held.push(resolve));
      return { outputs: out };
    },
  });
  return r;
}

async function engineOn(store: MemoryStore, clock: ManualClock, defs: WorkflowDefinition[]): Promise<RunEngine> {
  const e = new RunEngine({ store, clock, registry: registry(), limits: { maxNodeExecutions: 100, maxRunDurationMs: 24 * HOUR } });
  engines.push(e);
  for (const d of defs) await e.catalog.register(d, 'test');
  await e.start();
  return e;
}

/** Resolves once the run's log holds an event of `type` (checked on every publish), or fails after 5 s. */
async function eventually(store: MemoryStore, e: RunEngine, runId: string, type: string): Promise<RunEventDoc[]> {
  const read = async () => (await store.readEvents(runId, -1, 10_000)).map((x) => JSON.parse(x.json) as RunEventDoc);
  return new Promise<RunEventDoc[]>((resolve, reject) => {
    const t = setTimeout(() => {
      off();
      void read().then((evs) => reject(new Error(`no ${type} in ${evs.map((x) => x.type).join(', ')}`)));
    }, 5000);
    const check = (): void => {
      void read().then((evs) => {
        if (!evs.some((x) => x.type === type)) return;
        clearTimeout(t);
        off();
        resolve(evs);
      });
    };
    const off = e.bus.subscribe(runId, check);
    check();
  });
}

describe('RunEngine on a manual clock', () => {
  it('a 6-hour delay completes when the clock reaches it, and not before', async () => {
    const store = new MemoryStore();
    const clock = new ManualClock();
    const e = await engineOn(store, clock, [wf('sleep', [node('d', 'core.delay', { delayMs: 6 * HOUR })])]);
    const rec = await e.createRun({ tenant: 't', principal: 'p', workflowId: 'sleep' });
    await eventually(store, e, rec.runId, 'node.started');
    expect(await store.nextTimerAt()).toBe(clock.now() + 6 * HOUR);
    clock.advance(6 * HOUR - 1);
    expect((await store.getRunInternal(rec.runId))?.projection.status).toBe('running');
    clock.advance(1);
    const evs = await eventually(store, e, rec.runId, 'run.completed');
    expect(evs.find((x) => x.type === 'node.completed')?.payload).toMatchObject({ outputs: { delayedMs: 6 * HOUR } });
    expect(await store.nextTimerAt()).toBeNull();
  });

  it('a branch fork of a run waiting on an approval keeps its deadline: the fork fails closed when the hour passed', async () => {
    const store = new MemoryStore();
    const clock = new ManualClock();
    const e = await engineOn(store, clock, [wf('gate', [node('gate', 'core.approvalGate', { timeoutMs: HOUR })])]);
    const src = await e.createRun({ tenant: 't', principal: 'p', workflowId: 'gate' });
    const log = await eventually(store, e, src.runId, 'approval.requested');
    clock.advance(HOUR / 2);
    const fork = await e.forkRun({ tenant: 't', sourceRunId: src.runId, mode: 'branch', fromSeq: (log.at(-1)?.sequence ?? 0) + 1 });
    expect(await store.nextTimerAt()).toBe(clock.now() + HOUR / 2);
    // The source is resolved; the fork still waits on its own copy of the interrupt.
    await e.resolveInterrupt('t', src.runId, { nodeId: 'gate', resumeValue: { action: 'accept' }, principal: 'alice', via: 'bearer' });
    await eventually(store, e, src.runId, 'run.completed');
    expect((await store.getRunInternal(fork.runId))?.projection.status).toBe('waiting-approval');
    // A fresh process: only the timer rows the fork wrote can wake it.
    await e.stop();
    const e2 = await engineOn(store, clock, []);
    clock.advance(HOUR / 2);
    const evs = await eventually(store, e2, fork.runId, 'run.failed');
    expect(evs.find((x) => x.type === 'interrupt.resolved')?.payload).toMatchObject({ resolvedBy: 'system:timeout', outcome: 'rejected' });
  });

  it('an approval with a one-hour timeout fails closed when the hour passed', async () => {
    const store = new MemoryStore();
    const clock = new ManualClock();
    const e = await engineOn(store, clock, [wf('gate', [node('gate', 'core.approvalGate', { timeoutMs: HOUR })])]);
    const rec = await e.createRun({ tenant: 't', principal: 'p', workflowId: 'gate' });
    await eventually(store, e, rec.runId, 'approval.requested');
    clock.advance(HOUR);
    const evs = await eventually(store, e, rec.runId, 'run.failed');
    expect(evs.find((x) => x.type === 'interrupt.resolved')?.payload).toMatchObject({ resolvedBy: 'system:timeout', outcome: 'rejected' });
    await expect(
      e.resolveInterrupt('t', rec.runId, { nodeId: 'gate', resumeValue: { action: 'accept' }, principal: 'alice', via: 'bearer' }),
    ).rejects.toMatchObject({
      code: 'interrupt_already_resolved',
    });
  });

  it('a run deadline fires on the clock and fails the run with run_timeout', async () => {
    const store = new MemoryStore();
    const clock = new ManualClock();
    const e = await engineOn(store, clock, [wf('hold', [node('h', 'test.hold')])]);
    const rec = await e.createRun({ tenant: 't', principal: 'p', workflowId: 'hold', configurable: { runTimeoutMs: 2 * HOUR } });
    await eventually(store, e, rec.runId, 'node.started');
    clock.advance(2 * HOUR);
    const evs = await eventually(store, e, rec.runId, 'run.failed');
    expect(evs.map((x) => x.type).slice(-3)).toEqual(['cap.breached', 'node.failed', 'run.failed']);
    expect(evs.at(-1)?.payload).toMatchObject({ error: { code: 'run_timeout' } });
  });

  it('a restart keeps a draining pause: the re-executed node finishes, then run.paused, then resume completes', async () => {
    const store = new MemoryStore();
    const clock = new ManualClock();
    const defs = [wf('two', [node('h', 'test.hold'), node('next')], [['h', 'next']])];
    const first = await engineOn(store, clock, defs);
    const rec = await first.createRun({ tenant: 't', principal: 'p', workflowId: 'two' });
    await eventually(store, first, rec.runId, 'node.started');
    await expect(first.pauseRun('t', rec.runId, { drainPolicy: 'drain-current-node', principal: 'p' })).resolves.toMatchObject({ status: 'paused' });
    await first.stop();
    held.length = 0;
    // A second process on the same store: it folds the log, sees the pause still draining.
    const second = await engineOn(store, clock, defs);
    await second.start();
    await expect.poll(() => held.length, { timeout: 5000 }).toBe(1);
    held.shift()?.();
    const paused = await eventually(store, second, rec.runId, 'run.paused');
    expect(paused.map((x) => x.type).filter((t) => !t.startsWith('weft.'))).toEqual(['run.started', 'node.started', 'node.completed', 'run.paused']);
    await expect(second.resumeRun('t', rec.runId, { principal: 'p' })).resolves.toMatchObject({ status: 'running' });
    await eventually(store, second, rec.runId, 'run.completed');
  });

  it('a sub-workflow parent waits for its child approval, then completes with the child', async () => {
    const store = new MemoryStore();
    const clock = new ManualClock();
    const e = await engineOn(store, clock, [
      wf('child', [node('gate', 'core.approvalGate')]),
      wf('parent', [{ ...node('call', 'core.subWorkflow', { workflowId: 'child' }) }]),
    ]);
    const parent = await e.createRun({ tenant: 't', principal: 'p', workflowId: 'parent' });
    const dispatched = await eventually(store, e, parent.runId, 'node.dispatched');
    const childRunId = (dispatched.find((x) => x.type === 'node.dispatched')?.payload as { childRunId: string }).childRunId;
    await eventually(store, e, childRunId, 'approval.requested');
    await e.resolveInterrupt('t', childRunId, { nodeId: 'gate', resumeValue: { action: 'accept' }, principal: 'alice', via: 'bearer' });
    await eventually(store, e, childRunId, 'run.completed');
    const evs = await eventually(store, e, parent.runId, 'run.completed');
    expect(evs.filter((x) => x.nodeId === 'call').map((x) => x.type)).toEqual(['node.started', 'node.dispatched', 'node.completed']);
  });
});

describe('RunEngine: a command sent under a key is applied once', () => {
  it('a retry with the same key answers the first outcome; a row left by a dead process is applied once', async () => {
    const store = new MemoryStore();
    const clock = new ManualClock();
    const e = await engineOn(store, clock, [wf('quorum', [node('gate', 'core.approvalGate', { requiredApprovals: 2 })])]);
    const rec = await e.createRun({ tenant: 't', principal: 'p', workflowId: 'quorum' });
    await eventually(store, e, rec.runId, 'approval.requested');
    const vote = (principal: string) => ({ nodeId: 'gate', resumeValue: { action: 'accept' }, principal, via: 'bearer' as const });
    const first = await e.resolveInterrupt('t', rec.runId, vote('alice'), { commandKey: 'k1' });
    expect(first.interrupt).toMatchObject({ outcome: 'pending', votes: { granted: 1 } });
    // The same request again (its idempotency record was lost with the process that took it).
    await expect(e.resolveInterrupt('t', rec.runId, vote('alice'), { commandKey: 'k1' })).resolves.toEqual(first);
    // A request whose accepting process died after writing its row: the retry waits for that row.
    await store.enqueueCommand({
      id: 'cmd_k2',
      runId: rec.runId,
      tenant: 't',
      kind: 'resolve',
      payload: JSON.stringify({ kind: 'resolve', ...vote('bob') }),
      principal: 'bob',
      createdAt: clock.now(),
    });
    const second = await e.resolveInterrupt('t', rec.runId, vote('bob'), { commandKey: 'k2' });
    expect(second.interrupt).toMatchObject({ outcome: 'accepted', votes: { granted: 2 } });
    const evs = await eventually(store, e, rec.runId, 'run.completed');
    expect(evs.filter((x) => x.type === 'approval.granted').map((x) => (x.payload as { principal: string }).principal)).toEqual(['alice', 'bob']);
    // Once the run ended, the key still answers what it did.
    await expect(e.resolveInterrupt('t', rec.runId, vote('bob'), { commandKey: 'k2' })).resolves.toMatchObject({ interrupt: { outcome: 'accepted' } });
  });
});

describe('RunEngine: effects and retries', () => {
  const effectful = (settings?: Record<string, unknown>) =>
    wf('pay', [{ ...node('pay', 'test.effect-then-hold'), ...(settings ? { settings } : {}) } as ReturnType<typeof node>]);

  it('an effect recorded before a restart is not made again: the re-executed node gets the recorded result', async () => {
    effectCalls.length = 0;
    held.length = 0;
    const store = new MemoryStore();
    const clock = new ManualClock();
    const first = await engineOn(store, clock, [effectful()]);
    const rec = await first.createRun({ tenant: 't', principal: 'p', workflowId: 'pay' });
    await expect.poll(() => held.length, { timeout: 5000 }).toBe(1);
    expect(effectCalls).toHaveLength(1);
    await first.stop();
    held.length = 0;
    const second = await engineOn(store, clock, [effectful()]);
    await expect.poll(() => held.length, { timeout: 5000 }).toBe(1);
    held.shift()?.();
    const evs = await eventually(store, second, rec.runId, 'run.completed');
    expect(effectCalls).toHaveLength(1);
    expect(evs.find((x) => x.type === 'node.completed')?.payload).toMatchObject({ outputs: { charged: 1 } });
    const [inv] = await store.listInvocations(rec.runId);
    expect(inv).toMatchObject({ state: 'done', calls: 1, providerKey: 'test:charge', nodeId: 'pay', ordinal: 0, id: effectCalls[0] });
  });

  it('a retryable effect failure is not recorded: the retry, after its backoff on the clock, calls again', async () => {
    effectCalls.length = 0;
    held.length = 0;
    effectPlan.push(new NodeError('upstream_unavailable', 'busy', undefined, true));
    const store = new MemoryStore();
    const clock = new ManualClock();
    const e = await engineOn(store, clock, [effectful({ retry: { maxRetries: 2, backoffMs: 30_000 } })]);
    const rec = await e.createRun({ tenant: 't', principal: 'p', workflowId: 'pay' });
    await eventually(store, e, rec.runId, 'node.retried');
    expect(effectCalls).toHaveLength(1);
    clock.advance(30_000);
    await expect.poll(() => held.length, { timeout: 5000 }).toBe(1);
    held.shift()?.();
    const evs = await eventually(store, e, rec.runId, 'run.completed');
    expect(effectCalls).toEqual([effectCalls[0], effectCalls[0]]); // the same logical invocation both times
    expect(evs.filter((x) => x.type === 'node.started').map((x) => (x.payload as { attempt: number }).attempt)).toEqual([0, 1]);
    expect((await store.listInvocations(rec.runId))[0]).toMatchObject({ state: 'done', attempt: 1 });
  });

  it('a deterministic effect failure is recorded: a re-execution fails the same way without calling', async () => {
    effectCalls.length = 0;
    held.length = 0;
    effectPlan.push(new NodeError('card_declined', 'declined', { reason: 'test' }));
    const store = new MemoryStore();
    const clock = new ManualClock();
    const e = await engineOn(store, clock, [effectful({ retry: { maxRetries: 2, backoffMs: 0 } })]);
    const rec = await e.createRun({ tenant: 't', principal: 'p', workflowId: 'pay' });
    const evs = await eventually(store, e, rec.runId, 'run.failed');
    expect(evs.find((x) => x.type === 'node.failed')?.payload).toMatchObject({ error: { code: 'card_declined' }, attempts: 1 });
    expect((await store.listInvocations(rec.runId))[0]).toMatchObject({ state: 'failed' });
    expect(effectCalls).toHaveLength(1);
  });
});
