/**
 * The test-database helper, and Postgres specifics the shared Store contract cannot see:
 * concurrent migration by several processes, the migrator's bookkeeping, and fencing
 * between two pools (two host processes) on one database. Runs against a real server when
 * WEFT_TEST_PG_URL is set, otherwise against in-process PGlite.
 */
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { LeaseLostError } from '@weft/engine';
import { T0, runRecord as run } from './store-contract/records.js';
import { PostgresStore, applyMigrations, loadMigrations, MigrationError, type Migration } from '@weft/store-postgres';
import { createTestDatabase, type TestDatabase } from './pg.js';

const onServer = Boolean(process.env.WEFT_TEST_PG_URL);

const databases: TestDatabase[] = [];
const closers: (() => Promise<void>)[] = [];

async function database(): Promise<TestDatabase> {
  const db = await createTestDatabase();
  databases.push(db);
  return db;
}

function pool(url: string): pg.Pool {
  const p = new pg.Pool({ connectionString: url, max: 4 });
  // Dropping the database terminates connections; an idle client's error must not escape.
  p.on('error', () => undefined);
  closers.push(() => p.end());
  return p;
}

function store(url: string): PostgresStore {
  const s = new PostgresStore({ connectionString: url });
  closers.push(() => s.close());
  return s;
}

afterEach(async () => {
  for (const close of closers.splice(0)) await close();
  for (const db of databases.splice(0)) await db.drop();
}, 60_000);

describe(`createTestDatabase (${onServer ? 'server' : 'pglite'})`, () => {
  it('returns an empty database that accepts connections', async () => {
    const db = await database();
    const p = pool(db.url);
    const { rows } = await p.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
    );
    expect(rows[0]?.n).toBe(0);
  });

  it('isolates databases held at the same time', async () => {
    const [a, b] = await Promise.all([database(), database()]);
    expect(a.url).not.toBe(b.url);
    const pa = pool(a.url);
    const pb = pool(b.url);
    await pa.query('CREATE TABLE marker (x INTEGER)');
    await pa.query('INSERT INTO marker VALUES (1)');
    await pb.query('CREATE TABLE marker (x INTEGER)');
    expect((await pa.query('SELECT x FROM marker')).rows).toEqual([{ x: 1 }]);
    expect((await pb.query('SELECT x FROM marker')).rows).toEqual([]);
  }, 60_000);

  it('drop removes the database and is idempotent', async () => {
    const db = await createTestDatabase();
    const p = new pg.Pool({ connectionString: db.url, max: 1 });
    p.on('error', () => undefined);
    await p.query('CREATE TABLE marker (x INTEGER)');
    await p.end();
    await db.drop();
    await db.drop();
    if (onServer) {
      const c = new pg.Client({ connectionString: db.url });
      await expect(c.connect()).rejects.toThrow(/does not exist/);
    } else {
      // PGlite: the schema is gone; the next database on this instance starts empty.
      const next = await database();
      const { rows } = await pool(next.url).query<{ r: string | null }>("SELECT to_regclass('marker')::text AS r");
      expect(rows[0]?.r).toBeNull();
    }
  });
});

describe(`PostgresStore specifics (${onServer ? 'server' : 'pglite'})`, () => {
  it('migrates safely when several processes start at once', async () => {
    const db = await database();
    const stores = [store(db.url), store(db.url), store(db.url)];
    await Promise.all(stores.map((s) => s.migrate()));
    const { rows } = await pool(db.url).query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
    expect(rows.map((r) => r.version)).toEqual(loadMigrations().map((m) => m.version));
    // Every process sees a working schema.
    await stores[0]?.createRun(run('r1'));
    expect((await stores[2]?.getRunInternal('r1'))?.runId).toBe('r1');
  });

  it('refuses a landed migration whose file was edited', async () => {
    const db = await database();
    const p = pool(db.url);
    const ms = loadMigrations();
    expect(await applyMigrations(p, ms)).toBe(ms.length);
    expect(await applyMigrations(p, ms)).toBe(0);
    const first = ms[0] as Migration;
    await expect(applyMigrations(p, [{ ...first, checksum: '0'.repeat(64) }, ...ms.slice(1)])).rejects.toBeInstanceOf(MigrationError);
  });

  it('rolls back a failing migration entirely', async () => {
    const db = await database();
    const p = pool(db.url);
    const bad: Migration = { version: 9999, name: '9999_bad.sql', sql: 'CREATE TABLE half_done (x INTEGER); SELECT * FROM no_such_table;', checksum: 'x' };
    await expect(applyMigrations(p, [...loadMigrations(), bad])).rejects.toThrow(/no_such_table/);
    const { rows } = await p.query<{ a: string | null; b: string | null }>("SELECT to_regclass('half_done')::text AS a, to_regclass('runs')::text AS b");
    expect(rows[0]).toEqual({ a: null, b: null });
  });

  it('fences a host whose lease another host took over', async () => {
    const db = await database();
    const hostA = store(db.url);
    const hostB = store(db.url);
    await hostA.migrate();
    await hostA.createRun(run('r1'));
    const stale = (await hostA.claimRun('r1', 'host-a', 1000, T0)) as number;
    expect(await hostB.claimRun('r1', 'host-b', 1000, T0 + 1)).toBeNull();
    const fresh = (await hostB.claimRun('r1', 'host-b', 1000, T0 + 1000)) as number;
    expect(fresh).toBe(stale + 1);
    await expect(hostA.appendEvents('r1', stale, [{ sequence: 0, type: 'x', json: '{}' }], run('r1').projection)).rejects.toBeInstanceOf(LeaseLostError);
    await hostB.appendEvents('r1', fresh, [{ sequence: 0, type: 'run.started', json: '{"a" :1}' }], {
      ...run('r1').projection,
      status: 'running',
      lastSequence: 0,
    });
    expect(await hostA.readEvents('r1', -1, 10)).toEqual([{ sequence: 0, type: 'run.started', json: '{"a" :1}' }]);
  });

  it('reports a duplicate run id readably and completes no idempotency record', async () => {
    const db = await database();
    const s = store(db.url);
    await s.migrate();
    await s.createRun(run('r1'));
    const c = { tenant: 't1', route: 'POST /v1/runs', key: 'k', requestHash: 'h', owner: 'o1', now: T0, pendingTtlMs: 60_000, retentionMs: 60_000 };
    expect((await s.claimIdempotency(c)).kind).toBe('claimed');
    await expect(
      s.createRun(run('r1'), { tenant: 't1', route: 'POST /v1/runs', key: 'k', owner: 'o1', response: { status: 201, body: '{}' } }),
    ).rejects.toThrow('duplicate run r1');
    expect((await s.claimIdempotency({ ...c, owner: 'o2' })).kind).toBe('in-flight');
  });

  it('grants exactly one idempotency claim across several hosts', async () => {
    const db = await database();
    const hosts = [store(db.url), store(db.url), store(db.url)];
    await hosts[0]?.migrate();
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        (hosts[i % hosts.length] as PostgresStore).claimIdempotency({
          tenant: 't1',
          route: 'POST /v1/runs',
          key: 'k',
          requestHash: 'h',
          owner: `o${i}`,
          now: T0,
          pendingTtlMs: 60_000,
          retentionMs: 60_000,
        }),
      ),
    );
    expect(results.filter((r) => r.kind === 'claimed')).toHaveLength(1);
    expect(results.filter((r) => r.kind === 'in-flight')).toHaveLength(29);
  });
});
