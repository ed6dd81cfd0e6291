/**
 * `run_commands` on SQLite: the command rows of the {@link Store} port, kept apart from the
 * store class so the shared SQL plumbing can move without touching them. The texts and row
 * mapper both stores share come from `@weft/store-kit`; only the finishing update is
 * dialect-specific.
 */
import type Database from 'better-sqlite3';
import type { CommandOutcome, CommandRow } from '@weft/engine';
import { type CommandDbRow, sharedStatements, sqliteDialect, toCommand } from '@weft/store-kit';

const SQL = sharedStatements(sqliteDialect);

/** Prepared statements for the command rows of one database (prepare after migrating). */
export class SqliteCommands {
  private readonly insert: Database.Statement<[string, string, string, string, string, string, number]>;
  private readonly pending: Database.Statement<[string], CommandDbRow<number>>;
  private readonly get: Database.Statement<[string], CommandDbRow<number>>;
  private readonly finishTx: (outcomes: readonly CommandOutcome[], now: number) => void;

  constructor(db: Database.Database) {
    this.insert = db.prepare(SQL.commandInsert);
    this.pending = db.prepare(SQL.commandsPending);
    this.get = db.prepare(SQL.commandGet);
    const finish = db.prepare<[string, string | null, number, string]>(
      "UPDATE run_commands SET state = ?, result = ?, done_at = ? WHERE id = ? AND state = 'pending'",
    );
    this.finishTx = db.transaction((outcomes: readonly CommandOutcome[], now: number) => {
      for (const o of outcomes) finish.run(o.state, o.result, now, o.id);
    });
  }

  enqueue(c: Omit<CommandRow, 'state' | 'result'>): boolean {
    return this.insert.run(c.id, c.runId, c.tenant, c.kind, c.payload, c.principal, c.createdAt).changes === 1;
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
