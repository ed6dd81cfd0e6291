/**
 * `run_commands` on SQLite: the command rows of the {@link Store} port, kept apart from the
 * store class so the shared SQL plumbing can move without touching them.
 */
import type Database from 'better-sqlite3';
import type { CommandOutcome, CommandRow } from '@weft/engine';

interface CommandDbRow {
  id: string;
  run_id: string;
  tenant: string;
  kind: string;
  payload: string;
  principal: string;
  created_at: number;
  state: CommandRow['state'];
  result: string | null;
}

const COLUMNS = 'id, run_id, tenant, kind, payload, principal, created_at, state, result';

function toCommand(r: CommandDbRow): CommandRow {
  return {
    id: r.id,
    runId: r.run_id,
    tenant: r.tenant,
    kind: r.kind,
    payload: r.payload,
    principal: r.principal,
    createdAt: r.created_at,
    state: r.state,
    result: r.result,
  };
}

/** Prepared statements for the command rows of one database (prepare after migrating). */
export class SqliteCommands {
  private readonly insert: Database.Statement<[string, string, string, string, string, string, number]>;
  private readonly pending: Database.Statement<[string], CommandDbRow>;
  private readonly get: Database.Statement<[string], CommandDbRow>;
  private readonly finishTx: (outcomes: readonly CommandOutcome[], now: number) => void;

  constructor(db: Database.Database) {
    this.insert = db.prepare(
      `INSERT INTO run_commands (id, run_id, tenant, kind, payload, principal, created_at, state) VALUES (?, ?, ?, ?, ?, ?, ?, 'pending')`,
    );
    this.pending = db.prepare(`SELECT ${COLUMNS} FROM run_commands WHERE run_id = ? AND state = 'pending' ORDER BY seq`);
    this.get = db.prepare(`SELECT ${COLUMNS} FROM run_commands WHERE id = ?`);
    const finish = db.prepare<[string, string | null, number, string]>(
      "UPDATE run_commands SET state = ?, result = ?, done_at = ? WHERE id = ? AND state = 'pending'",
    );
    this.finishTx = db.transaction((outcomes: readonly CommandOutcome[], now: number) => {
      for (const o of outcomes) finish.run(o.state, o.result, now, o.id);
    });
  }

  enqueue(c: Omit<CommandRow, 'state' | 'result'>): void {
    this.insert.run(c.id, c.runId, c.tenant, c.kind, c.payload, c.principal, c.createdAt);
  }

  pendingOf(runId: string): CommandRow[] {
    return this.pending.all(runId).map(toCommand);
  }

  finish(outcomes: readonly CommandOutcome[], now: number): void {
    if (outcomes.length > 0) this.finishTx(outcomes, now);
  }

  byId(id: string): CommandRow | undefined {
    const r = this.get.get(id);
    return r && toCommand(r);
  }
}
