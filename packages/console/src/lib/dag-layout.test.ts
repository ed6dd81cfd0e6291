import { describe, expect, it } from 'vitest';
import { layoutDag } from './dag-layout.ts';

const node = (id: string) => ({ id, typeId: 'core.noop' });
const edge = (a: string, b: string) => ({ sourceNodeId: a, targetNodeId: b });

describe('DAG layout', () => {
  it('puts each node one column after its deepest predecessor', () => {
    const l = layoutDag({ nodes: ['a', 'b', 'c', 'd'].map(node), edges: [edge('a', 'b'), edge('a', 'c'), edge('b', 'd'), edge('c', 'd'), edge('a', 'd')] });
    expect(Object.fromEntries(l.nodes.map((n) => [n.id, [n.column, n.row]]))).toEqual({ a: [0, 0], b: [1, 0], c: [1, 1], d: [2, 0] });
    expect([l.columns, l.rows]).toEqual([3, 2]);
  });

  it('ignores loops (back edges) and edges to unknown nodes, and terminates', () => {
    const l = layoutDag({ nodes: ['a', 'b', 'c'].map(node), edges: [edge('a', 'b'), edge('b', 'c'), edge('c', 'a'), edge('b', 'b'), edge('a', 'zz')] });
    expect(l.nodes.map((n) => n.column)).toEqual([0, 1, 2]);
    expect(l.edges.map((e) => `${e.from}>${e.to}`)).toEqual(['a>b', 'b>c', 'c>a']);
  });

  it('labels nodes with their name, else their id', () => {
    const l = layoutDag({ nodes: [{ id: 'x', name: 'Extract', typeId: 't' }, node('y')], edges: [] });
    expect(l.nodes.map((n) => n.label)).toEqual(['Extract', 'y']);
    expect(l.nodes.map((n) => [n.column, n.row])).toEqual([
      [0, 0],
      [0, 1],
    ]);
  });
});
