/**
 * The projection fold: run status, node states, error and outputs derived from the event log.
 * `applyEvent` is used both incrementally (as the driver appends) and to rebuild a run from its
 * log on recovery, so both paths agree by construction.
 *
 * Readers must fold unknown event types best-effort: they are ignored here.
 *
 * @see wire-contract.md §3.1, execution-semantics.md §10.2
 */
import { TERMINAL_STATUSES, type RunEventDoc } from '@weft/contract';
import type { RunStatus } from '@weft/contract';
import type { InterruptKind, InterruptView, NodeStateView, RunProjection } from './ports.js';
import type { WorkflowGraph } from './graph.js';

/** The projection of a run that has not started yet. */
export function initialProjection(graph: WorkflowGraph): RunProjection {
  const nodeStates: Record<string, NodeStateView> = {};
  for (const n of graph.order) nodeStates[n.id] = { status: 'pending', typeId: n.typeId };
  return { status: 'pending', lastSequence: -1, nodeExecutions: 0, nodeStates };
}

type Payload = Record<string, unknown> | null | undefined;

const asError = (v: unknown): { code: string; message: string; details?: Record<string, unknown> } | undefined => {
  if (!v || typeof v !== 'object') return undefined;
  const e = v as Record<string, unknown>;
  const out: { code: string; message: string; details?: Record<string, unknown> } = {
    code: typeof e.code === 'string' ? e.code : 'node_error',
    message: typeof e.message === 'string' ? e.message : 'failed',
  };
  if (e.details && typeof e.details === 'object') out.details = e.details as Record<string, unknown>;
  return out;
};

/** The run status while a node waits on an interrupt of `kind`. */
export function waitingStatusFor(kind: string): RunStatus {
  switch (kind) {
    case 'approval':
    case 'low-confidence':
    case 'conversation.exchange':
      return 'waiting-approval';
    case 'external-event':
      return 'waiting-external';
    default:
      return 'waiting-input';
  }
}

/** The pending interrupt of a node, if any. */
export function pendingInterruptOf(p: RunProjection, nodeId: string): InterruptView | undefined {
  return Object.values(p.interrupts ?? {}).find((i) => i.nodeId === nodeId && i.status === 'pending');
}

/** Running / waiting / paused, recomputed after a suspension ends or a pause lifts. */
function activeStatus(p: RunProjection): RunStatus {
  if (p.paused) return 'paused';
  for (const [id, s] of Object.entries(p.nodeStates)) {
    if (s.status !== 'suspended') continue;
    const pending = pendingInterruptOf(p, id);
    if (pending) return waitingStatusFor(pending.kind);
  }
  return 'running';
}

function closeOpenInterrupts(p: RunProjection, status: InterruptView['status'], at: string): void {
  for (const i of Object.values(p.interrupts ?? {})) {
    if (i.status === 'pending') {
      i.status = status;
      i.resolvedAt = at;
    }
  }
}

/** Applies one event to `p` in place and returns it. */
export function applyEvent(p: RunProjection, ev: Pick<RunEventDoc, 'type' | 'payload' | 'timestamp' | 'sequence' | 'nodeId'>): RunProjection {
  p.lastSequence = ev.sequence;
  const pl = ev.payload as Payload;
  const node = ev.nodeId ? p.nodeStates[ev.nodeId] : undefined;
  switch (ev.type) {
    case 'run.started':
      p.status = 'running';
      p.startedAt = ev.timestamp;
      break;
    case 'node.started':
      p.nodeExecutions += 1;
      // A supervisor starting again: its last decision belongs to an earlier execution.
      if (p.orchestrator && p.orchestrator.latest.nodeId === ev.nodeId) p.orchestrator.latest.superseded = true;
      if (node) {
        node.status = 'running';
        node.startedAt = ev.timestamp;
        node.attempt = typeof pl?.attempt === 'number' ? pl.attempt : 0;
        delete node.endedAt;
        delete node.retry;
      }
      break;
    case 'node.retried':
      // The node stays running through its backoff; the next node.started begins the attempt.
      if (node && typeof pl?.attempt === 'number') {
        const delay = typeof pl.delayMs === 'number' ? pl.delayMs : 0;
        node.retry = { attempt: pl.attempt, at: new Date(Date.parse(ev.timestamp) + delay).toISOString() };
      }
      break;
    case 'node.completed':
      if (node) {
        node.status = 'completed';
        node.endedAt = ev.timestamp;
        if (pl?.outputs && typeof pl.outputs === 'object') node.outputs = pl.outputs as Record<string, unknown>;
      }
      break;
    case 'node.failed':
      if (node) {
        node.status = 'failed';
        node.endedAt = ev.timestamp;
        const err = asError(pl?.error);
        if (err) node.error = { code: err.code, message: err.message };
      }
      break;
    case 'node.skipped':
      if (node) {
        node.status = 'skipped';
        if (typeof pl?.reason === 'string') node.reason = pl.reason;
      }
      break;
    case 'node.suspended':
      if (node && typeof pl?.interruptId === 'string') {
        node.status = 'suspended';
        node.pendingInterruptId = pl.interruptId;
        if (p.status !== 'paused') p.status = waitingStatusFor(typeof pl.kind === 'string' ? pl.kind : 'custom');
      }
      break;
    case 'interrupt.requested':
      if (node?.pendingInterruptId && pl) {
        const iv: InterruptView = {
          interruptId: node.pendingInterruptId,
          nodeId: ev.nodeId as string,
          kind: (typeof pl.kind === 'string' ? pl.kind : 'custom') as InterruptKind,
          key: typeof pl.key === 'string' ? pl.key : (ev.nodeId as string),
          status: 'pending',
          data: (pl.data && typeof pl.data === 'object' ? pl.data : {}) as Record<string, unknown>,
          requestedAt: ev.timestamp,
        };
        if (pl.resumeSchema && typeof pl.resumeSchema === 'object') iv.resumeSchema = pl.resumeSchema as Record<string, unknown>;
        if (typeof pl.timeoutMs === 'number') {
          iv.timeoutMs = pl.timeoutMs;
          iv.expiresAt = new Date(Date.parse(ev.timestamp) + pl.timeoutMs).toISOString();
        }
        p.interrupts = { ...(p.interrupts ?? {}), [iv.interruptId]: iv };
        delete node.pendingInterruptId;
      }
      break;
    case 'approval.granted':
    case 'approval.rejected': {
      const iv = ev.nodeId ? pendingInterruptOf(p, ev.nodeId) : undefined;
      if (iv && typeof pl?.principal === 'string') {
        const vote = { principal: pl.principal, action: ev.type === 'approval.granted' ? 'accept' : 'reject', at: ev.timestamp };
        iv.votes = [...(iv.votes ?? []), typeof pl.reason === 'string' ? { ...vote, comment: pl.reason } : vote];
      }
      break;
    }
    case 'interrupt.resolved': {
      const iv = typeof pl?.interruptId === 'string' ? p.interrupts?.[pl.interruptId] : undefined;
      if (iv && iv.status === 'pending') {
        iv.status = pl?.outcome === 'expired' ? 'expired' : 'resolved';
        iv.resolvedAt = ev.timestamp;
        if (pl && 'resumeValue' in pl) iv.resumeValue = pl.resumeValue;
        if (typeof pl?.resolvedBy === 'string') iv.resolvedBy = pl.resolvedBy;
        if (typeof pl?.outcome === 'string') iv.outcome = pl.outcome;
      }
      break;
    }
    case 'node.resumed':
      if (node) {
        node.status = 'running';
        p.status = activeStatus(p);
      }
      break;
    case 'run.paused': {
      const drain = pl?.drainPolicy === 'immediate' ? 'immediate' : 'drain-current-node';
      p.paused = typeof pl?.reason === 'string' ? { at: ev.timestamp, reason: pl.reason, drainPolicy: drain } : { at: ev.timestamp, drainPolicy: drain };
      p.status = 'paused';
      delete p.pausing;
      break;
    }
    case 'weft.run.pausing':
      // A drain-current-node pause accepted while nodes were running: nothing new starts.
      p.pausing = { at: ev.timestamp };
      if (typeof pl?.pausedBy === 'string') p.pausing.pausedBy = pl.pausedBy;
      if (typeof pl?.reason === 'string') p.pausing.reason = pl.reason;
      break;
    case 'weft.run.pause-withdrawn':
      delete p.pausing;
      break;
    case 'run.resumed':
      delete p.paused;
      p.status = activeStatus(p);
      break;
    case 'variable.changed':
      if (typeof pl?.name === 'string') p.vars = { ...(p.vars ?? {}), [pl.name]: pl.next };
      break;
    case 'node.dispatched':
      if (ev.nodeId && typeof pl?.childRunId === 'string') {
        const prev = p.children?.[ev.nodeId];
        const earlier = prev && prev.runId !== pl.childRunId ? [...(prev.earlier ?? []).filter((id) => id !== pl.childRunId), prev.runId] : prev?.earlier;
        p.children = {
          ...(p.children ?? {}),
          [ev.nodeId]: { runId: pl.childRunId, workflowId: String(pl.childWorkflowId ?? ''), ...(earlier && earlier.length > 0 ? { earlier } : {}) },
        };
      }
      break;
    case 'weft.dispatch.looped':
      // Another orchestrator turn: the dispatch loop body is pending again.
      for (const id of Array.isArray(pl?.nodeIds) ? pl.nodeIds : []) {
        const st = typeof id === 'string' ? p.nodeStates[id] : undefined;
        if (st) p.nodeStates[id as string] = { status: 'pending', typeId: st.typeId };
      }
      break;
    case 'runOrchestrator.decided':
      if (ev.nodeId && pl && typeof pl.agentId === 'string') {
        p.orchestrator = {
          agentId: p.orchestrator?.agentId ?? pl.agentId,
          turns: (p.orchestrator?.turns ?? 0) + 1,
          latest: { nodeId: ev.nodeId, decision: pl.decision },
        };
      }
      break;
    case 'node.cancelled':
      if (node) {
        node.status = 'cancelled';
        node.endedAt = ev.timestamp;
        if (typeof pl?.reason === 'string') node.reason = pl.reason;
      }
      break;
    case 'run.completed':
      closeOpenInterrupts(p, 'cancelled', ev.timestamp);
      delete p.paused;
      delete p.pausing;
      p.status = 'completed';
      p.endedAt = ev.timestamp;
      if (pl?.outputs && typeof pl.outputs === 'object') p.outputs = pl.outputs as Record<string, unknown>;
      break;
    case 'run.failed': {
      closeOpenInterrupts(p, 'cancelled', ev.timestamp);
      delete p.paused;
      delete p.pausing;
      p.status = 'failed';
      p.endedAt = ev.timestamp;
      const err = asError(pl?.error);
      if (err) p.error = err;
      break;
    }
    case 'provider.usage': {
      // The run's cost rollup (metrics.openwopCost).
      const n = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : 0);
      const c = p.cost ?? { usd: 0, inputTokens: 0, outputTokens: 0, model: '', provider: '' };
      p.cost = {
        usd: c.usd + n(pl?.costEstimateUsd),
        inputTokens: c.inputTokens + Math.floor(n(pl?.inputTokens)),
        outputTokens: c.outputTokens + Math.floor(n(pl?.outputTokens)),
        model: typeof pl?.model === 'string' ? pl.model : c.model,
        provider: typeof pl?.provider === 'string' ? pl.provider : c.provider,
      };
      break;
    }
    case 'run.cancelled':
      closeOpenInterrupts(p, 'cancelled', ev.timestamp);
      delete p.paused;
      delete p.pausing;
      p.status = 'cancelled';
      p.endedAt = ev.timestamp;
      break;
    default:
      break;
  }
  const current =
    Object.entries(p.nodeStates).find(([, s]) => s.status === 'suspended') ?? Object.entries(p.nodeStates).find(([, s]) => s.status === 'running');
  if (current && !TERMINAL_STATUSES.has(p.status)) p.currentNodeId = current[0];
  else delete p.currentNodeId;
  return p;
}

/**
 * Folds a whole log (ascending sequence) into a projection: the one fold a driver loads a run
 * with, and the path replay and fork take.
 */
export function foldEvents(graph: WorkflowGraph, events: Iterable<Pick<RunEventDoc, 'type' | 'payload' | 'timestamp' | 'sequence' | 'nodeId'>>): RunProjection {
  const p = initialProjection(graph);
  for (const e of events) applyEvent(p, e);
  return p;
}
