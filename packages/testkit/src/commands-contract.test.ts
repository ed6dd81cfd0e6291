/**
 * The command-row part of the Store port (`run_commands`), against every implementation:
 * memory, SQLite on a temporary file, and Postgres (a real server when WEFT_TEST_PG_URL is
 * set, otherwise PGlite). Also checks that a Postgres append notifies its events only once
 * committed, and that a fenced-out append notifies nothing.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EVENTS_CHANNEL, LeaseLostError, MemoryStore, type CommandRow, type Store } from '@weft/engine';
import { SqliteStore } from '@weft/store-sqlite';
import { PostgresNotifier, PostgresStore } from '@weft/store-postgres';
import { createTestDatabase } from './pg.js';

const T0 = Date.UTC(2025, 0, 1);

interface Fixture {
  store: Store;
  cleanup: () => Promise<void>;
  url?: string;
}

const factories: Record<string, () => Promise<Fixture>> = {
  memory: async () => ({ store: new MemoryStore(), cleanup: async () => {} }),
  sqlite: async () => {
    const dir = mkdtempSync(join(tmpdir(), 'weft-cmd-'));
    const store = new SqliteStore({ path: join(dir, 'weft.db') });
    return { store, cleanup: async () => { await store.close(); rmSync(dir, { recursive: true, force: true }); } };
  },
  postgres: async () => {
    const db = await createTestDatabase();
    const store = new PostgresStore({ connectionString: db.url });
    return { store, url: db.url, cleanup: async () => { await store.close(); await db.drop(); } };
  },
};

function command(id: string, runId: string, at: number): Omit<CommandRow, 'state' | 'result'> {
  return { id, runId, tenant: 'acme', kind: 'pause', payload: JSON.stringify({ kind: 'pause', drainPolicy: 'immediate', principal: 'p' }), principal: 'p', createdAt: at };
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
    await f.store.finishCommands([{ id: 'cmd_1', state: 'done', result: '{"runId":"run_1","status":"paused"}' }, { id: 'cmd_2', state: 'failed', result: '{"code":"run_state_conflict"}' }], T0 + 10);
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

describe.skipIf(!process.env.WEFT_TEST_PG_URL)('Postgres append notification (real server)', () => {
  it('an append notifies <runId>:<first>:<last> on commit; a fenced-out append notifies nothing', async () => {
    const f = await (factories.postgres as () => Promise<Fixture>)();
    const notifier = new PostgresNotifier({ connectionString: f.url as string });
    try {
      await f.store.migrate();
      const got: string[] = [];
      let wake: () => void = () => undefined;
      await notifier.listen(EVENTS_CHANNEL, (p) => {
        got.push(p);
        wake();
      });
      const proj = { status: 'running' as const, lastSequence: -1, nodeExecutions: 0, nodeStates: {} };
      await f.store.createRun({
        runId: 'run_n', tenant: 'acme', principal: 'p', workflowId: 'w', workflowHash: 'h', createdAt: new Date(T0).toISOString(),
        variables: {}, configurable: {}, tags: [], metadata: {}, cancelRequested: null, projection: proj, leaseOwner: null, leaseEpoch: 0, leaseExpiresAt: null,
      });
      const epoch = (await f.store.claimRun('run_n', 'w1', 30_000, T0)) as number;
      await expect(f.store.appendEvents('run_n', epoch + 7, [{ sequence: 0, type: 'run.started', json: '{}' }], { ...proj, lastSequence: 0 })).rejects.toBeInstanceOf(LeaseLostError);
      const arrived = new Promise<void>((r) => (wake = r));
      await f.store.appendEvents('run_n', epoch, [0, 1, 2].map((sequence) => ({ sequence, type: 'log.appended', json: '{}' })), { ...proj, lastSequence: 2 });
      await arrived;
      expect(got).toEqual(['run_n:0:2']);
    } finally {
      await notifier.close();
      await f.cleanup();
    }
  }, 60_000);
});
