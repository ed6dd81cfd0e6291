/**
 * The multi-agent node types (decision 0026): `core.orchestrator.supervisor` (one
 * OrchestratorDecision per turn, `runOrchestrator.decided`, low-confidence suspension),
 * `core.dispatch` (acts on the latest decision: child runs per worker through the sub-workflow
 * machinery, a clarification for ask-user, completion for terminate) and the conformance-only
 * `core.conformance.mock-agent`. The decisions themselves are pure (`orchestration.ts`).
 *
 * The loop: the back-edge dispatch → supervisor is inert for scheduling (graph.ts); a dispatch
 * that acted on next-worker or ask-user completes with `repeat`, the machine appends
 * `weft.dispatch.looped` and the loop body runs again, each execution a `node.started` counted
 * against `recursionLimit`.
 */
import { createHash } from 'node:crypto';
import { isTerminalStatus } from '@weft/contract';
import { NodeError, SuspendSignal, type NodeContext, type NodeResult, type NodeType } from '../nodes.js';
import {
  agentIdOf,
  childInputs,
  decisionForTurn,
  effectiveInputMapping,
  effectiveOutputMapping,
  escalates,
  escalationThreshold,
  harvest,
  loopLimit,
  MAX_LOOP_ITERATIONS,
  MOCK_SUPERVISOR_KEYS,
  mocksAllowed,
  parseDecision,
  parseDispatchConfig,
  workerProblem,
  type OrchestratorDecision,
} from './orchestration.js';

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** What a low-confidence review answered: a rejection terminates, a valid decision replaces the held one. */
function ratified(held: OrchestratorDecision, resume: unknown): OrchestratorDecision {
  if (isObj(resume)) {
    if (resume.action === 'reject' || resume.decision === 'rejected') return { kind: 'terminate', reason: 'rejected-by-reviewer' };
    if (isObj(resume.decision)) {
      const p = parseDecision(resume.decision);
      if ('decision' in p) return p.decision;
    }
  }
  return held;
}

/** The turn limit breach: `cap.breached{kind:"loop-iterations"}` then `loop_limit_exceeded`. */
function loopBreach(ctx: NodeContext, limit: number, observed: number): never {
  ctx.emit('cap.breached', { kind: 'loop-iterations', limit, observed });
  throw new NodeError('loop_limit_exceeded', `The orchestrator loop exceeded its limit of ${limit} turns.`, { nodeId: ctx.nodeId, limit, observed });
}

/** `core.orchestrator.supervisor`: one decision per turn. See {@link decisionForTurn}. */
async function supervisor(ctx: NodeContext): Promise<NodeResult> {
  const orch = ctx.orchestrator;
  const agentId = orch?.agentId ?? agentIdOf(ctx.agent, `weft.supervisor.${ctx.nodeId}`);
  // This execution already decided (re-executed after a crash): the recorded decision stands.
  if (orch && orch.latest.nodeId === ctx.nodeId && orch.latest.superseded !== true)
    return { outputs: { decision: orch.latest.decision, agentId, turn: orch.turns } };
  const mocks = MOCK_SUPERVISOR_KEYS.filter((k) => ctx.config[k] !== undefined);
  if (mocks.length > 0 && !mocksAllowed(ctx.workflowId, ctx.config))
    throw new NodeError('validation_error', 'Mock supervisor config is for conformance workflows only.', { nodeId: ctx.nodeId, keys: mocks });
  const turn = (orch?.turns ?? 0) + 1;
  const limit = loopLimit(ctx.configurable, MAX_LOOP_ITERATIONS);
  if (turn > limit) loopBreach(ctx, limit, turn);
  const src = decisionForTurn(ctx.config, ctx.inputs.decision, turn);
  if (src.from === 'invalid') throw new NodeError('validation_error', `core.orchestrator.supervisor: ${src.problem}`, { nodeId: ctx.nodeId });
  let decision = src.decision;
  const refuse = (d: OrchestratorDecision): void => {
    const problem = workerProblem(d, 'untrusted' in src && src.untrusted === true, ctx.config.allowedWorkers);
    if (problem) throw new NodeError('validation_error', `core.orchestrator.supervisor: ${problem}.`, { nodeId: ctx.nodeId });
  };
  refuse(decision);
  const threshold = escalationThreshold(ctx.configurable);
  if (escalates(src.confidence, threshold)) {
    // CP-1: the decision is held (no runOrchestrator.decided) until a person ratifies it.
    const resume = ctx.interrupt({
      kind: 'low-confidence',
      key: `low-confidence:${turn}`,
      data: { agentId, threshold, observed: src.confidence, decision },
    });
    decision = ratified(decision, resume);
    refuse(decision);
  }
  ctx.emit('runOrchestrator.decided', { agentId, decision });
  return { outputs: { decision, agentId, turn } };
}

/** `core.dispatch`: acts on the latest decision. Config: dispatch-config.schema.json. */
async function dispatch(ctx: NodeContext): Promise<NodeResult> {
  const parsed = parseDispatchConfig(ctx.config);
  if ('problems' in parsed) throw new NodeError('validation_error', 'core.dispatch config is invalid.', { nodeId: ctx.nodeId, errors: parsed.problems });
  const cfg = parsed.config;
  const orch = ctx.orchestrator;
  if (!orch) throw new NodeError('validation_error', 'core.dispatch found no orchestrator decision to act on.', { nodeId: ctx.nodeId });
  const p = parseDecision(orch.latest.decision);
  if ('problem' in p) throw new NodeError('validation_error', `core.dispatch: ${p.problem}`, { nodeId: ctx.nodeId });
  const turn = orch.turns;
  if (cfg.iterationCap !== undefined && turn > cfg.iterationCap) loopBreach(ctx, cfg.iterationCap, turn);
  const d = p.decision;
  if (d.kind === 'terminate') return { outputs: { decision: 'terminate', turn, ...(d.reason ? { reason: d.reason } : {}) } };
  if (d.kind === 'ask-user') {
    // No conversation primitive here: `auto` routes through a clarification (conversation is refused at registration).
    const answer = ctx.interrupt({ kind: 'clarification', key: `ask-user:${turn}`, data: { questions: [{ id: 'answer', question: d.prompt }] } });
    return { outputs: { decision: 'ask-user', turn, answer }, repeat: true };
  }
  if (d.nextWorkerIds.length > 1 && cfg.fanOutPolicy === 'reject')
    throw new NodeError('fan_out_unsupported', 'This dispatch node rejects a decision with more than one worker.', {
      nodeId: ctx.nodeId,
      workers: d.nextWorkerIds.length,
    });
  // Sequential fan-out: each child after the previous one ended; the parent variable bag is the
  // handoff channel (a harvested value feeds the next child's inputs). A re-execution (after a
  // child ended) walks the same children again: each is found by its key, not started twice.
  const vars: Record<string, unknown> = { ...ctx.variables };
  const changed: Record<string, unknown> = {};
  const children: { workerId: string; childRunId: string; childStatus: string }[] = [];
  for (const [i, workerId] of d.nextWorkerIds.entries()) {
    const inputs = childInputs(effectiveInputMapping(cfg, workerId), vars);
    let childRunId: string;
    try {
      childRunId = await ctx.children.start(workerId, inputs, `${turn}:${i}`);
    } catch (e) {
      if (e instanceof NodeError) throw e;
      const code = (e as { code?: unknown }).code;
      if (code === 'validation_error' || code === 'capability_required')
        throw new NodeError('unknown_child_workflow', `Worker ${i} of turn ${turn} cannot be started as a child run.`, {
          nodeId: ctx.nodeId,
          worker: i,
          reason: code,
        });
      throw e;
    }
    const child = await ctx.children.get(childRunId);
    if (!child || !isTerminalStatus(child.status)) return { waitForChild: childRunId };
    const got = harvest(effectiveOutputMapping(cfg, workerId), child.status, child.variables);
    Object.assign(vars, got);
    Object.assign(changed, got);
    children.push({ workerId, childRunId, childStatus: child.status });
  }
  const last = children.at(-1) as { childRunId: string; childStatus: string };
  const outputs = { decision: 'next-worker', turn, childRunId: last.childRunId, childStatus: last.childStatus, children };
  return Object.keys(changed).length > 0 ? { outputs, variables: changed, repeat: true } : { outputs, repeat: true };
}

/** A host-minted, deterministic call id pairing `agent.toolCalled` with `agent.toolReturned`. */
const callIdOf = (ctx: NodeContext, i: number): string =>
  `call_${createHash('sha256').update(`${ctx.runId}\u0000${ctx.nodeId}\u0000${i}`).digest('hex').slice(0, 24)}`;

/**
 * `core.conformance.mock-agent` (core-conformance-mock-agent-config.schema.json): emits
 * `agent.reasoned` (after one `agent.reasoning.delta` per `mockReasoning.streamChunks` entry),
 * `agent.toolCalled`/`agent.toolReturned` pairs, `agent.handoff`, `agent.decided`, then suspends
 * `low-confidence` when the decision's confidence is below the threshold. Conformance only.
 */
async function mockAgent(ctx: NodeContext): Promise<NodeResult> {
  const cfg = ctx.config;
  if (!mocksAllowed(ctx.workflowId, cfg))
    throw new NodeError('validation_error', 'core.conformance.mock-agent runs only in conformance-* workflows (or with conformance.mockAgent: true).', {
      nodeId: ctx.nodeId,
    });
  const agentId = agentIdOf(ctx.agent, `weft.mock-agent.${ctx.nodeId}`);
  const decision = isObj(cfg.mockDecision) ? cfg.mockDecision : undefined;
  const confidence = decision?.confidence;
  const threshold = escalationThreshold(ctx.configurable);
  const emitAll = (): void => {
    const r = isObj(cfg.mockReasoning) ? cfg.mockReasoning : undefined;
    if (r) {
      const verbosityAsked = ctx.configurable?.reasoningVerbosity;
      const verbosity = verbosityAsked === 'full' || verbosityAsked === 'off' ? verbosityAsked : 'summary';
      const chunks = Array.isArray(r.streamChunks) ? r.streamChunks.filter((c): c is string => typeof c === 'string') : [];
      if (verbosity === 'off') ctx.emit('agent.reasoned', { agentId, reasoning: '', verbosity });
      else {
        for (const [sequence, delta] of chunks.entries()) ctx.emit('agent.reasoning.delta', { agentId, delta, sequence, verbosity });
        const reasoning = chunks.length > 0 ? chunks.join('') : typeof r.summary === 'string' ? r.summary : '';
        ctx.emit('agent.reasoned', { agentId, reasoning, verbosity, ...(typeof r.tokenCount === 'number' ? { tokenCount: r.tokenCount } : {}) });
      }
    }
    const calls = Array.isArray(cfg.mockToolCalls) ? cfg.mockToolCalls.filter(isObj) : [];
    calls.forEach((c, i) => {
      const toolName = typeof c.toolId === 'string' && c.toolId ? c.toolId : `tool-${i}`;
      const callId = callIdOf(ctx, i);
      ctx.emit('agent.toolCalled', { agentId, toolName, callId, ...(c.arguments !== undefined ? { inputs: c.arguments } : {}) });
      const ret: Record<string, unknown> = { agentId, toolName, callId };
      if (isObj(c.error)) ret.error = { code: String(c.error.code ?? 'tool_failed'), message: String(c.error.message ?? 'tool failed') };
      else ret.outcome = c.result ?? null;
      if (typeof c.durationMs === 'number' && Number.isInteger(c.durationMs) && c.durationMs >= 0) ret.durationMs = c.durationMs;
      ctx.emit('agent.toolReturned', ret);
    });
    const h = isObj(cfg.mockHandoff) ? cfg.mockHandoff : undefined;
    if (h && typeof h.toAgentId === 'string')
      ctx.emit('agent.handoff', { fromAgentId: agentId, toAgentId: h.toAgentId, ...(typeof h.reason === 'string' ? { reason: h.reason } : {}) });
    if (decision)
      ctx.emit('agent.decided', {
        agentId,
        decision: decision.decision ?? null,
        ...(typeof confidence === 'number' && Number.isFinite(confidence) ? { confidence } : {}),
      });
  };
  const outputs: Record<string, unknown> = { agentId, ...(decision ? { decision: decision.decision ?? null } : {}) };
  if (decision && escalates(confidence, threshold)) {
    let resume: unknown;
    try {
      resume = ctx.interrupt({
        kind: 'low-confidence',
        key: 'low-confidence',
        data: { agentId, threshold, observed: confidence, decision: decision.decision ?? null },
      });
    } catch (e) {
      // First execution: the agent events, then the suspension (a re-execution after the review emits nothing again).
      if (e instanceof SuspendSignal) emitAll();
      throw e;
    }
    return { outputs: { ...outputs, review: resume } };
  }
  emitAll();
  return { outputs };
}

/** The multi-agent node types, registered with the built-ins. */
export const AGENT_NODES: readonly NodeType[] = [
  { typeId: 'core.orchestrator.supervisor', execute: supervisor },
  { typeId: 'core.dispatch', execute: dispatch },
  { typeId: 'core.conformance.mock-agent', execute: mockAgent },
];
