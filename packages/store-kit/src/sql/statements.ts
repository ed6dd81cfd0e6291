/**
 * Statements both SQL stores run with the same text but for parameter spelling: reads by key,
 * range reads, single-row deletes and the command insert, whose parameters each appear once and in the order the
 * port method passes them. Statements whose shape is dialect-specific stay in their store
 * (Postgres folds a whole append into one statement of data-modifying CTEs; SQLite runs the
 * same steps as several statements in one `BEGIN IMMEDIATE` transaction).
 */
import type { SqlDialect } from './dialect.js';
import { API_KEY_COLUMNS, AUDIT_COLUMNS, CHECKPOINT_COLUMNS, COMMAND_COLUMNS, RUN_COLUMNS, WORKFLOW_COLUMNS } from './rows.js';

/** The shared statements, spelled for one dialect. Build once per store. */
export function sharedStatements(d: SqlDialect) {
  const $ = d.param;
  return {
    // workflows
    getWorkflow: `SELECT ${WORKFLOW_COLUMNS} FROM workflow_ids i JOIN workflows w ON w.hash = i.hash WHERE i.id = ${$(1)}`,
    getWorkflowByHash: `SELECT ${WORKFLOW_COLUMNS} FROM workflows w WHERE w.hash = ${$(1)}`,
    listWorkflows: `SELECT ${WORKFLOW_COLUMNS} FROM workflow_ids i JOIN workflows w ON w.hash = i.hash ORDER BY i.id`,
    deleteWorkflow: `DELETE FROM workflow_ids WHERE id = ${$(1)}`,
    // runs, events, timers: (runId, tenant) / (runId, afterSequence, limit) / (now, limit)
    getRun: `SELECT ${RUN_COLUMNS} FROM runs WHERE run_id = ${$(1)} AND tenant = ${$(2)}`,
    getRunInternal: `SELECT ${RUN_COLUMNS} FROM runs WHERE run_id = ${$(1)}`,
    leaseState: `SELECT lease_epoch, last_sequence FROM runs WHERE run_id = ${$(1)}`,
    readEvents: `SELECT sequence, type, node_id, json FROM run_events WHERE run_id = ${$(1)} AND sequence > ${$(2)} ORDER BY sequence LIMIT ${$(3)}`,
    dueTimers: `SELECT run_id, key, fire_at FROM timers WHERE fire_at <= ${$(1)} ORDER BY fire_at, run_id, key LIMIT ${$(2)}`,
    nextTimer: 'SELECT min(fire_at) AS fire_at FROM timers',
    // commands: (id, runId, tenant, kind, payload, principal, createdAt) / (runId) / (id)
    commandInsert: `INSERT INTO run_commands (id, run_id, tenant, kind, payload, principal, created_at, state) VALUES (${$(1)}, ${$(2)}, ${$(3)}, ${$(4)}, ${$(5)}, ${$(6)}, ${$(7)}, 'pending') ON CONFLICT (id) DO NOTHING`,
    commandsPending: `SELECT ${COMMAND_COLUMNS} FROM run_commands WHERE run_id = ${$(1)} AND state = 'pending' ORDER BY seq`,
    commandGet: `SELECT ${COMMAND_COLUMNS} FROM run_commands WHERE id = ${$(1)}`,
    // idempotency: (tenant, route, key[, owner]) / (now)
    idemGet: `SELECT request_hash, state, process, created_at, expires_at, status, body FROM idempotency WHERE tenant = ${$(1)} AND route = ${$(2)} AND key = ${$(3)}`,
    idemRelease: `DELETE FROM idempotency WHERE tenant = ${$(1)} AND route = ${$(2)} AND key = ${$(3)} AND owner = ${$(4)} AND state = 'pending'`,
    idemPurge: `DELETE FROM idempotency WHERE expires_at <= ${$(1)}`,
    // managed keys
    getKeyByHash: `SELECT ${API_KEY_COLUMNS} FROM api_keys WHERE hash = ${$(1)}`,
    // audit log: (fromSeq, toSeq, limit) / (afterSeq) / (seq)
    auditTip: 'SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1',
    auditAfter: `SELECT ${AUDIT_COLUMNS} FROM audit_log WHERE seq > ${$(1)} ORDER BY seq`,
    readAudit: `SELECT ${AUDIT_COLUMNS} FROM audit_log WHERE seq >= ${$(1)} AND seq <= ${$(2)} ORDER BY seq LIMIT ${$(3)}`,
    lastCheckpoint: `SELECT ${CHECKPOINT_COLUMNS} FROM audit_checkpoints ORDER BY checkpoint DESC LIMIT 1`,
    listCheckpoints: `SELECT ${CHECKPOINT_COLUMNS} FROM audit_checkpoints WHERE at_seq >= ${$(1)} AND at_seq <= ${$(2)} ORDER BY at_seq LIMIT ${$(3)}`,
    checkpointBefore: `SELECT ${CHECKPOINT_COLUMNS} FROM audit_checkpoints WHERE at_seq < ${$(1)} ORDER BY at_seq DESC LIMIT 1`,
  } as const;
}

/** The statement texts {@link sharedStatements} builds. */
export type SharedStatements = ReturnType<typeof sharedStatements>;
