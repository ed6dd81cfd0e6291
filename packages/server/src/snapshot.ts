/**
 * Builds the wire RunSnapshot from a run row.
 *
 * @see wire-contract.md §3.2
 */
import { EVENT_LOG_SCHEMA_VERSION, TERMINAL_STATUSES } from '@weft/contract';
import { RunEngine, maskVariables, type RunRecord, type StoredWorkflow } from '@weft/engine';

/** The snapshot as served by `GET /v1/runs/{runId}` and in `values` stream frames. */
export function toSnapshot(rec: RunRecord, wf: StoredWorkflow | undefined): Record<string, unknown> {
  const p = rec.projection;
  const status = RunEngine.visibleStatus(rec);
  const snap: Record<string, unknown> = {
    runId: rec.runId,
    workflowId: rec.workflowId,
    status,
    owner: { tenant: rec.tenant, principal: rec.principal },
    createdAt: rec.createdAt,
    nodeStates: p.nodeStates,
    variables: wf ? maskVariables(wf.definition, rec.variables) : {},
    eventLogSchemaVersion: EVENT_LOG_SCHEMA_VERSION,
    lastSequence: p.lastSequence,
    tags: rec.tags,
    metadata: rec.metadata,
    configurable: rec.configurable,
    endedAt: p.endedAt ?? null,
  };
  if (p.startedAt) snap.startedAt = p.startedAt;
  if (p.endedAt && TERMINAL_STATUSES.has(p.status)) snap.completedAt = p.endedAt;
  if (p.currentNodeId) snap.currentNodeId = p.currentNodeId;
  if (p.error) snap.error = p.error;
  if (p.outputs) snap.outputs = p.outputs;
  if (rec.cancelRequested?.reason) snap.cancelReason = rec.cancelRequested.reason;
  return snap;
}
