/**
 * `run_commands` on Postgres: the command rows of the {@link Store} port, kept apart from
 * the store class so the shared SQL plumbing can move without touching them. Every method
 * is one statement.
 */
import type pg from 'pg';
import type { CommandOutcome, CommandRow } from '@weft/engine';

/** Runs a named prepared statement (the store's pooled, error-classifying query). */
export type PgQuery = <R extends pg.QueryResultRow>(name: `cmd_${string}`, text: string, values: unknown[]) => Promise<pg.QueryResult<R>>;

interface CommandDbRow {
  id: string;
  run_id: string;
  tenant: string;
  kind: string;
  payload: string;
  principal: string;
  created_at: string;
  state: CommandRow['state'];
  result: string | null;
}

const COLUMNS = 'id, run_id, tenant, kind, payload, principal, created_at, state, result';

const SQL = {
  insert: `INSERT INTO run_commands (id, run_id, tenant, kind, payload, principal, created_at, state) VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending')`,
  pending: `SELECT ${COLUMNS} FROM run_commands WHERE run_id = $1 AND state = 'pending' ORDER BY seq`,
  get: `SELECT ${COLUMNS} FROM run_commands WHERE id = $1`,
  finish: `
    UPDATE run_commands c SET state = o.state, result = o.result, done_at = $4
    FROM unnest($1::text[], $2::text[], $3::text[]) AS o(id, state, result)
    WHERE c.id = o.id AND c.state = 'pending'`,
} as const;

function toCommand(r: CommandDbRow): CommandRow {
  return {
    id: r.id,
    runId: r.run_id,
    tenant: r.tenant,
    kind: r.kind,
    payload: r.payload,
    principal: r.principal,
    createdAt: Number(r.created_at),
    state: r.state,
    result: r.result,
  };
}

/** The command-row statements, run through the store's query function. */
export class PgCommands {
  constructor(private readonly q: PgQuery) {}

  async enqueue(c: Omit<CommandRow, 'state' | 'result'>): Promise<void> {
    await this.q('cmd_insert', SQL.insert, [c.id, c.runId, c.tenant, c.kind, c.payload, c.principal, c.createdAt]);
  }

  async pendingOf(runId: string): Promise<CommandRow[]> {
    const { rows } = await this.q<CommandDbRow>('cmd_pending', SQL.pending, [runId]);
    return rows.map(toCommand);
  }

  async finish(outcomes: readonly CommandOutcome[], now: number): Promise<void> {
    if (outcomes.length === 0) return;
    await this.q('cmd_finish', SQL.finish, [outcomes.map((o) => o.id), outcomes.map((o) => o.state), outcomes.map((o) => o.result), now]);
  }

  async byId(id: string): Promise<CommandRow | undefined> {
    const { rows } = await this.q<CommandDbRow>('cmd_get', SQL.get, [id]);
    return rows[0] && toCommand(rows[0]);
  }
}
