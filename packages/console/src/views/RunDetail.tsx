/**
 * One run: its live timeline over SSE (`Last-Event-ID` resume), event filters, the DAG coloured
 * by node state as events arrive, the node inspector, parent/child links, pending interrupts,
 * and cancel / pause / resume.
 */
import { isTerminalStatus, type DrainPolicy, type RunEventDoc, type RunSnapshot, type Workflow } from '@weft/contract/types';
import { useCallback, useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import { Dag, JsonView, Notice, StatusBadge, Time, VirtualList } from '../components.tsx';
import { errorText, isAbort } from '../lib/errors.ts';
import { NO_FILTER, distinct, filterEvents, isFailureEvent, nodeStatuses, type EventFilter } from '../lib/events.ts';
import { newIdempotencyKey, useLoad } from '../lib/hooks.ts';
import { href, navigate } from '../router.ts';
import { useSession } from '../session-context.tsx';
import { InterruptCard } from './Inbox.tsx';

const ROW_HEIGHT = 30;
const LIST_HEIGHT = 420;

type StreamState = { state: 'connecting' | 'live' | 'ended' } | { state: 'stopped'; error: string };

/**
 * The run's events: the whole log streamed in `debug` mode, appended in batches once per
 * animation frame (a 10,000-event backlog re-renders a few dozen times, not 10,000). A dropped
 * connection is resumed by the SDK with `Last-Event-ID`; "Reconnect" resumes after the last
 * event shown.
 */
function useRunEvents(runId: string): { events: RunEventDoc[]; stream: StreamState; reconnect(): void } {
  const { client } = useSession();
  const store = useRef<RunEventDoc[]>([]);
  const [events, setEvents] = useState<RunEventDoc[]>([]);
  const [stream, setStream] = useState<StreamState>({ state: 'connecting' });
  const [attempt, setAttempt] = useState(0);

  // A new run starts from an empty log.
  // biome-ignore lint/correctness/useExhaustiveDependencies: reset when the run changes
  useEffect(() => {
    store.current = [];
    setEvents([]);
  }, [runId]);

  // biome-ignore lint/correctness/useExhaustiveDependencies: `attempt` restarts the stream on purpose
  useEffect(() => {
    const ctrl = new AbortController();
    let frame = 0;
    let pending: RunEventDoc[] = [];
    const flush = (): void => {
      frame = 0;
      if (pending.length === 0) return;
      store.current = store.current.concat(pending);
      pending = [];
      setEvents(store.current);
    };
    const last = store.current[store.current.length - 1];
    setStream({ state: 'connecting' });
    void (async () => {
      try {
        const it = client.streamEvents(runId, {
          streamMode: 'debug',
          bufferMs: 100,
          signal: ctrl.signal,
          ...(last ? { lastEventId: last.sequence } : {}),
        });
        setStream({ state: 'live' });
        for await (const e of it) {
          pending.push(e);
          if (!frame) frame = requestAnimationFrame(flush);
        }
        if (frame) cancelAnimationFrame(frame);
        flush();
        setStream({ state: 'ended' });
      } catch (err) {
        if (ctrl.signal.aborted || isAbort(err)) return;
        if (frame) cancelAnimationFrame(frame);
        flush();
        setStream({ state: 'stopped', error: errorText(err) });
      }
    })();
    return () => {
      ctrl.abort();
      if (frame) cancelAnimationFrame(frame);
    };
  }, [runId, attempt, client]);

  return { events, stream, reconnect: () => setAttempt((n) => n + 1) };
}

function RunActions({ run, onChanged }: { run: RunSnapshot; onChanged(): void }): ReactNode {
  const { client, caps } = useSession();
  const [reason, setReason] = useState('');
  const [message, setMessage] = useState<{ kind: 'error' | 'success'; text: string } | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const [policy, setPolicy] = useState<DrainPolicy>('drain-current-node');
  const ended = isTerminalStatus(run.status);
  const act = (label: string, call: () => Promise<{ status: string }>): void => {
    setBusy(true);
    setMessage(undefined);
    call().then(
      (r) => {
        setBusy(false);
        setMessage({ kind: 'success', text: label.startsWith('Pause requested') ? `${label}.` : `${label}: the run is ${r.status}.` });
        onChanged();
      },
      (err: unknown) => {
        setBusy(false);
        setMessage({ kind: 'error', text: errorText(err) });
      },
    );
  };
  if (ended) return null;
  return (
    <div className="toolbar" role="toolbar" aria-label="Run actions">
      <div className="field inline">
        <label htmlFor="run-reason">Reason</label>
        <input id="run-reason" type="text" maxLength={512} value={reason} onChange={(e) => setReason(e.target.value)} />
      </div>
      <button
        type="button"
        className="danger"
        disabled={busy}
        onClick={() => act('Cancel requested', () => client.cancelRun(run.runId, reason || undefined, { idempotencyKey: newIdempotencyKey() }))}
      >
        Cancel run
      </button>
      {caps.pauseResume && run.status !== 'paused' && (
        <>
          <div className="field inline">
            <label htmlFor="pause-policy">Pause</label>
            <select id="pause-policy" value={policy} onChange={(e) => setPolicy(e.target.value as DrainPolicy)}>
              <option value="drain-current-node">after the running node finishes</option>
              <option value="immediate">now (abort the running node)</option>
            </select>
          </div>
          <button
            type="button"
            disabled={busy}
            onClick={() =>
              act(policy === 'immediate' ? 'Paused' : 'Pause requested (the run pauses once the running node finishes)', () =>
                client.pauseRun(run.runId, { drainPolicy: policy, ...(reason ? { reason } : {}) }),
              )
            }
          >
            Pause run
          </button>
        </>
      )}
      {caps.pauseResume && run.status === 'paused' && (
        <button type="button" disabled={busy} onClick={() => act('Resumed', () => client.resumeRun(run.runId, reason ? { reason } : {}))}>
          Resume run
        </button>
      )}
      {message && <Notice kind={message.kind}>{message.text}</Notice>}
    </div>
  );
}

/**
 * Fork the run from an event (shown only when discovery advertises replay): `replay` re-executes
 * with recorded effects served from this run's invocation log, `branch` continues live from the
 * chosen sequence. Opens the new run.
 */
function ForkPanel({ run, lastSeq }: { run: RunSnapshot; lastSeq: number }): ReactNode {
  const { client } = useSession();
  const [mode, setMode] = useState<'replay' | 'branch'>('replay');
  const [fromSeq, setFromSeq] = useState('0');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | undefined>(undefined);
  const fork = (): void => {
    const seq = Number(fromSeq);
    setBusy(true);
    setError(undefined);
    client.forkRun(run.runId, { mode, fromSeq: seq }, { idempotencyKey: newIdempotencyKey() }).then(
      (r) => {
        setBusy(false);
        navigate(href(['runs', r.runId]));
      },
      (err: unknown) => {
        setBusy(false);
        setError(errorText(err));
      },
    );
  };
  return (
    <section className="panel" aria-labelledby="fork-h">
      <h2 id="fork-h">Fork</h2>
      <div className="toolbar" role="toolbar" aria-label="Fork the run">
        <div className="field inline">
          <label htmlFor="fork-mode">Mode</label>
          <select id="fork-mode" value={mode} onChange={(e) => setMode(e.target.value as 'replay' | 'branch')}>
            <option value="replay">replay (recorded effects, never re-sent)</option>
            <option value="branch">branch (continue live)</option>
          </select>
        </div>
        <div className="field inline">
          <label htmlFor="fork-seq">From event</label>
          <input id="fork-seq" type="number" min={0} max={Math.max(0, lastSeq + 1)} value={fromSeq} onChange={(e) => setFromSeq(e.target.value)} />
        </div>
        <button type="button" disabled={busy || !/^[0-9]+$/.test(fromSeq)} onClick={fork}>
          Fork run
        </button>
      </div>
      <p className="muted small">The new run keeps this run's events before the chosen sequence and goes on from there.</p>
      {error && <Notice kind="error">{error}</Notice>}
    </section>
  );
}

function NodeInspector({
  nodeId,
  run,
  workflow,
  events,
  onShowEvents,
}: {
  nodeId: string;
  run: RunSnapshot;
  workflow: Workflow | undefined;
  events: readonly RunEventDoc[];
  onShowEvents(): void;
}): ReactNode {
  const def = workflow?.nodes.find((n) => n.id === nodeId);
  const state = (run.nodeStates as Record<string, Record<string, unknown>> | undefined)?.[nodeId];
  const mine = events.filter((e) => e.nodeId === nodeId);
  const attempts = mine.filter((e) => e.type === 'node.started').length;
  const errors = mine.filter(isFailureEvent);
  const completed = [...mine].reverse().find((e) => e.type === 'node.completed');
  return (
    <section className="panel inspector" aria-labelledby="inspector-h">
      <h2 id="inspector-h">
        Node <code>{nodeId}</code>
      </h2>
      <dl className="facts">
        <dt>Type</dt>
        <dd>{def?.typeId ?? String(state?.typeId ?? '—')}</dd>
        <dt>State</dt>
        <dd>
          <StatusBadge status={String(state?.status ?? 'pending')} />
        </dd>
        <dt>Attempts</dt>
        <dd>{attempts}</dd>
        <dt>Started</dt>
        <dd>
          <Time iso={state?.startedAt as string | undefined} />
        </dd>
        <dt>Ended</dt>
        <dd>
          <Time iso={state?.endedAt as string | undefined} />
        </dd>
      </dl>
      <h3>Inputs (definition)</h3>
      <JsonView value={def?.inputs ?? {}} label={`Inputs of ${nodeId}`} />
      <h3>Outputs</h3>
      <JsonView value={state?.outputs ?? (completed?.payload as Record<string, unknown> | undefined)?.outputs ?? null} label={`Outputs of ${nodeId}`} />
      {(errors.length > 0 || state?.error !== undefined) && (
        <>
          <h3>Errors</h3>
          <JsonView value={errors.length > 0 ? errors.map((e) => e.payload) : state?.error} label={`Errors of ${nodeId}`} />
        </>
      )}
      <button type="button" onClick={onShowEvents}>
        Show this node's events ({mine.length})
      </button>
    </section>
  );
}

function Timeline({
  events,
  filter,
  setFilter,
  stream,
  reconnect,
}: {
  events: RunEventDoc[];
  filter: EventFilter;
  setFilter(f: EventFilter): void;
  stream: StreamState;
  reconnect(): void;
}): ReactNode {
  const [selected, setSelected] = useState<number | undefined>(undefined);
  const [follow, setFollow] = useState(true);
  const types = useMemo(() => distinct(events, (e) => e.type), [events]);
  const nodes = useMemo(() => distinct(events, (e) => e.nodeId), [events]);
  const filtered = useMemo(() => filterEvents(events, filter), [events, filter]);
  const shown = filtered.events;
  const current = selected === undefined ? undefined : shown[selected];
  return (
    <section className="panel timeline" aria-labelledby="timeline-h">
      <h2 id="timeline-h">Timeline</h2>
      <p className="muted small" aria-live="polite">
        {stream.state === 'live' && 'Live: streaming events. '}
        {stream.state === 'connecting' && 'Connecting… '}
        {stream.state === 'ended' && 'The run has ended; every event is shown. '}
        <span data-testid="event-count">
          {shown.length} of {events.length} events
        </span>
      </p>
      {stream.state === 'stopped' && (
        <Notice kind="error">
          Live updates stopped: {stream.error}{' '}
          <button type="button" onClick={reconnect}>
            Reconnect
          </button>
        </Notice>
      )}
      <fieldset className="filters">
        <legend>Filter events</legend>
        <div className="field inline">
          <input id="ev-failed" type="checkbox" checked={filter.failedOnly} onChange={(e) => setFilter({ ...filter, failedOnly: e.target.checked })} />
          <label htmlFor="ev-failed">Failures only</label>
        </div>
        <div className="field">
          <label htmlFor="ev-type">Type</label>
          <select id="ev-type" value={filter.type} onChange={(e) => setFilter({ ...filter, type: e.target.value })}>
            <option value="">any</option>
            {types.map((t) => (
              <option key={t}>{t}</option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="ev-node">Node</label>
          <select id="ev-node" value={filter.nodeId} onChange={(e) => setFilter({ ...filter, nodeId: e.target.value })}>
            <option value="">any</option>
            {nodes.map((n) => (
              <option key={n}>{n}</option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="ev-text">Text or /regex/</label>
          <input id="ev-text" type="search" value={filter.text} onChange={(e) => setFilter({ ...filter, text: e.target.value })} />
        </div>
        <div className="field inline">
          <input id="ev-follow" type="checkbox" checked={follow} onChange={(e) => setFollow(e.target.checked)} />
          <label htmlFor="ev-follow">Follow new events</label>
        </div>
        <button type="button" onClick={() => setFilter(NO_FILTER)}>
          Clear filters
        </button>
      </fieldset>
      {filtered.error && <Notice kind="error">{filtered.error}</Notice>}
      <div className="timeline-body">
        <VirtualList
          items={shown}
          rowHeight={ROW_HEIGHT}
          height={LIST_HEIGHT}
          label="Run events"
          follow={follow}
          selectedIndex={selected}
          onSelect={(i) => {
            setSelected(i);
            setFollow(false);
          }}
          render={(e) => (
            <>
              <span className="seq">#{e.sequence}</span>
              <span className={`etype${isFailureEvent(e) ? ' failed' : ''}`}>{e.type}</span>
              <span className="enode">{e.nodeId ?? ''}</span>
              <span className="etime">{new Date(e.timestamp).toLocaleTimeString()}</span>
            </>
          )}
        />
        <div className="event-detail">
          {current ? <JsonView value={current} label={`Event ${current.sequence}`} /> : <p className="muted">Select an event (Enter) to see it whole.</p>}
        </div>
      </div>
    </section>
  );
}

export function RunDetailView({ runId }: { runId: string }): ReactNode {
  const { client, caps } = useSession();
  const run = useLoad((signal) => client.getRun(runId, { signal }), [runId]);
  const workflowId = run.value?.workflowId;
  const workflow = useLoad(async (signal) => (workflowId ? client.getWorkflow(workflowId, { signal }) : undefined), [workflowId]);
  const { events, stream, reconnect } = useRunEvents(runId);
  const [filter, setFilter] = useState<EventFilter>(NO_FILTER);
  const [node, setNode] = useState<string | undefined>(undefined);

  // The snapshot follows the stream: reloaded at most every 500 ms while events arrive.
  const reloadRef = useRef(run.reload);
  reloadRef.current = run.reload;
  const lastReload = useRef(0);
  const lastSeq = events[events.length - 1]?.sequence ?? -1;
  useEffect(() => {
    if (lastSeq < 0) return;
    const wait = Math.max(0, 500 - (Date.now() - lastReload.current));
    const t = setTimeout(() => {
      lastReload.current = Date.now();
      reloadRef.current();
    }, wait);
    return () => clearTimeout(t);
  }, [lastSeq]);

  const snapshot = run.value;
  const statuses = useMemo(() => nodeStatuses(snapshot?.nodeStates as Record<string, unknown> | undefined, events), [snapshot?.nodeStates, events]);
  const interrupts = useLoad(
    async (signal) =>
      snapshot?.pendingInterrupts?.length ? (await client.listRunInterrupts(runId, { signal })).interrupts.filter((i) => i.status === 'pending') : [],
    [runId, snapshot?.status, snapshot?.pendingInterrupts?.length],
  );
  const onChanged = useCallback(() => run.reload(), [run]);

  if (run.error && !snapshot) {
    return (
      <section>
        <h1>
          Run <code>{runId}</code>
        </h1>
        <Notice kind="error">{run.error}</Notice>
      </section>
    );
  }
  if (!snapshot) return <p className="loading">Loading run…</p>;

  return (
    <section aria-labelledby="run-h" className="run-detail">
      <h1 id="run-h">
        Run <code>{snapshot.runId}</code> <StatusBadge status={snapshot.status} />
      </h1>
      <dl className="facts">
        <dt>Workflow</dt>
        <dd>
          <a href={href(['workflows', snapshot.workflowId])}>{snapshot.workflowId}</a>
        </dd>
        <dt>Created</dt>
        <dd>
          <Time iso={snapshot.createdAt} />
        </dd>
        <dt>Ended</dt>
        <dd>
          <Time iso={snapshot.endedAt ?? snapshot.completedAt} />
        </dd>
        {snapshot.forkedFrom && (
          <>
            <dt>Forked from</dt>
            <dd>
              <a href={href(['runs', snapshot.forkedFrom.runId])}>
                <code>{snapshot.forkedFrom.runId}</code>
              </a>{' '}
              ({snapshot.forkedFrom.mode} from event {snapshot.forkedFrom.fromSeq})
            </dd>
          </>
        )}
        {snapshot.parentRunId && (
          <>
            <dt>Parent run</dt>
            <dd>
              <a href={href(['runs', snapshot.parentRunId])}>
                <code>{snapshot.parentRunId}</code>
              </a>
              {snapshot.parentNodeId && <> (node {snapshot.parentNodeId})</>}
            </dd>
          </>
        )}
        {(snapshot.childRuns ?? []).length > 0 && (
          <>
            <dt>Child runs</dt>
            <dd>
              <ul className="plain">
                {(snapshot.childRuns ?? []).map((c) => (
                  <li key={c.runId}>
                    <a href={href(['runs', c.runId])}>
                      <code>{c.runId}</code>
                    </a>{' '}
                    ({c.workflowId}, node {c.nodeId})
                  </li>
                ))}
              </ul>
            </dd>
          </>
        )}
        {(snapshot.tags ?? []).length > 0 && (
          <>
            <dt>Tags</dt>
            <dd>{(snapshot.tags ?? []).join(', ')}</dd>
          </>
        )}
        {snapshot.cancelReason && (
          <>
            <dt>Cancel reason</dt>
            <dd>{snapshot.cancelReason}</dd>
          </>
        )}
      </dl>
      {snapshot.error && (
        <Notice kind="error">
          {snapshot.error.code}: {snapshot.error.message}
        </Notice>
      )}
      <RunActions run={snapshot} onChanged={onChanged} />
      {(interrupts.value ?? []).map((iv) => (
        <InterruptCard key={iv.interruptId} interrupt={{ ...iv, workflowId: snapshot.workflowId }} onResolved={onChanged} />
      ))}
      <div className="run-grid">
        <section className="panel" aria-labelledby="dag-h">
          <h2 id="dag-h">Graph</h2>
          {workflow.value ? (
            <Dag graph={workflow.value} statuses={statuses} selected={node} onSelect={setNode} />
          ) : (
            <p className="muted">{workflow.error ?? 'Loading the graph…'}</p>
          )}
          <p className="muted small">Tab to a node and press Enter to inspect it.</p>
        </section>
        {node && (
          <NodeInspector
            nodeId={node}
            run={snapshot}
            workflow={workflow.value}
            events={events}
            onShowEvents={() => {
              setFilter({ ...NO_FILTER, nodeId: node });
              document.getElementById('timeline-h')?.scrollIntoView();
            }}
          />
        )}
      </div>
      <Timeline events={events} filter={filter} setFilter={setFilter} stream={stream} reconnect={reconnect} />
      {caps.replay && <ForkPanel run={snapshot} lastSeq={lastSeq} />}
      {snapshot.outputs && Object.keys(snapshot.outputs).length > 0 && (
        <section className="panel">
          <h2>Outputs</h2>
          <JsonView value={snapshot.outputs} label="Run outputs" />
        </section>
      )}
    </section>
  );
}
