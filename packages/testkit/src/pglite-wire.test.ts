/**
 * The PGlite wire server keeps connections from interleaving inside each other's exchanges
 * and transactions (the cause of cross-talk and `portal "" does not exist` under load).
 */
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgliteWireServer } from './pglite-wire.js';

let db: PGlite;
let server: PgliteWireServer;
const errors: Error[] = [];

beforeAll(async () => {
  db = await PGlite.create();
  server = new PgliteWireServer(db);
  await server.start();
}, 60_000);

afterAll(async () => {
  await server?.stop();
  await db?.close();
});

function pool(): pg.Pool {
  const p = new pg.Pool({ connectionString: `postgres://postgres@${server.address}/postgres`, max: 8 });
  p.on('error', (e) => errors.push(e));
  p.on('connect', (c) => c.on('error', (e) => errors.push(e)));
  return p;
}

describe('PgliteWireServer', () => {
  it('answers every concurrent query with its own rows or its own error, even when large messages arrive in several chunks', async () => {
    const p = pool();
    try {
      // Every 5th statement fails: a failed exchange makes the backend skip messages up to the
      // next Sync, which is where a message-by-message adapter hands one connection's error or
      // rows to another.
      const results = await Promise.all(
        Array.from({ length: 1200 }, async (_, i) => {
          // Every 7th parameter is large enough to be split across TCP reads.
          const value = String(i).padEnd(i % 7 === 0 ? 300_000 : 8, ' ');
          const fails = i % 5 === 0;
          try {
            const sql = fails ? 'SELECT $1::text AS v, 1/0 AS n' : i % 2 ? 'SELECT $1::text AS v, 1 AS n' : 'SELECT $1::text AS v, 2 AS n, 3 AS m';
            const r = await p.query<{ v: string; n: number }>(sql, [value]);
            return !fails && r.rows[0]?.v.trim() === String(i) && r.rows[0]?.n === (i % 2 ? 1 : 2);
          } catch (e) {
            return fails && /division by zero/.test(String(e));
          }
        }),
      );
      expect(results.filter((ok) => !ok)).toHaveLength(0);
      expect(errors).toEqual([]);
    } finally {
      await p.end();
    }
  }, 60_000);

  it('keeps a transaction whole, and a statement error leaves other connections unharmed', async () => {
    const p = pool();
    try {
      await p.query('CREATE TABLE wire_t (conn INTEGER, x INTEGER)');
      await Promise.all(
        Array.from({ length: 6 }, async (_, conn) => {
          const c = await p.connect();
          try {
            await c.query('BEGIN');
            for (let x = 0; x < 5; x++) await c.query('INSERT INTO wire_t VALUES ($1, $2)', [conn, x]);
            // Inside the transaction, only this connection's uncommitted rows are visible besides committed ones.
            const mine = await c.query<{ n: number }>('SELECT count(*)::int AS n FROM wire_t WHERE conn = $1', [conn]);
            expect(mine.rows[0]?.n).toBe(5);
            if (conn % 2 === 0) await c.query('ROLLBACK');
            else await c.query('COMMIT');
            await expect(c.query('SELECT 1/0')).rejects.toThrow(/division by zero/);
          } finally {
            c.release();
          }
        }),
      );
      const { rows } = await p.query<{ conn: number }>('SELECT DISTINCT conn FROM wire_t ORDER BY conn');
      expect(rows.map((r) => r.conn)).toEqual([1, 3, 5]);
      expect(errors).toEqual([]);
    } finally {
      await p.end();
    }
  }, 60_000);

  it('rolls back the transaction of a connection that vanished inside it', async () => {
    const p = pool();
    try {
      await p.query('CREATE TABLE wire_gone (x INTEGER)');
      const c = new pg.Client({ connectionString: `postgres://postgres@${server.address}/postgres` });
      c.on('error', () => undefined);
      await c.connect();
      await c.query('BEGIN');
      await c.query('INSERT INTO wire_gone VALUES (1)');
      const gone = new Promise<void>((resolve) => c.once('end', () => resolve()));
      (c as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
      await gone;
      // The next connection gets the session once the dead one's transaction is rolled back.
      const { rows } = await p.query<{ n: number }>('SELECT count(*)::int AS n FROM wire_gone');
      expect(rows[0]?.n).toBe(0);
    } finally {
      await p.end();
    }
  }, 60_000);
});
