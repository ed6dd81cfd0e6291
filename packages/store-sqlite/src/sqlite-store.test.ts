/**
 * SQLite specifics the shared Store contract cannot see: durability across reopen, pragmas,
 * two connections on one file, and the migrator's bookkeeping. Behaviour through the port
 * is covered by the contract suite in @weft/testkit.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LeaseLostError } from '@weft/engine';
import { T0, runRecord as run } from '@weft/testkit';
import { SqliteStore } from './sqlite-store.js';
import { applyMigrations, loadMigrations, MigrationError, type Migration } from './migrator.js';

let dir: string;
let file: string;
const open: SqliteStore[] = [];

async function openStore(): Promise<SqliteStore> {
  const store = new SqliteStore({ path: file });
  open.push(store);
  await store.migrate();
  return store;
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'weft-sqlite-spec-'));
  file = join(dir, 'weft.db');
});

afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('SqliteStore', () => {
  it('keeps runs, events and timers across a reopen', async () => {
    const a = await openStore();
    await a.createRun(run('r1'));
    const epoch = (await a.claimRun('r1', 'w1', 1000, T0)) as number;
    await a.appendEvents(
      'r1',
      epoch,
      [{ sequence: 0, type: 'run.started', json: '{"sequence":0}' }],
      { status: 'running', lastSequence: 0, nodeExecutions: 0, nodeStates: {} },
      { set: [{ runId: 'r1', key: 'd', fireAt: T0 + 5 }] },
    );
    await a.close();

    const b = await openStore();
    expect((await b.getRunInternal('r1'))?.projection.status).toBe('running');
    expect(await b.readEvents('r1', -1, 10)).toEqual([{ sequence: 0, type: 'run.started', json: '{"sequence":0}' }]);
    expect(await b.nextTimerAt()).toBe(T0 + 5);
    // The log continues where it stopped, under the same lease.
    await b.appendEvents('r1', epoch, [{ sequence: 1, type: 'run.completed', json: '{}' }], {
      status: 'completed',
      lastSequence: 1,
      nodeExecutions: 0,
      nodeStates: {},
    });
    expect((await b.getRunInternal('r1'))?.leaseOwner).toBeNull();
  });

  it('opens the file in WAL mode', async () => {
    await openStore();
    // journal_mode=WAL is persistent, so a fresh connection reports it.
    const raw = new Database(file, { readonly: true });
    try {
      expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
    } finally {
      raw.close();
    }
  });

  it('works on a private in-memory database', async () => {
    const store = new SqliteStore({ path: ':memory:' });
    open.push(store);
    await store.migrate();
    await store.createRun(run('r1'));
    expect((await store.getRun('t1', 'r1'))?.runId).toBe('r1');
  });

  it('fences a second connection on the same file', async () => {
    const a = await openStore();
    const b = await openStore();
    await a.createRun(run('r1'));
    const stale = (await a.claimRun('r1', 'host-a', 1000, T0)) as number;
    // Host b sees host a's lease and has to force it.
    expect(await b.claimRun('r1', 'host-b', 1000, T0 + 1)).toBeNull();
    expect(await b.claimRun('r1', 'host-b', 1000, T0 + 1, true)).toBe(stale + 1);
    await expect(a.appendEvents('r1', stale, [{ sequence: 0, type: 'x', json: '{}' }], run('r1').projection)).rejects.toBeInstanceOf(LeaseLostError);
    expect(await b.readEvents('r1', -1, 10)).toEqual([]);
  });

  it('rejects a duplicate run with a readable error', async () => {
    const store = await openStore();
    await store.createRun(run('r1'));
    await expect(store.createRun(run('r1'))).rejects.toThrow('duplicate run r1');
  });
});

describe('SQLite migrator', () => {
  it('loads the numbered migrations in order', () => {
    const ms = loadMigrations();
    expect(ms.length).toBeGreaterThan(0);
    expect(ms[0]?.name).toBe('0001_init.sql');
    expect(ms.map((m) => m.version)).toEqual([...ms.map((m) => m.version)].sort((x, y) => x - y));
    for (const m of ms) expect(m.checksum).toMatch(/^[0-9a-f]{64}$/);
  });

  it('applies each migration once and records it', () => {
    const db = new Database(':memory:');
    try {
      const ms = loadMigrations();
      expect(applyMigrations(db, ms)).toBe(ms.length);
      expect(applyMigrations(db, ms)).toBe(0);
      const rows = db.prepare<[], { version: number; name: string }>('SELECT version, name FROM schema_migrations ORDER BY version').all();
      expect(rows).toEqual(ms.map((m) => ({ version: m.version, name: m.name })));
    } finally {
      db.close();
    }
  });

  it('refuses a landed migration whose file was edited', () => {
    const db = new Database(':memory:');
    try {
      const ms = loadMigrations();
      applyMigrations(db, ms);
      const first = ms[0] as Migration;
      const edited: Migration[] = [{ ...first, sql: `${first.sql}\n-- edited`, checksum: 'f'.repeat(64) }, ...ms.slice(1)];
      expect(() => applyMigrations(db, edited)).toThrow(MigrationError);
    } finally {
      db.close();
    }
  });

  it('rolls back a failing migration entirely', () => {
    const db = new Database(':memory:');
    try {
      const bad: Migration = { version: 9999, name: '9999_bad.sql', sql: 'CREATE TABLE half_done (x INTEGER); SELECT * FROM no_such_table;', checksum: 'x' };
      expect(() => applyMigrations(db, [...loadMigrations(), bad])).toThrow();
      const tables = db
        .prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'table'")
        .all()
        .map((t) => t.name);
      expect(tables).not.toContain('half_done');
      expect(tables).not.toContain('runs');
    } finally {
      db.close();
    }
  });
});
