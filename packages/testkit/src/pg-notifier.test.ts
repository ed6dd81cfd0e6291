/**
 * The Postgres notifier against a real server: delivery across connections, and healing after
 * its listening backend is terminated. (The command rows it announces are part of the
 * RunStore contract in store-contract/runs.ts.)
 */
import { describe, expect, it } from 'vitest';
import pg from 'pg';
import { EVENTS_CHANNEL } from '@weft/engine';
import { PostgresNotifier } from '@weft/store-postgres';
import { createTestDatabase } from './pg.js';

describe.skipIf(!process.env.WEFT_TEST_PG_URL)('PostgresNotifier (real server)', () => {
  it('delivers across connections, and after its listening backend is terminated reconnects, reports a possible gap and delivers again', async () => {
    const db = await createTestDatabase();
    const listener = new PostgresNotifier({ connectionString: db.url, reconnectDelayMs: 20 });
    const sender = new PostgresNotifier({ connectionString: db.url });
    const admin = new pg.Client({ connectionString: db.url });
    try {
      await admin.connect();
      const got: string[] = [];
      let waiting: { n: number; wake: () => void } | undefined;
      const until = (n: number): Promise<void> =>
        new Promise((r) => {
          waiting = { n, wake: r };
          if (got.length >= n) r();
        });
      await listener.listen(EVENTS_CHANNEL, (p) => {
        got.push(p);
        if (waiting && got.length >= waiting.n) waiting.wake();
      });
      await sender.notify(EVENTS_CHANNEL, 'run_a:0:3');
      await until(1);
      expect(got).toEqual(['run_a:0:3']);

      // Kill the listening backend: the listener must survive (no unhandled 'error'), come
      // back, and tell its handler that notifications may have been missed.
      const { rows } = await admin.query<{ pid: number }>(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%' AND pid <> pg_backend_pid()",
      );
      expect(rows).toHaveLength(1);
      await admin.query('SELECT pg_terminate_backend($1)', [rows[0]?.pid]);
      await until(2);
      expect(got[1]).toBe('');
      await sender.notify(EVENTS_CHANNEL, 'run_a:4:4');
      await until(3);
      expect(got).toEqual(['run_a:0:3', '', 'run_a:4:4']);
    } finally {
      await admin.end().catch(() => undefined);
      await listener.close();
      await sender.close();
      await db.drop();
    }
  }, 60_000);
});
