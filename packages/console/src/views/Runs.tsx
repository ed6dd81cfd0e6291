/**
 * The runs list: server-side filters (status, workflow), filters over the loaded page (tag,
 * time range, id text), live refresh every 2 s, cursor paging and bulk cancel.
 */
import { RUN_STATUSES, isTerminalStatus, type RunStatus } from '@weft/contract/types';
import type { BulkCancelResponse } from '@weft/sdk';
import { useState, type ReactNode } from 'react';
import { Notice, StatusBadge, Time } from '../components.tsx';
import { errorText } from '../lib/errors.ts';
import { matchesLocal, type RunFilters as Filters } from '../lib/run-filters.ts';
import { newIdempotencyKey, useLoad } from '../lib/hooks.ts';
import { href, navigate, replace } from '../router.ts';
import { useSession } from '../session-context.tsx';

const PAGE = 25;

export function RunsView({ query }: { query: URLSearchParams }): ReactNode {
  const { client } = useSession();
  const filters: Filters = {
    status: query.get('status') ?? '',
    workflow: query.get('workflow') ?? '',
    tag: query.get('tag') ?? '',
    from: query.get('from') ?? '',
    to: query.get('to') ?? '',
    q: query.get('q') ?? '',
  };
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  const cursor = cursors[cursors.length - 1];
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [reason, setReason] = useState('');
  const [bulk, setBulk] = useState<{ result?: BulkCancelResponse; error?: string } | undefined>(undefined);
  const [busy, setBusy] = useState(false);

  const setFilter = (name: keyof Filters, value: string): void => {
    const next = { ...filters, [name]: value };
    setCursors([undefined]);
    setSelected(new Set());
    replace(href(['runs'], { ...next }));
    window.dispatchEvent(new HashChangeEvent('hashchange'));
  };

  const workflows = useLoad((signal) => client.listWorkflows({ signal }), []);
  const page = useLoad(
    (signal) =>
      client.listRuns(
        {
          ...(filters.status ? { status: filters.status as RunStatus } : {}),
          ...(filters.workflow ? { workflowId: filters.workflow } : {}),
          limit: PAGE,
          ...(cursor ? { cursor } : {}),
        },
        { signal },
      ),
    [filters.status, filters.workflow, cursor],
    2000,
  );
  const runs = (page.value?.runs ?? []).filter((r) => matchesLocal(r, filters));
  const cancellable = runs.filter((r) => !isTerminalStatus(r.status));

  const toggle = (id: string): void => {
    const next = new Set(selected);
    if (next.has(id)) next.delete(id);
    else next.add(id);
    setSelected(next);
  };
  const allSelected = cancellable.length > 0 && cancellable.every((r) => selected.has(r.runId));

  return (
    <section aria-labelledby="runs-h">
      <h1 id="runs-h">Runs</h1>
      <form
        className="filters"
        aria-label="Run filters"
        onSubmit={(e) => {
          e.preventDefault();
          const id = filters.q.trim();
          if (id) navigate(href(['runs', id]));
        }}
      >
        <div className="field">
          <label htmlFor="f-q">Run id</label>
          <input id="f-q" type="search" value={filters.q} placeholder="search or paste an id" onChange={(e) => setFilter('q', e.target.value)} />
        </div>
        <div className="field">
          <label htmlFor="f-status">Status</label>
          <select id="f-status" value={filters.status} onChange={(e) => setFilter('status', e.target.value)}>
            <option value="">any</option>
            {RUN_STATUSES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="f-workflow">Workflow</label>
          <select id="f-workflow" value={filters.workflow} onChange={(e) => setFilter('workflow', e.target.value)}>
            <option value="">any</option>
            {(workflows.value?.workflows ?? []).map((w) => (
              <option key={w.id} value={w.id}>
                {w.id}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="f-tag">Tag</label>
          <input id="f-tag" type="text" value={filters.tag} onChange={(e) => setFilter('tag', e.target.value)} />
        </div>
        <div className="field">
          <label htmlFor="f-from">Created from</label>
          <input id="f-from" type="datetime-local" value={filters.from} onChange={(e) => setFilter('from', e.target.value)} />
        </div>
        <div className="field">
          <label htmlFor="f-to">Created until</label>
          <input id="f-to" type="datetime-local" value={filters.to} onChange={(e) => setFilter('to', e.target.value)} />
        </div>
        <button type="submit">Open run</button>
      </form>
      <p className="muted small">
        Status and workflow are filtered by the host; tag, time range and id text over the page shown. The list refreshes every 2 s.
      </p>

      {page.error && <Notice kind="error">{page.error}</Notice>}

      <div className="toolbar" role="toolbar" aria-label="Bulk actions">
        <div className="field inline">
          <label htmlFor="bulk-reason">Cancel reason</label>
          <input id="bulk-reason" type="text" value={reason} maxLength={512} onChange={(e) => setReason(e.target.value)} />
        </div>
        <button
          type="button"
          className="danger"
          disabled={selected.size === 0 || busy}
          onClick={() => {
            setBusy(true);
            void client.bulkCancel([...selected], reason || undefined, { idempotencyKey: newIdempotencyKey() }).then(
              (result) => {
                setBusy(false);
                setBulk({ result });
                setSelected(new Set());
                page.reload();
              },
              (err: unknown) => {
                setBusy(false);
                setBulk({ error: errorText(err) });
              },
            );
          }}
        >
          Cancel selected ({selected.size})
        </button>
      </div>
      {bulk?.error && <Notice kind="error">{bulk.error}</Notice>}
      {bulk?.result && (
        <Notice kind={bulk.result.results.every((r) => r.ok) ? 'success' : 'info'}>
          {bulk.result.results.map((r) => (
            <div key={r.runId}>
              <code>{r.runId}</code>: {r.ok ? (r.status ?? 'ok') : `${r.error?.code ?? 'error'}: ${r.error?.message ?? ''}`}
            </div>
          ))}
        </Notice>
      )}

      <div className="table-wrap">
        <table className="runs">
          <caption className="sr-only">Runs, newest first</caption>
          <thead>
            <tr>
              <th scope="col">
                <input
                  type="checkbox"
                  aria-label="Select every cancellable run on this page"
                  checked={allSelected}
                  disabled={cancellable.length === 0}
                  onChange={() => setSelected(allSelected ? new Set() : new Set(cancellable.map((r) => r.runId)))}
                />
              </th>
              <th scope="col">Run</th>
              <th scope="col">Workflow</th>
              <th scope="col">Status</th>
              <th scope="col">Created</th>
              <th scope="col">Tags</th>
            </tr>
          </thead>
          <tbody>
            {runs.map((r) => (
              <tr key={r.runId} data-run={r.runId}>
                <td>
                  <input
                    type="checkbox"
                    aria-label={`Select run ${r.runId}`}
                    checked={selected.has(r.runId)}
                    disabled={isTerminalStatus(r.status)}
                    onChange={() => toggle(r.runId)}
                  />
                </td>
                <td>
                  <a href={href(['runs', r.runId])}>
                    <code>{r.runId}</code>
                  </a>
                  {r.parentRunId && <span className="muted small"> (child)</span>}
                </td>
                <td>{r.workflowId}</td>
                <td>
                  <StatusBadge status={r.status} />
                </td>
                <td>
                  <Time iso={r.createdAt} />
                </td>
                <td>{(r.tags ?? []).join(', ')}</td>
              </tr>
            ))}
          </tbody>
        </table>
        {!page.loading && runs.length === 0 && <p className="muted">No runs match.</p>}
      </div>
      <nav className="pager" aria-label="Pages">
        <button type="button" disabled={cursors.length <= 1} onClick={() => setCursors(cursors.slice(0, -1))}>
          Previous page
        </button>
        <span className="muted">Page {cursors.length}</span>
        <button
          type="button"
          disabled={!page.value?.nextCursor}
          onClick={() => {
            const next = page.value?.nextCursor;
            if (next) setCursors([...cursors, next]);
          }}
        >
          Next page
        </button>
      </nav>
    </section>
  );
}
