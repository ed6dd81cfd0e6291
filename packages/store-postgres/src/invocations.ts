/**
 * `invocation_log` on Postgres: the {@link InvocationStore} port, kept apart from the store
 * class like the command rows. Statement texts come from `@weft/store-kit`; the claim is one
 * upsert, so concurrent claimers of one id serialize on its row.
 */
import type pg from 'pg';
import type { InvocationClaim, InvocationRecord, InvocationStore } from '@weft/engine';
import { claimValues, invocationStatements, postgresDialect, toInvocation, type InvocationRow } from '@weft/store-kit';

/** Runs a named prepared statement (the store's pooled, error-classifying query). */
export type PgInvocationQuery = <R extends pg.QueryResultRow>(name: `inv_${string}`, text: string, values: unknown[]) => Promise<pg.QueryResult<R>>;

const SQL = invocationStatements(postgresDialect);

/** The invocation statements, run through the store's query function. */
export class PgInvocations implements InvocationStore {
  constructor(private readonly q: PgInvocationQuery) {}

  async claimInvocation(r: Omit<InvocationRecord, 'state' | 'outcome' | 'calls' | 'updatedAt'>): Promise<InvocationClaim> {
    const { rows } = await this.q<{ calls: number }>('inv_claim', SQL.claim, claimValues(r));
    if (rows[0]) return { kind: 'claimed', calls: Number(rows[0].calls) };
    const got = await this.q<InvocationRow<string>>('inv_get', SQL.get, [r.id]);
    if (!got.rows[0]) throw new Error(`invocation ${r.id} vanished while claimed`);
    return { kind: 'recorded', record: toInvocation(got.rows[0]) };
  }

  async recordInvocation(id: string, state: 'done' | 'failed', outcome: string, now: number): Promise<void> {
    await this.q('inv_record', SQL.record, [state, outcome, now, id]);
  }

  async releaseInvocation(id: string): Promise<void> {
    await this.q('inv_release', SQL.release, [id]);
  }

  async listInvocations(runId: string): Promise<InvocationRecord[]> {
    const { rows } = await this.q<InvocationRow<string>>('inv_list', SQL.list, [runId]);
    return rows.map(toInvocation);
  }

  async purgeExpiredInvocations(now: number): Promise<number> {
    return (await this.q('inv_purge', SQL.purge, [now])).rowCount ?? 0;
  }
}
