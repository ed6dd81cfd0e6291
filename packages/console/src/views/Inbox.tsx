/**
 * The interrupts inbox: every pending interrupt of the tenant, each with a form generated from
 * its `resumeSchema` — approve/reject with a reason, clarification answers, an external event
 * payload — quorum progress, and the host's answer shown as written.
 */
import type { PendingInterrupt, ResolveInterruptResponse } from '@weft/sdk';
import { useMemo, useState, type ReactNode } from 'react';
import { JsonView, Notice, SchemaFields, Time } from '../components.tsx';
import { errorText } from '../lib/errors.ts';
import { newIdempotencyKey, useLoad } from '../lib/hooks.ts';
import { fieldsOf, readFields, type Field } from '../lib/schema-form.ts';
import { href } from '../router.ts';
import { useSession } from '../session-context.tsx';

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Approval fields besides the decision that a person fills in (the rest are host- or delegate-only). */
const APPROVAL_SKIP = ['action', 'voter', 'decidedBy', 'decidedAt', 'refineFeedback', 'editedArtifactData'];

/** Labels of the approval fields a person fills in. */
const APPROVAL_LABEL: Record<string, string> = { comment: 'Reason (recorded with the decision)', feedback: 'Feedback' };

const ACTION_LABEL: Record<string, string> = { accept: 'Approve', reject: 'Reject', edit: 'Edit', 'edit-accept': 'Edit and approve', refine: 'Refine' };

/** The clarification questions as fields of the `answers` object. */
function clarificationFields(iv: PendingInterrupt): Field[] {
  const questions = Array.isArray(iv.data.questions) ? iv.data.questions.filter(isRecord) : [];
  return questions.map((q) => {
    const schema = isRecord(q.schema) ? q.schema : { type: 'string' };
    const [f] = fieldsOf({ type: 'object', properties: { [String(q.id)]: { ...schema, title: String(q.question ?? q.id) } }, required: [String(q.id)] });
    return f as Field;
  });
}

/** The quorum line of an approval: votes cast against the approvals required. */
function Quorum({ iv, tally }: { iv: PendingInterrupt; tally?: ResolveInterruptResponse['interrupt'] }): ReactNode {
  const required = typeof iv.data.requiredApprovals === 'number' ? iv.data.requiredApprovals : undefined;
  if (!required || required <= 1) return null;
  const granted = tally?.votes?.granted ?? (iv.votes ?? []).filter((v) => v.action === 'accept').length;
  return (
    <p className="quorum">
      <progress max={required} value={granted} aria-label="Approvals so far" /> {granted} of {required} approvals
      {(iv.votes ?? []).length > 0 && <span className="muted"> · voted: {(iv.votes ?? []).map((v) => `${v.principal} (${v.action})`).join(', ')}</span>}
    </p>
  );
}

/** One pending interrupt and its answer form. */
export function InterruptCard({ interrupt: iv, onResolved }: { interrupt: PendingInterrupt; onResolved(message: string): void }): ReactNode {
  const { client } = useSession();
  const [texts, setTexts] = useState<Record<string, string>>({});
  const [fieldErrors, setFieldErrors] = useState<Record<string, string> | undefined>(undefined);
  const [result, setResult] = useState<{ kind: 'error' | 'success' | 'info'; text: string; tally?: ResolveInterruptResponse['interrupt'] } | undefined>(
    undefined,
  );
  const [busy, setBusy] = useState(false);
  const schema = iv.resumeSchema;
  const prefix = `iv-${iv.runId}-${iv.nodeId}`.replace(/[^A-Za-z0-9_-]/g, '_');

  const actions = useMemo((): string[] => {
    if (iv.kind !== 'approval') return [];
    const props = isRecord(schema?.properties) ? schema.properties : {};
    const e = isRecord(props.action) && Array.isArray(props.action.enum) ? props.action.enum : iv.data.actions;
    return Array.isArray(e) ? e.filter((a): a is string => typeof a === 'string' && a !== 'timeout') : ['accept', 'reject'];
  }, [iv, schema]);
  const fields = useMemo((): Field[] => {
    if (iv.kind === 'approval') {
      return fieldsOf(schema ?? { type: 'object', properties: { comment: { type: 'string' } } }, APPROVAL_SKIP).map((f) => ({
        ...f,
        label: APPROVAL_LABEL[f.name] ?? f.label,
      }));
    }
    if (iv.kind === 'clarification') return clarificationFields(iv);
    return fieldsOf(schema);
  }, [iv, schema]);
  // An external event (or a schema without properties) is answered with a JSON payload.
  const freeJson = iv.kind !== 'approval' && iv.kind !== 'clarification' && fields.length === 0;
  const [payload, setPayload] = useState(() => {
    if (iv.kind !== 'external-event') return '{}';
    const c = isRecord(iv.data.correlation) ? iv.data.correlation : {};
    return JSON.stringify({ type: iv.data.eventType, ...c }, null, 2);
  });

  const send = (resumeValue: unknown): void => {
    setBusy(true);
    setResult(undefined);
    client.resolveInterrupt(iv.runId, iv.nodeId, resumeValue, { idempotencyKey: newIdempotencyKey() }).then(
      (r) => {
        setBusy(false);
        if (r.interrupt?.outcome === 'pending') {
          const v = r.interrupt.votes;
          setResult({ kind: 'info', text: `Vote recorded; the approval still needs votes${v ? ` (${v.granted} of ${v.required})` : ''}.`, tally: r.interrupt });
          return;
        }
        const text = `Answered${r.interrupt?.outcome ? ` (${r.interrupt.outcome})` : ''}: the run is ${r.status}.`;
        setResult({ kind: 'success', text });
        onResolved(text);
      },
      (err: unknown) => {
        setBusy(false);
        setResult({ kind: 'error', text: errorText(err) });
      },
    );
  };
  const submit = (action?: string): void => {
    if (freeJson) {
      try {
        send(JSON.parse(payload));
      } catch {
        setResult({ kind: 'error', text: 'The payload is not valid JSON.' });
      }
      return;
    }
    const read = readFields(fields, texts);
    if (!read.ok) {
      setFieldErrors(read.errors);
      return;
    }
    setFieldErrors(undefined);
    if (iv.kind === 'approval') send({ ...read.value, action });
    else if (iv.kind === 'clarification') send({ answers: read.value });
    else send(read.value);
  };

  const title = typeof iv.data.title === 'string' ? iv.data.title : iv.kind === 'clarification' ? 'Questions' : iv.kind;
  return (
    <article className="panel interrupt" aria-labelledby={`${prefix}-h`} data-interrupt={iv.interruptId} data-kind={iv.kind}>
      <h2 id={`${prefix}-h`}>
        {title} <span className="badge">{iv.kind}</span>
      </h2>
      <p className="muted small">
        Run{' '}
        <a href={href(['runs', iv.runId])}>
          <code>{iv.runId}</code>
        </a>{' '}
        · {iv.workflowId} · node {iv.nodeId} · requested <Time iso={iv.requestedAt} />
        {iv.expiresAt && (
          <>
            {' '}
            · expires <Time iso={iv.expiresAt} />
          </>
        )}
      </p>
      {typeof iv.data.description === 'string' && <p>{iv.data.description}</p>}
      {iv.data.artifactData !== undefined && (
        <details>
          <summary>Artifact</summary>
          <JsonView value={iv.data.artifactData} label="Artifact under review" />
        </details>
      )}
      {iv.kind === 'approval' && <Quorum iv={iv} {...(result?.tally ? { tally: result.tally } : {})} />}
      <form
        onSubmit={(e) => {
          e.preventDefault();
          submit(actions[0]);
        }}
      >
        <SchemaFields fields={fields} texts={texts} errors={fieldErrors} idPrefix={prefix} onChange={(n, t) => setTexts({ ...texts, [n]: t })} />
        {freeJson && (
          <div className="field">
            <label htmlFor={`${prefix}-payload`}>
              {iv.kind === 'external-event' ? `Event payload (${String(iv.data.eventType ?? 'event')})` : 'Resume value'} (JSON)
            </label>
            <textarea id={`${prefix}-payload`} rows={5} spellCheck={false} value={payload} onChange={(e) => setPayload(e.target.value)} />
          </div>
        )}
        <div className="actions">
          {iv.kind === 'approval' ? (
            actions.map((a) => (
              <button key={a} type="button" className={a === 'reject' ? 'danger' : a === 'accept' ? 'primary' : ''} disabled={busy} onClick={() => submit(a)}>
                {ACTION_LABEL[a] ?? a}
              </button>
            ))
          ) : (
            <button type="submit" className="primary" disabled={busy}>
              {iv.kind === 'external-event' ? 'Send event' : 'Submit answer'}
            </button>
          )}
        </div>
      </form>
      {result && <Notice kind={result.kind}>{result.text}</Notice>}
    </article>
  );
}

export function InboxView(): ReactNode {
  const { client } = useSession();
  const list = useLoad((signal) => client.listPendingInterrupts({ signal }), [], 3000);
  const [answered, setAnswered] = useState<{ iv: PendingInterrupt; text: string }[]>([]);
  const done = new Set(answered.map((a) => a.iv.interruptId));
  const items = (list.value?.interrupts ?? []).filter((iv) => !done.has(iv.interruptId));
  return (
    <section aria-labelledby="inbox-h">
      <h1 id="inbox-h">Inbox</h1>
      <p className="muted small">Runs waiting for a person or an event, oldest first. Refreshes every 3 s.</p>
      {list.error && <Notice kind="error">{list.error}</Notice>}
      {answered.length > 0 && (
        <Notice kind="success">
          <ul className="plain">
            {answered.map(({ iv, text }) => (
              <li key={iv.interruptId}>
                <a href={href(['runs', iv.runId])}>
                  <code>{iv.runId}</code>
                </a>{' '}
                ({iv.nodeId}): {text}
              </li>
            ))}
          </ul>
        </Notice>
      )}
      {!list.loading && items.length === 0 && !list.error && <p>Nothing is waiting.</p>}
      {items.map((iv) => (
        <InterruptCard
          key={iv.interruptId}
          interrupt={iv}
          onResolved={(text) => {
            setAnswered((a) => [{ iv, text }, ...a].slice(0, 20));
            list.reload();
          }}
        />
      ))}
    </section>
  );
}
