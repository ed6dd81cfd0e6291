/**
 * The run state machine, stepped directly: the test is the driver. Every rule — start, caps,
 * interrupts, quorum, pause and drain, cancel, sub-workflow links and the races between them —
 * is checked in microseconds, with time as a plain number.
 */
import { describe, expect, it } from 'vitest';
import { compileValidator, createAjv, WeftError, type RunEventDoc, type WorkflowDefinition } from '@weft/contract';
import { foldEvents, initialProjection } from '../fold.js';
import { compileGraph, type WorkflowGraph } from '../graph.js';
import { BUILTIN_NODES, CapBreachError, NodeError, NodeRegistry, type NodeContext, type NodeResult } from '../nodes.js';
import type { RecordRedactor, RunRecord } from '../ports.js';
import { interruptAnswer } from './interrupts.js';
import { type MachineEnv, nodeInputs, step } from './machine.js';
import { makeState, type RunState } from './state.js';
import type { CommandReply, Effect, RunCommand, StepInput } from './types.js';

const T0 = Date.parse('2026-01-01T00:00:00.000Z');

const node = (id: string, typeId = 'core.noop', config: Record<string, unknown> = {}) => ({
  id,
  typeId,
  name: id,
  position: { x: 0, y: 0 },
  config,
  inputs: {},
});
function wf(nodes: ReturnType<typeof node>[], edges: [string, string][] = [], extra: Partial<WorkflowDefinition> = {}): WorkflowDefinition {
  return {
    id: 'wf',
    name: 'wf',
    version: '1',
    nodes,
    edges: edges.map(([s, t], i) => ({ id: `e${i}`, sourceNodeId: s, targetNodeId: t })),
    triggers: [{ id: 'manual', type: 'manual', enabled: true }],
    variables: [],
    metadata: {},
    settings: {},
    ...extra,
  } as WorkflowDefinition;
}

const registry = new NodeRegistry();
for (const n of BUILTIN_NODES) registry.register(n);
/** A body that waits for a child run, then completes with the child's id. */
let childDone = false;
registry.register({ typeId: 'test.child', execute: (): NodeResult => (childDone ? { outputs: { child: 'run_child' } } : { waitForChild: 'run_child' }) });
/** A body that fails `flakyFailures` times with a retryable error, then succeeds. */
let flakyFailures = 0;
registry.register({
  typeId: 'test.flaky',
  execute: (): NodeResult => {
    if (flakyFailures > 0) {
      flakyFailures--;
      throw new NodeError('upstream_unavailable', 'try again', undefined, true);
    }
    return { outputs: { ok: true } };
  },
});
/** A body that streams two chunks, then completes. */
registry.register({
  typeId: 'test.stream',
  execute: (ctx): NodeResult => {
    ctx.emit('output.chunk', { chunk: 'Hel' });
    ctx.emit('output.chunk', { chunk: 'lo', isLast: true });
    return { outputs: { text: 'Hello' } };
  },
});
/** A body that never ends by itself (the driver reports its outcome). */
registry.register({ typeId: 'test.async', execute: () => new Promise<NodeResult>(() => {}) });

const ajv = createAjv();
const env: MachineEnv = { nodeType: (t) => registry.get(t), runtimeCapabilities: new Set(), validator: (schema) => compileValidator<unknown>(schema, ajv) };
const noRedaction: RecordRedactor = { withSecrets: () => noRedaction, redactJson: (j) => j, redact: (v) => v };

function graphOf(def: WorkflowDefinition): WorkflowGraph {
  const g = compileGraph(def);
  if (!('graph' in g)) throw new Error(JSON.stringify(g.problems));
  return g.graph;
}

/** A fresh run's state. */
function fresh(
  def: WorkflowDefinition,
  limits = { maxNodeExecutions: 100, maxRunDurationMs: 3_600_000 },
  configurable: Record<string, unknown> = {},
): RunState {
  const graph = graphOf(def);
  const rec: RunRecord = {
    runId: 'run_1',
    tenant: 't',
    principal: 'p',
    workflowId: def.id,
    workflowHash: 'h',
    createdAt: new Date(T0).toISOString(),
    variables: {},
    configurable,
    tags: [],
    metadata: {},
    cancelRequested: null,
    projection: initialProjection(graph),
    leaseOwner: 'o',
    leaseEpoch: 1,
    leaseExpiresAt: null,
  };
  return makeState(rec, structuredClone(rec.projection), graph, def, limits, noRedaction);
}

/** The test driver: steps, runs synchronous bodies and steps their outcomes, until quiet. */
class Driver {
  readonly log: RunEventDoc[] = [];
  replies: CommandReply[] = [];
  effects: Effect[] = [];
  terminal = false;
  constructor(readonly s: RunState) {}

  step(input: Omit<StepInput, 'now'> & { now?: number }): this {
    this.replies = [];
    this.effects = [];
    let next: StepInput = { now: T0, ...input };
    for (;;) {
      const out = step(this.s, next, env);
      this.log.push(...out.events.map((e) => JSON.parse(e.json) as RunEventDoc));
      this.replies.push(...out.replies);
      this.effects.push(...out.effects);
      this.terminal = out.terminal;
      const settled: NonNullable<StepInput['settled']>[number][] = [];
      const emitted: NonNullable<StepInput['emitted']>[number][] = [];
      for (const e of out.effects) if (e.type === 'execute') this.body(e.nodeId, next.now, settled, emitted);
      if (out.terminal || settled.length === 0) break;
      next = { now: next.now, settled, emitted };
    }
    // The projection is always exactly the fold of the log.
    expect(this.s.proj).toEqual(foldEvents(this.s.graph, this.log));
    return this;
  }

  private body(nodeId: string, now: number, settled: NonNullable<StepInput['settled']>[number][], emitted: NonNullable<StepInput['emitted']>[number][]): void {
    const n = this.s.graph.byId.get(nodeId);
    const type = n && registry.get(n.typeId);
    if (!n || !type) throw new Error(`no node ${nodeId}`);
    const ctx = {
      runId: this.s.rec.runId,
      nodeId,
      typeId: n.typeId,
      tenant: 't',
      attempt: 0,
      config: n.config,
      inputs: nodeInputs(this.s, n),
      startedAt: Date.parse(this.s.proj.nodeStates[nodeId]?.startedAt ?? new Date(now).toISOString()),
      signal: new AbortController().signal,
      now: () => now,
      variables: {},
      children: { current: () => undefined, start: async () => 'run_child', get: async () => undefined },
      interrupt: (req) => interruptAnswer(this.s, nodeId, req),
      effect: (_key, call) => call({ invocationId: 'inv', calls: 1, signal: new AbortController().signal }),
      emit: (type, payload) => emitted.push({ nodeId, type, payload }),
    } satisfies NodeContext;
    try {
      const r = type.execute(ctx);
      if (!(r instanceof Promise)) settled.push({ nodeId, outcome: { result: r } });
    } catch (error) {
      settled.push({ nodeId, outcome: { error } });
    }
  }

  types(): string[] {
    return this.log.filter((e) => !e.type.startsWith('weft.')).map((e) => (e.nodeId ? `${e.type}:${e.nodeId}` : e.type));
  }

  error(i = 0): string | undefined {
    const e = this.replies[i]?.error;
    return e instanceof WeftError ? e.code : e === undefined ? undefined : String(e);
  }
}

const vote = (id: string, principal: string, action: string, extra: Partial<Extract<RunCommand, { kind: 'resolve' }>> = {}) => ({
  id,
  cmd: { kind: 'resolve', nodeId: 'gate', resumeValue: { action }, principal, via: 'bearer', ...extra } as RunCommand,
});

describe('run state machine: scheduling and caps', () => {
  it('starts, runs a chain of synchronous nodes and completes; a terminal step clears every timer', () => {
    const s = fresh(wf([node('a'), node('b')], [['a', 'b']]));
    const d = new Driver(s).step({});
    expect(d.types()).toEqual(['run.started', 'node.started:a', 'node.completed:a', 'node.started:b', 'node.completed:b', 'run.completed']);
    expect(d.terminal).toBe(true);
    expect(s.armed.size).toBe(0);
  });

  it('arms the run deadline at start and fails the run with cap.breached once it passed', () => {
    const s = fresh(wf([node('w', 'test.async')]), undefined, { runTimeoutMs: 1000 });
    const first = step(s, { now: T0 }, env);
    expect(first.timers.set).toEqual([{ runId: 'run_1', key: 'deadline', fireAt: T0 + 1000 }]);
    expect(first.effects).toEqual([{ type: 'execute', nodeId: 'w' }]);
    const late = step(s, { now: T0 + 1000, timersFired: ['deadline'] }, env);
    expect(late.terminal).toBe(true);
    expect(late.effects).toEqual([{ type: 'abort' }]);
    const evs = late.events.map((e) => JSON.parse(e.json) as RunEventDoc);
    expect(evs.map((e) => e.type)).toEqual(['cap.breached', 'node.failed', 'run.failed']);
    expect(evs[0]?.payload).toMatchObject({ kind: 'run-duration', limit: 1000 });
    expect(evs[2]?.payload).toMatchObject({ error: { code: 'run_timeout' } });
    expect(late.timers.clearAll).toBe(true);
  });

  it('reports a body failing on a host-enforced cap with cap.breached just before node.failed, never retried', () => {
    const s = fresh(wf([node('w', 'test.async')], [], { settings: { maxRetries: 3 } } as Partial<WorkflowDefinition>));
    step(s, { now: T0 }, env);
    const error = new CapBreachError({ kind: 'wasm-memory', limit: 2_097_152, observed: 2_162_688 }, 'sandbox_memory_exceeded', 'cap', { kind: 'wasm-memory' });
    const out = step(s, { now: T0 + 5, settled: [{ nodeId: 'w', outcome: { error } }] }, env);
    const evs = out.events.map((e) => JSON.parse(e.json) as RunEventDoc);
    expect(evs.map((e) => e.type)).toEqual(['cap.breached', 'node.failed', 'run.failed']);
    expect(evs[0]?.payload).toEqual({ kind: 'wasm-memory', limit: 2_097_152, observed: 2_162_688, nodeId: 'w' });
    expect(evs[1]?.payload).toMatchObject({ error: { code: 'sandbox_memory_exceeded' }, attempts: 1 });
    expect(() => new CapBreachError({ kind: 'wasm-memory', limit: 10, observed: 10 }, 'x', 'y')).toThrow(/observed > limit/);
  });

  it('refuses the node execution past the recursion limit with cap.breached', () => {
    const d = new Driver(
      fresh(
        wf(
          [node('a'), node('b'), node('c')],
          [
            ['a', 'b'],
            ['b', 'c'],
          ],
        ),
        { maxNodeExecutions: 2, maxRunDurationMs: 60_000 },
      ),
    ).step({});
    expect(d.types()).toEqual(['run.started', 'node.started:a', 'node.completed:a', 'node.started:b', 'node.completed:b', 'cap.breached', 'run.failed']);
    expect(d.log.at(-1)?.payload).toMatchObject({ error: { code: 'recursion_limit_exceeded' }, failedNodeId: 'c' });
  });

  it('an ended run changes no more and drops the outcome of a body it no longer waits for', () => {
    const s = fresh(wf([node('w', 'test.async')]));
    step(s, { now: T0 }, env);
    const cancelled = step(s, { now: T0 + 1, cancel: { reason: 'stop', by: 'p', at: new Date(T0).toISOString() } as never }, env);
    expect(cancelled.terminal).toBe(true);
    expect(s.inflight.size).toBe(0);
    const late = step(s, { now: T0 + 2, settled: [{ nodeId: 'w', outcome: { result: { outputs: {} } } }] }, env);
    expect(late.events).toEqual([]);
    expect(s.proj.nodeStates.w?.status).toBe('cancelled');
  });

  it('a delay waits on its node timer and completes when it fired', () => {
    const s = fresh(wf([node('d', 'core.delay', { delayMs: 500 })]));
    const d = new Driver(s).step({});
    expect(d.terminal).toBe(false);
    expect(s.armed.get('node:d')).toBe(T0 + 500);
    d.step({ now: T0 + 100 });
    expect(d.types().at(-1)).toBe('node.started:d');
    d.step({ now: T0 + 500, timersFired: ['node:d'] });
    expect(d.types().slice(-2)).toEqual(['node.completed:d', 'run.completed']);
  });
});

describe('run state machine: interrupts', () => {
  const gate = (config: Record<string, unknown> = {}) => wf([node('gate', 'core.approvalGate', config), node('after')], [['gate', 'after']]);

  it('suspends, and an accept resumes the node, which completes, and the run goes on', () => {
    const d = new Driver(fresh(gate())).step({});
    expect(d.s.proj.status).toBe('waiting-approval');
    expect(d.types()).toEqual(['run.started', 'node.started:gate', 'node.suspended:gate', 'interrupt.requested:gate', 'approval.requested:gate']);
    d.step({ commands: [vote('c1', 'alice', 'accept')] });
    expect(d.replies[0]?.result?.interrupt).toMatchObject({ kind: 'approval', outcome: 'accepted' });
    expect(d.types().slice(5)).toEqual([
      'interrupt.resolved:gate',
      'approval.received:gate',
      'node.resumed:gate',
      'node.completed:gate',
      'node.started:after',
      'node.completed:after',
      'run.completed',
    ]);
    d.step({ commands: [vote('c2', 'bob', 'accept')] });
    expect(d.error()).toBe('interrupt_already_resolved');
  });

  it('a quorum needs distinct principals; a second vote by one principal is refused', () => {
    const d = new Driver(fresh(gate({ requiredApprovals: 2 }))).step({});
    d.step({ commands: [vote('c1', 'alice', 'accept')] });
    expect(d.replies[0]?.result?.interrupt).toMatchObject({ outcome: 'pending', votes: { granted: 1, rejected: 0, required: 2 } });
    d.step({ commands: [vote('c2', 'alice', 'accept')] });
    expect(d.error()).toBe('already_voted');
    expect(d.s.proj.status).toBe('waiting-approval');
    d.step({ commands: [vote('c3', 'bob', 'accept')] });
    expect(d.replies[0]?.result?.interrupt).toMatchObject({ outcome: 'accepted', votes: { granted: 2, required: 2 } });
    expect(d.s.proj.status).toBe('completed');
    expect(d.log.find((e) => e.type === 'interrupt.resolved')?.payload).toMatchObject({ resumeValue: { decidedBy: 'quorum:2-of-2' } });
  });

  it('single veto: one reject of a 3-quorum rejects; majority needs two', () => {
    const veto = new Driver(fresh(gate({ requiredApprovals: 3 }))).step({});
    veto.step({ commands: [vote('c1', 'alice', 'reject')] });
    expect(veto.replies[0]?.result?.interrupt).toMatchObject({ outcome: 'rejected' });
    expect(veto.s.proj.status).toBe('failed');
    const majority = new Driver(fresh(gate({ requiredApprovals: 3, rejectionPolicy: 'majority' }))).step({});
    majority.step({ commands: [vote('c1', 'alice', 'reject')] });
    expect(majority.replies[0]?.result?.interrupt).toMatchObject({ outcome: 'pending' });
    majority.step({ commands: [vote('c2', 'bob', 'reject')] });
    expect(majority.replies[0]?.result?.interrupt).toMatchObject({ outcome: 'rejected' });
  });

  it('a delegated vote needs interrupts:delegate and votes as voter:<name>', () => {
    const d = new Driver(fresh(gate({ requiredApprovals: 2 }))).step({});
    d.step({
      commands: [{ id: 'c1', cmd: { kind: 'resolve', nodeId: 'gate', resumeValue: { action: 'accept', voter: 'v1' }, principal: 'bot', via: 'bearer' } }],
    });
    expect(d.error()).toBe('forbidden');
    d.step({
      commands: [
        {
          id: 'c2',
          cmd: { kind: 'resolve', nodeId: 'gate', resumeValue: { action: 'accept', voter: 'v1' }, principal: 'bot', via: 'bearer', mayDelegate: true },
        },
      ],
    });
    expect(d.replies[0]?.result).toMatchObject({ voter: 'voter:v1', interrupt: { outcome: 'pending' } });
    d.step({ commands: [vote('c3', 'bot', 'accept')] });
    expect(d.replies[0]?.result?.interrupt).toMatchObject({ outcome: 'accepted' });
  });

  it('an approval past its deadline fails closed: rejected by system:timeout', () => {
    const d = new Driver(fresh(gate({ timeoutMs: 1000 }))).step({});
    const iv = Object.values(d.s.proj.interrupts ?? {})[0];
    expect(iv?.expiresAt).toBe(new Date(T0 + 1000).toISOString());
    d.step({ now: T0 + 999 });
    expect(d.s.proj.status).toBe('waiting-approval');
    d.step({ now: T0 + 1000 });
    expect(d.log.find((e) => e.type === 'interrupt.resolved')?.payload).toMatchObject({ resolvedBy: 'system:timeout', outcome: 'rejected', reason: 'timeout' });
    expect(d.s.proj.status).toBe('failed');
  });

  it('race: a resolve arriving with the timeout loses to it (the deadline is applied first)', () => {
    const d = new Driver(fresh(gate({ timeoutMs: 1000 }))).step({});
    d.step({ now: T0 + 1000, commands: [vote('c1', 'alice', 'accept')] });
    expect(d.error()).toBe('interrupt_already_resolved');
    expect(d.log.filter((e) => e.type === 'interrupt.resolved')).toHaveLength(1);
  });

  it('race: a clarification answered with its timeout answers interrupt_expired', () => {
    const d = new Driver(fresh(wf([node('q', 'core.clarificationGate', { questions: [{ id: 'q1', question: 'why?' }], timeoutMs: 10 })]))).step({});
    d.step({
      now: T0 + 10,
      commands: [{ id: 'c1', cmd: { kind: 'resolve', nodeId: 'q', resumeValue: { answers: { q1: 'x' } }, principal: 'p', via: 'bearer' } }],
    });
    expect(d.error()).toBe('interrupt_expired');
    expect(d.s.proj.status).toBe('failed');
  });

  it('race: a resolve arriving with a cancel loses to it; the run ends cancelled', () => {
    const d = new Driver(fresh(gate())).step({});
    d.step({ cancel: { reason: 'stop', by: 'p' } as never, commands: [vote('c1', 'alice', 'accept')] });
    expect(d.error()).toBe('interrupt_cancelled');
    expect(d.types().slice(-2)).toEqual(['node.cancelled:gate', 'run.cancelled']);
    expect(d.log.some((e) => e.type === 'interrupt.resolved')).toBe(false);
  });

  it('after the run ended, a resolve is refused from the folded state alone', () => {
    const d = new Driver(fresh(gate())).step({});
    d.step({ cancel: { reason: 'stop', by: 'p' } as never });
    const before = d.log.length;
    d.step({ cancel: { reason: 'again', by: 'p' } as never, commands: [vote('c1', 'alice', 'accept')] });
    expect(d.error()).toBe('interrupt_cancelled');
    expect(d.log.length).toBe(before);
  });

  it('resumeSchema is enforced: an unknown action is a validation_error and changes nothing', () => {
    const d = new Driver(fresh(gate())).step({});
    const before = d.log.length;
    d.step({ commands: [vote('c1', 'alice', 'maybe')] });
    expect(d.error()).toBe('validation_error');
    expect(d.log.length).toBe(before);
  });
});

describe('run state machine: pause and resume', () => {
  const two = () => wf([node('w', 'test.async'), node('next')], [['w', 'next']]);
  const pause = (id: string, drainPolicy: 'immediate' | 'drain-current-node' = 'drain-current-node') => ({
    id,
    cmd: { kind: 'pause', drainPolicy, principal: 'p', reason: 'maint' } as RunCommand,
  });
  const resume = (id: string) => ({ id, cmd: { kind: 'resume', principal: 'p' } as RunCommand });

  it('drain: recorded as pausing, the running node finishes, then run.paused; nothing new starts until resume', () => {
    const d = new Driver(fresh(two())).step({});
    d.step({ commands: [pause('c1')] });
    expect(d.replies[0]?.result).toMatchObject({ status: 'paused' });
    expect(d.log.at(-1)?.type).toBe('weft.run.pausing');
    d.step({ commands: [pause('c2')] });
    expect(d.error()).toBe('run_state_conflict');
    d.step({ settled: [{ nodeId: 'w', outcome: { result: { outputs: {} } } }] });
    expect(d.types().slice(-2)).toEqual(['node.completed:w', 'run.paused']);
    expect(d.log.at(-1)?.payload).toMatchObject({ drainPolicy: 'drain-current-node', reason: 'maint', pausedBy: 'p' });
    expect(d.s.proj.status).toBe('paused');
    d.step({});
    expect(d.effects).toEqual([]);
    d.step({ commands: [resume('c3')] });
    expect(d.types().slice(-4)).toEqual(['run.resumed', 'node.started:next', 'node.completed:next', 'run.completed']);
  });

  it('drain survives a reload: the pausing is in the log, so a fresh state keeps draining', () => {
    const d = new Driver(fresh(two())).step({});
    d.step({ commands: [pause('c1')] });
    const reloaded = makeState(
      d.s.rec,
      foldEvents(d.s.graph, d.log),
      d.s.graph,
      d.s.graph.definition,
      { maxNodeExecutions: 100, maxRunDurationMs: 3_600_000 },
      noRedaction,
    );
    const first = step(reloaded, { now: T0 + 5 }, env);
    // The running node is executed again (at-least-once) — and nothing else starts.
    expect(first.effects).toEqual([{ type: 'execute', nodeId: 'w' }]);
    const done = step(reloaded, { now: T0 + 6, settled: [{ nodeId: 'w', outcome: { result: { outputs: {} } } }] }, env);
    expect(done.events.map((e) => e.type)).toEqual(['node.completed', 'run.paused']);
  });

  it('a resume before the drain ends withdraws the pause; the run goes on', () => {
    const d = new Driver(fresh(two())).step({});
    d.step({ commands: [pause('c1')] });
    d.step({ commands: [resume('c2')] });
    expect(d.replies[0]?.result).toMatchObject({ status: 'running' });
    d.step({ settled: [{ nodeId: 'w', outcome: { result: { outputs: {} } } }] });
    expect(d.types()).toEqual(['run.started', 'node.started:w', 'node.completed:w', 'node.started:next', 'node.completed:next', 'run.completed']);
  });

  it('immediate: aborts the running body, whose outcome no longer counts; resume runs it again', () => {
    const d = new Driver(fresh(two())).step({});
    d.step({ commands: [pause('c1', 'immediate')] });
    expect(d.effects).toEqual([{ type: 'abort' }]);
    d.step({ settled: [{ nodeId: 'w', outcome: { result: { outputs: {} } } }] });
    expect(d.types().at(-1)).toBe('run.paused');
    d.step({ commands: [resume('c2')] });
    expect(d.effects).toEqual([{ type: 'execute', nodeId: 'w' }]);
  });

  it('resume of a run that is not paused, and pause of a cancelling run, are conflicts', () => {
    const d = new Driver(fresh(two())).step({});
    d.step({ commands: [resume('c1')] });
    expect(d.error()).toBe('run_state_conflict');
    d.step({ cancel: { reason: 'x', by: 'p' } as never, commands: [pause('c2')] });
    expect(d.error()).toBe('run_state_conflict');
    expect(d.s.proj.status).toBe('cancelled');
  });
});

describe('run state machine: sub-workflows', () => {
  it('records the dispatched child, waits for it without re-executing, and runs again once it ended', () => {
    childDone = false;
    const d = new Driver(fresh(wf([node('sub', 'test.child')]))).step({});
    expect(d.effects).toContainEqual({ type: 'watch-child', nodeId: 'sub', childRunId: 'run_child' });
    d.step({ dispatched: [{ nodeId: 'sub', runId: 'run_child', workflowId: 'child' }] });
    expect(d.types().at(-1)).toBe('node.dispatched:sub');
    expect(d.s.proj.children).toEqual({ sub: { runId: 'run_child', workflowId: 'child' } });
    d.step({});
    expect(d.effects).toEqual([]);
    childDone = true;
    d.step({ childrenEnded: ['sub'] });
    expect(d.types().slice(-2)).toEqual(['node.completed:sub', 'run.completed']);
  });

  it('a node that walks earlier children again (a fan-out re-executed) announces each child once', () => {
    childDone = false;
    const d = new Driver(fresh(wf([node('sub', 'test.child')]))).step({});
    d.step({ dispatched: [{ nodeId: 'sub', runId: 'run_a', workflowId: 'child-a' }] });
    d.step({ dispatched: [{ nodeId: 'sub', runId: 'run_b', workflowId: 'child-b' }] });
    expect(d.s.proj.children).toEqual({ sub: { runId: 'run_b', workflowId: 'child-b', earlier: ['run_a'] } });
    // The re-execution starts both again (found by their keys), in two steps or in one.
    d.step({ dispatched: [{ nodeId: 'sub', runId: 'run_a', workflowId: 'child-a' }] });
    d.step({ dispatched: [{ nodeId: 'sub', runId: 'run_b', workflowId: 'child-b' }] });
    d.step({
      dispatched: [
        { nodeId: 'sub', runId: 'run_a', workflowId: 'child-a' },
        { nodeId: 'sub', runId: 'run_b', workflowId: 'child-b' },
      ],
    });
    expect(d.types().filter((t) => t === 'node.dispatched:sub')).toHaveLength(2);
  });

  it('a cancelled parent cancels its children', () => {
    childDone = false;
    const d = new Driver(fresh(wf([node('sub', 'test.child')]))).step({});
    d.step({ dispatched: [{ nodeId: 'sub', runId: 'run_child', workflowId: 'child' }] });
    d.step({ cancel: { reason: 'stop', by: 'alice' } as never });
    expect(d.effects).toContainEqual({ type: 'cancel-children', runIds: ['run_child'], by: 'alice' });
  });
});

describe('run state machine: retries and streamed events', () => {
  const flaky = (settings: Record<string, unknown>, wfSettings: Record<string, unknown> = {}) =>
    wf([{ ...node('f', 'test.flaky'), settings } as ReturnType<typeof node>, node('after')], [['f', 'after']], {
      settings: wfSettings,
    } as Partial<WorkflowDefinition>);

  it('retries a retryable failure after a durable backoff, with node.retried and a new node.started per attempt', () => {
    flakyFailures = 2;
    const d = new Driver(fresh(flaky({ retry: { maxRetries: 3, backoffMs: 100, multiplier: 2 } }))).step({});
    expect(d.types()).toEqual(['run.started', 'node.started:f', 'node.retried:f']);
    expect(d.log.at(-1)?.payload).toMatchObject({ attempt: 1, delayMs: 100, lastError: { code: 'upstream_unavailable' } });
    expect(d.s.armed.get('node:f')).toBe(T0 + 100);
    d.step({ now: T0 + 99 });
    expect(d.types().length).toBe(3);
    d.step({ now: T0 + 100, timersFired: ['node:f'] });
    expect(d.types().slice(3)).toEqual(['node.started:f', 'node.retried:f']);
    expect(d.log.find((e) => e.type === 'node.started' && (e.payload as { attempt: number }).attempt === 1)).toBeDefined();
    expect(d.log.at(-1)?.payload).toMatchObject({ attempt: 2, delayMs: 200 });
    d.step({ now: T0 + 300, timersFired: ['node:f'] });
    expect(d.types().slice(5)).toEqual(['node.started:f', 'node.completed:f', 'node.started:after', 'node.completed:after', 'run.completed']);
    expect(d.s.proj.nodeStates.f?.attempt).toBe(2);
  });

  it('fails with the total attempts once the retries are spent; the workflow maxRetries is the default', () => {
    flakyFailures = 5;
    const d = new Driver(fresh(flaky({}, { maxRetries: 1, retry: { backoffMs: 0 } }))).step({});
    expect(d.types()).toEqual(['run.started', 'node.started:f', 'node.retried:f', 'node.started:f', 'node.failed:f', 'node.skipped:after', 'run.failed']);
    expect(d.log.find((e) => e.type === 'node.failed')?.payload).toMatchObject({ attempts: 2, error: { code: 'upstream_unavailable' } });
  });

  it('never retries a non-retryable failure or a code the policy lists', () => {
    const hard = new Driver(fresh(wf([{ ...node('x', 'core.fail'), settings: { retry: { maxRetries: 3, backoffMs: 0 } } } as ReturnType<typeof node>]))).step(
      {},
    );
    expect(hard.types()).toEqual(['run.started', 'node.started:x', 'node.failed:x', 'run.failed']);
    flakyFailures = 1;
    const listed = new Driver(fresh(flaky({ retry: { maxRetries: 3, nonRetryableErrors: ['upstream_unavailable'] } }))).step({});
    expect(listed.types().slice(0, 3)).toEqual(['run.started', 'node.started:f', 'node.failed:f']);
  });

  it('a retry counts against the node-executions cap', () => {
    flakyFailures = 5;
    const s = fresh(flaky({ retry: { maxRetries: 5, backoffMs: 0 } }), { maxNodeExecutions: 2, maxRunDurationMs: 60_000 });
    const d = new Driver(s).step({});
    expect(d.types()).toEqual([
      'run.started',
      'node.started:f',
      'node.retried:f',
      'node.started:f',
      'node.retried:f',
      'cap.breached',
      'node.failed:f',
      'run.failed',
    ]);
    expect(d.log.at(-1)?.payload).toMatchObject({ error: { code: 'recursion_limit_exceeded' } });
  });

  it('a backoff survives a reload: the fresh state waits for the recorded retry time', () => {
    flakyFailures = 1;
    const d = new Driver(fresh(flaky({ retry: { maxRetries: 1, backoffMs: 5000 } }))).step({});
    const reloaded = makeState(
      d.s.rec,
      foldEvents(d.s.graph, d.log),
      d.s.graph,
      d.s.graph.definition,
      { maxNodeExecutions: 100, maxRunDurationMs: 3_600_000 },
      noRedaction,
    );
    expect(step(reloaded, { now: T0 + 4999 }, env).effects).toEqual([]);
    expect(step(reloaded, { now: T0 + 5000 }, env).effects).toEqual([{ type: 'execute', nodeId: 'f' }]);
  });

  it('an attempt past attemptTimeoutMs is aborted and fails node_timeout, which is retried', () => {
    const s = fresh(
      wf([{ ...node('w', 'test.async'), settings: { retry: { maxRetries: 1, backoffMs: 0, attemptTimeoutMs: 50 } } } as ReturnType<typeof node>]),
    );
    const first = step(s, { now: T0 }, env);
    expect(first.timers.set).toContainEqual({ runId: 'run_1', key: 'attempt:w', fireAt: T0 + 50 });
    const late = step(s, { now: T0 + 50, timersFired: ['attempt:w'] }, env);
    expect(late.effects).toEqual([
      { type: 'abort', nodeIds: ['w'] },
      { type: 'execute', nodeId: 'w' },
    ]);
    expect(late.events.map((e) => e.type)).toEqual(['node.retried', 'node.started']);
    expect(JSON.parse(late.events[0]?.json ?? '{}').payload).toMatchObject({ lastError: { code: 'node_timeout' } });
    // A late outcome of the aborted attempt would not count; the new attempt's does.
    const done = step(s, { now: T0 + 60, settled: [{ nodeId: 'w', outcome: { result: { outputs: {} } } }] }, env);
    expect(done.events.map((e) => e.type)).toEqual(['node.completed', 'run.completed']);
  });

  it('events a body emits are appended in order before its terminal event', () => {
    const d = new Driver(fresh(wf([node('s', 'test.stream')]))).step({});
    expect(d.types()).toEqual(['run.started', 'node.started:s', 'output.chunk:s', 'output.chunk:s', 'node.completed:s', 'run.completed']);
    expect(d.log.filter((e) => e.type === 'output.chunk').map((e) => e.payload)).toEqual([
      { chunk: 'Hel', nodeId: 's' },
      { chunk: 'lo', isLast: true, nodeId: 's' },
    ]);
  });
});
