/**
 * Pure helpers over run events: the timeline filters and the node states the DAG colours.
 * No DOM and no React, so they are unit-tested directly (events.test.ts).
 */
import type { RunEventDoc } from '@weft/contract/types';

/** The timeline filters. */
export interface EventFilter {
  /** Only failures: `*.failed`, `cap.breached`, and events whose payload carries an error. */
  failedOnly: boolean;
  /** Exact event type, or '' for all. */
  type: string;
  /** Exact node id, or '' for all. */
  nodeId: string;
  /** Substring (case-insensitive) of the type, node id or payload; `/re/flags` for a regular expression. */
  text: string;
}

/** No filter. */
export const NO_FILTER: EventFilter = { failedOnly: false, type: '', nodeId: '', text: '' };

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** True for an event that reports a failure. */
export function isFailureEvent(e: RunEventDoc): boolean {
  if (e.type.endsWith('.failed') || e.type === 'cap.breached') return true;
  return isRecord(e.payload) && isRecord(e.payload.error);
}

/** A matcher for the text box: `/pattern/flags` is a regular expression, anything else a substring. */
export function textMatcher(text: string): ((s: string) => boolean) | { error: string } {
  const t = text.trim();
  if (t === '') return () => true;
  const m = /^\/(.+)\/([a-z]*)$/.exec(t);
  if (m) {
    try {
      const re = new RegExp(m[1] as string, (m[2] as string).replace(/[gy]/g, ''));
      return (s) => re.test(s);
    } catch (err) {
      return { error: err instanceof Error ? err.message : String(err) };
    }
  }
  const needle = t.toLowerCase();
  return (s) => s.toLowerCase().includes(needle);
}

/** The searchable text of one event (type, node id, payload JSON). */
export function eventText(e: RunEventDoc): string {
  let payload = '';
  try {
    payload = JSON.stringify(e.payload) ?? '';
  } catch {
    payload = '';
  }
  return `${e.type} ${e.nodeId ?? ''} ${payload}`;
}

/** Applies the filter; an invalid regular expression matches nothing and reports why. */
export function filterEvents(events: readonly RunEventDoc[], f: EventFilter): { events: RunEventDoc[]; error?: string } {
  const match = textMatcher(f.text);
  if (typeof match !== 'function') return { events: [], error: `Invalid regular expression: ${match.error}` };
  const textActive = f.text.trim() !== '';
  const out = events.filter(
    (e) =>
      (!f.failedOnly || isFailureEvent(e)) &&
      (f.type === '' || e.type === f.type) &&
      (f.nodeId === '' || e.nodeId === f.nodeId) &&
      (!textActive || match(eventText(e))),
  );
  return { events: out };
}

/** A node's state as the DAG shows it. */
export type NodeStatus = 'pending' | 'running' | 'waiting' | 'completed' | 'failed' | 'skipped' | 'cancelled';

const EVENT_STATUS: Readonly<Record<string, NodeStatus>> = {
  'node.dispatched': 'running',
  'node.started': 'running',
  'node.retrying': 'running',
  'node.completed': 'completed',
  'node.failed': 'failed',
  'node.skipped': 'skipped',
  'node.cancelled': 'cancelled',
  'node.suspended': 'waiting',
  'interrupt.requested': 'waiting',
  'interrupt.resolved': 'running',
};

/** Maps a snapshot `nodeStates[id].status` to the DAG's vocabulary. */
export function snapshotStatus(s: unknown): NodeStatus {
  switch (s) {
    case 'running':
    case 'completed':
    case 'failed':
    case 'skipped':
    case 'cancelled':
      return s;
    case 'suspended':
      return 'waiting';
    default:
      return 'pending';
  }
}

/** Node states from the snapshot, overridden by every later node event (in sequence order). */
export function nodeStatuses(snapshotStates: Record<string, unknown> | undefined, events: readonly RunEventDoc[], afterSequence = -1): Map<string, NodeStatus> {
  const out = new Map<string, NodeStatus>();
  if (snapshotStates) for (const [id, st] of Object.entries(snapshotStates)) out.set(id, snapshotStatus(isRecord(st) ? st.status : undefined));
  for (const e of events) {
    if (e.sequence <= afterSequence || !e.nodeId) continue;
    const s = EVENT_STATUS[e.type];
    if (s) out.set(e.nodeId, s);
  }
  return out;
}

/** Distinct values of a field over the events, sorted (for the filter selects). */
export function distinct(events: readonly RunEventDoc[], pick: (e: RunEventDoc) => string | undefined): string[] {
  const set = new Set<string>();
  for (const e of events) {
    const v = pick(e);
    if (v) set.add(v);
  }
  return [...set].sort();
}
