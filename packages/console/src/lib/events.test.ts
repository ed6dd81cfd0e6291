import type { RunEventDoc } from '@weft/contract/types';
import { describe, expect, it } from 'vitest';
import { NO_FILTER, distinct, filterEvents, isFailureEvent, nodeStatuses, textMatcher } from './events.ts';

const ev = (sequence: number, type: string, nodeId?: string, payload: unknown = {}): RunEventDoc => ({
  eventId: `e${sequence}`,
  runId: 'r',
  type,
  payload,
  timestamp: '2026-01-01T00:00:00.000Z',
  sequence,
  ...(nodeId ? { nodeId } : {}),
});

const log = [
  ev(0, 'run.started'),
  ev(1, 'node.started', 'a'),
  ev(2, 'node.failed', 'a', { error: { code: 'boom', message: 'Exploded at step 3' } }),
  ev(3, 'node.started', 'b'),
  ev(4, 'node.completed', 'b', { outputs: { text: 'Hello' } }),
  ev(5, 'cap.breached', undefined, { cap: 'recursionLimit' }),
  ev(6, 'run.failed', undefined, { error: { code: 'node_failed', message: 'a failed' } }),
];

describe('timeline filters', () => {
  it('failed only keeps *.failed, cap.breached and events carrying an error', () => {
    expect(filterEvents(log, { ...NO_FILTER, failedOnly: true }).events.map((e) => e.sequence)).toEqual([2, 5, 6]);
    expect(isFailureEvent(ev(9, 'interrupt.resolved', 'x', { error: { code: 'x' } }))).toBe(true);
    expect(isFailureEvent(ev(9, 'node.completed', 'x', { error: 'a string is not an error object' }))).toBe(false);
  });

  it('filters by type, by node and by text, together', () => {
    expect(filterEvents(log, { ...NO_FILTER, type: 'node.started' }).events.map((e) => e.sequence)).toEqual([1, 3]);
    expect(filterEvents(log, { ...NO_FILTER, nodeId: 'b' }).events.map((e) => e.sequence)).toEqual([3, 4]);
    expect(filterEvents(log, { ...NO_FILTER, text: 'hello' }).events.map((e) => e.sequence)).toEqual([4]);
    expect(filterEvents(log, { ...NO_FILTER, nodeId: 'a', failedOnly: true, text: 'step' }).events.map((e) => e.sequence)).toEqual([2]);
    expect(filterEvents(log, NO_FILTER).events).toHaveLength(log.length);
  });

  it('a /regex/ text is a regular expression; an invalid one matches nothing and says why', () => {
    expect(filterEvents(log, { ...NO_FILTER, text: '/^node\\.(started|failed)/' }).events.map((e) => e.sequence)).toEqual([1, 2, 3]);
    expect(filterEvents(log, { ...NO_FILTER, text: '/EXPLODED/i' }).events.map((e) => e.sequence)).toEqual([2]);
    const bad = filterEvents(log, { ...NO_FILTER, text: '/(unclosed/' });
    expect(bad.events).toEqual([]);
    expect(bad.error).toMatch(/^Invalid regular expression/);
    const m = textMatcher('/a/g');
    expect(typeof m === 'function' && m('a') && m('a')).toBe(true);
  });

  it('lists distinct types and nodes', () => {
    expect(distinct(log, (e) => e.nodeId)).toEqual(['a', 'b']);
    expect(distinct(log, (e) => e.type)).toContain('cap.breached');
  });
});

describe('node statuses', () => {
  it('starts from the snapshot and applies node events in order', () => {
    const s = nodeStatuses({ a: { status: 'pending' }, b: { status: 'suspended' }, c: { status: 'completed' } }, log);
    expect(Object.fromEntries(s)).toEqual({ a: 'failed', b: 'completed', c: 'completed' });
    expect(nodeStatuses({ x: { status: 'suspended' } }, []).get('x')).toBe('waiting');
    expect(nodeStatuses(undefined, [ev(0, 'node.started', 'g'), ev(1, 'interrupt.requested', 'g')]).get('g')).toBe('waiting');
  });
});
