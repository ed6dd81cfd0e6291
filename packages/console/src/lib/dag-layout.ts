/**
 * Lays a workflow graph out in columns: a node's column is the length of the longest path to it
 * from a node without incoming edges (back edges, i.e. loops, are ignored), rows in definition
 * order. Pure, unit-tested in dag-layout.test.ts.
 */

/** The graph fields the layout reads. */
export interface GraphInput {
  nodes: readonly { id: string; name?: string; typeId: string }[];
  edges: readonly { id?: string; sourceNodeId: string; targetNodeId: string }[];
}

/** One placed node. */
export interface PlacedNode {
  id: string;
  label: string;
  typeId: string;
  column: number;
  row: number;
}

/** The layout: placed nodes, the edges between known nodes, and the grid size. */
export interface DagLayout {
  nodes: PlacedNode[];
  edges: { id: string; from: string; to: string }[];
  columns: number;
  rows: number;
}

/** Computes the column/row layout of a graph. */
export function layoutDag(g: GraphInput): DagLayout {
  const ids = new Set(g.nodes.map((n) => n.id));
  const edges = g.edges.filter((e) => ids.has(e.sourceNodeId) && ids.has(e.targetNodeId) && e.sourceNodeId !== e.targetNodeId);
  const out = new Map<string, string[]>();
  for (const e of edges) out.set(e.sourceNodeId, [...(out.get(e.sourceNodeId) ?? []), e.targetNodeId]);

  // Depth-first from every node in definition order; an edge into a node on the stack is a loop.
  const state = new Map<string, 'open' | 'done'>();
  const back = new Set<string>();
  const visit = (id: string): void => {
    state.set(id, 'open');
    for (const t of out.get(id) ?? []) {
      const s = state.get(t);
      if (s === 'open') back.add(`${id}\u0000${t}`);
      else if (s === undefined) visit(t);
    }
    state.set(id, 'done');
  };
  for (const n of g.nodes) if (!state.has(n.id)) visit(n.id);

  const forward = edges.filter((e) => !back.has(`${e.sourceNodeId}\u0000${e.targetNodeId}`));
  const indeg = new Map<string, number>(g.nodes.map((n) => [n.id, 0]));
  for (const e of forward) indeg.set(e.targetNodeId, (indeg.get(e.targetNodeId) ?? 0) + 1);
  const column = new Map<string, number>();
  const queue = g.nodes.filter((n) => indeg.get(n.id) === 0).map((n) => n.id);
  for (const id of queue) column.set(id, 0);
  while (queue.length > 0) {
    const id = queue.shift() as string;
    for (const e of forward) {
      if (e.sourceNodeId !== id) continue;
      column.set(e.targetNodeId, Math.max(column.get(e.targetNodeId) ?? 0, (column.get(id) ?? 0) + 1));
      const left = (indeg.get(e.targetNodeId) ?? 1) - 1;
      indeg.set(e.targetNodeId, left);
      if (left === 0) queue.push(e.targetNodeId);
    }
  }
  const perColumn = new Map<number, number>();
  const nodes: PlacedNode[] = g.nodes.map((n) => {
    const c = column.get(n.id) ?? 0;
    const row = perColumn.get(c) ?? 0;
    perColumn.set(c, row + 1);
    return { id: n.id, label: n.name || n.id, typeId: n.typeId, column: c, row };
  });
  return {
    nodes,
    edges: edges.map((e, i) => ({ id: e.id ?? `e${i}`, from: e.sourceNodeId, to: e.targetNodeId })),
    columns: Math.max(1, ...nodes.map((n) => n.column + 1)),
    rows: Math.max(1, ...perColumn.values()),
  };
}
