/**
 * The row shapes and mappers both SQL stores share: the table layouts of the two
 * `0001_init.sql` / `0002_keys_audit.sql` migrations are the same column for column, so one
 * mapper per table turns a row into a port record and back. Integers that Postgres keeps as
 * BIGINT arrive from `pg` as strings (it will not silently lose precision) and from SQLite as
 * numbers; {@link Int} covers both, and the mappers convert with `Number` (epoch milliseconds
 * and sequence numbers fit a double exactly).
 */
import type { CommandRow, EncodedEvent, RunProjection, RunRecord, StoredWorkflow, TimerRow } from '@weft/engine';
import type { ApiKeyRecord, AuditCheckpoint, AuditEntry } from '../ports.js';

/**
 * An integer column as a driver returns it: a number (SQLite, INTEGER) or a string (pg, BIGINT).
 * Row types take it as a parameter so each store states what its driver returns.
 */
export type Int = number | string;

const num = (v: Int): number => Number(v);
const numOrNull = (v: Int | null): number | null => (v === null ? null : Number(v));

/** `SELECT` list for {@link WorkflowRow}, with the `workflows` table aliased `w`. */
export const WORKFLOW_COLUMNS = 'w.hash, w.id, w.definition_json, w.source, w.created_at';
/** `SELECT` list for {@link RunRow}. */
export const RUN_COLUMNS =
  'run_id, tenant, principal, workflow_id, workflow_hash, created_at, variables_json, configurable_json, tags_json, metadata_json, cancel_json, projection_json, lease_owner, lease_epoch, lease_expires_at, fork_json, trace_context, callback_json';
/** Column list of `runs` for an insert, in {@link runInsertValues} order. */
export const RUN_INSERT_COLUMNS =
  'run_id, tenant, principal, workflow_id, workflow_hash, created_at, status, variables_json, configurable_json, tags_json, metadata_json, cancel_json, projection_json, lease_owner, lease_epoch, lease_expires_at, fork_json, trace_context, callback_json';
/** Column list of `api_keys`, in {@link apiKeyValues} order. */
export const API_KEY_COLUMNS =
  'key_id, tenant, principal, name, scopes_json, hash, created_at, expires_at, revoked_at, rotated_from, grace_until, last_used_at';
/** Column list of `audit_log`, in {@link toAuditRow} order. */
export const AUDIT_COLUMNS = 'seq, ts, tenant, principal, action, target, details_json, prev_hash, hash';
/** Column list of `audit_checkpoints`, in {@link checkpointValues} order. */
export const CHECKPOINT_COLUMNS = 'checkpoint, at_seq, merkle_root, signature, key_id, ts, frontier_json';

/** A `workflows` row. */
export interface WorkflowRow {
  hash: string;
  id: string;
  definition_json: string;
  source: string;
  created_at: string;
}

/** A `runs` row as read with {@link RUN_COLUMNS}. */
export interface RunRow<I extends Int = Int> {
  run_id: string;
  tenant: string;
  principal: string;
  workflow_id: string;
  workflow_hash: string;
  created_at: string;
  variables_json: string;
  configurable_json: string;
  tags_json: string;
  metadata_json: string;
  cancel_json: string | null;
  projection_json: string;
  lease_owner: string | null;
  lease_epoch: number;
  lease_expires_at: I | null;
  /** The fork link (migration 0007), JSON; null for a run that is not a fork. */
  fork_json: string | null;
  /** JSON `{traceparent, tracestate?}` of the creating request (migration 0008), or null. */
  trace_context: string | null;
  /** JSON {@link RunRecord.callback} (migration 0009), or null. */
  callback_json: string | null;
}

/** A `run_events` row. */
export interface EventRow {
  sequence: number;
  type: string;
  node_id: string | null;
  json: string;
}

/** A `timers` row. */
export interface TimerDbRow<I extends Int = Int> {
  run_id: string;
  key: string;
  fire_at: I;
}

/** An `idempotency` row (the columns a claim decides on). */
export interface IdemRow<I extends Int = Int> {
  request_hash: string;
  state: 'pending' | 'done';
  /** The process that made a pending claim (its heartbeat frees the claim when it dies). */
  process: string | null;
  created_at: I;
  expires_at: I;
  status: number | null;
  body: string | null;
}

/** An `api_keys` row. */
export interface ApiKeyRow<I extends Int = Int> {
  key_id: string;
  tenant: string;
  principal: string;
  name: string;
  scopes_json: string;
  hash: string;
  created_at: I;
  expires_at: I | null;
  revoked_at: I | null;
  rotated_from: string | null;
  grace_until: I | null;
  last_used_at: I | null;
}

/** An `audit_log` row. */
export interface AuditRow<I extends Int = Int> {
  seq: I;
  ts: string;
  tenant: string;
  principal: string;
  action: string;
  target: string;
  details_json: string;
  prev_hash: string | null;
  hash: string;
}

/** An `audit_checkpoints` row. */
export interface CheckpointRow<I extends Int = Int> {
  checkpoint: I;
  at_seq: I;
  merkle_root: string;
  signature: string;
  key_id: string;
  ts: string;
  frontier_json: string;
}

/** A `workflows` row as a {@link StoredWorkflow}. */
export function toWorkflow(r: WorkflowRow): StoredWorkflow {
  return { id: r.id, hash: r.hash, definition: JSON.parse(r.definition_json) as StoredWorkflow['definition'], source: r.source, createdAt: r.created_at };
}

/** The values of a new `runs` row, in {@link RUN_INSERT_COLUMNS} order. */
export function runInsertValues(
  run: RunRecord,
): [
  string,
  string,
  string,
  string,
  string,
  string,
  string,
  string,
  string,
  string,
  string,
  string | null,
  string,
  string | null,
  number,
  number | null,
  string | null,
  string | null,
  string | null,
] {
  return [
    run.runId,
    run.tenant,
    run.principal,
    run.workflowId,
    run.workflowHash,
    run.createdAt,
    run.projection.status,
    JSON.stringify(run.variables),
    JSON.stringify(run.configurable),
    JSON.stringify(run.tags),
    JSON.stringify(run.metadata),
    run.cancelRequested ? JSON.stringify(run.cancelRequested) : null,
    JSON.stringify(run.projection),
    run.leaseOwner,
    run.leaseEpoch,
    run.leaseExpiresAt,
    run.fork ? JSON.stringify(run.fork) : null,
    run.traceContext ? JSON.stringify(run.traceContext) : null,
    run.callback ? JSON.stringify(run.callback) : null,
  ];
}

/** A `runs` row as a {@link RunRecord}. */
export function toRunRecord(r: RunRow): RunRecord {
  return {
    runId: r.run_id,
    tenant: r.tenant,
    principal: r.principal,
    workflowId: r.workflow_id,
    workflowHash: r.workflow_hash,
    createdAt: r.created_at,
    variables: JSON.parse(r.variables_json) as RunRecord['variables'],
    configurable: JSON.parse(r.configurable_json) as RunRecord['configurable'],
    tags: JSON.parse(r.tags_json) as RunRecord['tags'],
    metadata: JSON.parse(r.metadata_json) as RunRecord['metadata'],
    cancelRequested: r.cancel_json === null ? null : (JSON.parse(r.cancel_json) as NonNullable<RunRecord['cancelRequested']>),
    projection: JSON.parse(r.projection_json) as RunProjection,
    leaseOwner: r.lease_owner,
    leaseEpoch: r.lease_epoch,
    leaseExpiresAt: numOrNull(r.lease_expires_at),
    ...(r.fork_json ? { fork: JSON.parse(r.fork_json) as NonNullable<RunRecord['fork']> } : {}),
    ...(r.trace_context ? { traceContext: JSON.parse(r.trace_context) as NonNullable<RunRecord['traceContext']> } : {}),
    ...(r.callback_json ? { callback: JSON.parse(r.callback_json) as NonNullable<RunRecord['callback']> } : {}),
  };
}

/** A `run_events` row as an {@link EncodedEvent} (the JSON exactly as written). */
export function toEvent(r: EventRow): EncodedEvent {
  const e: EncodedEvent = { sequence: r.sequence, type: r.type, json: r.json };
  if (r.node_id !== null) e.nodeId = r.node_id;
  return e;
}

/** `SELECT` list for {@link CommandDbRow}. */
export const COMMAND_COLUMNS = 'id, run_id, tenant, kind, payload, principal, created_at, state, result';

/** A `run_commands` row as read with {@link COMMAND_COLUMNS}. */
export interface CommandDbRow<I extends Int = Int> {
  id: string;
  run_id: string;
  tenant: string;
  kind: string;
  payload: string;
  principal: string;
  created_at: I;
  state: CommandRow['state'];
  result: string | null;
}

/** A `run_commands` row as a {@link CommandRow}. */
export function toCommand(r: CommandDbRow): CommandRow {
  return {
    id: r.id,
    runId: r.run_id,
    tenant: r.tenant,
    kind: r.kind,
    payload: r.payload,
    principal: r.principal,
    createdAt: num(r.created_at),
    state: r.state,
    result: r.result,
  };
}

/** A `timers` row as a {@link TimerRow}. */
export function toTimer(r: TimerDbRow): TimerRow {
  return { runId: r.run_id, key: r.key, fireAt: num(r.fire_at) };
}

/** An {@link ApiKeyRecord} as an `api_keys` row (numbers stay numbers; both drivers bind them). */
export function toApiKeyRow(k: ApiKeyRecord): ApiKeyRow<number> {
  return {
    key_id: k.keyId,
    tenant: k.tenant,
    principal: k.principal,
    name: k.name,
    scopes_json: JSON.stringify(k.scopes),
    hash: k.hash,
    created_at: k.createdAt,
    expires_at: k.expiresAt,
    revoked_at: k.revokedAt,
    rotated_from: k.rotatedFrom,
    grace_until: k.graceUntil,
    last_used_at: k.lastUsedAt,
  };
}

/** The values of an `api_keys` row, in {@link API_KEY_COLUMNS} order. */
export function apiKeyValues(k: ApiKeyRecord): unknown[] {
  const r = toApiKeyRow(k);
  return [
    r.key_id,
    r.tenant,
    r.principal,
    r.name,
    r.scopes_json,
    r.hash,
    r.created_at,
    r.expires_at,
    r.revoked_at,
    r.rotated_from,
    r.grace_until,
    r.last_used_at,
  ];
}

/** An `api_keys` row as an {@link ApiKeyRecord}. */
export function toApiKey(r: ApiKeyRow): ApiKeyRecord {
  return {
    keyId: r.key_id,
    tenant: r.tenant,
    principal: r.principal,
    name: r.name,
    scopes: JSON.parse(r.scopes_json) as string[],
    hash: r.hash,
    createdAt: num(r.created_at),
    expiresAt: numOrNull(r.expires_at),
    revokedAt: numOrNull(r.revoked_at),
    rotatedFrom: r.rotated_from,
    graceUntil: numOrNull(r.grace_until),
    lastUsedAt: numOrNull(r.last_used_at),
  };
}

/** An {@link AuditEntry} as an `audit_log` row. */
export function toAuditRow(e: AuditEntry): AuditRow<number> {
  return {
    seq: e.seq,
    ts: e.ts,
    tenant: e.tenant,
    principal: e.principal,
    action: e.action,
    target: e.target,
    details_json: JSON.stringify(e.details),
    prev_hash: e.prevHash,
    hash: e.hash,
  };
}

/** An `audit_log` row as an {@link AuditEntry}. */
export function toAuditEntry(r: AuditRow): AuditEntry {
  return {
    seq: num(r.seq),
    ts: r.ts,
    tenant: r.tenant,
    principal: r.principal,
    action: r.action,
    target: r.target,
    details: JSON.parse(r.details_json) as Record<string, unknown>,
    prevHash: r.prev_hash,
    hash: r.hash,
  };
}

/** An {@link AuditCheckpoint} as an `audit_checkpoints` row. */
export function toCheckpointRow(c: AuditCheckpoint): CheckpointRow<number> {
  return {
    checkpoint: c.checkpoint,
    at_seq: c.atSeq,
    merkle_root: c.merkleRoot,
    signature: c.signature,
    key_id: c.keyId,
    ts: c.ts,
    frontier_json: JSON.stringify(c.frontier),
  };
}

/** The values of an `audit_checkpoints` row, in {@link CHECKPOINT_COLUMNS} order. */
export function checkpointValues(c: AuditCheckpoint): unknown[] {
  const r = toCheckpointRow(c);
  return [r.checkpoint, r.at_seq, r.merkle_root, r.signature, r.key_id, r.ts, r.frontier_json];
}

/** An `audit_checkpoints` row as an {@link AuditCheckpoint}. */
export function toCheckpoint(r: CheckpointRow): AuditCheckpoint {
  return {
    checkpoint: num(r.checkpoint),
    atSeq: num(r.at_seq),
    merkleRoot: r.merkle_root,
    signature: r.signature,
    keyId: r.key_id,
    ts: r.ts,
    frontier: JSON.parse(r.frontier_json) as string[],
  };
}
