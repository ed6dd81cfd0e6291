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
  /**
   * Dispatch loops: for a `core.dispatch` node whose back-edge to its supervisor was dropped as
   * inert, the nodes of the loop body (back-edge target to the dispatch node, in topological
   * order) that run again when the dispatch asks for another turn.
   */
  readonly loops: ReadonlyMap<string, readonly string[]>;
}

/** Node types whose back-edges are inert (execution-semantics §1.2): the dispatch loop. */
export const LOOP_TYPE_IDS: ReadonlySet<string> = new Set(['core.dispatch', 'core.orchestrator.supervisor']);

/**
 * The inert back-edges: an edge out of a `core.dispatch` node that closes a cycle (the loop back
 * to its supervisor, or to a planner before it); then, for other shapes, an edge with a
 * dispatch or supervisor endpoint that still closes one. Dropped from scheduling, they make
 * the dispatch loop; any other cycle stays a `cycle detected` problem.
 */
function inertBackEdges(def: WorkflowDefinition, outgoing: ReadonlyMap<string, WorkflowEdge[]>): Set<WorkflowEdge> {
  const typeOf = (id: string): string => def.nodes.find((n) => n.id === id)?.typeId ?? '';
  const inert = new Set<WorkflowEdge>();
  if (!def.nodes.some((n) => LOOP_TYPE_IDS.has(n.typeId))) return inert;
  const reaches = (from: string, to: string): boolean => {
    const seen = new Set<string>([from]);
    const todo = [from];
    while (todo.length > 0) {
      const id = todo.pop() as string;
      if (id === to) return true;
      for (const e of outgoing.get(id) ?? []) {
        if (inert.has(e) || seen.has(e.targetNodeId)) continue;
        seen.add(e.targetNodeId);
        todo.push(e.targetNodeId);
      }
    }
    return false;
  };
  const passes: ((e: WorkflowEdge) => boolean)[] = [
    (e) => typeOf(e.sourceNodeId) === 'core.dispatch',
    (e) => LOOP_TYPE_IDS.has(typeOf(e.sourceNodeId)) || LOOP_TYPE_IDS.has(typeOf(e.targetNodeId)),
  ];
  for (const pass of passes) {
    for (const e of def.edges) if (!inert.has(e) && pass(e) && reaches(e.targetNodeId, e.sourceNodeId)) inert.add(e);
  }
  return inert;
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
  const inert = inertBackEdges(def, outgoing);
  for (const e of inert) {
    outgoing.set(
      e.sourceNodeId,
      (outgoing.get(e.sourceNodeId) ?? []).filter((x) => x !== e),
    );
    incoming.set(
      e.targetNodeId,
      (incoming.get(e.targetNodeId) ?? []).filter((x) => x !== e),
    );
  }

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
  const loops = new Map<string, string[]>();
  const reach = (from: string, next: (id: string) => string[]): Set<string> => {
    const seen = new Set<string>([from]);
    const todo = [from];
    while (todo.length > 0) {
      for (const m of next(todo.pop() as string)) {
        if (seen.has(m)) continue;
        seen.add(m);
        todo.push(m);
      }
    }
    return seen;
  };
  for (const e of inert) {
    if (byId.get(e.sourceNodeId)?.typeId !== 'core.dispatch') continue;
    const down = reach(e.targetNodeId, (id) => (outgoing.get(id) ?? []).map((x) => x.targetNodeId));
    const up = reach(e.sourceNodeId, (id) => (incoming.get(id) ?? []).map((x) => x.sourceNodeId));
    const body = order.filter((n) => down.has(n.id) && up.has(n.id)).map((n) => n.id);
    if (body.length > 0) loops.set(e.sourceNodeId, [...new Set([...(loops.get(e.sourceNodeId) ?? []), ...body])]);
  }
  return { graph: { definition: def, order, byId, incoming, outgoing, triggerRule, sinks, loops } };
}
