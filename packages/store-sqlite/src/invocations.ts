/**
 * `invocation_log` on SQLite: the {@link InvocationStore} port, kept apart from the store class
 * like the command rows. Statement texts come from `@weft/store-kit`; each method is one or two
 * statements on SQLite's single writer.
 */
import type Database from 'better-sqlite3';
import type { InvocationClaim, InvocationRecord, InvocationStore } from '@weft/engine';
import { claimValues, invocationStatements, sqliteDialect, toInvocation, type InvocationRow } from '@weft/store-kit';

const SQL = invocationStatements(sqliteDialect);

/** Prepared statements for the invocation log of one database (prepare after migrating). */
export class SqliteInvocations implements InvocationStore {
  private readonly claim: Database.Statement<unknown[], { calls: number }>;
  private readonly get: Database.Statement<[string], InvocationRow<number>>;
  private readonly record: Database.Statement<[string, string, number, string]>;
  private readonly release: Database.Statement<[string]>;
  private readonly list: Database.Statement<[string], InvocationRow<number>>;
  private readonly purge: Database.Statement<[number]>;

  constructor(db: Database.Database) {
    this.claim = db.prepare(SQL.claim);
    this.get = db.prepare(SQL.get);
    this.record = db.prepare(SQL.record);
    this.release = db.prepare(SQL.release);
    this.list = db.prepare(SQL.list);
    this.purge = db.prepare(SQL.purge);
  }

  async claimInvocation(r: Omit<InvocationRecord, 'state' | 'outcome' | 'calls' | 'updatedAt'>): Promise<InvocationClaim> {
    const claimed = this.claim.get(...claimValues(r));
    if (claimed) return { kind: 'claimed', calls: claimed.calls };
    const row = this.get.get(r.id);
    if (!row) throw new Error(`invocation ${r.id} vanished while claimed`);
    return { kind: 'recorded', record: toInvocation(row) };
  }

  async recordInvocation(id: string, state: 'done' | 'failed', outcome: string, now: number): Promise<void> {
    this.record.run(state, outcome, now, id);
  }

  async releaseInvocation(id: string): Promise<void> {
    this.release.run(id);
  }

  async listInvocations(runId: string): Promise<InvocationRecord[]> {
    return this.list.all(runId).map(toInvocation);
  }

  async purgeExpiredInvocations(now: number): Promise<number> {
    return this.purge.run(now).changes;
  }
}
