/**
 * The command-row part of the Store port (`run_commands`), against every implementation:
 * memory, SQLite on a temporary file, and Postgres (a real server when WEFT_TEST_PG_URL is
 * set, otherwise PGlite). Also checks that the Postgres notifier delivers across connections
 * and heals after its listening backend is terminated.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import pg from 'pg';
import { EVENTS_CHANNEL, MemoryStore, type CommandRow, type Store } from '@weft/engine';
import { SqliteStore } from '@weft/store-sqlite';
import { PostgresNotifier, PostgresStore } from '@weft/store-postgres';
import { createTestDatabase } from './pg.js';

const T0 = Date.UTC(2025, 0, 1);

interface Fixture {
  store: Store;
  cleanup: () => Promise<void>;
}

const factories: Record<string, () => Promise<Fixture>> = {
  memory: async () => ({ store: new MemoryStore(), cleanup: async () => {} }),
  sqlite: async () => {
    const dir = mkdtempSync(join(tmpdir(), 'weft-cmd-'));
    const store = new SqliteStore({ path: join(dir, 'weft.db') });
    return {
      store,
      cleanup: async () => {
        await store.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
  postgres: async () => {
    const db = await createTestDatabase();
    const store = new PostgresStore({ connectionString: db.url });
    return {
      store,
      cleanup: async () => {
        await store.close();
        await db.drop();
      },
    };
  },
};

function command(id: string, runId: string, at: number): Omit<CommandRow, 'state' | 'result'> {
  return {
    id,
    runId,
    tenant: 'acme',
    kind: 'pause',
    payload: JSON.stringify({ kind: 'pause', drainPolicy: 'immediate', principal: 'p' }),
    principal: 'p',
    createdAt: at,
  };
}

describe.each(Object.keys(factories))('run_commands on %s', (name) => {
  let f: Fixture;
  beforeEach(async () => {
    f = await (factories[name] as () => Promise<Fixture>)();
    await f.store.migrate();
  }, 60_000);
  afterEach(async () => {
    await f.cleanup();
  }, 60_000);

  it('returns the pending commands of one run in the order they were written', async () => {
    // Written in an order that differs from both id order and time order.
    await f.store.enqueueCommand(command('cmd_b', 'run_1', T0 + 5));
    await f.store.enqueueCommand(command('cmd_a', 'run_1', T0 + 1));
    await f.store.enqueueCommand(command('cmd_c', 'run_2', T0));
    const pending = await f.store.pendingCommands('run_1');
    expect(pending.map((c) => c.id)).toEqual(['cmd_b', 'cmd_a']);
    expect(pending[0]).toEqual({ ...command('cmd_b', 'run_1', T0 + 5), state: 'pending', result: null });
  });

  it('records an outcome once: a finished row leaves the pending list and is not overwritten', async () => {
    await f.store.enqueueCommand(command('cmd_1', 'run_1', T0));
    await f.store.enqueueCommand(command('cmd_2', 'run_1', T0));
    await f.store.finishCommands(
      [
        { id: 'cmd_1', state: 'done', result: '{"runId":"run_1","status":"paused"}' },
        { id: 'cmd_2', state: 'failed', result: '{"code":"run_state_conflict"}' },
      ],
      T0 + 10,
    );
    expect(await f.store.pendingCommands('run_1')).toEqual([]);
    await f.store.finishCommands([{ id: 'cmd_1', state: 'failed', result: '{"code":"service_unavailable"}' }], T0 + 20);
    expect(await f.store.getCommand('cmd_1')).toMatchObject({ state: 'done', result: '{"runId":"run_1","status":"paused"}' });
    expect(await f.store.getCommand('cmd_2')).toMatchObject({ state: 'failed', result: '{"code":"run_state_conflict"}' });
    expect(await f.store.getCommand('cmd_missing')).toBeUndefined();
  });

  it.skipIf(name === 'memory')('a pending idempotency claim is free once its process stops heartbeating, not after the pending TTL', async () => {
    const ttl = 5000;
    await f.store.renewLeases('proc-a', ttl, T0);
    const claim = { tenant: 'acme', route: 'POST /v1/runs', key: 'k1', requestHash: 'h1', owner: 'o1', now: T0, pendingTtlMs: 60_000, retentionMs: 86_400_000 };
    expect(await f.store.claimIdempotency(claim)).toEqual({ kind: 'claimed' });
    // proc-a is live: the key is in flight.
    expect(await f.store.claimIdempotency({ ...claim, owner: 'o2', now: T0 + ttl - 1, process: 'proc-b' })).toEqual({ kind: 'in-flight' });
    // proc-a's heartbeat expired (killed): the key is usable at once, long before 60 s.
    await f.store.renewLeases('proc-b', ttl, T0 + ttl);
    expect(await f.store.claimIdempotency({ ...claim, owner: 'o3', now: T0 + ttl + 1, process: 'proc-b' })).toEqual({ kind: 'claimed' });
    // The key now belongs to live proc-b.
    expect(await f.store.claimIdempotency({ ...claim, owner: 'o4', now: T0 + ttl + 2, process: 'proc-c' })).toEqual({ kind: 'in-flight' });
  });

  it('refuses a duplicate command id', async () => {
    await f.store.enqueueCommand(command('cmd_1', 'run_1', T0));
    await expect(f.store.enqueueCommand(command('cmd_1', 'run_2', T0))).rejects.toThrow();
    expect((await f.store.getCommand('cmd_1'))?.runId).toBe('run_1');
  });
});

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
