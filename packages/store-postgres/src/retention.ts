/**
 * Run retention on Postgres: the {@link RetentionStore} port, kept apart from the store class
 * like the invocation log. One statement per batch: the doomed runs are locked (`SKIP LOCKED`,
 * so sweepers of several processes take disjoint batches), their rows deleted and their
 * tombstones written together.
 */
import type pg from 'pg';
import type { ExpiredRun, RetentionStore } from '@weft/engine';
import { TERMINAL_SQL } from '@weft/store-kit';

/** Runs a named prepared statement (the store's pooled, error-classifying query). */
export type PgRetentionQuery = <R extends pg.QueryResultRow>(name: `ret_${string}`, text: string, values: unknown[]) => Promise<pg.QueryResult<R>>;

const SWEEP = `
  WITH doomed AS (
    SELECT run_id, tenant FROM runs
    WHERE status IN ${TERMINAL_SQL} AND created_at < $1
      AND COALESCE(projection_json::json->>'endedAt', created_at) < $1
    ORDER BY created_at, run_id
    LIMIT $2
    FOR UPDATE SKIP LOCKED
  ),
  ev AS (DELETE FROM run_events e USING doomed d WHERE e.run_id = d.run_id),
  tm AS (DELETE FROM timers t USING doomed d WHERE t.run_id = d.run_id),
  cm AS (DELETE FROM run_commands c USING doomed d WHERE c.run_id = d.run_id),
  iv AS (DELETE FROM invocation_log i USING doomed d WHERE i.run_id = d.run_id),
  cbd AS (DELETE FROM webhook_deliveries x USING webhooks w, doomed d WHERE w.run_id = d.run_id AND x.tenant = w.tenant AND x.webhook_id = w.webhook_id),
  cbo AS (DELETE FROM webhook_outbox x USING webhooks w, doomed d WHERE w.run_id = d.run_id AND x.tenant = w.tenant AND x.webhook_id = w.webhook_id),
  cbw AS (DELETE FROM webhooks w USING doomed d WHERE w.run_id = d.run_id),
  tomb AS (INSERT INTO expired_runs (run_id, tenant, expired_at) SELECT run_id, tenant, $3 FROM doomed ON CONFLICT (run_id) DO NOTHING)
  DELETE FROM runs r USING doomed d WHERE r.run_id = d.run_id
  RETURNING r.run_id, r.tenant`;

const GET = 'SELECT run_id, tenant, expired_at FROM expired_runs WHERE run_id = $1 AND tenant = $2';

/** The retention statements, run through the store's query function. */
export class PgRetention implements RetentionStore {
  constructor(private readonly q: PgRetentionQuery) {}

  async expireRuns(endedBefore: number, limit: number, now: number): Promise<ExpiredRun[]> {
    const { rows } = await this.q<{ run_id: string; tenant: string }>('ret_sweep', SWEEP, [new Date(endedBefore).toISOString(), limit, now]);
    return rows.map((r) => ({ runId: r.run_id, tenant: r.tenant, expiredAt: now }));
  }

  async getExpiredRun(tenant: string, runId: string): Promise<ExpiredRun | undefined> {
    const { rows } = await this.q<{ run_id: string; tenant: string; expired_at: string }>('ret_get', GET, [runId, tenant]);
    const row = rows[0];
    return row && { runId: row.run_id, tenant: row.tenant, expiredAt: Number(row.expired_at) };
  }
}
