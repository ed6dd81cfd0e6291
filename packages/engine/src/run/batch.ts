/**
 * The output of one step as it is built: each event is stamped, scrubbed and folded into the
 * state's projection as it is added, so the rules after it see the run as it will be stored.
 */
import { ENGINE_VERSION, EVENT_SCHEMA_VERSION, type RunEventDoc } from '@weft/contract';
import { applyEvent } from '../fold.js';
import type { EncodedEvent } from '../ports.js';
import type { RunState } from './state.js';
import type { CommandReply, Effect, StepOutput, TimerPlan } from './types.js';

/** One step's events, timer changes, command replies and effects. */
export class Batch {
  readonly events: EncodedEvent[] = [];
  readonly timers: TimerPlan = { set: [], clear: [], clearAll: false };
  readonly replies: CommandReply[] = [];
  readonly effects: Effect[] = [];
  /** The step's time as an ISO string (every event of a step shares it). */
  readonly ts: string;
  constructor(
    readonly state: RunState,
    readonly now: number,
  ) {
    this.ts = new Date(now).toISOString();
  }

  /** Appends an event: redacted, then folded, exactly as it will be stored. */
  add(type: string, payload: unknown, nodeId?: string): void {
    const s = this.state;
    const sequence = s.proj.lastSequence + 1;
    const doc: RunEventDoc = {
      eventId: `${s.rec.runId}.${sequence}`,
      runId: s.rec.runId,
      type,
      payload,
      timestamp: this.ts,
      sequence,
      ...(nodeId === undefined ? {} : { nodeId }),
      schemaVersion: EVENT_SCHEMA_VERSION,
      engineVersion: String(ENGINE_VERSION),
      // Durable events carry the trace of the request that created the run (decision 0024).
      ...(s.rec.traceContext ? { traceparent: s.rec.traceContext.traceparent } : {}),
    };
    const raw = JSON.stringify(doc);
    const json = s.redactor.redactJson(raw);
    // Fold what is stored: the projection (snapshots, downstream inputs) never holds a secret
    // the log does not.
    applyEvent(s.proj, json === raw ? doc : (JSON.parse(json) as RunEventDoc));
    const ev: EncodedEvent = { sequence, type, json };
    if (nodeId !== undefined) ev.nodeId = nodeId;
    this.events.push(ev);
  }

  /** Arms a durable timer of this run. */
  setTimer(key: string, fireAt: number): void {
    this.timers.set.push({ runId: this.state.rec.runId, key, fireAt });
  }

  /** The finished output. */
  output(terminal: boolean): StepOutput {
    if (terminal) {
      // A terminal run owns no timers.
      this.timers.clearAll = true;
      this.timers.set.length = 0;
      this.state.armed.clear();
    }
    return { events: this.events, timers: this.timers, replies: this.replies, effects: this.effects, terminal };
  }
}
