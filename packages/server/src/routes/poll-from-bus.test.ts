/**
 * A woken long-poll answers from the published events only when they are provably the store's
 * answer: contiguous from the cursor, reaching the projection's last sequence, run ended.
 */
import { describe, expect, it } from 'vitest';
import { projection, runRecord } from '@weft/testkit';
import { fromBus } from './events.js';

const ev = (sequence: number, type = 'node.started') => ({ sequence, type, json: `{"sequence":${sequence}}` });

describe('long-poll answer from the bus', () => {
  const rec = runRecord('r1', { projection: projection('running', 0) });

  it('answers a terminal publication that continues the cursor', () => {
    const out = fromBus({ events: [ev(1), ev(2), ev(3, 'run.completed')], projection: projection('completed', 3) }, 0, rec);
    expect(out?.events.map((e) => e.sequence)).toEqual([1, 2, 3]);
    expect(out?.rec.projection.status).toBe('completed');
    expect(out?.rec.tenant).toBe('t1');
  });

  it('drops events at or before the cursor', () => {
    const out = fromBus({ events: [ev(0), ev(1), ev(2, 'run.completed')], projection: projection('completed', 2) }, 0, rec);
    expect(out?.events.map((e) => e.sequence)).toEqual([1, 2]);
  });

  it('reads the store instead when the run has not ended, events are missing, or the projection is ahead', () => {
    expect(fromBus({ events: [ev(1)], projection: projection('running', 1) }, 0, rec)).toBeUndefined();
    expect(fromBus({ events: [ev(2), ev(3, 'run.completed')], projection: projection('completed', 3) }, 0, rec)).toBeUndefined();
    expect(fromBus({ events: [ev(1), ev(2)], projection: projection('completed', 5) }, 0, rec)).toBeUndefined();
    expect(fromBus({ events: [ev(0)], projection: projection('completed', 0) }, 0, rec)).toBeUndefined();
  });
});
