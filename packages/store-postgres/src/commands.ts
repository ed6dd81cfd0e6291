/**
 * `run_commands` on Postgres: the command rows of the {@link Store} port, kept apart from
 * the store class so the shared SQL plumbing can move without touching them. The texts and
 * row mapper both stores share come from `@weft/store-kit`; only the finishing update is
 * dialect-specific. Every method is one statement.
 */
import type pg from 'pg';
import type { CommandOutcome, CommandRow } from '@weft/engine';
import { type CommandDbRow, postgresDialect, sharedStatements, toCommand } from '@weft/store-kit';

/** Runs a named prepared statement (the store's pooled, error-classifying query). */
export type PgQuery = <R extends pg.QueryResultRow>(name: `cmd_${string}`, text: string, values: unknown[]) => Promise<pg.QueryResult<R>>;

const SHARED = sharedStatements(postgresDialect);

const SQL = {
  insert: SHARED.commandInsert,
  pending: SHARED.commandsPending,
  get: SHARED.commandGet,
  finish: `
    UPDATE run_commands c SET state = o.state, result = o.result, done_at = $4
    FROM unnest($1::text[], $2::text[], $3::text[]) AS o(id, state, result)
    WHERE c.id = o.id AND c.state = 'pending'`,
} as const;

/** The command-row statements, run through the store's query function. */
export class PgCommands {
  constructor(private readonly q: PgQuery) {}

  async enqueue(c: Omit<CommandRow, 'state' | 'result'>): Promise<boolean> {
    const r = await this.q('cmd_insert', SQL.insert, [c.id, c.runId, c.tenant, c.kind, c.payload, c.principal, c.createdAt]);
    return r.rowCount === 1;
  }

  async pendingOf(runId: string): Promise<CommandRow[]> {
    const { rows } = await this.q<CommandDbRow<string>>('cmd_pending', SQL.pending, [runId]);
    return rows.map(toCommand);
  }

  async finish(outcomes: readonly CommandOutcome[], now: number): Promise<void> {
    if (outcomes.length === 0) return;
    await this.q('cmd_finish', SQL.finish, [outcomes.map((o) => o.id), outcomes.map((o) => o.state), outcomes.map((o) => o.result), now]);
  }

  async byId(id: string): Promise<CommandRow | undefined> {
    const { rows } = await this.q<CommandDbRow<string>>('cmd_get', SQL.get, [id]);
    return rows[0] && toCommand(rows[0]);
  }
}
