/**
 * In-process fan-out of appended events to live subscribers (SSE, long-poll). Subscribers get
 * the JSON exactly as stored. Publishing happens after the append committed, so a subscriber
 * never sees an event the store does not have. On a shared store the engine also relays
 * other processes' appends here (read from the log after a notification), so a subscriber on
 * any process sees every event of the run, in order, once.
 */
import type { EncodedEvent, RunProjection } from './ports.js';

/** A live listener for one run. */
export type RunListener = (events: readonly EncodedEvent[], projection: RunProjection) => void;

export class EventBus {
  private readonly listeners = new Map<string, Set<RunListener>>();
  /** Highest sequence published per subscribed run (what the relay continues from). */
  private readonly delivered = new Map<string, number>();

  /** Subscribes to a run; returns the unsubscribe function. */
  subscribe(runId: string, fn: RunListener): () => void {
    let set = this.listeners.get(runId);
    if (!set) {
      set = new Set();
      this.listeners.set(runId, set);
    }
    set.add(fn);
    return () => {
      const s = this.listeners.get(runId);
      if (!s) return;
      s.delete(fn);
      if (s.size === 0) {
        this.listeners.delete(runId);
        this.delivered.delete(runId);
      }
    };
  }

  publish(runId: string, events: readonly EncodedEvent[], projection: RunProjection): void {
    const set = this.listeners.get(runId);
    if (!set) return;
    // Events reach the bus from this process's driver and from the relay of other processes'
    // appends; whichever comes second for a sequence is dropped, so listeners see each once.
    const floor = this.delivered.get(runId);
    const fresh = floor === undefined ? events : events.filter((e) => e.sequence > floor);
    const tail = fresh.at(-1)?.sequence;
    if (tail === undefined) return;
    this.delivered.set(runId, tail);
    for (const fn of [...set]) {
      try {
        fn(fresh, projection);
      } catch {
        // A failing subscriber must not break the run or other subscribers.
      }
    }
  }

  /** True while the run has at least one subscriber. */
  has(runId: string): boolean {
    return this.listeners.has(runId);
  }

  /** The highest sequence published for a subscribed run since its first subscriber came; undefined before any. */
  lastSequence(runId: string): number | undefined {
    return this.delivered.get(runId);
  }

  /** Runs with at least one subscriber. */
  runs(): string[] {
    return [...this.listeners.keys()];
  }

  /** Number of runs with at least one subscriber (for metrics). */
  get size(): number {
    return this.listeners.size;
  }
}
