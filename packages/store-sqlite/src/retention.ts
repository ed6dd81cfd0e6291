/**
 * Run retention on SQLite: the {@link RetentionStore} port, kept apart from the store class like
 * the invocation log. One `BEGIN IMMEDIATE` transaction per batch deletes the runs and writes
 * their tombstones.
 */
import type Database from 'better-sqlite3';
import type { ExpiredRun, RetentionStore } from '@weft/engine';
import { TERMINAL_SQL } from '@weft/store-kit';

/** Prepared statements for retention of one database (prepare after migrating). */
export class SqliteRetention implements RetentionStore {
  private readonly pick: Database.Statement<[string, string, number], { run_id: string; tenant: string }>;
  private readonly tombstone: Database.Statement<[string, string, number]>;
  private readonly deletes: Database.Statement<[string]>[];
  private readonly get: Database.Statement<[string, string], { run_id: string; tenant: string; expired_at: number }>;
  private readonly sweep: (endedBefore: string, limit: number, now: number) => ExpiredRun[];

  constructor(db: Database.Database) {
    this.pick = db.prepare(
      `SELECT run_id, tenant FROM runs WHERE status IN ${TERMINAL_SQL} AND created_at < ?
         AND COALESCE(json_extract(projection_json, '$.endedAt'), created_at) < ?
       ORDER BY created_at, run_id LIMIT ?`,
    );
    this.tombstone = db.prepare('INSERT OR IGNORE INTO expired_runs (run_id, tenant, expired_at) VALUES (?, ?, ?)');
    // A run's callback subscription (migration 0009) goes with it: records, outbox rows, then the row.
    const callback = (t: string) =>
      db.prepare<[string]>(`DELETE FROM ${t} WHERE (tenant, webhook_id) IN (SELECT tenant, webhook_id FROM webhooks WHERE run_id = ?)`);
    this.deletes = [
      callback('webhook_deliveries'),
      callback('webhook_outbox'),
      db.prepare<[string]>('DELETE FROM webhooks WHERE run_id = ?'),
      ...['run_events', 'timers', 'run_commands', 'invocation_log', 'runs'].map((t) => db.prepare<[string]>(`DELETE FROM ${t} WHERE run_id = ?`)),
    ];
    this.get = db.prepare('SELECT run_id, tenant, expired_at FROM expired_runs WHERE run_id = ? AND tenant = ?');
    const tx = db.transaction((endedBefore: string, limit: number, now: number): ExpiredRun[] => {
      const out: ExpiredRun[] = [];
      for (const r of this.pick.all(endedBefore, endedBefore, limit)) {
        for (const d of this.deletes) d.run(r.run_id);
        this.tombstone.run(r.run_id, r.tenant, now);
        out.push({ runId: r.run_id, tenant: r.tenant, expiredAt: now });
      }
      return out;
    });
    this.sweep = (endedBefore, limit, now) => tx.immediate(endedBefore, limit, now);
  }

  async expireRuns(endedBefore: number, limit: number, now: number): Promise<ExpiredRun[]> {
    return this.sweep(new Date(endedBefore).toISOString(), limit, now);
  }

  async getExpiredRun(tenant: string, runId: string): Promise<ExpiredRun | undefined> {
    const row = this.get.get(runId, tenant);
    return row && { runId: row.run_id, tenant: row.tenant, expiredAt: row.expired_at };
  }
}
