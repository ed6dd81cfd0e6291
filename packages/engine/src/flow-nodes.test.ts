import { describe, expect, it } from 'vitest';
import { NodeError, NodeRegistry, type NodeContext, type NodeResult } from './nodes.js';

const registry = new NodeRegistry();
function run(typeId: string, config: Record<string, unknown>, inputs: Record<string, unknown> = {}, variables: Record<string, unknown> = {}): NodeResult {
  const ctx: NodeContext = {
    runId: 'r',
    nodeId: 'n',
    typeId,
    tenant: 't',
    attempt: 0,
    config,
    inputs,
    startedAt: 0,
    signal: new AbortController().signal,
    now: () => 0,
    interrupt: () => undefined,
    variables,
    children: { current: () => undefined, start: async () => 'x', get: async () => undefined },
    effect: (_k, call) => call({ invocationId: 'i', calls: 1, signal: new AbortController().signal }),
    emit: () => undefined,
  };
  const t = registry.get(typeId);
  if (!t) throw new Error(`no ${typeId}`);
  return t.execute(ctx) as NodeResult;
}
const code = (f: () => unknown): string | undefined => {
  try {
    f();
  } catch (e) {
    return e instanceof NodeError ? e.code : String(e);
  }
  return undefined;
};

describe('flow nodes', () => {
  it('core.conditional evaluates every operator over a path into its inputs', () => {
    const cases: [string, unknown, unknown, boolean][] = [
      ['eq', { a: 1 }, { a: 1 }, true],
      ['neq', 1, 2, true],
      ['lt', 1, 2, true],
      ['lte', 2, 2, true],
      ['gt', 'b', 'a', true],
      ['gte', 1, 'a', false],
      ['in', 'x', ['x', 'y'], true],
      ['contains', 'haystack', 'st', true],
      ['contains', [1, { b: 2 }], { b: 2 }, true],
      ['starts-with', 'weft', 'we', true],
      ['ends-with', 'weft', 'ft', true],
      ['regex', 'abc123', '^[a-z]+\\d+$', true],
      ['exists', 0, undefined, true],
      ['not-exists', null, undefined, true],
      ['truthy', '', undefined, false],
      ['falsy', 0, undefined, true],
    ];
    for (const [op, left, right, want] of cases) {
      const r = run('core.conditional', { path: 'order.x', op, ...(right === undefined ? {} : { value: right }) }, { order: { x: left } });
      expect(r, `${op}`).toEqual({ outputs: { branch: want ? 'then' : 'else', matched: want, value: left ?? null } });
    }
  });

  it('core.conditional refuses an unknown operator and an unsafe or broken pattern', () => {
    expect(code(() => run('core.conditional', { op: 'approx' }))).toBe('validation_error');
    expect(code(() => run('core.conditional', { op: 'regex', value: '(' }, { s: 'x' }))).toBe('validation_error');
    expect(code(() => run('core.conditional', { op: 'regex', value: 'a'.repeat(257) }))).toBe('validation_error');
    // Past the subject cap a regex never matches (no pathological backtracking over huge input).
    expect(run('core.conditional', { path: 's', op: 'regex', value: 'a' }, { s: 'a'.repeat(5000) })).toMatchObject({ outputs: { matched: false } });
  });

  it('core.loop iterates items or a count, and refuses more than its cap', () => {
    expect(run('core.loop', {}, { items: ['a', 'b'] })).toEqual({
      outputs: {
        items: [
          { index: 0, item: 'a' },
          { index: 1, item: 'b' },
        ],
        count: 2,
      },
    });
    expect(run('core.loop', { times: 3 })).toMatchObject({ outputs: { count: 3, items: [{ index: 0 }, { index: 1 }, { index: 2 }] } });
    expect(code(() => run('core.loop', { maxIterations: 2 }, { items: [1, 2, 3] }))).toBe('loop_limit_exceeded');
    expect(code(() => run('core.loop', { times: 10_001 }))).toBe('loop_limit_exceeded');
    expect(code(() => run('core.loop', {}))).toBe('validation_error');
  });

  it('core.setVariable sets a variable; core.getVariable reads one (null when unset)', () => {
    expect(run('core.setVariable', { name: 'total', value: 3 })).toEqual({ outputs: { name: 'total', value: 3 }, variables: { total: 3 } });
    expect(run('core.setVariable', { name: 'total' }, { value: { n: 1 } })).toMatchObject({ variables: { total: { n: 1 } } });
    expect(code(() => run('core.setVariable', { name: 'bad name' }, { value: 1 }))).toBe('validation_error');
    expect(run('core.getVariable', { name: 'total' }, {}, { total: 7 })).toEqual({ outputs: { name: 'total', value: 7 } });
    expect(run('core.getVariable', { name: 'missing' })).toEqual({ outputs: { name: 'missing', value: null } });
  });

  it('core.parallel passes its inputs on; core.merge gathers them; start and end pass through', () => {
    expect(run('core.parallel', {}, { a: 1 })).toEqual({ outputs: { a: 1 } });
    expect(run('core.merge', {}, { left: 1, right: 2 })).toEqual({ outputs: { left: 1, right: 2, merged: { left: 1, right: 2 } } });
    expect(run('core.start', {}, { x: 1 })).toEqual({ outputs: { x: 1 } });
    expect(run('core.end', {}, { x: 1 })).toEqual({ outputs: { x: 1 } });
  });
});
