import { afterEach, describe, expect, it } from 'vitest';
import type { RunEventDoc, WorkflowDefinition } from '@weft/contract';
import { foldEvents } from '../fold.js';
import { compileGraph } from '../graph.js';
import { MemoryStore } from '../memory-store.js';
import { NodeRegistry, type NodeResult } from '../nodes.js';
import type { RunRecord } from '../ports.js';
import { RunEngine } from '../run-engine.js';
import { testNode, testWorkflow } from '../workflow-builders.test-support.js';
import {
  childInputs,
  decisionForTurn,
  effectiveInputMapping,
  escalates,
  harvest,
  loopLimit,
  mocksAllowed,
  parseDecision,
  parseDispatchConfig,
} from './orchestration.js';

describe('orchestration (pure)', () => {
  it('accepts only the closed canonical decision set', () => {
    expect(parseDecision({ kind: 'next-worker', nextWorkerIds: ['a'] })).toEqual({ decision: { kind: 'next-worker', nextWorkerIds: ['a'] } });
    expect(parseDecision({ kind: 'terminate', reason: 'goal-reached' })).toEqual({ decision: { kind: 'terminate', reason: 'goal-reached' } });
    expect(parseDecision({ kind: 'ask-user', prompt: 'which?' })).toEqual({ decision: { kind: 'ask-user', prompt: 'which?' } });
    expect(parseDecision({ kind: 'vendor.x.y' })).toHaveProperty('problem');
    expect(parseDecision({ kind: 'next-worker', nextWorkerIds: [] })).toHaveProperty('problem');
    expect(parseDecision({ kind: 'next-worker', nextWorkerIds: ['a'], extra: 1 })).toHaveProperty('problem');
    expect(parseDecision({ kind: 'ask-user' })).toHaveProperty('problem');
    expect(parseDecision({ kind: 'terminate', confidence: 2 })).toHaveProperty('problem');
  });

  it('indexes a plan by the turn, terminates when it is exhausted, and holds a low-confidence pending decision', () => {
    const plan = {
      mockDispatchPlan: [
        { kind: 'next-worker', nextWorkerIds: ['w'] },
        { kind: 'terminate', reason: 'goal-reached' },
      ],
    };
    expect(decisionForTurn(plan, undefined, 1)).toEqual({ from: 'decision', decision: { kind: 'next-worker', nextWorkerIds: ['w'] } });
    expect(decisionForTurn(plan, undefined, 2)).toEqual({ from: 'decision', decision: { kind: 'terminate', reason: 'goal-reached' } });
    expect(decisionForTurn(plan, undefined, 3)).toEqual({ from: 'decision', decision: { kind: 'terminate', reason: 'plan-exhausted' } });
    expect(decisionForTurn({ mockDecisions: [{ kind: 'terminate' }] }, undefined, 1)).toMatchObject({ decision: { kind: 'terminate' } });
    expect(decisionForTurn({}, undefined, 1)).toEqual({ from: 'decision', decision: { kind: 'terminate', reason: 'no-plan' } });
    expect(decisionForTurn({}, { kind: 'ask-user', prompt: 'q' }, 4)).toMatchObject({ decision: { kind: 'ask-user' } });
    expect(decisionForTurn({}, { kind: 'nope' }, 1)).toMatchObject({ from: 'invalid' });
    expect(decisionForTurn({ mockConfidence: 0.5, mockPendingDecision: { kind: 'next-worker', nextWorkerIds: ['n'] } }, undefined, 1)).toEqual({
      from: 'pending',
      decision: { kind: 'next-worker', nextWorkerIds: ['n'] },
      confidence: 0.5,
    });
  });

  it('escalates strictly below the threshold; absent or non-finite never escalates', () => {
    expect(escalates(0.5, 0.7)).toBe(true);
    expect(escalates(0.7, 0.7)).toBe(false);
    expect(escalates(undefined, 0.7)).toBe(false);
    expect(escalates(Number.NaN, 0.7)).toBe(false);
  });

  it('checks dispatch config: conversation routing is refused without the primitive, unknown keys refused', () => {
    expect(parseDispatchConfig({ askUserRouting: 'auto', fanOutPolicy: 'sequential', workerDispatchModel: 'child-run' })).toHaveProperty('config');
    expect(parseDispatchConfig({ askUserRouting: 'conversation' })).toMatchObject({ problems: [{ path: '/askUserRouting' }] });
    expect(parseDispatchConfig({ fanOutPolicy: 'parallel' })).toMatchObject({ problems: [{ path: '/fanOutPolicy' }] });
    expect(parseDispatchConfig({ iterationCap: 0 })).toMatchObject({ problems: [{ path: '/iterationCap' }] });
    expect(parseDispatchConfig({ bogus: 1 })).toMatchObject({ problems: [{ path: '/bogus' }] });
  });

  it('maps inputs (per-worker override replaces the default; unset stays undefined) and harvests only a completed child', () => {
    const c = parseDispatchConfig({ inputMapping: { input: 'defaultX' }, perWorkerInputMappings: { b: { input: 'sharedVar' } } });
    if (!('config' in c)) throw new Error('config');
    expect(childInputs(effectiveInputMapping(c.config, 'a'), { defaultX: 'dx', sharedVar: 'sv' })).toEqual({ input: 'dx' });
    expect(childInputs(effectiveInputMapping(c.config, 'b'), { defaultX: 'dx', sharedVar: 'sv' })).toEqual({ input: 'sv' });
    const unset = childInputs({ childGreeting: 'parentName' }, {});
    expect(unset).toEqual({});
    expect(unset.childGreeting).toBeUndefined();
    expect(harvest({ parentResult: 'childOutcome' }, 'completed', { childOutcome: 'done' })).toEqual({ parentResult: 'done' });
    expect(harvest({ parentResult: 'childOutcome' }, 'failed', { childOutcome: 'x' })).toEqual({});
    expect(harvest({ parentResult: 'missing' }, 'completed', {})).toEqual({});
  });

  it('resolves the loop limit and the mock gate', () => {
    expect(loopLimit(undefined, 100)).toBe(100);
    expect(loopLimit({ maxLoopIterations: 3 }, 100)).toBe(3);
    expect(loopLimit({ maxLoopIterations: 300 }, 100)).toBe(100);
    expect(loopLimit({ maxLoopIterations: 5 }, 100, 2)).toBe(2);
    expect(mocksAllowed('conformance-x', {})).toBe(true);
    expect(mocksAllowed('prod', {})).toBe(false);
    expect(mocksAllowed('prod', { conformance: { mockAgent: true } })).toBe(true);
  });

  it('the fold keeps the latest decision, and marks it superseded when its supervisor starts again', () => {
    const g = compileGraph(loop('w-fold', {}));
    if (!('graph' in g)) throw new Error('no graph');
    const ev = (sequence: number, type: string, nodeId?: string, payload: Record<string, unknown> = {}) => ({
      sequence,
      type,
      payload,
      timestamp: '2026-12-04T00:00:00.000Z',
      ...(nodeId ? { nodeId } : {}),
    });
    const decided = ev(3, 'runOrchestrator.decided', 'sup', { agentId: 'agent.one', decision: { kind: 'terminate' } });
    const p = foldEvents(g.graph, [ev(0, 'run.started'), ev(1, 'node.started', 'sup', { nodeId: 'sup', typeId: 'core.orchestrator.supervisor' }), decided]);
    // A re-execution after a crash (no new node.started) sees its own decision, not superseded.
    expect(p.orchestrator).toEqual({ agentId: 'agent.one', turns: 1, latest: { nodeId: 'sup', decision: { kind: 'terminate' } } });
    const q = foldEvents(g.graph, [ev(0, 'run.started'), ev(1, 'node.started', 'sup'), decided, ev(4, 'node.started', 'sup')]);
    expect(q.orchestrator?.latest.superseded).toBe(true);
  });

  it('drops only back-edges with a dispatch or supervisor endpoint and records the loop body', () => {
    const n = (id: string, typeId: string) => ({ id, typeId, name: id, position: { x: 0, y: 0 }, config: {}, inputs: {} });
    const def = (nodes: ReturnType<typeof n>[], edges: [string, string][]) =>
      ({
        id: 'g',
        name: 'g',
        version: '1',
        nodes,
        edges: edges.map(([s, t], i) => ({ id: `e${i}`, sourceNodeId: s, targetNodeId: t })),
        triggers: [],
        variables: [],
        metadata: {},
        settings: {},
      }) as unknown as WorkflowDefinition;
    const g = compileGraph(
      def(
        [n('start', 'core.noop'), n('plan', 'core.noop'), n('sup', 'core.orchestrator.supervisor'), n('disp', 'core.dispatch')],
        [
          ['start', 'plan'],
          ['plan', 'sup'],
          ['sup', 'disp'],
          ['disp', 'plan'],
        ],
      ),
    );
    if (!('graph' in g)) throw new Error('no graph');
    expect(g.graph.loops.get('disp')).toEqual(['plan', 'sup', 'disp']);
    expect(g.graph.sinks).toEqual(['disp']);
    const cyc = compileGraph(
      def(
        [n('a', 'core.noop'), n('b', 'core.noop')],
        [
          ['a', 'b'],
          ['b', 'a'],
        ],
      ),
    );
    expect(cyc).toHaveProperty('problems');
  });
});

// ---------------------------------------------------------------- engine runs (memory store)

const node = testNode;
const wf = testWorkflow;
const loop = (id: string, supConfig: Record<string, unknown>, dispConfig: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) =>
  wf(
    id,
    [node('sup', 'core.orchestrator.supervisor', supConfig), node('disp', 'core.dispatch', dispConfig)],
    [
      ['sup', 'disp'],
      ['disp', 'sup'],
    ],
    extra,
  );

let engine: RunEngine | undefined;
afterEach(async () => {
  await engine?.stop();
  engine = undefined;
});

async function setup(defs: WorkflowDefinition[], limits = { maxNodeExecutions: 100, maxRunDurationMs: 60_000 }) {
  const store = new MemoryStore();
  engine = new RunEngine({ store, limits });
  for (const d of defs) await engine.catalog.register(d, 'test');
  await engine.start();
  return { store, engine };
}

async function waitFor(store: MemoryStore, e: RunEngine, runId: string, done: (status: string) => boolean, ms = 5000): Promise<RunEventDoc[]> {
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('timed out waiting for the run')), ms);
    const check = (): void => {
      void store.getRunInternal(runId).then((r) => {
        if (r && done(r.projection.status)) {
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
const terminal = (store: MemoryStore, e: RunEngine, rec: RunRecord) => waitFor(store, e, rec.runId, (s) => ['completed', 'failed', 'cancelled'].includes(s));
const types = (evs: RunEventDoc[]) => evs.map((e) => (e.nodeId ? `${e.type}:${e.nodeId}` : e.type));
const childOf = (evs: RunEventDoc[], i = 0) => (evs.filter((e) => e.type === 'node.dispatched')[i]?.payload as { childRunId: string }).childRunId;

describe('supervisor + dispatch (memory engine)', () => {
  const child = wf('w-child', [node('n', 'core.identity')], [], { variables: [{ name: 'out', type: 'string', defaultValue: 'hello' }] });

  it('one decision per turn, one child per worker, terminate completes the run', async () => {
    const def = loop('w-plan', {
      plan: [
        { kind: 'next-worker', nextWorkerIds: ['w-child'] },
        { kind: 'terminate', reason: 'goal-reached' },
      ],
    });
    const { store, engine: e } = await setup([child, def]);
    const rec = await e.createRun({ tenant: 't', principal: 'p', workflowId: 'w-plan' });
    const evs = await terminal(store, e, rec);
    expect(types(evs)).toEqual([
      'run.started',
      'node.started:sup',
      'runOrchestrator.decided:sup',
      'node.completed:sup',
      'node.started:disp',
      'node.dispatched:disp',
      'node.completed:disp',
      'weft.dispatch.looped:disp',
      'node.started:sup',
      'runOrchestrator.decided:sup',
      'node.completed:sup',
      'node.started:disp',
      'node.completed:disp',
      'run.completed',
    ]);
    const decided = evs.filter((x) => x.type === 'runOrchestrator.decided').map((x) => x.payload);
    expect(decided).toEqual([
      { agentId: 'weft.supervisor.sup', decision: { kind: 'next-worker', nextWorkerIds: ['w-child'] } },
      { agentId: 'weft.supervisor.sup', decision: { kind: 'terminate', reason: 'goal-reached' } },
    ]);
    const childRun = await store.getRunInternal(childOf(evs));
    expect(childRun?.projection.status).toBe('completed');
    expect(childRun?.projection.parent).toEqual({ runId: rec.runId, nodeId: 'disp' });
    expect((await store.getRunInternal(rec.runId))?.projection.orchestrator).toMatchObject({ agentId: 'weft.supervisor.sup', turns: 2 });
  });

  it('hands a harvested variable from one worker to the next (sequential fan-out)', async () => {
    const b = wf('w-b', [node('n', 'core.identity')]);
    const def = loop(
      'w-handoff',
      { plan: [{ kind: 'next-worker', nextWorkerIds: ['w-child', 'w-b'] }] },
      { perWorkerOutputMappings: { 'w-child': { shared: 'out' } }, perWorkerInputMappings: { 'w-b': { input: 'shared' } } },
      { variables: [{ name: 'shared', type: 'string', defaultValue: '' }] },
    );
    const { store, engine: e } = await setup([child, b, def]);
    const rec = await e.createRun({ tenant: 't', principal: 'p', workflowId: 'w-handoff' });
    const evs = await terminal(store, e, rec);
    expect(evs.at(-1)?.type).toBe('run.completed');
    expect(evs.filter((x) => x.type === 'node.dispatched')).toHaveLength(2);
    const second = await store.getRunInternal(childOf(evs, 1));
    expect(second?.variables).toMatchObject({ input: 'hello' });
    expect((await store.getRunInternal(rec.runId))?.projection.vars).toMatchObject({ shared: 'hello' });
  });

  it('skips the output mapping of a failed child and keeps going', async () => {
    const failing = wf('w-fail', [node('f', 'core.fail')], [], { variables: [{ name: 'out', type: 'string', defaultValue: 'nope' }] });
    const def = loop(
      'w-fails',
      { plan: [{ kind: 'next-worker', nextWorkerIds: ['w-fail'] }] },
      { outputMapping: { result: 'out' } },
      {
        variables: [{ name: 'result', type: 'string', defaultValue: 'before' }],
      },
    );
    const { store, engine: e } = await setup([failing, def]);
    const rec = await e.createRun({ tenant: 't', principal: 'p', workflowId: 'w-fails' });
    const evs = await terminal(store, e, rec);
    expect(evs.at(-1)?.type).toBe('run.completed');
    expect(evs.find((x) => x.type === 'node.completed' && x.nodeId === 'disp')?.payload).toMatchObject({ outputs: { childStatus: 'failed' } });
    expect(evs.some((x) => x.type === 'variable.changed')).toBe(false);
  });

  it('bounds the loop by maxLoopIterations (cap.breached loop-iterations) and by recursionLimit (node-executions)', async () => {
    const forever = loop('w-forever', { plan: Array.from({ length: 50 }, () => ({ kind: 'next-worker', nextWorkerIds: ['w-child'] })) });
    const { store, engine: e } = await setup([child, forever]);
    const a = await e.createRun({ tenant: 't', principal: 'p', workflowId: 'w-forever', configurable: { maxLoopIterations: 2 } });
    const evs = await terminal(store, e, a);
    expect(evs.find((x) => x.type === 'cap.breached')?.payload).toEqual({ kind: 'loop-iterations', limit: 2, observed: 3, nodeId: 'sup' });
    expect(evs.at(-1)?.payload).toMatchObject({ error: { code: 'loop_limit_exceeded' } });
    const b = await e.createRun({ tenant: 't', principal: 'p', workflowId: 'w-forever', configurable: { recursionLimit: 5 } });
    const evsB = await terminal(store, e, b);
    expect(evsB.find((x) => x.type === 'cap.breached')?.payload).toMatchObject({ kind: 'node-executions', limit: 5, observed: 6 });
    expect(evsB.at(-1)?.payload).toMatchObject({ error: { code: 'recursion_limit_exceeded' } });
  });

  it('iterationCap on the dispatch node fails the run with loop_limit_exceeded', async () => {
    const def = loop('w-capped', { plan: Array.from({ length: 5 }, () => ({ kind: 'next-worker', nextWorkerIds: ['w-child'] })) }, { iterationCap: 1 });
    const { store, engine: e } = await setup([child, def]);
    const rec = await e.createRun({ tenant: 't', principal: 'p', workflowId: 'w-capped' });
    const evs = await terminal(store, e, rec);
    expect(evs.find((x) => x.type === 'cap.breached')?.payload).toEqual({ kind: 'loop-iterations', limit: 1, observed: 2, nodeId: 'disp' });
    expect(evs.at(-1)?.payload).toMatchObject({ error: { code: 'loop_limit_exceeded' } });
  });

  it('fanOutPolicy reject fails a multi-worker decision; ask-user suspends on a clarification', async () => {
    const rej = loop('w-reject', { plan: [{ kind: 'next-worker', nextWorkerIds: ['w-child', 'w-child'] }] }, { fanOutPolicy: 'reject' });
    const ask = loop('w-ask', { plan: [{ kind: 'ask-user', prompt: 'Which region?' }] }, { askUserRouting: 'clarification' });
    const { store, engine: e } = await setup([child, rej, ask]);
    const r1 = await e.createRun({ tenant: 't', principal: 'p', workflowId: 'w-reject' });
    expect((await terminal(store, e, r1)).at(-1)?.payload).toMatchObject({ error: { code: 'fan_out_unsupported' } });
    const r2 = await e.createRun({ tenant: 't', principal: 'p', workflowId: 'w-ask' });
    const evs = await waitFor(store, e, r2.runId, (s) => s === 'waiting-input');
    expect(evs.find((x) => x.type === 'clarification.requested')?.payload).toMatchObject({ questions: [{ id: 'answer', question: 'Which region?' }] });
  });

  it('holds a low-confidence decision (no runOrchestrator.decided) and suspends waiting-approval', async () => {
    const def = loop('conformance-x-low', { mockConfidence: 0.5, mockPendingDecision: { kind: 'next-worker', nextWorkerIds: ['w-child'] } });
    const { store, engine: e } = await setup([child, def]);
    const rec = await e.createRun({ tenant: 't', principal: 'p', workflowId: 'conformance-x-low' });
    const evs = await waitFor(store, e, rec.runId, (s) => s === 'waiting-approval');
    expect(evs.some((x) => x.type === 'runOrchestrator.decided')).toBe(false);
    expect(evs.find((x) => x.type === 'node.suspended')?.payload).toMatchObject({
      reason: 'low-confidence',
      kind: 'low-confidence',
      threshold: 0.7,
      observed: 0.5,
    });
  });

  it('refuses mock config outside conformance workflows and conversation routing at registration', async () => {
    const def = loop('w-mock', { mockDispatchPlan: [{ kind: 'terminate' }] });
    const { store, engine: e } = await setup([def]);
    const rec = await e.createRun({ tenant: 't', principal: 'p', workflowId: 'w-mock' });
    expect((await terminal(store, e, rec)).at(-1)?.payload).toMatchObject({ error: { code: 'validation_error' } });
    await expect(e.catalog.register(loop('w-conv', {}, { askUserRouting: 'conversation' }), 'test')).rejects.toMatchObject({ code: 'validation_error' });
  });
});

describe('core.conformance.mock-agent (memory engine)', () => {
  it('emits the agent.* family in order, deltas before the closing agent.reasoned', async () => {
    const def = wf('conformance-x-agent', [
      node('a', 'core.conformance.mock-agent', {
        mockReasoning: { summary: 's', streamChunks: ['one ', 'two'] },
        mockToolCalls: [{ toolId: 'echo', arguments: { x: 1 }, result: { x: 1 }, durationMs: 1 }],
        mockHandoff: { toAgentId: 'agent.target', reason: 'demo' },
        mockDecision: { decision: { next: 'done' }, confidence: 1 },
      }),
    ]);
    const { store, engine: e } = await setup([def]);
    const rec = await e.createRun({ tenant: 't', principal: 'p', workflowId: 'conformance-x-agent' });
    const evs = await terminal(store, e, rec);
    expect(types(evs).filter((t) => t.startsWith('agent.'))).toEqual([
      'agent.reasoning.delta:a',
      'agent.reasoning.delta:a',
      'agent.reasoned:a',
      'agent.toolCalled:a',
      'agent.toolReturned:a',
      'agent.handoff:a',
      'agent.decided:a',
    ]);
    expect(evs.find((x) => x.type === 'agent.reasoned')?.payload).toMatchObject({ reasoning: 'one two' });
    const called = evs.find((x) => x.type === 'agent.toolCalled')?.payload as { callId: string };
    expect(evs.find((x) => x.type === 'agent.toolReturned')?.payload).toMatchObject({ callId: called.callId, outcome: { x: 1 } });
  });

  it('suspends low-confidence after agent.decided, and refuses to run outside conformance workflows', async () => {
    const low = wf('conformance-x-lowagent', [node('a', 'core.conformance.mock-agent', { mockDecision: { decision: { k: 1 }, confidence: 0.5 } })]);
    const prod = wf('prod-agent', [node('a', 'core.conformance.mock-agent', {})]);
    const { store, engine: e } = await setup([low, prod]);
    const rec = await e.createRun({ tenant: 't', principal: 'p', workflowId: 'conformance-x-lowagent' });
    const evs = await waitFor(store, e, rec.runId, (s) => s === 'waiting-approval');
    expect(types(evs).slice(-3)).toEqual(['agent.decided:a', 'node.suspended:a', 'interrupt.requested:a']);
    expect(evs.find((x) => x.type === 'node.suspended')?.payload).toMatchObject({
      reason: 'low-confidence',
      agentId: 'weft.mock-agent.a',
      threshold: 0.7,
      observed: 0.5,
    });
    const p = await e.createRun({ tenant: 't', principal: 'p', workflowId: 'prod-agent' });
    expect((await terminal(store, e, p)).at(-1)?.payload).toMatchObject({ error: { code: 'validation_error' } });
  });
});

describe('dispatch across a restart (memory store)', () => {
  it('a new process finds the running child by its key: one child, one node.dispatched, no repeated decision', async () => {
    const held: (() => void)[] = [];
    const registry = () => {
      const r = new NodeRegistry();
      r.register({ typeId: 'test.hold', execute: () => new Promise<NodeResult>((resolve) => held.push(() => resolve({ outputs: {} }))) });
      return r;
    };
    const child = wf('w-held', [node('h', 'test.hold')], [], { variables: [{ name: 'out', type: 'string', defaultValue: 'kept' }] });
    const def = loop(
      'w-restart',
      { plan: [{ kind: 'next-worker', nextWorkerIds: ['w-held'] }, { kind: 'terminate' }] },
      { outputMapping: { got: 'out' } },
      {
        variables: [{ name: 'got', type: 'string', defaultValue: '' }],
      },
    );
    const store = new MemoryStore();
    const open = async () => {
      const e = new RunEngine({ store, registry: registry(), limits: { maxNodeExecutions: 100, maxRunDurationMs: 60_000 } });
      for (const d of [child, def]) await e.catalog.register(d, 'test');
      await e.start();
      return e;
    };
    const first = await open();
    const rec = await first.createRun({ tenant: 't', principal: 'p', workflowId: 'w-restart' });
    await expect.poll(() => held.length, { timeout: 5000 }).toBe(1);
    await first.stop();
    held.length = 0;
    engine = await open();
    await expect.poll(() => held.length, { timeout: 5000 }).toBe(1);
    held.shift()?.();
    const evs = await terminal(store, engine, rec);
    expect(evs.at(-1)?.type).toBe('run.completed');
    expect(evs.filter((x) => x.type === 'node.dispatched')).toHaveLength(1);
    expect(evs.filter((x) => x.type === 'runOrchestrator.decided')).toHaveLength(2);
    expect((await store.getRunInternal(rec.runId))?.projection.vars).toMatchObject({ got: 'kept' });
    const childRun = await store.getRunInternal(childOf(evs));
    expect(childRun?.projection.status).toBe('completed');
    // The restarted child kept its parent link (it is on the row, not in the log).
    expect(childRun?.projection.parent).toEqual({ runId: rec.runId, nodeId: 'disp' });
  });
});

describe('a supervisor driven by model output (memory engine)', () => {
  const planner = (): NodeRegistry => {
    const r = new NodeRegistry();
    // Stands in for an LLM planner: next-worker on the first turn, then terminate.
    r.register({
      typeId: 'test.planner',
      execute: (ctx) => ({
        outputs: { decision: (ctx.orchestrator?.turns ?? 0) === 0 ? { kind: 'next-worker', nextWorkerIds: ['w-child'] } : { kind: 'terminate' } },
      }),
    });
    return r;
  };
  const def = (id: string, supConfig: Record<string, unknown>) => {
    const d = wf(id, [node('plan', 'test.planner'), node('sup', 'core.orchestrator.supervisor', supConfig), node('disp', 'core.dispatch')]);
    d.edges = [
      { id: 'e1', sourceNodeId: 'plan', targetNodeId: 'sup', sourceOutput: 'decision', targetInput: 'decision' },
      { id: 'e2', sourceNodeId: 'sup', targetNodeId: 'disp' },
      { id: 'e3', sourceNodeId: 'disp', targetNodeId: 'plan' },
    ] as WorkflowDefinition['edges'];
    return d;
  };

  it('invariant: model-output-cannot-widen-dispatch — a decision from the decision input names only allowedWorkers, else nothing is dispatched', async () => {
    const store = new MemoryStore();
    engine = new RunEngine({ store, registry: planner(), limits: { maxNodeExecutions: 100, maxRunDurationMs: 60_000 } });
    const child = wf('w-child', [node('n', 'core.identity')]);
    for (const d of [child, def('w-open', {}), def('w-other', { allowedWorkers: ['w-else'] }), def('w-allowed', { allowedWorkers: ['w-child'] })])
      await engine.catalog.register(d, 'test');
    await engine.start();
    for (const id of ['w-open', 'w-other']) {
      const rec = await engine.createRun({ tenant: 't', principal: 'p', workflowId: id });
      const evs = await terminal(store, engine, rec);
      expect(evs.at(-1)?.payload, id).toMatchObject({ error: { code: 'validation_error' } });
      expect(evs.some((x) => x.type === 'node.dispatched' || x.type === 'runOrchestrator.decided')).toBe(false);
    }
    const ok = await engine.createRun({ tenant: 't', principal: 'p', workflowId: 'w-allowed' });
    const evs = await terminal(store, engine, ok);
    expect(evs.at(-1)?.type).toBe('run.completed');
    expect(evs.filter((x) => x.type === 'node.dispatched')).toHaveLength(1);
    // The planner is inside the loop: it ran once per turn.
    expect(
      evs.filter((x) => x.type === 'node.started' && x.nodeId === 'plan'),
      types(evs).join(' '),
    ).toHaveLength(2);
  });
});
