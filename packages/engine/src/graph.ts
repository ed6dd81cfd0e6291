/**
 * Compiles a workflow definition into the graph the scheduler walks: a deterministic
 * topological order (Kahn, ties broken by position in `nodes[]`), incoming/outgoing edges, the
 * effective trigger rule per node, and sinks.
 *
 * @see execution-semantics.md §1.2, §1.3
 */
import type { TriggerRule, WorkflowDefinition, WorkflowEdge, WorkflowNode } from '@weft/contract';

/** The compiled, immutable shape of a workflow used by the scheduler. */
export interface WorkflowGraph {
  readonly definition: WorkflowDefinition;
  /** Nodes in deterministic topological order. */
  readonly order: readonly WorkflowNode[];
  readonly byId: ReadonlyMap<string, WorkflowNode>;
  readonly incoming: ReadonlyMap<string, readonly WorkflowEdge[]>;
  readonly outgoing: ReadonlyMap<string, readonly WorkflowEdge[]>;
  readonly triggerRule: ReadonlyMap<string, TriggerRule>;
  /** Nodes without outgoing edges; they decide the run's final status. */
  readonly sinks: readonly string[];
}

/** A structural problem found while compiling a definition. */
export interface GraphProblem {
  path: string;
  message: string;
}

/**
 * Compiles `def`, or returns the problems that make it unrunnable (duplicate ids, dangling
 * edges, cycles, unsupported expression inputs).
 */
export function compileGraph(def: WorkflowDefinition): { graph: WorkflowGraph } | { problems: GraphProblem[] } {
  const problems: GraphProblem[] = [];
  const byId = new Map<string, WorkflowNode>();
  const index = new Map<string, number>();
  def.nodes.forEach((n, i) => {
    if (byId.has(n.id)) problems.push({ path: `/nodes/${i}/id`, message: `duplicate node id "${n.id}"` });
    byId.set(n.id, n);
    index.set(n.id, i);
    for (const [port, pv] of Object.entries(n.inputs)) {
      if (pv.type === 'expression') {
        problems.push({ path: `/nodes/${i}/inputs/${port}`, message: 'expression inputs are not supported by this host' });
      }
      if (pv.type === 'connection' && !def.nodes.some((m) => m.id === pv.nodeId)) {
        problems.push({ path: `/nodes/${i}/inputs/${port}`, message: `connection to unknown node "${pv.nodeId}"` });
      }
    }
  });
  const incoming = new Map<string, WorkflowEdge[]>();
  const outgoing = new Map<string, WorkflowEdge[]>();
  for (const n of def.nodes) {
    incoming.set(n.id, []);
    outgoing.set(n.id, []);
  }
  const edgeIds = new Set<string>();
  def.edges.forEach((e, i) => {
    if (edgeIds.has(e.id)) problems.push({ path: `/edges/${i}/id`, message: `duplicate edge id "${e.id}"` });
    edgeIds.add(e.id);
    if (!byId.has(e.sourceNodeId)) problems.push({ path: `/edges/${i}/sourceNodeId`, message: `unknown node "${e.sourceNodeId}"` });
    if (!byId.has(e.targetNodeId)) problems.push({ path: `/edges/${i}/targetNodeId`, message: `unknown node "${e.targetNodeId}"` });
    if (e.condition?.type === 'expression') problems.push({ path: `/edges/${i}/condition`, message: 'expression conditions are not supported by this host' });
    if (e.condition?.type === 'regex') {
      try {
        new RegExp(String(e.condition.right ?? ''));
      } catch {
        problems.push({ path: `/edges/${i}/condition/right`, message: 'invalid regular expression' });
      }
    }
    if (byId.has(e.sourceNodeId) && byId.has(e.targetNodeId)) {
      outgoing.get(e.sourceNodeId)?.push(e);
      incoming.get(e.targetNodeId)?.push(e);
    }
  });
  if (problems.length > 0) return { problems };

  // Kahn's algorithm; the ready set is kept ordered by the node's position in nodes[] so the
  // order is stable across runs (replay determinism) and array-ordered fixtures stay as written.
  const indegree = new Map<string, number>();
  for (const n of def.nodes) indegree.set(n.id, incoming.get(n.id)?.length ?? 0);
  const ready = def.nodes.filter((n) => indegree.get(n.id) === 0).map((n) => n.id);
  const order: WorkflowNode[] = [];
  while (ready.length > 0) {
    ready.sort((a, b) => (index.get(a) as number) - (index.get(b) as number));
    const id = ready.shift() as string;
    order.push(byId.get(id) as WorkflowNode);
    for (const e of outgoing.get(id) ?? []) {
      const d = (indegree.get(e.targetNodeId) as number) - 1;
      indegree.set(e.targetNodeId, d);
      if (d === 0) ready.push(e.targetNodeId);
    }
  }
  if (order.length !== def.nodes.length) {
    const stuck = def.nodes.filter((n) => !order.includes(n)).map((n) => n.id);
    return { problems: [{ path: '/edges', message: `cycle detected among nodes ${stuck.join(', ')}` }] };
  }

  const triggerRule = new Map<string, TriggerRule>();
  for (const n of def.nodes) {
    const edges = [...(incoming.get(n.id) ?? [])].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    triggerRule.set(n.id, edges.find((e) => e.triggerRule)?.triggerRule ?? 'all_success');
  }
  const sinks = def.nodes.filter((n) => (outgoing.get(n.id)?.length ?? 0) === 0).map((n) => n.id);
  return { graph: { definition: def, order, byId, incoming, outgoing, triggerRule, sinks } };
}
