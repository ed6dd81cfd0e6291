/**
 * The retention contract: a sweep deletes terminal runs that ended before the cutoff — row,
 * events, timers, commands and invocation records — oldest first and at most `limit` per call,
 * leaves a tenant-bound tombstone for each, and never touches a live or recently ended run.
 */
import { describe, expect, it } from 'vitest';
import type { Store } from '@weft/engine';
import { T0, freshStorePerTest, type PortFactory } from './fixtures.js';
import { event, iso, projection, runRecord } from './records.js';

const DAY = 86_400_000;

/** Registers the retention contract for one implementation; `factory` runs before every test. */
export function defineRetentionStoreContract(name: string, factory: PortFactory<Store>): void {
  describe(`RetentionStore contract: ${name}`, () => {
    let store: Store;
    freshStorePerTest(factory, (s) => {
      store = s;
    });

    /** A run created at `created`, ended at `ended` (or still running), with events, a timer, a command and an invocation. */
    async function seed(runId: string, created: number, ended: number | undefined, tenant = 't1'): Promise<void> {
      await store.createRun(runRecord(runId, { tenant, createdAt: iso(created) }));
      const epoch = (await store.claimRun(runId, 'owner', 30_000, created)) as number;
      const status = ended === undefined ? 'running' : 'completed';
      await store.appendEvents(runId, epoch, [event(0, 'run.started'), event(1)], projection(status, 1, ended === undefined ? {} : { endedAt: iso(ended) }), {
        set: ended === undefined ? [{ runId, key: 'deadline', fireAt: created + DAY }] : [],
      });
      await store.enqueueCommand({ id: `cmd_${runId}`, runId, tenant, kind: 'pause', payload: '{}', principal: 'p', createdAt: created });
      await store.claimInvocation({
        id: `inv_${runId}`,
        tenant,
        runId,
        nodeId: 'n1',
        ordinal: 0,
        providerKey: 'http:GET',
        attempt: 0,
        createdAt: created,
        expiresAt: created + 30 * DAY,
      });
    }

    it('deletes terminal runs ended before the cutoff with everything they own, and leaves tenant-bound tombstones', async () => {
      await seed('old', T0, T0 + 1_000);
      await seed('old-b', T0 + 5, T0 + 2_000, 't2');
      await seed('live', T0, undefined);
      await seed('recent', T0, T0 + 9 * DAY); // created long ago, ended recently: kept
      await seed('young', T0 + 9 * DAY, T0 + 9 * DAY + 1);
      const cutoff = T0 + 7 * DAY;
      const removed = await store.expireRuns(cutoff, 100, T0 + 10 * DAY);
      expect(removed).toEqual([
        { runId: 'old', tenant: 't1', expiredAt: T0 + 10 * DAY },
        { runId: 'old-b', tenant: 't2', expiredAt: T0 + 10 * DAY },
      ]);
      expect(await store.getRun('t1', 'old')).toBeUndefined();
      expect(await store.getRunInternal('old-b')).toBeUndefined();
      expect(await store.readEvents('old', -1, 100)).toEqual([]);
      expect(await store.pendingCommands('old')).toEqual([]);
      expect(await store.listInvocations('old')).toEqual([]);
      expect(await store.getExpiredRun('t1', 'old')).toEqual({ runId: 'old', tenant: 't1', expiredAt: T0 + 10 * DAY });
      // Tombstones are tenant-bound: another tenant's lookup is indistinguishable from a miss.
      expect(await store.getExpiredRun('t1', 'old-b')).toBeUndefined();
      expect(await store.getExpiredRun('t2', 'old-b')).toMatchObject({ runId: 'old-b' });
      expect(await store.getExpiredRun('t1', 'live')).toBeUndefined();
      for (const kept of ['live', 'recent', 'young']) {
        expect((await store.getRun('t1', kept))?.runId).toBe(kept);
        expect(await store.readEvents(kept, -1, 100)).toHaveLength(2);
      }
      expect((await store.listDueTimers(T0 + 30 * DAY, 10)).map((t) => t.runId)).toEqual(['live']);
      expect(await store.expireRuns(cutoff, 100, T0 + 11 * DAY)).toEqual([]);
    });

    it('takes the oldest first, at most limit per call', async () => {
      await seed('r3', T0 + 3, T0 + 30);
      await seed('r1', T0 + 1, T0 + 10);
      await seed('r2', T0 + 2, T0 + 20);
      const cutoff = T0 + DAY;
      expect((await store.expireRuns(cutoff, 2, T0 + 2 * DAY)).map((r) => r.runId)).toEqual(['r1', 'r2']);
      expect((await store.expireRuns(cutoff, 2, T0 + 2 * DAY)).map((r) => r.runId)).toEqual(['r3']);
      expect(await store.expireRuns(cutoff, 2, T0 + 2 * DAY)).toEqual([]);
    });
  });
}
