import { describe, expect, it } from 'vitest';
import type { WorkflowDefinition } from '@weft/contract';
import { compileGraph, type WorkflowGraph } from './graph.js';
import { initialProjection } from './fold.js';
import { decide, evaluateCondition } from './scheduler.js';
import type { RunProjection } from './ports.js';

const node = (id: string) => ({ id, typeId: 'core.noop', name: id, position: { x: 0, y: 0 }, config: {}, inputs: {} });
const wf = (nodes: string[], edges: [string, string, Record<string, unknown>?][]): WorkflowDefinition =>
  ({
    id: 'wf',
    name: 'wf',
    version: '1',
    nodes: nodes.map(node),
    edges: edges.map(([s, t, extra], i) => ({ id: `e${i}`, sourceNodeId: s, targetNodeId: t, ...(extra ?? {}) })),
    triggers: [],
    variables: [],
    metadata: {},
    settings: {},
  }) as WorkflowDefinition;

const graphOf = (def: WorkflowDefinition): WorkflowGraph => {
  const c = compileGraph(def);
  if ('problems' in c) throw new Error(JSON.stringify(c.problems));
  return c.graph;
};

const withStates = (
  g: WorkflowGraph,
  states: Record<string, RunProjection['nodeStates'][string]['status']>,
  outputs: Record<string, Record<string, unknown>> = {},
): RunProjection => {
  const p = initialProjection(g);
  for (const [id, status] of Object.entries(states)) {
    const s = p.nodeStates[id];
    if (s) {
      s.status = status;
      if (outputs[id]) s.outputs = outputs[id];
    }
  }
  return p;
};

describe('graph', () => {
  it('orders nodes topologically with array order as tie-break', () => {
    const g = graphOf(
      wf(
        ['c', 'a', 'b'],
        [
          ['a', 'b'],
          ['b', 'c'],
        ],
      ),
    );
    expect(g.order.map((n) => n.id)).toEqual(['a', 'b', 'c']);
    expect(g.sinks).toEqual(['c']);
  });
  it('rejects cycles, dangling edges and duplicate ids', () => {
    expect(
      'problems' in
        compileGraph(
          wf(
            ['a', 'b'],
            [
              ['a', 'b'],
              ['b', 'a'],
            ],
          ),
        ),
    ).toBe(true);
    expect('problems' in compileGraph(wf(['a'], [['a', 'zz']]))).toBe(true);
    expect('problems' in compileGraph(wf(['a', 'a'], []))).toBe(true);
  });
});

describe('scheduler', () => {
  it('starts sources first, then successors', () => {
    const g = graphOf(
      wf(
        ['a', 'b', 'c'],
        [
          ['a', 'b'],
          ['b', 'c'],
        ],
      ),
    );
    expect(decide(g, withStates(g, {})).ready).toEqual(['a']);
    expect(decide(g, withStates(g, { a: 'completed' })).ready).toEqual(['b']);
    expect(decide(g, withStates(g, { a: 'completed', b: 'completed', c: 'completed' })).final).toEqual({ status: 'completed' });
  });

  it('skips a failed branch transitively and fails the run with the node error', () => {
    const g = graphOf(
      wf(
        ['a', 'b', 'c'],
        [
          ['a', 'b'],
          ['b', 'c'],
        ],
      ),
    );
    const p = withStates(g, { a: 'failed' });
    const a = p.nodeStates.a;
    if (a) a.error = { code: 'boom', message: 'x' };
    const d = decide(g, p);
    expect(d.skip.map((s) => s.nodeId)).toEqual(['b', 'c']);
    expect(d.final).toEqual({ status: 'failed', error: { code: 'boom', message: 'x' }, failedNodeId: 'a' });
  });

  it.each([
    ['all_success', { a: 'completed', b: 'completed' }, 'ready'],
    ['all_success', { a: 'completed', b: 'failed' }, 'skip'],
    ['all_success', { a: 'completed' }, 'wait'],
    ['any_success', { a: 'completed' }, 'ready'],
    ['any_success', { a: 'failed', b: 'failed' }, 'skip'],
    ['all_complete', { a: 'failed', b: 'completed' }, 'ready'],
    ['all_complete', { a: 'failed' }, 'wait'],
    ['none_failed', { a: 'failed' }, 'skip'],
    ['none_failed', { a: 'completed', b: 'skipped' }, 'ready'],
    ['any_failed', { a: 'failed' }, 'ready'],
    ['any_failed', { a: 'completed', b: 'completed' }, 'skip'],
  ] as const)('triggerRule %s with %j → %s', (rule, states, expected) => {
    const g = graphOf(
      wf(
        ['a', 'b', 'j'],
        [
          ['a', 'j', { triggerRule: rule }],
          ['b', 'j', { triggerRule: rule }],
        ],
      ),
    );
    // With a single upstream given, the other one is still running.
    const all = { b: 'running', ...states } as Record<string, 'completed'>;
    const d = decide(g, withStates(g, all));
    const verdict = d.ready.includes('j') ? 'ready' : d.skip.some((s) => s.nodeId === 'j') ? 'skip' : 'wait';
    expect(verdict).toBe(expected);
  });

  it('rescues a failure consumed by an any_failed handler', () => {
    const g = graphOf(
      wf(
        ['a', 'ok', 'handler'],
        [
          ['a', 'ok'],
          ['a', 'handler', { triggerRule: 'any_failed' }],
        ],
      ),
    );
    const d = decide(g, withStates(g, { a: 'failed', ok: 'skipped', handler: 'completed' }));
    expect(d.final).toEqual({ status: 'completed' });
  });

  it('treats a false edge condition as an untaken edge (branch skipped)', () => {
    const g = graphOf(
      wf(
        ['a', 'yes', 'no'],
        [
          ['a', 'yes', { condition: { type: 'equals', left: 'flag', right: true } }],
          ['a', 'no', { condition: { type: 'equals', left: 'flag', right: false } }],
        ],
      ),
    );
    const d = decide(g, withStates(g, { a: 'completed' }, { a: { flag: true } }));
    expect(d.ready).toEqual(['yes']);
    expect(d.skip).toEqual([{ nodeId: 'no', reason: 'upstream-not-satisfied' }]);
  });

  it('evaluates every condition type', () => {
    const out = { s: 'hello world', n: 3, arr: [1, { k: 2 }], nested: { ok: true } };
    expect(evaluateCondition({ type: 'equals', left: 'n', right: 3 }, out)).toBe(true);
    expect(evaluateCondition({ type: 'notEquals', left: 'n', right: 3 }, out)).toBe(false);
    expect(evaluateCondition({ type: 'contains', left: 's', right: 'world' }, out)).toBe(true);
    expect(evaluateCondition({ type: 'contains', left: 'arr', right: { k: 2 } }, out)).toBe(true);
    expect(evaluateCondition({ type: 'regex', left: 's', right: '^hel+o' }, out)).toBe(true);
    expect(evaluateCondition({ type: 'truthy', left: 'nested.ok' }, out)).toBe(true);
    expect(evaluateCondition({ type: 'falsy', left: 'missing' }, out)).toBe(true);
  });
});
