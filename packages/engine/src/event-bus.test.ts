import { describe, expect, it } from 'vitest';
import { EventBus } from './event-bus.js';
import { InProcessNotifier } from './notifier.js';
import type { EncodedEvent, RunProjection } from './ports.js';

const proj: RunProjection = { status: 'running', lastSequence: 0, nodeExecutions: 0, nodeStates: {} };
const ev = (sequence: number): EncodedEvent => ({ sequence, type: 'log.appended', json: `{"sequence":${sequence}}` });

describe('EventBus', () => {
  it('delivers each sequence once, whichever of driver and relay publishes it first', () => {
    const bus = new EventBus();
    const seen: number[] = [];
    bus.subscribe('r', (evs) => seen.push(...evs.map((e) => e.sequence)));
    bus.publish('r', [ev(0), ev(1)], proj);
    bus.publish('r', [ev(1), ev(2)], proj); // overlapping relay batch
    bus.publish('r', [ev(0)], proj); // a late repeat
    bus.publish('r', [ev(3)], proj);
    expect(seen).toEqual([0, 1, 2, 3]);
    expect(bus.lastSequence('r')).toBe(3);
  });

  it('tracks the delivered sequence only while the run has subscribers', () => {
    const bus = new EventBus();
    bus.publish('r', [ev(0)], proj);
    expect(bus.lastSequence('r')).toBeUndefined();
    const off = bus.subscribe('r', () => undefined);
    expect(bus.has('r')).toBe(true);
    bus.publish('r', [ev(5)], proj);
    expect(bus.lastSequence('r')).toBe(5);
    expect(bus.runs()).toEqual(['r']);
    off();
    expect(bus.has('r')).toBe(false);
    expect(bus.lastSequence('r')).toBeUndefined();
  });
});

describe('InProcessNotifier', () => {
  it('delivers asynchronously to the listeners of the channel until they unlisten', async () => {
    const n = new InProcessNotifier();
    const got: string[] = [];
    const off = await n.listen('a', (p) => got.push(`a:${p}`));
    await n.listen('b', (p) => got.push(`b:${p}`));
    const sent = n.notify('a', '1');
    expect(got).toEqual([]); // never inside notify
    await sent;
    await Promise.resolve();
    expect(got).toEqual(['a:1']);
    off();
    await n.notify('a', '2');
    await n.notify('b', '3');
    await Promise.resolve();
    expect(got).toEqual(['a:1', 'b:3']);
  });
});
