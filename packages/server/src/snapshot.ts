/**
 * Builds the wire RunSnapshot from a run row.
 *
 * @see wire-contract.md §3.2
 */
import { EVENT_LOG_SCHEMA_VERSION, TERMINAL_STATUSES, type RunInterruptBlock, type RunSnapshot } from '@weft/contract';
import { RunEngine, maskVariables, type InterruptView, type RunRecord, type StoredWorkflow } from '@weft/engine';

/** Mints a callback token for a pending interrupt (only for callers allowed to resolve it). */
export type TokenMinter = (rec: RunRecord, iv: InterruptView) => { token: string; expiresAt: number };

/**
 * The snapshot as served by `GET /v1/runs/{runId}` and in `values` stream frames, typed by the
 * contract's `RunSnapshotSchema` (every field it sets is declared there; snapshot.test.ts checks
 * the output against the schema with its root closed).
 */
export function toSnapshot(rec: RunRecord, wf: StoredWorkflow | undefined, mint?: TokenMinter): RunSnapshot {
  const p = rec.projection;
  const status = RunEngine.visibleStatus(rec);
  const snap: RunSnapshot = {
    runId: rec.runId,
    workflowId: rec.workflowId,
    status,
    owner: { tenant: rec.tenant, principal: rec.principal },
    createdAt: rec.createdAt,
    nodeStates: p.nodeStates,
    variables: wf ? maskVariables(wf.definition, { ...rec.variables, ...(p.vars ?? {}) }) : {},
    eventLogSchemaVersion: EVENT_LOG_SCHEMA_VERSION,
    lastSequence: p.lastSequence,
    tags: rec.tags,
    metadata: rec.metadata,
    configurable: maskRunCredential(rec.configurable),
    endedAt: p.endedAt ?? null,
  };
  if (p.startedAt) snap.startedAt = p.startedAt;
  if (p.endedAt && TERMINAL_STATUSES.has(p.status)) snap.completedAt = p.endedAt;
  if (p.currentNodeId) snap.currentNodeId = p.currentNodeId;
  if (p.error) snap.error = p.error;
  if (p.outputs) snap.outputs = p.outputs;
  if (rec.cancelRequested?.reason) snap.cancelReason = rec.cancelRequested.reason;
  if (p.paused) snap.pausedAt = p.paused.at;
  if (rec.fork) snap.forkedFrom = { runId: rec.fork.sourceRunId, fromSeq: rec.fork.fromSeq, mode: rec.fork.mode };
  if (p.parent) {
    snap.parentRunId = p.parent.runId;
    snap.parentNodeId = p.parent.nodeId;
  }
  if (p.orchestrator) snap.runOrchestrator = { agentId: p.orchestrator.agentId };
  if (p.children) snap.childRuns = Object.entries(p.children).map(([nodeId, c]) => ({ runId: c.runId, nodeId, workflowId: c.workflowId }));
  if (p.cost) {
    const ms = p.startedAt ? Math.max(0, Date.parse(p.endedAt ?? new Date().toISOString()) - Date.parse(p.startedAt)) : 0;
    snap.metrics = {
      openwopCost: {
        usd: p.cost.usd,
        tokens: { input: p.cost.inputTokens, output: p.cost.outputTokens },
        model: p.cost.model,
        provider: p.cost.provider,
        duration_ms: ms,
      },
    };
  }
  const pending = Object.values(p.interrupts ?? {}).filter((i) => i.status === 'pending');
  if (pending.length > 0) {
    const first = pending[0] as InterruptView;
    const block: RunInterruptBlock = {
      kind: first.kind,
      nodeId: first.nodeId,
      interruptId: first.interruptId,
      key: first.key,
      payload: first.data,
      requestedAt: first.requestedAt,
    };
    if (first.resumeSchema) block.resumeSchema = first.resumeSchema;
    if (first.expiresAt) block.expiresAt = first.expiresAt;
    if (first.votes) block.votes = first.votes.map((v) => ({ principal: v.principal, action: v.action, at: v.at }));
    if (mint) {
      const t = mint(rec, first);
      block.interruptToken = t.token;
      block.callbackUrl = `/v1/interrupts/${t.token}`;
      block.tokenExpiresAt = new Date(t.expiresAt).toISOString();
    }
    snap.interrupt = block;
    snap.pendingInterrupts = pending.map((i) => ({ nodeId: i.nodeId, interruptId: i.interruptId, kind: i.kind }));
  }
  return snap;
}

/**
 * `configurable` as the snapshot shows it: `ai.credentialRef` is an opaque reference the host
 * resolves through the vault and never echoes (decision 0026), so it is masked.
 */
export function maskRunCredential(c: Record<string, unknown>): Record<string, unknown> {
  const ai = c.ai;
  if (!ai || typeof ai !== 'object' || Array.isArray(ai) || !('credentialRef' in ai)) return c;
  return { ...c, ai: { ...(ai as Record<string, unknown>), credentialRef: '[REDACTED]' } };
}
