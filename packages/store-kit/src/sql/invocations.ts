/**
 * The `invocation_log` table both SQL stores share (migration 0005): columns, row type, mapper
 * and every statement, dialect-neutral. A claim is one upsert: a new id is inserted pending; a
 * pending one (left by an interrupted call) counts another call; a recorded one is untouched and
 * the statement returns no row, so the caller reads the record instead.
 *
 * @see @weft/engine InvocationStore
 */
import type { InvocationRecord } from '@weft/engine';
import type { SqlDialect } from './dialect.js';
import type { Int } from './rows.js';

/** Column list of `invocation_log`. */
export const INVOCATION_COLUMNS = 'id, tenant, run_id, node_id, ordinal, provider_key, attempt, state, outcome, calls, created_at, updated_at, expires_at';

/** An `invocation_log` row. */
export interface InvocationRow<I extends Int = Int> {
  id: string;
  tenant: string;
  run_id: string;
  node_id: string;
  ordinal: I;
  provider_key: string;
  attempt: I;
  state: 'pending' | 'done' | 'failed';
  outcome: string | null;
  calls: I;
  created_at: I;
  updated_at: I;
  expires_at: I;
}

/** A row as a port record. */
export function toInvocation(r: InvocationRow): InvocationRecord {
  return {
    id: r.id,
    tenant: r.tenant,
    runId: r.run_id,
    nodeId: r.node_id,
    ordinal: Number(r.ordinal),
    providerKey: r.provider_key,
    attempt: Number(r.attempt),
    state: r.state,
    outcome: r.outcome,
    calls: Number(r.calls),
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
    expiresAt: Number(r.expires_at),
  };
}

/** The claim's parameters, in statement order. */
export function claimValues(
  r: Omit<InvocationRecord, 'state' | 'outcome' | 'calls' | 'updatedAt'>,
): [string, string, string, string, number, string, number, number, number, number] {
  return [r.id, r.tenant, r.runId, r.nodeId, r.ordinal, r.providerKey, r.attempt, r.createdAt, r.createdAt, r.expiresAt];
}

/** The invocation statements, spelled for one dialect (each parameter once, in order). */
export function invocationStatements(d: SqlDialect) {
  const $ = d.param;
  return {
    /** {@link claimValues}; returns `calls` when claimed, no row when already recorded. */
    claim: `INSERT INTO invocation_log (id, tenant, run_id, node_id, ordinal, provider_key, attempt, state, outcome, calls, created_at, updated_at, expires_at)
      VALUES (${$(1)}, ${$(2)}, ${$(3)}, ${$(4)}, ${$(5)}, ${$(6)}, ${$(7)}, 'pending', NULL, 1, ${$(8)}, ${$(9)}, ${$(10)})
      ON CONFLICT (id) DO UPDATE SET calls = invocation_log.calls + 1, attempt = excluded.attempt, updated_at = excluded.updated_at
      WHERE invocation_log.state = 'pending'
      RETURNING calls`,
    /** (id) */
    get: `SELECT ${INVOCATION_COLUMNS} FROM invocation_log WHERE id = ${$(1)}`,
    /** (state, outcome, now, id) */
    record: `UPDATE invocation_log SET state = ${$(1)}, outcome = ${$(2)}, updated_at = ${$(3)} WHERE id = ${$(4)} AND state = 'pending'`,
    /** (id) */
    release: `DELETE FROM invocation_log WHERE id = ${$(1)} AND state = 'pending'`,
    /** (runId) */
    list: `SELECT ${INVOCATION_COLUMNS} FROM invocation_log WHERE run_id = ${$(1)} ORDER BY node_id, ordinal`,
    /** (now) */
    purge: `DELETE FROM invocation_log WHERE expires_at <= ${$(1)}`,
  };
}
