/**
 * The run state machine. `step(state, input, env)` is pure: given the run's state and what
 * happened since the last step (commands, node outcomes, fired timers, a cancel request), it
 * decides every rule — start, cancel, deadline, interrupt expiry and resolution, quorum, pause
 * and drain, caps, scheduling, sub-workflow links — and returns the events to append (already
 * folded into `state.proj`), the timer changes, the command replies and the effects the driver
 * must carry out (run a body, abort bodies, watch a child run, cancel children). It does no I/O
 * and reads no clock: time is `input.now`.
 *
 * @see ../../../../docs/decisions/0014-pure-run-state-machine.md
 */
import { ENGINE_VERSION, isTerminalStatus, WeftError, type WorkflowNode } from '@weft/contract';
import { CapBreachError, NodeError, SuspendSignal } from '../nodes.js';
import { decide, evaluateCondition } from '../scheduler.js';
import { Batch } from './batch.js';
import { abortAll, applyCommand, type ValidatorFactory } from './commands.js';
import { expireInterrupts, suspend } from './interrupts.js';
import { backoffMs, isRetryable, retryAfterMs, retryPolicyOf } from './retry.js';
import { attemptTimerKey, DEADLINE_KEY, hasRunningNodes, nodeTimerKey, type RunState } from './state.js';
import type { NodeOutcome, StepInput, StepOutput } from './types.js';
import type { WorkflowDefinition } from '@weft/contract';

/** What the machine may consult besides the state: static, side-effect free. */
export interface MachineEnv {
  /** Node types by id (only `requires` is read). */
  nodeType(typeId: string): { readonly requires?: readonly string[] } | undefined;
  /** Runtime capabilities this host provides. */
  readonly runtimeCapabilities: ReadonlySet<string>;
  /** JSON Schema validators for resume values and clarification answers. */
  readonly validator: ValidatorFactory;
}

type ErrorObject = { code: string; message: string; details?: Record<string, unknown> };

/** Error object of `node.failed` / `run.failed` payloads. */
export function toErrorObject(e: unknown): ErrorObject {
  if (e instanceof NodeError) return e.details ? { code: e.code, message: e.message, details: e.details } : { code: e.code, message: e.message };
  if (e instanceof Error) return { code: 'node_error', message: e.message || 'node failed' };
  return { code: 'node_error', message: 'node failed' };
}

/** Variables with `sensitive: true` masked, for events and snapshots. */
export function maskVariables(def: WorkflowDefinition, vars: Record<string, unknown>): Record<string, unknown> {
  const sensitive = new Set(def.variables.filter((v) => v.sensitive).map((v) => v.name));
  if (sensitive.size === 0) return vars;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(vars)) out[k] = sensitive.has(k) ? '[REDACTED]' : v;
  return out;
}

/** One step of a run. See the module comment. */
export function step(state: RunState, input: StepInput, env: MachineEnv): StepOutput {
  const b = new Batch(state, input.now);
  const s = state;
  const now = input.now;
  if (isTerminalStatus(s.proj.status)) {
    // An ended run changes no more: commands are answered from the folded state alone.
    for (const { id, cmd } of input.commands ?? []) {
      try {
        b.replies.push({ id, result: applyCommand({ rec: s.rec, proj: s.proj }, cmd, env.validator) });
      } catch (error) {
        b.replies.push({ id, error });
      }
    }
    return b.output(true);
  }
  if (input.cancel && !s.cancel) s.cancel = input.cancel;
  const attemptTimedOut: string[] = [];
  for (const key of input.timersFired ?? []) {
    if (key.startsWith('attempt:')) {
      if (s.armed.delete(key)) attemptTimedOut.push(key.slice('attempt:'.length));
    } else if (s.armed.has(key)) s.armed.set(key, now);
  }
  for (const nodeId of input.childrenEnded ?? []) s.waitingChild.delete(nodeId);

  if (s.proj.status === 'pending') start(b);

  if (s.cancel) {
    const cancel = s.cancel;
    abortAll(b);
    for (const [id, st] of Object.entries(s.proj.nodeStates)) {
      if (st.status === 'running' || st.status === 'suspended') b.add('node.cancelled', { nodeId: id, reason: 'run-cancelled' }, id);
    }
    const payload: Record<string, unknown> = { durationMs: durationMs(s, now) };
    if (cancel.reason !== undefined) payload.reason = cancel.reason;
    if (cancel.by !== undefined) payload.cancelledBy = cancel.by;
    if (cancel.reason === 'parent-cancelled' && s.proj.parent) payload.parentRunId = s.proj.parent.runId;
    const children = Object.values(s.proj.children ?? {}).map((c) => c.runId);
    b.add('run.cancelled', payload);
    for (const { id, cmd } of input.commands ?? []) {
      const error =
        cmd.kind === 'resolve'
          ? new WeftError('interrupt_cancelled', 'The run was cancelled while the interrupt was pending.')
          : new WeftError('run_state_conflict', 'The run is being cancelled.', { runStatus: 'cancelling' });
      b.replies.push({ id, error });
    }
    if (children.length > 0) b.effects.push({ type: 'cancel-children', runIds: children, by: cancel.by ?? 'system' });
    return b.output(true);
  }

  if (s.deadlineAt !== undefined && now >= s.deadlineAt) {
    const observed = Math.max(now - Date.parse(s.proj.startedAt ?? b.ts), s.deadlineLimit + 1);
    b.add('cap.breached', { kind: 'run-duration', limit: s.deadlineLimit, observed });
    failRun(b, { code: 'run_timeout', message: `The run exceeded its ${s.deadlineLimit} ms limit.` });
    return b.output(true);
  }

  expireInterrupts(b);

  for (const { id, cmd } of input.commands ?? []) {
    try {
      b.replies.push({ id, result: applyCommand({ rec: s.rec, proj: s.proj, batch: b }, cmd, env.validator) });
    } catch (error) {
      b.replies.push({ id, error });
    }
  }

  for (const c of input.dispatched ?? []) {
    // Announced once per child: a re-executed fan-out walks its earlier children again.
    const known = s.proj.children?.[c.nodeId];
    if (known?.runId !== c.runId && !known?.earlier?.includes(c.runId))
      b.add('node.dispatched', { childRunId: c.runId, childWorkflowId: c.workflowId, childStatus: 'pending' }, c.nodeId);
  }

  // Events the bodies emitted while running, before their outcomes (a stream precedes its end).
  for (const e of input.emitted ?? []) {
    if (s.proj.nodeStates[e.nodeId]?.status !== 'running' || !s.inflight.has(e.nodeId)) continue;
    // runOrchestrator.decided's payload is closed: the envelope's nodeId names the supervisor.
    b.add(e.type, e.type === 'runOrchestrator.decided' ? e.payload : { ...e.payload, nodeId: e.nodeId }, e.nodeId);
  }

  // An attempt past its deadline: its body is aborted and the attempt fails (retryable).
  for (const nodeId of attemptTimedOut) {
    if (!s.inflight.delete(nodeId) || s.proj.nodeStates[nodeId]?.status !== 'running') continue;
    b.effects.push({ type: 'abort', nodeIds: [nodeId] });
    applyOutcome(b, nodeId, { error: new NodeError('node_timeout', 'The node attempt exceeded its attemptTimeoutMs.', { nodeId }, true) });
  }

  for (const { nodeId, outcome } of input.settled ?? []) {
    // An aborted body's outcome does not count (the driver drops those it knows are stale).
    if (!s.inflight.delete(nodeId) || s.proj.nodeStates[nodeId]?.status !== 'running') continue;
    applyOutcome(b, nodeId, outcome);
  }

  // Paused: nothing new starts. With drain-current-node, nodes already running may finish.
  if (s.proj.paused?.drainPolicy === 'immediate') return b.output(false);

  // Running nodes with no body in flight: after a restart, a resolved interrupt, or their
  // timer fired. Executed again from the start (at-least-once); a delay keeps its deadline.
  for (const node of s.graph.order) {
    if (s.proj.nodeStates[node.id]?.status !== 'running' || s.inflight.has(node.id) || s.waitingChild.has(node.id)) continue;
    const armedAt = s.armed.get(nodeTimerKey(node.id));
    if (armedAt !== undefined && armedAt > now) continue;
    if (!env.nodeType(node.typeId)) {
      failRun(b, { code: 'unsupported_node_type', message: `No implementation for node type ${node.typeId}.` }, node.id);
      return b.output(true);
    }
    const retry = s.proj.nodeStates[node.id]?.retry;
    if (retry) {
      // A retry is a new execution: it counts against the cap and gets its own node.started.
      if (s.proj.nodeExecutions + 1 > s.recursionLimit) {
        b.add('cap.breached', { kind: 'node-executions', limit: s.recursionLimit, observed: s.proj.nodeExecutions + 1, nodeId: node.id });
        failRun(b, { code: 'recursion_limit_exceeded', message: `The run exceeded its limit of ${s.recursionLimit} node executions.` }, node.id);
        return b.output(true);
      }
      b.add('node.started', { nodeId: node.id, typeId: node.typeId, attempt: retry.attempt }, node.id);
    }
    execute(b, node.id);
  }

  if (s.proj.pausing && !hasRunningNodes(s.proj)) {
    const payload: Record<string, unknown> = { drainPolicy: 'drain-current-node' };
    if (s.proj.pausing.pausedBy !== undefined) payload.pausedBy = s.proj.pausing.pausedBy;
    if (s.proj.pausing.reason !== undefined) payload.reason = s.proj.pausing.reason;
    b.add('run.paused', payload);
  }
  if (s.proj.paused || s.proj.pausing) return b.output(false);

  for (;;) {
    const d = decide(s.graph, s.proj);
    for (const sk of d.skip) b.add('node.skipped', { nodeId: sk.nodeId, reason: sk.reason }, sk.nodeId);
    if (d.final) {
      if (d.final.status === 'completed') {
        b.add('run.completed', { outputs: runOutputs(s), durationMs: durationMs(s, now) });
      } else {
        const payload: Record<string, unknown> = { error: d.final.error, durationMs: durationMs(s, now) };
        if (d.final.failedNodeId) payload.failedNodeId = d.final.failedNodeId;
        b.add('run.failed', payload);
      }
      return b.output(true);
    }
    if (d.ready.length === 0) break;
    for (const id of d.ready) {
      const node = s.graph.byId.get(id) as WorkflowNode;
      const type = env.nodeType(node.typeId);
      if (!type) {
        failRun(
          b,
          { code: 'unsupported_node_type', message: `No implementation for node type ${node.typeId}.`, details: { typeId: node.typeId, nodeId: id } },
          id,
        );
        return b.output(true);
      }
      const missing = [...(type.requires ?? []), ...(node.requires ?? [])].find((c) => !env.runtimeCapabilities.has(c));
      if (missing) {
        failRun(
          b,
          {
            code: 'capability_not_provided',
            message: `Node ${id} requires capability ${missing}, which this host does not provide.`,
            details: { capability: missing, nodeId: id },
          },
          id,
        );
        return b.output(true);
      }
      if (s.proj.nodeExecutions + 1 > s.recursionLimit) {
        b.add('cap.breached', { kind: 'node-executions', limit: s.recursionLimit, observed: s.proj.nodeExecutions + 1, nodeId: id });
        failRun(b, { code: 'recursion_limit_exceeded', message: `The run exceeded its limit of ${s.recursionLimit} node executions.` }, id);
        return b.output(true);
      }
      b.add('node.started', { nodeId: id, typeId: node.typeId, attempt: 0 }, id);
      execute(b, id);
    }
  }
  return b.output(false);
}

function start(b: Batch): void {
  const s = b.state;
  const def = s.graph.definition;
  const started: Record<string, unknown> = {
    workflowId: s.rec.workflowId,
    inputs: maskVariables(def, s.rec.variables),
    owner: { tenant: s.rec.tenant, principal: s.rec.principal },
    transport: 'rest',
    engineVersion: String(ENGINE_VERSION),
  };
  if (s.rec.tags.length > 0) started.tags = s.rec.tags;
  if (Object.keys(s.rec.metadata).length > 0) started.metadata = s.rec.metadata;
  b.add('run.started', started);
  s.deadlineAt = b.now + s.deadlineLimit;
  if (Number.isFinite(s.deadlineAt)) b.setTimer(DEADLINE_KEY, s.deadlineAt);
}

function execute(b: Batch, nodeId: string): void {
  const s = b.state;
  s.inflight.add(nodeId);
  b.effects.push({ type: 'execute', nodeId });
  const node = s.graph.byId.get(nodeId);
  const timeout = node && retryPolicyOf(s.graph.definition, node).attemptTimeoutMs;
  if (timeout !== undefined && !s.armed.has(attemptTimerKey(nodeId))) {
    s.armed.set(attemptTimerKey(nodeId), b.now + timeout);
    b.setTimer(attemptTimerKey(nodeId), b.now + timeout);
  }
}

function applyOutcome(b: Batch, nodeId: string, outcome: NodeOutcome): void {
  const s = b.state;
  const key = nodeTimerKey(nodeId);
  const clearArmed = (): void => {
    if (s.armed.delete(key)) b.timers.clear.push(key);
    if (s.armed.delete(attemptTimerKey(nodeId))) b.timers.clear.push(attemptTimerKey(nodeId));
  };
  if ('error' in outcome) {
    if (outcome.error instanceof SuspendSignal) {
      clearArmed();
      suspend(b, nodeId, outcome.error.request);
      return;
    }
    const st = s.proj.nodeStates[nodeId];
    const attempt = st?.attempt ?? 0;
    const node = s.graph.byId.get(nodeId);
    const policy = node && retryPolicyOf(s.graph.definition, node);
    clearArmed();
    // A cap the host enforced on the body (a WASM pack's memory): reported before the failure.
    if (outcome.error instanceof CapBreachError) b.add('cap.breached', { ...outcome.error.breach, nodeId }, nodeId);
    if (policy && attempt < policy.maxRetries && isRetryable(outcome.error, policy)) {
      // Retried after a durable backoff timer; the next attempt starts with its own node.started.
      const delayMs = Math.max(backoffMs(policy, attempt + 1, s.rec.runId, nodeId), retryAfterMs(outcome.error)); // Retry-After is a minimum
      b.add('node.retried', { nodeId, attempt: attempt + 1, delayMs, lastError: toErrorObject(outcome.error) }, nodeId);
      s.armed.set(key, b.now + delayMs);
      b.setTimer(key, b.now + delayMs);
      return;
    }
    b.add('node.failed', { nodeId, error: toErrorObject(outcome.error), attempts: attempt + 1 }, nodeId);
    return;
  }
  const r = outcome.result;
  if ('waitForChild' in r) {
    s.waitingChild.set(nodeId, r.waitForChild);
    b.effects.push({ type: 'watch-child', nodeId, childRunId: r.waitForChild });
    return;
  }
  if ('waitUntil' in r) {
    if (s.armed.get(key) !== r.waitUntil) {
      b.setTimer(key, r.waitUntil);
      s.armed.set(key, r.waitUntil);
    }
    return;
  }
  const st = s.proj.nodeStates[nodeId];
  const took = st?.startedAt ? Math.max(0, b.now - Date.parse(st.startedAt)) : 0;
  for (const [name, next] of Object.entries(r.variables ?? {})) {
    const previous = s.proj.vars?.[name] ?? s.rec.variables[name];
    b.add('variable.changed', { name, ...(previous === undefined ? {} : { previous }), next, nodeId }, nodeId);
  }
  b.add('node.completed', { nodeId, outputs: r.outputs, durationMs: took }, nodeId);
  clearArmed();
  // A dispatch asking for another turn: its loop body (supervisor … dispatch) runs again.
  const loop = r.repeat ? s.graph.loops.get(nodeId) : undefined;
  if (loop) b.add('weft.dispatch.looped', { nodeId, nodeIds: loop }, nodeId);
}

function failRun(b: Batch, error: ErrorObject, failedNodeId?: string): void {
  const s = b.state;
  abortAll(b);
  for (const [id, st] of Object.entries(s.proj.nodeStates)) {
    if (st.status === 'running' || st.status === 'suspended')
      b.add('node.failed', { nodeId: id, error: { code: error.code, message: error.message }, attempts: (st.attempt ?? 0) + 1 }, id);
  }
  const payload: Record<string, unknown> = { error, durationMs: durationMs(s, b.now) };
  if (failedNodeId) payload.failedNodeId = failedNodeId;
  b.add('run.failed', payload);
}

function runOutputs(s: RunState): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const id of s.graph.sinks) {
    const st = s.proj.nodeStates[id];
    if (st?.status === 'completed' && st.outputs) out[id] = st.outputs;
  }
  return out;
}

function durationMs(s: RunState, now: number): number {
  return s.proj.startedAt ? Math.max(0, now - Date.parse(s.proj.startedAt)) : 0;
}

/** The inputs a node body sees: upstream outputs over taken edges, then its port values. */
export function nodeInputs(s: RunState, node: WorkflowNode): Record<string, unknown> {
  const inputs: Record<string, unknown> = {};
  for (const e of s.graph.incoming.get(node.id) ?? []) {
    const src = s.proj.nodeStates[e.sourceNodeId];
    if (src?.status !== 'completed') continue;
    if (e.condition && !evaluateCondition(e.condition, src.outputs)) continue;
    const v = src.outputs?.[e.sourceOutput ?? 'output'];
    if (v !== undefined) inputs[e.targetInput ?? 'input'] = v;
  }
  for (const [port, pv] of Object.entries(node.inputs)) {
    let v: unknown;
    if (pv.type === 'static') v = pv.value;
    else if (pv.type === 'variable') v = s.proj.vars?.[pv.variableName] ?? s.rec.variables[pv.variableName];
    else if (pv.type === 'connection') v = s.proj.nodeStates[pv.nodeId]?.outputs?.[pv.outputKey];
    if (v !== undefined) inputs[port] = structuredClone(v);
  }
  return inputs;
}
