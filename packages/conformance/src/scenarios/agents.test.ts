/**
 * Multi-agent (decision 0026): `core.orchestrator.supervisor` + `core.dispatch` over child runs
 * and `core.conformance.mock-agent`, black-box. The official fixtures run when ../shared is
 * present; Weft's own examples (examples/workflows/weft-agents-*.json, weft-mock-agent.json)
 * cover the same behaviour on a clone without it.
 */
import { describe, expect, it } from 'vitest';
import type { RunEventDoc } from '@weft/contract';
import { call, lacks, snapshot, startRun, target, waitForEvent, waitForTerminal } from '../harness.js';

const payloadsOf = (evs: RunEventDoc[], type: string) => evs.filter((e) => e.type === type).map((e) => e.payload as Record<string, unknown>);
const childIds = (evs: RunEventDoc[]) => payloadsOf(evs, 'node.dispatched').map((p) => p.childRunId as string);
const vars = async (runId: string) => (await snapshot(runId)).variables as Record<string, unknown>;

describe.skipIf(
  await lacks('the official orchestrator/dispatch fixtures', {
    workflows: [
      'conformance-orchestrator-dispatch',
      'conformance-orchestrator-terminate',
      'conformance-orchestrator-low-confidence',
      'conformance-dispatch-loop',
      'conformance-dispatch-input-mapping',
      'conformance-dispatch-input-mapping-no-default',
      'conformance-dispatch-output-mapping',
      'conformance-dispatch-cross-worker-handoff',
      'conformance-dispatch-per-worker-override',
      'conformance-dispatch-cancellable-child',
      'conformance-dispatch-deterministic-fail-child',
      'conformance-noop',
    ],
  }),
)('agents: official orchestrator and dispatch fixtures', () => {
  it('orchestrator-dispatch: next-worker runs the child, then terminate completes the run', async () => {
    const { runId } = await startRun('conformance-orchestrator-dispatch');
    const evs = await waitForTerminal(runId);
    expect(evs.at(-1)?.type).toBe('run.completed');
    const decided = evs.filter((e) => e.type === 'runOrchestrator.decided');
    expect(decided.map((e) => e.payload)).toEqual([
      { agentId: 'core.conformance.supervisor', decision: { kind: 'next-worker', nextWorkerIds: ['conformance-noop'] } },
      { agentId: 'core.conformance.supervisor', decision: { kind: 'terminate', reason: 'goal-reached' } },
    ]);
    expect(decided.every((e) => e.nodeId === 'supervisor')).toBe(true);
    const [dispatched] = evs.filter((e) => e.type === 'node.dispatched');
    expect(dispatched?.nodeId).toBe('dispatch');
    expect(dispatched?.payload).toMatchObject({ childWorkflowId: 'conformance-noop' });
    const child = await snapshot(childIds(evs)[0] as string);
    expect(child).toMatchObject({ status: 'completed', parentRunId: runId, parentNodeId: 'dispatch', workflowId: 'conformance-noop' });
    expect((await snapshot(runId)).runOrchestrator).toEqual({ agentId: 'core.conformance.supervisor' });
  });

  it('orchestrator-terminate (CO-3): one terminate decision, completed, nothing dispatched', async () => {
    const { runId } = await startRun('conformance-orchestrator-terminate');
    const evs = await waitForTerminal(runId);
    expect(evs.at(-1)?.type).toBe('run.completed');
    expect(payloadsOf(evs, 'runOrchestrator.decided')).toEqual([
      { agentId: 'core.conformance.terminate-supervisor', decision: { kind: 'terminate', reason: 'goal-reached' } },
    ]);
    expect(evs.some((e) => e.type === 'node.dispatched')).toBe(false);
  });

  it('orchestrator-low-confidence (CP-1): the decision is held, the supervisor suspends, the run waits for approval', async () => {
    const { runId } = await startRun('conformance-orchestrator-low-confidence');
    const evs = await waitForEvent(runId, 'node.suspended');
    expect(evs.some((e) => e.type === 'runOrchestrator.decided')).toBe(false);
    expect(evs.find((e) => e.type === 'node.suspended')?.payload).toMatchObject({
      nodeId: 'supervisor',
      kind: 'low-confidence',
      reason: 'low-confidence',
      threshold: 0.7,
      observed: 0.5,
    });
    expect((await snapshot(runId)).status).toBe('waiting-approval');
    await call('POST', `/v1/runs/${runId}/cancel`, { body: {} });
  });

  it('dispatch-loop: a supervisor without a plan terminates and the loop completes', async () => {
    const { runId } = await startRun('conformance-dispatch-loop');
    const evs = await waitForTerminal(runId);
    expect(evs.at(-1)?.type).toBe('run.completed');
    expect(payloadsOf(evs, 'runOrchestrator.decided').map((p) => (p.decision as { kind: string }).kind)).toEqual(['terminate']);
  });

  it('dispatch-input-mapping: the child gets childGreeting from the parent; unset parent variable stays undefined', async () => {
    const a = await startRun('conformance-dispatch-input-mapping');
    const evsA = await waitForTerminal(a.runId);
    expect(evsA.at(-1)?.type).toBe('run.completed');
    expect(await vars(childIds(evsA)[0] as string)).toMatchObject({ childGreeting: 'Alice' });
    const b = await startRun('conformance-dispatch-input-mapping-no-default');
    const evsB = await waitForTerminal(b.runId);
    expect(evsB.at(-1)?.type).toBe('run.completed');
    const childVars = await vars(childIds(evsB)[0] as string);
    expect(childVars.childGreeting).toBeUndefined();
    expect('childGreeting' in childVars).toBe(false);
  });

  it('dispatch-output-mapping: a completed child is harvested into the parent', async () => {
    const { runId } = await startRun('conformance-dispatch-output-mapping');
    const evs = await waitForTerminal(runId);
    expect(evs.at(-1)?.type).toBe('run.completed');
    expect(await vars(runId)).toMatchObject({ parentResult: 'done' });
    expect(payloadsOf(evs, 'variable.changed')).toEqual([expect.objectContaining({ name: 'parentResult', next: 'done', previous: '' })]);
  });

  it('dispatch-cross-worker-handoff: child-a output feeds child-b input through the parent variable bag', async () => {
    const { runId } = await startRun('conformance-dispatch-cross-worker-handoff');
    const evs = await waitForTerminal(runId);
    expect(evs.at(-1)?.type).toBe('run.completed');
    const [a, b] = childIds(evs);
    expect(payloadsOf(evs, 'node.dispatched').map((p) => p.childWorkflowId)).toEqual([
      'conformance-dispatch-cross-worker-handoff-child-a',
      'conformance-dispatch-cross-worker-handoff-child-b',
    ]);
    expect((await snapshot(a as string)).status).toBe('completed');
    expect(await vars(b as string)).toMatchObject({ input: 'hello' });
    expect(await vars(runId)).toMatchObject({ sharedVar: 'hello' });
  });

  it('dispatch-per-worker-override: the named child uses its override, the other the default mapping', async () => {
    const { runId } = await startRun('conformance-dispatch-per-worker-override');
    const evs = await waitForTerminal(runId);
    expect(evs.at(-1)?.type).toBe('run.completed');
    const [a, b] = childIds(evs);
    expect(await vars(a as string)).toMatchObject({ input: 'default-x-value' });
    expect(await vars(b as string)).toMatchObject({ input: 'shared-value' });
  });

  // The two official children are dispatched by a parent the test registers (the upstream
  // suite does the same with the output-mapping parent).
  const parentOf = (id: string, child: string) => ({
    id,
    name: id,
    version: '1.0',
    nodes: [
      {
        id: 'supervisor',
        typeId: 'core.orchestrator.supervisor',
        name: 'supervisor',
        position: { x: 0, y: 0 },
        config: { plan: [{ kind: 'next-worker', nextWorkerIds: [child] }] },
        inputs: {},
      },
      {
        id: 'dispatch',
        typeId: 'core.dispatch',
        name: 'dispatch',
        position: { x: 1, y: 0 },
        config: { outputMapping: { parentResult: 'childOutcome' } },
        inputs: {},
      },
    ],
    edges: [
      { id: 'e1', sourceNodeId: 'supervisor', targetNodeId: 'dispatch' },
      { id: 'e2', sourceNodeId: 'dispatch', targetNodeId: 'supervisor' },
    ],
    triggers: [{ id: 'manual', type: 'manual', enabled: true }],
    variables: [{ name: 'parentResult', type: 'string', defaultValue: 'pre-dispatch' }],
    metadata: {},
    settings: { timeout: 60000 },
  });

  it.skipIf(!target.inProcess)('HVMAP-1b-failed / -cancelled: a failed or cancelled child is not harvested; the parent goes on', async () => {
    const failId = `weft-test-dispatch-fail-${Date.now().toString(36)}`;
    const cancelId = `weft-test-dispatch-cancel-${Date.now().toString(36)}`;
    expect((await call('POST', '/v1/host/weft/workflows', { body: parentOf(failId, 'conformance-dispatch-deterministic-fail-child') })).status).toBe(201);
    expect((await call('POST', '/v1/host/weft/workflows', { body: parentOf(cancelId, 'conformance-dispatch-cancellable-child') })).status).toBe(201);
    const f = await startRun(failId);
    const evsF = await waitForTerminal(f.runId);
    expect(evsF.at(-1)?.type).toBe('run.completed');
    const failedChild = await snapshot(childIds(evsF)[0] as string);
    expect(failedChild).toMatchObject({ status: 'failed', error: { code: 'hvmap_1b_failed_fixture' } });
    expect(await vars(f.runId)).toMatchObject({ parentResult: 'pre-dispatch' });

    const c = await startRun(cancelId);
    const dispatched = await waitForEvent(c.runId, 'node.dispatched');
    const childRunId = childIds(dispatched)[0] as string;
    await waitForEvent(childRunId, 'node.started');
    expect((await call('POST', `/v1/runs/${childRunId}/cancel`, { body: { reason: 'test' } })).status).toBe(200);
    const evsC = await waitForTerminal(c.runId);
    expect(evsC.at(-1)?.type).toBe('run.completed');
    expect((await snapshot(childRunId)).status).toBe('cancelled');
    expect(evsC.find((e) => e.type === 'node.completed' && e.nodeId === 'dispatch')?.payload).toMatchObject({ outputs: { childStatus: 'cancelled' } });
    expect(await vars(c.runId)).toMatchObject({ parentResult: 'pre-dispatch' });
    await call('DELETE', `/v1/host/weft/workflows/${failId}`);
    await call('DELETE', `/v1/host/weft/workflows/${cancelId}`);
  });

  it('agent-channel-dispatch is refused (no agents.deployment): validation_error, so it is not seeded', async (ctx) => {
    if (!target.inProcess) return ctx.skip();
    expect((await call('GET', '/v1/workflows/conformance-agent-channel-dispatch')).status).toBe(404);
    const def = {
      id: 'weft-test-channel-agent',
      name: 'channel agent',
      version: '1.0',
      nodes: [
        { id: 'n', typeId: 'core.identity', name: 'n', position: { x: 0, y: 0 }, config: {}, inputs: {}, agent: { agentId: 'core.x', channel: 'stable' } },
      ],
      edges: [],
      triggers: [{ id: 'manual', type: 'manual', enabled: true }],
      variables: [],
      metadata: {},
      settings: {},
    };
    const r = await call('POST', '/v1/host/weft/workflows', { body: def });
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ error: 'validation_error' });
  });
});

describe.skipIf(
  await lacks('the official mock-agent fixtures', {
    workflows: ['conformance-agent-reasoning', 'conformance-agent-reasoning-streaming', 'conformance-agent-low-confidence'],
  }),
)('agents: official mock-agent fixtures', () => {
  it('agent-reasoning: reasoned → toolCalled/toolReturned (paired callId) → handoff → decided, each with agentId', async () => {
    const { runId } = await startRun('conformance-agent-reasoning');
    const evs = await waitForTerminal(runId);
    expect(evs.at(-1)?.type).toBe('run.completed');
    const agentEvs = evs.filter((e) => e.type.startsWith('agent.'));
    expect(agentEvs.map((e) => e.type)).toEqual(['agent.reasoned', 'agent.toolCalled', 'agent.toolReturned', 'agent.handoff', 'agent.decided']);
    for (const e of agentEvs)
      expect(((e.payload as { agentId?: string }).agentId ?? (e.payload as { fromAgentId?: string }).fromAgentId)?.length).toBeGreaterThan(2);
    const [called] = payloadsOf(evs, 'agent.toolCalled');
    expect(payloadsOf(evs, 'agent.toolReturned')[0]).toMatchObject({ callId: called?.callId, toolName: 'openwop.echo:echo', outcome: { x: 1 } });
    expect(payloadsOf(evs, 'agent.decided')[0]).toMatchObject({ agentId: 'core.conformance.reasoning-agent', decision: { next: 'done' }, confidence: 1 });
  });

  it('agent-reasoning-streaming: one delta per chunk (sequence 0..N-1), then one agent.reasoned with their concatenation', async () => {
    const { runId } = await startRun('conformance-agent-reasoning-streaming');
    const evs = await waitForTerminal(runId);
    const deltas = payloadsOf(evs, 'agent.reasoning.delta');
    expect(deltas.map((d) => d.sequence)).toEqual([0, 1, 2]);
    const reasoned = payloadsOf(evs, 'agent.reasoned');
    expect(reasoned).toHaveLength(1);
    expect(reasoned[0]?.reasoning).toBe(deltas.map((d) => d.delta).join(''));
    const lastDelta = evs.findLastIndex((e) => e.type === 'agent.reasoning.delta');
    expect(evs.findIndex((e) => e.type === 'agent.reasoned')).toBeGreaterThan(lastDelta);
  });

  it('agent-low-confidence: agent.decided below 0.7 is followed by node.suspended{low-confidence}; run waits for approval', async () => {
    const { runId } = await startRun('conformance-agent-low-confidence');
    const evs = await waitForEvent(runId, 'node.suspended');
    const decided = evs.findIndex((e) => e.type === 'agent.decided');
    const suspended = evs.findIndex((e) => e.type === 'node.suspended');
    expect(decided).toBeGreaterThan(-1);
    expect(suspended).toBeGreaterThan(decided);
    expect(evs[suspended]?.payload).toMatchObject({ reason: 'low-confidence', agentId: 'core.conformance.low-conf-decider', threshold: 0.7, observed: 0.5 });
    expect((await snapshot(runId)).status).toBe('waiting-approval');
    await call('POST', `/v1/runs/${runId}/cancel`, { body: {} });
  });
});

describe.skipIf(
  await lacks('the multi-agent examples', {
    workflows: [
      'weft-agents-team',
      'weft-agents-researcher',
      'weft-agents-writer',
      'weft-agents-fail-parent',
      'weft-agents-failing-worker',
      'weft-agents-cancel-parent',
      'weft-agents-slow-worker',
      'weft-agents-ask',
      'weft-agents-forever',
      'weft-hello',
      'weft-mock-agent',
      'weft-agents-review',
      'weft-review',
    ],
  }),
)('agents: Weft multi-agent examples', () => {
  it('a worker waiting on a person: the parent mirrors waiting-approval; approving the worker lets the loop finish', async () => {
    const { runId } = await startRun('weft-agents-review');
    const childRunId = childIds(await waitForEvent(runId, 'node.dispatched'))[0] as string;
    await waitForEvent(childRunId, 'interrupt.requested');
    expect(await vars(childRunId)).toMatchObject({ text: 'Weft runs agents as workflows.' });
    expect(await snapshot(runId)).toMatchObject({ status: 'waiting-approval', waitingOnChildRunId: childRunId });
    expect((await call('POST', `/v1/runs/${childRunId}/interrupts/review`, { body: { resumeValue: { action: 'accept' } } })).status).toBe(200);
    const evs = await waitForTerminal(runId);
    expect(evs.at(-1)?.type).toBe('run.completed');
    expect(payloadsOf(evs, 'runOrchestrator.decided').map((p) => (p.decision as { kind: string }).kind)).toEqual(['next-worker', 'terminate']);
    expect((await snapshot(childRunId)).status).toBe('completed');
  });

  it('a scripted supervisor sends two workers in turn; the variable bag hands findings from one to the next', async () => {
    const { runId } = await startRun('weft-agents-team', { inputs: { topic: 'caps' } });
    const evs = await waitForTerminal(runId);
    expect(evs.at(-1)?.type).toBe('run.completed');
    const [researcher, writer] = childIds(evs);
    expect(await vars(researcher as string)).toMatchObject({ topic: 'caps', findings: 'three findings' });
    // A per-worker mapping replaces the default one whole: the writer gets notes, not topic.
    const writerVars = await vars(writer as string);
    expect(writerVars).toMatchObject({ notes: 'three findings' });
    expect(writerVars.topic).toBeUndefined();
    expect(await vars(runId)).toMatchObject({ findings: 'three findings', draft: 'a draft' });
    for (const id of [researcher, writer]) expect(await snapshot(id as string)).toMatchObject({ parentRunId: runId, parentNodeId: 'dispatch' });
    expect(payloadsOf(evs, 'runOrchestrator.decided').map((p) => p.agentId)).toEqual(['weft.example.supervisor', 'weft.example.supervisor']);
    expect(evs.filter((e) => e.type === 'node.started').map((e) => e.nodeId)).toEqual(['supervisor', 'dispatch', 'supervisor', 'dispatch']);
  });

  it('a failed worker is not harvested and the supervisor still terminates cleanly', async () => {
    const { runId } = await startRun('weft-agents-fail-parent');
    const evs = await waitForTerminal(runId);
    expect(evs.at(-1)?.type).toBe('run.completed');
    expect((await snapshot(childIds(evs)[0] as string)).error).toMatchObject({ code: 'worker_failed' });
    expect(await vars(runId)).toMatchObject({ result: 'before' });
  });

  it('cancelling the parent cascades to the running worker (reason parent-cancelled)', async () => {
    const { runId } = await startRun('weft-agents-cancel-parent');
    const childRunId = childIds(await waitForEvent(runId, 'node.dispatched'))[0] as string;
    await waitForEvent(childRunId, 'node.started');
    expect((await call('POST', `/v1/runs/${runId}/cancel`, { body: { reason: 'stop' } })).status).toBe(200);
    expect((await waitForTerminal(runId)).at(-1)?.type).toBe('run.cancelled');
    const childEvs = await waitForTerminal(childRunId);
    expect(childEvs.at(-1)).toMatchObject({ type: 'run.cancelled', payload: { reason: 'parent-cancelled', parentRunId: runId } });
  });

  it('an ask-user decision becomes a clarification; the answer resumes the loop to terminate', async () => {
    const { runId } = await startRun('weft-agents-ask');
    const evs = await waitForEvent(runId, 'clarification.requested');
    expect(evs.find((e) => e.type === 'clarification.requested')?.payload).toMatchObject({
      questions: [{ id: 'answer', question: 'Which region should the report cover?' }],
    });
    expect((await snapshot(runId)).status).toBe('waiting-input');
    const r = await call('POST', `/v1/runs/${runId}/interrupts/dispatch`, { body: { resumeValue: { answers: { answer: 'EMEA' } } } });
    expect(r.status).toBe(200);
    const done = await waitForTerminal(runId);
    expect(done.at(-1)?.type).toBe('run.completed');
    expect(done.find((e) => e.type === 'node.completed' && e.nodeId === 'dispatch')?.payload).toMatchObject({
      outputs: { decision: 'ask-user', answer: { answers: { answer: 'EMEA' } } },
    });
  });

  it('the loop is bounded: maxLoopIterations → cap.breached loop-iterations; recursionLimit → node-executions', async () => {
    const a = await startRun('weft-agents-forever', { configurable: { maxLoopIterations: 2 } });
    const evsA = await waitForTerminal(a.runId);
    expect(evsA.find((e) => e.type === 'cap.breached')?.payload).toEqual({ kind: 'loop-iterations', limit: 2, observed: 3, nodeId: 'supervisor' });
    expect((await snapshot(a.runId)).error).toMatchObject({ code: 'loop_limit_exceeded' });
    const b = await startRun('weft-agents-forever', { configurable: { recursionLimit: 3 } });
    const evsB = await waitForTerminal(b.runId);
    const breach = evsB.findIndex((e) => e.type === 'cap.breached');
    expect(evsB[breach]?.payload).toMatchObject({ kind: 'node-executions', limit: 3, observed: 4 });
    expect(evsB.filter((e) => e.type === 'node.started')).toHaveLength(3);
    expect((await snapshot(b.runId)).error).toMatchObject({ code: 'recursion_limit_exceeded' });
  });

  it('the mock agent (conformance.mockAgent) streams reasoning, pairs its tool call and suspends below the threshold', async () => {
    const { runId } = await startRun('weft-mock-agent');
    const evs = await waitForEvent(runId, 'node.suspended');
    expect(evs.filter((e) => e.type.startsWith('agent.')).map((e) => e.type)).toEqual([
      'agent.reasoning.delta',
      'agent.reasoning.delta',
      'agent.reasoning.delta',
      'agent.reasoned',
      'agent.toolCalled',
      'agent.toolReturned',
      'agent.handoff',
      'agent.decided',
    ]);
    expect(evs.find((e) => e.type === 'node.suspended')?.payload).toMatchObject({ reason: 'low-confidence', observed: 0.4 });
    const r = await call('POST', `/v1/runs/${runId}/interrupts/agent`, { body: { resumeValue: { action: 'accept' } } });
    expect(r.status).toBe(200);
    const done = await waitForTerminal(runId);
    expect(done.at(-1)?.type).toBe('run.completed');
    // The review resumed the node: the agent events were not emitted a second time.
    expect(done.filter((e) => e.type === 'agent.decided')).toHaveLength(1);
  });

  it('discovery advertises the orchestrator, dispatch and agent blocks honestly', async () => {
    const d = (await call('GET', '/.well-known/openwop')).body as Record<string, Record<string, unknown>>;
    expect(d.agents).toMatchObject({ supported: true, orchestrator: true, dispatch: true, dispatchMapping: true, reasoning: { streaming: true } });
    expect(d.orchestrator).toMatchObject({ supported: true });
    expect(d.dispatch).toMatchObject({ supported: true, models: ['child-run'] });
    expect(d.limits).toMatchObject({ maxLoopIterations: expect.any(Number) });
    expect(d.conversationPrimitive).toBeUndefined();
  });
});
