/**
 * The pure scheduler: given the compiled graph and the current projection, decide which nodes
 * are ready, which are unreachable (skipped), and whether the run is finished.
 *
 * Semantics (see docs/decisions/0003-scheduling-semantics.md):
 * - An edge is *taken* when its source completed and its condition (if any) holds; an edge
 *   whose source was skipped or cancelled, or whose condition is false, is *untaken*; an edge
 *   whose source failed is *failed*.
 * - A node's trigger rule (all_success by default) is evaluated over its incoming edges.
 * - The run fails when a node failed and no downstream node consumed that failure; otherwise
 *   it completes once nothing is pending or running.
 *
 * @see execution-semantics.md §1.2–§1.4
 */
import type { EdgeCondition, TriggerRule, WorkflowEdge } from '@weft/contract';
import type { WorkflowGraph } from './graph.js';
import type { NodeStateView, RunProjection } from './ports.js';

type EdgeState = 'taken' | 'untaken' | 'failed' | 'waiting';

/** What the scheduler decided for one step. */
export interface Decision {
  /** Nodes to mark skipped, in topological order. */
  skip: { nodeId: string; reason: string }[];
  /** Nodes ready to start, in topological order. */
  ready: string[];
  /** Set when nothing is pending or running: the run's final outcome. */
  final?: { status: 'completed' } | { status: 'failed'; error: { code: string; message: string }; failedNodeId?: string };
}

/** Reads a dotted path (`a.b.0.c`) from a value. */
export function readPath(value: unknown, path: string | undefined): unknown {
  if (!path) return value;
  let cur: unknown = value;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

/** Stable JSON with sorted keys, for value equality. */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o)
    .filter((k) => o[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
    .join(',')}}`;
}

/** Longest string a regex condition is tested against (bounds backtracking cost). */
const REGEX_SUBJECT_MAX = 4096;

/** Evaluates an edge condition against the source node's outputs. */
export function evaluateCondition(cond: EdgeCondition, outputs: Record<string, unknown> | undefined): boolean {
  const left = readPath(outputs ?? {}, cond.left);
  switch (cond.type) {
    case 'equals':
      return canonicalJson(left) === canonicalJson(cond.right);
    case 'notEquals':
      return canonicalJson(left) !== canonicalJson(cond.right);
    case 'contains':
      if (typeof left === 'string') return typeof cond.right === 'string' && left.includes(cond.right);
      if (Array.isArray(left)) return left.some((x) => canonicalJson(x) === canonicalJson(cond.right));
      return false;
    case 'regex':
      return typeof left === 'string' && left.length <= REGEX_SUBJECT_MAX && new RegExp(String(cond.right ?? '')).test(left);
    case 'truthy':
      return Boolean(left);
    case 'falsy':
      return !left;
    default:
      return false;
  }
}

function edgeState(e: WorkflowEdge, src: NodeStateView | undefined): EdgeState {
  switch (src?.status) {
    case 'completed':
      return !e.condition || evaluateCondition(e.condition, src.outputs) ? 'taken' : 'untaken';
    case 'failed':
      return 'failed';
    case 'skipped':
    case 'cancelled':
      return 'untaken';
    default:
      return 'waiting';
  }
}

function applyRule(rule: TriggerRule, states: EdgeState[]): 'ready' | 'skip' | 'wait' {
  const waiting = states.includes('waiting');
  const taken = states.filter((s) => s === 'taken').length;
  const failed = states.filter((s) => s === 'failed').length;
  switch (rule) {
    case 'all_success':
      if (waiting) return 'wait';
      return failed === 0 && taken > 0 ? 'ready' : 'skip';
    case 'any_success':
      if (taken > 0) return 'ready';
      return waiting ? 'wait' : 'skip';
    case 'all_complete':
      return waiting ? 'wait' : 'ready';
    case 'none_failed':
      if (failed > 0) return 'skip';
      return waiting ? 'wait' : 'ready';
    case 'any_failed':
      if (failed > 0) return 'ready';
      return waiting ? 'wait' : 'skip';
  }
}

/**
 * Decides the next step. Pure: reads `p`, never mutates it. Skips are propagated through the
 * graph within one call, so a whole unreachable branch is reported at once.
 */
export function decide(graph: WorkflowGraph, p: RunProjection): Decision {
  const local = new Map<string, NodeStateView['status']>();
  const statusOf = (id: string): NodeStateView | undefined => {
    const s = p.nodeStates[id];
    const o = local.get(id);
    return o && s ? { ...s, status: o } : s;
  };
  const skip: Decision['skip'] = [];
  const ready: string[] = [];
  let active = false;
  for (const node of graph.order) {
    const st = statusOf(node.id);
    if (!st) continue;
    if (st.status === 'running' || st.status === 'suspended') {
      active = true;
      continue;
    }
    if (st.status !== 'pending') continue;
    if (node.disabled) {
      skip.push({ nodeId: node.id, reason: 'disabled' });
      local.set(node.id, 'skipped');
      continue;
    }
    const incoming = graph.incoming.get(node.id) ?? [];
    const verdict =
      incoming.length === 0
        ? 'ready'
        : applyRule(
            graph.triggerRule.get(node.id) ?? 'all_success',
            incoming.map((e) => edgeState(e, statusOf(e.sourceNodeId))),
          );
    if (verdict === 'ready') {
      ready.push(node.id);
      active = true;
    } else if (verdict === 'skip') {
      skip.push({ nodeId: node.id, reason: 'upstream-not-satisfied' });
      local.set(node.id, 'skipped');
    } else {
      active = true;
    }
  }
  if (active) return { skip, ready };

  // Nothing left to run: a failure is handled when a downstream node ran after it.
  for (const node of graph.order) {
    const st = statusOf(node.id);
    if (st?.status !== 'failed') continue;
    const consumed = (graph.outgoing.get(node.id) ?? []).some((e) => {
      const t = statusOf(e.targetNodeId)?.status;
      return t === 'completed' || t === 'failed';
    });
    if (!consumed) {
      return {
        skip,
        ready,
        final: {
          status: 'failed',
          error: st.error ?? { code: 'node_error', message: `node "${node.id}" failed` },
          failedNodeId: node.id,
        },
      };
    }
  }
  return { skip, ready, final: { status: 'completed' } };
}
