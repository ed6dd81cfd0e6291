/**
 * The projection fold: run status, node states, error and outputs derived from the event log.
 * `applyEvent` is used both incrementally (as the driver appends) and to rebuild a run from its
 * log on recovery, so both paths agree by construction.
 *
 * Readers must fold unknown event types best-effort: they are ignored here.
 *
 * @see wire-contract.md §3.1, execution-semantics.md §10.2
 */
import type { RunEventDoc } from '@weft/contract';
import type { NodeStateView, RunProjection } from './ports.js';
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
      if (node) {
        node.status = 'running';
        node.startedAt = ev.timestamp;
        node.attempt = typeof pl?.attempt === 'number' ? pl.attempt : 0;
        delete node.endedAt;
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
    case 'node.cancelled':
      if (node) {
        node.status = 'cancelled';
        node.endedAt = ev.timestamp;
        if (typeof pl?.reason === 'string') node.reason = pl.reason;
      }
      break;
    case 'run.completed':
      p.status = 'completed';
      p.endedAt = ev.timestamp;
      if (pl?.outputs && typeof pl.outputs === 'object') p.outputs = pl.outputs as Record<string, unknown>;
      break;
    case 'run.failed': {
      p.status = 'failed';
      p.endedAt = ev.timestamp;
      const err = asError(pl?.error);
      if (err) p.error = err;
      break;
    }
    case 'run.cancelled':
      p.status = 'cancelled';
      p.endedAt = ev.timestamp;
      break;
    default:
      break;
  }
  const running = Object.entries(p.nodeStates).find(([, s]) => s.status === 'running');
  if (running && p.status === 'running') p.currentNodeId = running[0];
  else delete p.currentNodeId;
  return p;
}

/** Folds a whole log (ascending sequence) into a projection. */
export function foldEvents(graph: WorkflowGraph, events: Iterable<RunEventDoc>): RunProjection {
  const p = initialProjection(graph);
  for (const e of events) applyEvent(p, e);
  return p;
}
