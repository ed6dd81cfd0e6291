/**
 * A clock that moves only when told to: engine tests advance it and every timer that falls due
 * fires, in time order, so interrupt deadlines, run deadlines and delays are tested in
 * milliseconds of real time.
 */
import type { CancelTimer, Clock } from './ports.js';

interface Pending {
  at: number;
  seq: number;
  fn: () => void;
}

/** A {@link Clock} for tests: `now()` is fixed until {@link ManualClock.advance} moves it. */
export class ManualClock implements Clock {
  private t: number;
  private seq = 0;
  private readonly pending = new Set<Pending>();

  constructor(start = Date.parse('2026-01-01T00:00:00.000Z')) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  setTimer(at: number, fn: () => void): CancelTimer {
    const p: Pending = { at, seq: this.seq++, fn };
    this.pending.add(p);
    // Already due: fire on the next turn, as a real timer with a non-positive delay would.
    if (at <= this.t) setImmediate(() => this.fire(p));
    return () => {
      this.pending.delete(p);
    };
  }

  /** Timers not yet fired. */
  get timerCount(): number {
    return this.pending.size;
  }

  /** Moves the clock forward by `ms` and fires every timer due by then, earliest first. */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError('a clock only moves forward');
    const until = this.t + ms;
    for (;;) {
      const next = [...this.pending].filter((p) => p.at <= until).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!next) break;
      if (next.at > this.t) this.t = next.at;
      this.fire(next);
    }
    this.t = until;
  }

  private fire(p: Pending): void {
    if (!this.pending.delete(p)) return;
    p.fn();
  }
}
