/**
 * The run.created audit entry written in the run's own creation transaction (SQLite group
 * commit, decision 0027), mixed with ordinary batched appends and count-based checkpoints:
 * the chain and every checkpoint stay verifiable; a store that does not take the rider (memory)
 * gets the entry appended afterwards.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryHostStore } from '@weft/store-kit';
import { SqliteStore } from '@weft/store-sqlite';
import { runRecord } from '@weft/testkit';
import { AuditLog, type AuditRecord } from './audit-log.js';

const key = generateKeyPairSync('ed25519');
const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

const created = (runId: string): AuditRecord => ({ tenant: 't1', principal: 'alice', action: 'run.created', target: runId, details: { workflowId: 'wf' } });

async function sqlite(): Promise<SqliteStore> {
  const dir = mkdtempSync(join(tmpdir(), 'weft-audit-rider-'));
  const store = new SqliteStore({ path: join(dir, 'weft.db') });
  await store.migrate();
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  cleanup.push(() => store.close());
  return store;
}

describe('audit rider', () => {
  it('chains concurrent run creations and ordinary appends into one verifiable log with checkpoints every 5 entries', async () => {
    const store = await sqlite();
    const log = await AuditLog.open(store, { signingKey: key, checkpointEntries: 5, checkpointSeconds: 3600, timers: false });
    const work: Promise<unknown>[] = [];
    for (let i = 0; i < 40; i++) {
      const runId = `run_${i}`;
      const rider = log.rider((r) => created(r.runId));
      work.push(store.createRun(runRecord(runId), undefined, rider).then(() => log.settle(rider, created(runId))));
      if (i % 7 === 0) work.push(log.append({ tenant: 't1', principal: 'alice', action: 'run.cancelled', target: runId }));
    }
    await Promise.all(work);
    const entries = await store.readAuditEntries(0, 1000, 1000);
    expect(entries.map((e) => e.seq)).toEqual(entries.map((_, i) => i));
    expect(entries.filter((e) => e.action === 'run.created')).toHaveLength(40);
    expect(log.lastSeq).toBe(entries.length - 1);
    const result = await log.verify(0, entries.length - 1);
    expect(result).toMatchObject({ chainValid: true, checkpointsValid: true, anomalies: [] });
    expect(result.checkpoints.length).toBe(Math.floor(entries.length / 5));
    // A reopened log (as after a restart) continues the same chain.
    const again = await AuditLog.open(store, { signingKey: key, checkpointEntries: 5, checkpointSeconds: 3600, timers: false });
    await again.append(created('after-restart'));
    expect((await again.verify(0, again.lastSeq)).chainValid).toBe(true);
  });

  it('commits the entry with the run: a failed creation leaves no entry, and the log goes on', async () => {
    const store = await sqlite();
    const log = await AuditLog.open(store, { signingKey: key, checkpointEntries: 1000, checkpointSeconds: 3600, timers: false });
    await store.createRun(runRecord('dup'));
    const bad = log.rider((r) => created(r.runId));
    const good = log.rider((r) => created(r.runId));
    const results = await Promise.allSettled([store.createRun(runRecord('dup'), undefined, bad), store.createRun(runRecord('ok'), undefined, good)]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'fulfilled']);
    await log.settle(good, created('ok'));
    expect((await store.readAuditEntries(0, 10, 10)).map((e) => e.target)).toEqual(['ok']);
    await log.append(created('next'));
    expect((await log.verify(0, log.lastSeq)).chainValid).toBe(true);
  });

  it('appends the entry afterwards when the store does not take the rider', async () => {
    const store = new MemoryHostStore();
    const log = await AuditLog.open(store, { signingKey: key, checkpointEntries: 1000, checkpointSeconds: 3600, timers: false });
    const rider = log.rider((r) => created(r.runId));
    await store.createRun(runRecord('m1'), undefined, rider);
    expect(rider.taken).toBe(false);
    const entry = await log.settle(rider, created('m1'));
    expect(entry).toMatchObject({ seq: 0, target: 'm1' });
    expect((await log.verify(0, 0)).chainValid).toBe(true);
  });
});
