/**
 * The runs-list filters the host's list route does not take (tag, creation time range, id
 * text), applied to the page shown. Pure, unit-tested in run-filters.test.ts.
 */
import type { RunSnapshot } from '@weft/contract/types';

/** Filters kept in the URL (`#/runs?status=…`); status and workflow go to the host. */
export interface RunFilters {
  status: string;
  workflow: string;
  tag: string;
  /** `datetime-local` values (local time), or ''. */
  from: string;
  to: string;
  q: string;
}

/** Whether a run passes the filters applied in the browser (tag, time range, id text). */
export function matchesLocal(r: RunSnapshot, f: RunFilters): boolean {
  if (f.tag && !(r.tags ?? []).some((t) => t.toLowerCase().includes(f.tag.toLowerCase()))) return false;
  const created = r.createdAt ? Date.parse(r.createdAt) : Number.NaN;
  if (f.from && !(created >= Date.parse(f.from))) return false;
  if (f.to && !(created <= Date.parse(f.to))) return false;
  if (f.q && !r.runId.toLowerCase().includes(f.q.trim().toLowerCase())) return false;
  return true;
}
