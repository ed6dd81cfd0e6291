/**
 * One compact human line per run event, for `weft runs start --watch` and
 * `weft runs events`: sequence, type, node id and a short payload summary.
 *
 * @see wire-contract.md §3.3, §3.4
 */
import type { RunEventDoc } from '@weft/contract';
import type { Colors } from './cli-io.js';

/** Longest payload summary before it is cut with `…`. */
export const SUMMARY_MAX = 100;
const TYPE_WIDTH = 16;

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Renders a scalar bare when it is a simple token, otherwise as compact JSON. */
function renderValue(value: unknown): string {
  if (typeof value === 'string') return /^[\w.:/@+-]+$/.test(value) ? value : JSON.stringify(value);
  if (isRecord(value) && typeof value.code === 'string' && typeof value.message === 'string') {
    // An error object reads best as `code: message`.
    return JSON.stringify(`${value.code}: ${value.message}`);
  }
  return JSON.stringify(value) ?? String(value);
}

/** Cuts `text` to `max` characters, marking the cut. */
export function truncate(text: string, max: number = SUMMARY_MAX): string {
  return text.length <= max ? text : `${text.slice(0, Math.max(0, max - 1))}…`;
}

/**
 * Summarizes a payload as `key=value` pairs (the node id is left out: the line shows it
 * already). Non-object payloads are rendered whole; `null`/`{}` give an empty summary.
 */
export function summarizePayload(payload: unknown, max: number = SUMMARY_MAX): string {
  if (payload === null || payload === undefined) return '';
  if (!isRecord(payload)) return truncate(renderValue(payload), max);
  const parts: string[] = [];
  for (const [key, value] of Object.entries(payload)) {
    if (key === 'nodeId' || value === undefined) continue;
    parts.push(`${key}=${renderValue(value)}`);
  }
  return truncate(parts.join(' '), max);
}

/** Colour of an event type: failures red, cancellations yellow, completions green, starts cyan. */
function paintType(type: string, c: Colors): string {
  const padded = type.padEnd(TYPE_WIDTH);
  if (type.endsWith('.failed') || type === 'cap.breached') return c.red(padded);
  if (type.endsWith('.cancelled')) return c.yellow(padded);
  if (type === 'run.completed') return c.bold(c.green(padded));
  if (type.endsWith('.completed')) return c.green(padded);
  if (type.endsWith('.started')) return c.cyan(padded);
  return padded;
}

/**
 * Formats one event as a single line (no trailing newline), e.g.
 * `   2  node.completed    [a]  outputs={"x":1}`.
 */
export function formatEventLine(event: RunEventDoc, c: Colors): string {
  const seq = c.dim(String(event.sequence).padStart(4));
  const nodeId = event.nodeId ?? (isRecord(event.payload) && typeof event.payload.nodeId === 'string' ? event.payload.nodeId : undefined);
  const node = nodeId === undefined ? '' : `${c.magenta(`[${nodeId}]`)}  `;
  const summary = summarizePayload(event.payload);
  return `${seq}  ${paintType(event.type, c)}  ${node}${summary}`.trimEnd();
}
