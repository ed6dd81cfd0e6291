/**
 * Fork and replay (`POST /v1/runs/{runId}:fork`): the parts the driver consults, kept out of it.
 *
 * - The fixed history: the source's events before `fromSeq`, copied into the fork's log with the
 *   fork's runId (and eventIds derived from it, as every event id is); sequences, types, payloads
 *   and timestamps are kept, so the fork folds to the source's state at `fromSeq`.
 * - {@link ReplaySession}: what a `replay` fork needs beyond its own log — the source's recorded
 *   effect outcomes (served instead of calling, §3.4) and the source's node outcomes (compared
 *   with each re-executed node's, to report `replay.diverged`).
 * - {@link deliversOutbound}: whether outbound delivery (webhooks) may announce an event of a run.
 *
 * @see execution-semantics.md §3, security-contract.md RPL-01..03
 * @see ../../../../docs/decisions/0023-fork-and-replay.md
 */
import { TERMINAL_EVENT_TYPES, WeftError, type RunEventDoc } from '@weft/contract';
import { foldEvents, initialProjection } from '../fold.js';
import type { WorkflowGraph } from '../graph.js';
import { NodeError } from '../nodes.js';
import type { EncodedEvent, InvocationRecord, Outbound, RecordRedactor, RunFork, RunProjection, RunRecord, Store, StoredWorkflow, TimerRow } from '../ports.js';
import type { WorkflowCatalog } from '../workflow-catalog.js';
import { canonicalJson } from '../scheduler.js';
import { toErrorObject } from './machine.js';
import { DEADLINE_KEY, interruptTimerKey, makeState, nodeTimerKey, type StateLimits } from './state.js';
import type { NodeOutcome } from './types.js';

/** The error code of a replayed effect (or effect seam) with no recorded outcome in the source. */
export const REPLAY_SOURCE_MISSING = 'replay_source_missing';

/**
 * Whether outbound delivery (webhooks, callbacks, sinks) may announce event `sequence` of `run`:
 * never for a `replay` fork (its whole log is re-derived history — RPL-01, decided by the run's
 * fork mode, not the event type), and for a `branch` fork only from `fromSeq` on (the copied
 * prefix was announced by the source already). Every other run delivers everything.
 */
export function deliversOutbound(run: Pick<RunRecord, 'fork'>, sequence: number): boolean {
  if (!run.fork) return true;
  if (run.fork.mode === 'replay') return false;
  return sequence >= run.fork.fromSeq;
}

/** Parameters of `RunEngine.forkRun`; the tenant comes from the credential. */
export interface ForkRunParams {
  tenant: string;
  sourceRunId: string;
  mode: RunFork['mode'];
  fromSeq: number;
  /** Branch only: RunOptions laid over the source's (configurable and metadata merged, tags replaced). */
  overlay?: { configurable?: Record<string, unknown>; tags?: string[]; metadata?: Record<string, unknown> };
}

/** What {@link prepareFork} needs of the engine. */
export interface ForkDeps {
  runId: string;
  now: number;
  /** The lease owner (this process) and the lease lifetime. */
  owner: string;
  leaseTtlMs: number;
  redactor: RecordRedactor;
  /** The run-creation check of `configurable` against the workflow. */
  checkConfigurable(wf: StoredWorkflow, cfg: Record<string, unknown>): Record<string, unknown>;
}

/**
 * Builds a fork's run row from its source (read in the caller's tenant: a foreign run is
 * `not_found`, as a missing one): the source's owner, pinned workflow and seeded variables, the
 * overlay laid over its RunOptions, the lease held by this process, and the fork link. Returns
 * it with the graph and the source's log (`fromSeq` checked against it).
 * @throws WeftError `not_found` | `invalid_from_seq` | `validation_error`
 */
export async function prepareFork(
  store: Store,
  catalog: WorkflowCatalog,
  p: ForkRunParams,
  d: ForkDeps,
): Promise<{ rec: RunRecord; graph: WorkflowGraph; log: RunEventDoc[] }> {
  const src = await store.getRun(p.tenant, p.sourceRunId);
  const wf = src && (await catalog.byContentHash(src.workflowHash));
  if (!src || !wf) throw new WeftError('not_found', 'Run not found.');
  const log = await readLog(store, src.runId);
  checkFromSeq(src.runId, p.fromSeq, log);
  const o = p.overlay ?? {};
  const graph = catalog.graphOf(wf);
  const rec: RunRecord = {
    runId: d.runId,
    tenant: src.tenant,
    principal: src.principal,
    workflowId: src.workflowId,
    workflowHash: src.workflowHash,
    createdAt: new Date(d.now).toISOString(),
    variables: src.variables,
    configurable: o.configurable ? d.checkConfigurable(wf, { ...src.configurable, ...o.configurable }) : src.configurable,
    tags: o.tags ? d.redactor.redact(o.tags) : src.tags,
    metadata: o.metadata ? d.redactor.redact({ ...src.metadata, ...o.metadata }) : src.metadata,
    cancelRequested: null,
    projection: initialProjection(graph),
    leaseOwner: d.owner,
    leaseEpoch: 1,
    leaseExpiresAt: d.now + d.leaseTtlMs,
    fork: { sourceRunId: src.runId, fromSeq: p.fromSeq, mode: p.mode },
  };
  return { rec, graph, log };
}

/** Reads a run's whole log, parsed. */
export async function readLog(store: Store, runId: string, before = Number.POSITIVE_INFINITY): Promise<RunEventDoc[]> {
  const docs: RunEventDoc[] = [];
  for (let after = -1; ; ) {
    const page = await store.readEvents(runId, after, 1000);
    for (const e of page) {
      if (e.sequence >= before) return docs;
      docs.push(JSON.parse(e.json) as RunEventDoc);
    }
    if (page.length < 1000) return docs;
    after = page[page.length - 1]?.sequence ?? after;
  }
}

/**
 * Checks `fromSeq` against the source's log: at most one past its last event, and never past
 * its terminal event (a prefix holding it would be a finished run).
 * @throws WeftError `invalid_from_seq` (422)
 */
export function checkFromSeq(sourceRunId: string, fromSeq: number, log: readonly RunEventDoc[]): void {
  const last = log.at(-1);
  const lastSequence = last?.sequence ?? -1;
  const limit = last && TERMINAL_EVENT_TYPES.has(last.type) ? lastSequence : lastSequence + 1;
  if (fromSeq > limit) {
    throw new WeftError('invalid_from_seq', `fromSeq must be at most ${limit} for this run.`, { sourceRunId, fromSeq, lastSequence });
  }
}

/** The source's events before `fromSeq`, re-stamped for the fork: its runId and eventIds. */
export function restampPrefix(prefix: readonly RunEventDoc[], runId: string): { docs: RunEventDoc[]; events: EncodedEvent[] } {
  const docs = prefix.map((d) => ({ ...d, runId, eventId: `${runId}.${d.sequence}` }));
  const events = docs.map((d) => {
    const e: EncodedEvent = { sequence: d.sequence, type: d.type, json: JSON.stringify(d) };
    if (d.nodeId !== undefined) e.nodeId = d.nodeId;
    return e;
  });
  return { docs, events };
}

/** Redacts nothing: the timers of a prefix need no scrubbing. */
const PLAIN: RecordRedactor = { withSecrets: () => PLAIN, redactJson: (j) => j, redact: (v) => v };

/**
 * The durable timers the state at the fork point waits on — they are rows beside the source's
 * log, not in it: the run deadline, retry backoffs and interrupt deadlines.
 */
export function prefixTimers(rec: RunRecord, proj: RunProjection, graph: WorkflowGraph, limits: StateLimits): TimerRow[] {
  const out: TimerRow[] = [];
  const at = (key: string, fireAt: number): void => {
    if (Number.isFinite(fireAt)) out.push({ runId: rec.runId, key, fireAt });
  };
  const deadlineAt = makeState(rec, proj, graph, graph.definition, limits, PLAIN).deadlineAt;
  if (deadlineAt !== undefined) at(DEADLINE_KEY, deadlineAt);
  for (const [id, st] of Object.entries(proj.nodeStates)) if (st.status === 'running' && st.retry) at(nodeTimerKey(id), Date.parse(st.retry.at));
  for (const iv of Object.values(proj.interrupts ?? {}))
    if (iv.status === 'pending' && iv.expiresAt) at(interruptTimerKey(iv.interruptId), Date.parse(iv.expiresAt));
  return out;
}

/**
 * Writes a fork's fixed history as its first append (the run row holds the link; the log is
 * empty until this ran — after a crash in between, the next load runs it), with the timers its
 * state waits on. Returns the prefix and those timers (for the caller to arm).
 */
export async function copyPrefix(
  store: Store,
  rec: RunRecord,
  epoch: number,
  graph: WorkflowGraph,
  limits: StateLimits,
  sourceLog?: readonly RunEventDoc[],
): Promise<{ docs: RunEventDoc[]; timers: TimerRow[] }> {
  const fork = rec.fork as RunFork;
  if (fork.fromSeq === 0) return { docs: [], timers: [] };
  const prefix = sourceLog ? sourceLog.filter((d) => d.sequence < fork.fromSeq) : await readLog(store, fork.sourceRunId, fork.fromSeq);
  const { docs, events } = restampPrefix(prefix, rec.runId);
  if (events.length === 0) return { docs, timers: [] };
  const proj = foldEvents(graph, docs);
  const timers = prefixTimers(rec, proj, graph, limits);
  await store.appendEvents(rec.runId, epoch, events, proj, { set: timers });
  return { docs, timers };
}

/** A recorded node outcome of the source run. */
interface SourceOutcome {
  type: 'node.completed' | 'node.failed';
  sequence: number;
  eventId: string;
  outputs?: unknown;
  code?: string;
}

/** A `replay.diverged` payload. */
export interface DivergedPayload {
  sourceRunId: string;
  atSequence: number;
  originalEventId?: string;
  divergenceKind: 'output' | 'missing' | 'extra' | 'type-mismatch';
  divergencePoint?: string;
}

/** Outbound HTTP for a replay fork: every call is refused (default deny at the seam). */
const REFUSING_OUTBOUND: Outbound = {
  request: () =>
    Promise.reject(new NodeError(REPLAY_SOURCE_MISSING, 'A replay fork makes no outbound call; effects are served from the source run (ctx.effect).')),
};

/**
 * The replay side of a `replay` fork, opened when its driver loads it: serves effects from the
 * source's invocation log and compares node outcomes with the source's.
 */
export class ReplaySession {
  /** The outbound client a replay fork's nodes see: refuses every call. */
  readonly outbound: Outbound = REFUSING_OUTBOUND;
  private readonly recorded: Map<string, InvocationRecord>;
  /** Per node, the source's final outcomes in log order. */
  private readonly outcomes = new Map<string, SourceOutcome[]>();
  /** Per node, how many final outcomes the fork has had (its prefix included). */
  private readonly seen = new Map<string, number>();

  private constructor(
    private readonly store: Store,
    private readonly rec: RunRecord,
    readonly sourceRunId: string,
    source: readonly RunEventDoc[],
    invocations: readonly InvocationRecord[],
    prefix: readonly RunEventDoc[],
  ) {
    // The source confers nothing beyond the fork's own tenant (RPL-03).
    this.recorded = new Map(invocations.filter((r) => r.tenant === rec.tenant && r.state !== 'pending').map((r) => [r.id, r]));
    for (const d of source) {
      if ((d.type !== 'node.completed' && d.type !== 'node.failed') || d.nodeId === undefined) continue;
      const p = (d.payload ?? {}) as { outputs?: unknown; error?: { code?: string } };
      const o: SourceOutcome = { type: d.type, sequence: d.sequence, eventId: d.eventId };
      if (d.type === 'node.completed') o.outputs = p.outputs;
      else if (p.error?.code !== undefined) o.code = p.error.code;
      const list = this.outcomes.get(d.nodeId) ?? [];
      list.push(o);
      this.outcomes.set(d.nodeId, list);
    }
    for (const d of prefix) {
      if ((d.type === 'node.completed' || d.type === 'node.failed') && d.nodeId !== undefined) this.seen.set(d.nodeId, (this.seen.get(d.nodeId) ?? 0) + 1);
    }
  }

  /** A sub-workflow dispatch from a replay fork: refused (a child would run its effects live). */
  refuseDispatch(): Promise<never> {
    return Promise.reject(new NodeError(REPLAY_SOURCE_MISSING, 'A replay fork does not dispatch sub-workflows; the source run recorded none it could serve.'));
  }

  /** Reads what the replay needs of the source (its log and its invocation log). */
  static async open(store: Store, rec: RunRecord, prefix: readonly RunEventDoc[]): Promise<ReplaySession> {
    const fork = rec.fork as RunFork;
    const [source, invocations] = await Promise.all([readLog(store, fork.sourceRunId), store.listInvocations(fork.sourceRunId)]);
    return new ReplaySession(store, rec, fork.sourceRunId, source, invocations, prefix);
  }

  /**
   * The outcome of an effect, never made: the fork's own record when it has one (a resumed or
   * re-executed node), else the source's recorded outcome for the same node and ordinal — the
   * source's `logicalInvocationId` — recorded in the fork's log too (so a fork of this fork
   * replays as well). No recorded outcome: `replay_source_missing`, recorded as the failure.
   * @param idOf the `logicalInvocationId` of this effect in a given run
   */
  async serve(
    at: { nodeId: string; attempt: number; ordinal: number; providerKey: string },
    idOf: (runId: string) => string,
    now: number,
    retentionMs: number,
  ): Promise<InvocationRecord> {
    const own = idOf(this.rec.runId);
    const claim = await this.store.claimInvocation({
      id: own,
      tenant: this.rec.tenant,
      runId: this.rec.runId,
      nodeId: at.nodeId,
      ordinal: at.ordinal,
      providerKey: at.providerKey,
      attempt: at.attempt,
      createdAt: now,
      expiresAt: now + retentionMs,
    });
    if (claim.kind === 'recorded') return claim.record;
    const src = this.recorded.get(idOf(this.sourceRunId));
    const base = { id: own, tenant: this.rec.tenant, runId: this.rec.runId, ...at, calls: 0, createdAt: now, updatedAt: now, expiresAt: now + retentionMs };
    if (!src || src.providerKey !== at.providerKey || src.nodeId !== at.nodeId) {
      const err = new NodeError(
        REPLAY_SOURCE_MISSING,
        `The source run holds no recorded outcome for effect ${at.providerKey} #${at.ordinal} of node ${at.nodeId}.`,
        {
          sourceRunId: this.sourceRunId,
          nodeId: at.nodeId,
          ordinal: at.ordinal,
          providerKey: at.providerKey,
        },
      );
      const outcome = JSON.stringify(toErrorObject(err));
      await this.store.recordInvocation(own, 'failed', outcome, now);
      return { ...base, state: 'failed', outcome };
    }
    await this.store.recordInvocation(own, src.state as 'done' | 'failed', src.outcome ?? 'null', now);
    return { ...base, state: src.state, outcome: src.outcome };
  }

  /**
   * Compares a re-executed node's final outcome with the source's outcome of the same execution
   * of that node (the n-th final outcome of the node in each log); returns the `replay.diverged`
   * payload when they differ. Outputs are compared as stored (redacted, canonical JSON).
   * Non-final outcomes (suspensions, waits, retryable failures) are not compared.
   */
  observe(nodeId: string, outcome: NodeOutcome, redactor: RecordRedactor, nextSequence: number): DivergedPayload | undefined {
    let mine: { type: 'node.completed'; outputs: unknown } | { type: 'node.failed'; code: string };
    if ('error' in outcome) {
      const e = outcome.error;
      if (!(e instanceof NodeError) || e.retryable) return undefined;
      mine = { type: 'node.failed', code: e.code };
    } else {
      if (!('outputs' in outcome.result)) return undefined;
      mine = { type: 'node.completed', outputs: JSON.parse(redactor.redactJson(JSON.stringify(outcome.result.outputs ?? {}))) as unknown };
    }
    const n = this.seen.get(nodeId) ?? 0;
    this.seen.set(nodeId, n + 1);
    const src = this.outcomes.get(nodeId)?.[n];
    if (!src) return { sourceRunId: this.sourceRunId, atSequence: nextSequence, divergenceKind: 'extra', divergencePoint: mine.type };
    const at = { sourceRunId: this.sourceRunId, atSequence: src.sequence, originalEventId: src.eventId, divergencePoint: src.type };
    if (src.type !== mine.type) return { ...at, divergenceKind: 'type-mismatch' };
    if (mine.type === 'node.completed' ? canonicalJson(mine.outputs ?? {}) !== canonicalJson(src.outputs ?? {}) : mine.code !== src.code) {
      return { ...at, divergenceKind: 'output' };
    }
    return undefined;
  }
}
