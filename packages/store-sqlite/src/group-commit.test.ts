/**
 * Group commit (decision 0027): writes of one event-loop turn share one transaction, each in its
 * own savepoint. What must hold: a promise settles only after the COMMIT carrying its rows; a
 * failing write (stale lease, duplicate run) rolls back only itself; a lost shared transaction
 * retries every write alone; the run.created audit rider commits with its run or not at all.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LeaseLostError } from '@weft/engine';
import type { AuditRider } from '@weft/store-kit';
import { T0, auditEntry, event, projection, runRecord as run } from '@weft/testkit';
import { GroupCommit } from './group-commit.js';
import { SqliteStore } from './sqlite-store.js';

let dir: string;
let file: string;
const open: { close(): unknown }[] = [];

async function openStore(): Promise<SqliteStore> {
  const store = new SqliteStore({ path: file });
  open.push(store);
  await store.migrate();
  return store;
}

/** A second connection on the file: it sees only committed rows. */
function reader(): Database.Database {
  const db = new Database(file, { readonly: true });
  open.push(db);
  return db;
}

const count = (db: Database.Database, sql: string, ...args: unknown[]): number => (db.prepare(sql).get(...args) as { n: number }).n;

/** A rider writing one audit entry continuing the store's tip. */
function auditRider(): AuditRider {
  let seq = -1;
  return {
    kind: 'audit',
    taken: false,
    get afterSeq() {
      return seq;
    },
    committedSeq: -1,
    build(state, r) {
      seq = state.tip?.seq ?? -1;
      const prev = state.tip?.hash ?? null;
      return { entries: [auditEntry(seq + 1, prev, { target: r.runId, hash: `h-${r.runId}` })] };
    },
  };
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'weft-group-commit-'));
  file = join(dir, 'weft.db');
});

afterEach(async () => {
  for (const s of open.splice(0).reverse()) await s.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('group commit', () => {
  it('commits the writes of one turn in one transaction, and a promise resolves only once its rows are committed', async () => {
    const store = await openStore();
    const db = reader();
    const groupsBefore = store.groupCommit.stats.groups;
    const created = Array.from({ length: 20 }, (_, i) => store.createRun(run(`r${i}`)));
    // Submitted, not yet committed: another connection sees none of them.
    expect(count(db, 'SELECT count(*) AS n FROM runs')).toBe(0);
    let seenAtResolve = -1;
    await Promise.all(created.map((p) => p.then(() => void (seenAtResolve = Math.max(seenAtResolve, count(db, 'SELECT count(*) AS n FROM runs'))))));
    expect(seenAtResolve).toBe(20);
    expect(store.groupCommit.stats.groups).toBe(groupsBefore + 1);
  });

  it('rejects only the write whose lease is stale; the others in the same group commit', async () => {
    const store = await openStore();
    for (const id of ['a', 'b', 'c']) await store.createRun(run(id));
    const ea = (await store.claimRun('a', 'w', 1000, T0)) as number;
    const eb = (await store.claimRun('b', 'w', 1000, T0)) as number;
    const ec = (await store.claimRun('c', 'w', 1000, T0)) as number;
    const results = await Promise.allSettled([
      store.appendEvents('a', ea, [event(0), event(1)], projection('running', 1)),
      store.appendEvents('b', eb + 7, [event(0)], projection('running', 0)),
      store.appendEvents('c', ec, [event(0)], projection('completed', 0)),
      // A sequence gap on a run that the group already appended to: only this one fails.
      store.appendEvents('a', ea, [event(5)], projection('running', 5)),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'rejected']);
    expect((results[1] as PromiseRejectedResult).reason).toBeInstanceOf(LeaseLostError);
    expect((await store.readEvents('a', -1, 10)).map((e) => e.sequence)).toEqual([0, 1]);
    expect(await store.readEvents('b', -1, 10)).toEqual([]);
    expect((await store.getRunInternal('c'))?.projection.status).toBe('completed');
  });

  it('a duplicate run in a group fails alone, and its audit rider is neither written nor taken', async () => {
    const store = await openStore();
    await store.createRun(run('dup'));
    const ok = auditRider();
    const bad = auditRider();
    const results = await Promise.allSettled([store.createRun(run('fresh'), undefined, ok), store.createRun(run('dup'), undefined, bad)]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected']);
    expect(ok.taken).toBe(true);
    expect(bad.taken).toBe(false);
    const entries = await store.readAuditEntries(0, 100, 100);
    expect(entries.map((e) => e.target)).toEqual(['fresh']);
  });

  it('writes the audit rider in the run creation transaction, chained across the group', async () => {
    const store = await openStore();
    const riders = Array.from({ length: 5 }, () => auditRider());
    await Promise.all(riders.map((r, i) => store.createRun(run(`x${i}`), undefined, r)));
    expect(riders.every((r) => r.taken)).toBe(true);
    const entries = await store.readAuditEntries(0, 100, 100);
    expect(entries.map((e) => [e.seq, e.target])).toEqual(riders.map((_, i) => [i, `x${i}`]));
    for (let i = 1; i < entries.length; i++) expect(entries[i]?.prevHash).toBe(entries[i - 1]?.hash);
  });

  it('retries every write alone when the shared transaction is lost, so none is lost or doubled', async () => {
    const db = new Database(join(dir, 'raw.db'));
    open.push(db);
    db.exec('CREATE TABLE t (k TEXT PRIMARY KEY)');
    const gc = new GroupCommit(db);
    const insert = db.transaction((k: string) => db.prepare('INSERT INTO t (k) VALUES (?)').run(k));
    let sabotaged = false;
    const writes = ['a', 'b', 'c'].map((k) =>
      gc.submit(() => {
        if (k === 'b' && !sabotaged && db.inTransaction) {
          // As SQLite does on some I/O errors: the whole transaction is rolled back under the write.
          sabotaged = true;
          db.exec('ROLLBACK');
          throw new Error('disk I/O error');
        }
        return insert(k);
      }),
    );
    await Promise.all(writes);
    expect(gc.stats.fallbacks).toBe(1);
    expect(db.prepare('SELECT k FROM t ORDER BY k').pluck().all()).toEqual(['a', 'b', 'c']);
  });
});
