/**
 * Human renderings of snapshots, run pages and workflow lists, and the exit status a watched
 * run ends with.
 */
import { isTerminalStatus, type RunStatus, type TerminalStatus } from '@weft/contract/types';
import type { RunList, RunSnapshot, WorkflowSummary } from '@weft/sdk';
import type { Colors } from './cli-io.js';

/** Exit statuses of `weft runs start --watch`: distinct so scripts can tell outcomes apart. */
export const EXIT_CODES = { completed: 0, error: 1, failed: 2, cancelled: 3 } as const;

/** One exit status per terminal status (a new terminal status fails to compile here). */
const TERMINAL_EXIT_CODES: Readonly<Record<TerminalStatus, number>> = {
  completed: EXIT_CODES.completed,
  failed: EXIT_CODES.failed,
  cancelled: EXIT_CODES.cancelled,
};

/** Exit status for the final status of a watched run. */
export function exitCodeForStatus(status: RunStatus | string): number {
  return isTerminalStatus(status) ? TERMINAL_EXIT_CODES[status] : EXIT_CODES.error;
}

/** Colours a status: completed green, failed red, cancelled/cancelling yellow, others cyan. */
export function paintStatus(status: string, c: Colors): string {
  if (status === 'completed') return c.green(status);
  if (status === 'failed') return c.red(status);
  if (status === 'cancelled' || status === 'cancelling') return c.yellow(status);
  return c.cyan(status);
}

/** Left-aligned columns separated by two spaces (header row first). */
export function formatTable(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) {
    for (const [i, cell] of row.entries()) widths[i] = Math.max(widths[i] ?? 0, cell.length);
  }
  return rows
    .map((row) =>
      row
        .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** The one-line outcome printed after a watched run: `run r1 failed: code: message`. */
export function formatFinalStatus(snapshot: RunSnapshot, c: Colors): string {
  const base = `run ${snapshot.runId} ${paintStatus(snapshot.status, c)}`;
  const err = snapshot.error;
  return err ? `${base}: ${err.code}: ${err.message}` : base;
}

/** What a waiting run waits on (`approval at node gate; see weft interrupts show r1`). */
function waitingOn(s: RunSnapshot): string | undefined {
  const pending = s.pendingInterrupts && s.pendingInterrupts.length > 0 ? s.pendingInterrupts : s.interrupt ? [s.interrupt] : [];
  if (pending.length === 0) return undefined;
  return `${pending.map((i) => `${i.kind} at node ${i.nodeId}`).join(', ')}; see weft interrupts show ${s.runId}`;
}

/** Key/value view of a snapshot for `weft runs get`. */
export function formatSnapshot(s: RunSnapshot, c: Colors): string {
  const ended = s.completedAt ?? s.endedAt ?? undefined;
  const rows: [string, string | undefined][] = [
    ['run', s.runId],
    ['workflow', s.workflowId],
    ['status', paintStatus(s.status, c)],
    ['current node', s.currentNodeId],
    ['started', s.startedAt],
    ['ended', ended ?? undefined],
    ['error', s.error ? `${s.error.code}: ${s.error.message}` : undefined],
    ['paused', s.pausedAt],
    ['waiting on', waitingOn(s)],
    ['parent', s.parentRunId ? `${s.parentRunId}${s.parentNodeId ? ` (node ${s.parentNodeId})` : ''}` : undefined],
    ['child runs', s.childRuns && s.childRuns.length > 0 ? s.childRuns.map((r) => `${r.runId} (node ${r.nodeId})`).join(', ') : undefined],
    ['tags', s.tags && s.tags.length > 0 ? s.tags.join(', ') : undefined],
    ['variables', s.variables && Object.keys(s.variables).length > 0 ? JSON.stringify(s.variables) : undefined],
  ];
  const present = rows.filter((r): r is [string, string] => r[1] !== undefined && r[1] !== '');
  const width = Math.max(...present.map(([k]) => k.length));
  return present.map(([k, v]) => `${c.dim(k.padEnd(width))}  ${v}`).join('\n');
}

/** Table view of one page of runs; mentions how to get the next page. */
export function formatRunList(page: RunList): string {
  if (page.runs.length === 0) return 'no runs';
  const rows = [['RUN', 'STATUS', 'WORKFLOW', 'STARTED'], ...page.runs.map((r) => [r.runId, r.status, r.workflowId, r.startedAt ?? ''])];
  const table = formatTable(rows);
  return page.nextCursor ? `${table}\nmore: --cursor ${page.nextCursor}` : table;
}

/** Table view of stored workflows. */
export function formatWorkflowList(workflows: readonly WorkflowSummary[]): string {
  if (workflows.length === 0) return 'no workflows';
  const rows = [
    ['ID', 'NAME', 'VERSION', 'HASH', 'SOURCE', 'RUNNABLE'],
    ...workflows.map((w) => [w.id, w.name, w.version ?? '', w.hash.slice(0, 12), w.source, w.runnable === undefined ? '' : w.runnable ? 'yes' : 'no']),
  ];
  return formatTable(rows);
}
