/**
 * Workflows: the list, and one workflow's graph, input schema and "start run" form generated
 * from its variables. The form sends an `Idempotency-Key` (shown; a new one after each run
 * started), so a double submit starts one run.
 */
import type { Workflow } from '@weft/contract/types';
import { useMemo, useState, type ReactNode } from 'react';
import { Dag, JsonView, Notice, SchemaFields, StatusBadge } from '../components.tsx';
import { errorText } from '../lib/errors.ts';
import { newIdempotencyKey, useLoad } from '../lib/hooks.ts';
import { fieldsOf, readFields, variablesSchema } from '../lib/schema-form.ts';
import { href, navigate } from '../router.ts';
import { useSession } from '../session-context.tsx';

export function WorkflowsView(): ReactNode {
  const { client } = useSession();
  const list = useLoad((signal) => client.listWorkflows({ signal }), []);
  return (
    <section aria-labelledby="wf-h">
      <h1 id="wf-h">Workflows</h1>
      {list.error && <Notice kind="error">{list.error}</Notice>}
      <div className="table-wrap">
        <table>
          <caption className="sr-only">Workflows</caption>
          <thead>
            <tr>
              <th scope="col">Workflow</th>
              <th scope="col">Name</th>
              <th scope="col">Version</th>
              <th scope="col">Runnable</th>
              <th scope="col">Source</th>
            </tr>
          </thead>
          <tbody>
            {(list.value?.workflows ?? []).map((w) => (
              <tr key={w.id}>
                <td>
                  <a href={href(['workflows', w.id])}>
                    <code>{w.id}</code>
                  </a>
                </td>
                <td>{w.name}</td>
                <td>{w.version ?? ''}</td>
                <td>{w.runnable === false ? <StatusBadge status="not runnable" /> : 'yes'}</td>
                <td className="muted small">{w.source}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

function StartRunForm({ workflow }: { workflow: Workflow }): ReactNode {
  const { client } = useSession();
  const fields = useMemo(() => fieldsOf(variablesSchema(workflow.variables)), [workflow]);
  const [texts, setTexts] = useState<Record<string, string>>({});
  const [errors, setErrors] = useState<Record<string, string> | undefined>(undefined);
  const [tags, setTags] = useState('');
  const [idemKey, setIdemKey] = useState(newIdempotencyKey);
  const [error, setError] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  return (
    <form
      className="panel"
      aria-labelledby="start-h"
      onSubmit={(e) => {
        e.preventDefault();
        const read = readFields(fields, texts);
        if (!read.ok) {
          setErrors(read.errors);
          return;
        }
        setErrors(undefined);
        setError(undefined);
        setBusy(true);
        const tagList = tags
          .split(',')
          .map((t) => t.trim())
          .filter(Boolean);
        client.createRun({ workflowId: workflow.id, inputs: read.value, ...(tagList.length ? { tags: tagList } : {}) }, { idempotencyKey: idemKey }).then(
          (r) => {
            setBusy(false);
            setIdemKey(newIdempotencyKey());
            navigate(href(['runs', r.runId]));
          },
          (err: unknown) => {
            setBusy(false);
            setError(errorText(err));
          },
        );
      }}
    >
      <h2 id="start-h">Start a run</h2>
      {fields.length === 0 && <p className="muted">This workflow takes no inputs.</p>}
      <SchemaFields fields={fields} texts={texts} errors={errors} idPrefix="input" onChange={(n, t) => setTexts({ ...texts, [n]: t })} />
      <div className="field">
        <label htmlFor="start-tags">Tags (comma-separated)</label>
        <input id="start-tags" type="text" value={tags} onChange={(e) => setTags(e.target.value)} />
      </div>
      <div className="field">
        <label htmlFor="start-idem">Idempotency-Key</label>
        <input id="start-idem" type="text" value={idemKey} maxLength={255} onChange={(e) => setIdemKey(e.target.value)} aria-describedby="start-idem-desc" />
        <small id="start-idem-desc" className="muted">
          Submitting twice with the same key starts one run.
        </small>
      </div>
      <button type="submit" className="primary" disabled={busy}>
        {busy ? 'Starting…' : 'Start run'}
      </button>
      {error && <Notice kind="error">{error}</Notice>}
    </form>
  );
}

export function WorkflowDetailView({ workflowId }: { workflowId: string }): ReactNode {
  const { client } = useSession();
  const wf = useLoad((signal) => client.getWorkflow(workflowId, { signal }), [workflowId]);
  if (wf.error) return <Notice kind="error">{wf.error}</Notice>;
  const w = wf.value;
  if (!w) return <p className="loading">Loading workflow…</p>;
  return (
    <section aria-labelledby="wfd-h">
      <h1 id="wfd-h">
        {w.name} <code className="muted">{w.id}</code>
      </h1>
      {w.description && <p>{w.description}</p>}
      <p>
        <a href={href(['runs'], { workflow: w.id })}>Runs of this workflow</a>
      </p>
      <div className="run-grid">
        <section className="panel" aria-labelledby="wfg-h">
          <h2 id="wfg-h">Graph</h2>
          <Dag graph={w} />
        </section>
        <StartRunForm workflow={w} />
      </div>
      <section className="panel" aria-labelledby="wfi-h">
        <h2 id="wfi-h">Input schema</h2>
        <JsonView value={variablesSchema(w.variables)} label="Input schema" />
      </section>
    </section>
  );
}
