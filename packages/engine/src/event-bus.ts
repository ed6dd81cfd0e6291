/**
 * In-process fan-out of appended events to live subscribers (SSE, long-poll). Subscribers get
 * the JSON exactly as stored. Publishing happens after the append committed, so a subscriber
 * never sees an event the store does not have.
 */
import type { EncodedEvent, RunProjection } from './ports.js';

/** A live listener for one run. */
export type RunListener = (events: readonly EncodedEvent[], projection: RunProjection) => void;

export class EventBus {
  private readonly listeners = new Map<string, Set<RunListener>>();

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
      if (s.size === 0) this.listeners.delete(runId);
    };
  }

  publish(runId: string, events: readonly EncodedEvent[], projection: RunProjection): void {
    const set = this.listeners.get(runId);
    if (!set) return;
    for (const fn of [...set]) {
      try {
        fn(events, projection);
      } catch {
        // A failing subscriber must not break the run or other subscribers.
      }
    }
  }

  /** Number of runs with at least one subscriber (for metrics). */
  get size(): number {
    return this.listeners.size;
  }
}
