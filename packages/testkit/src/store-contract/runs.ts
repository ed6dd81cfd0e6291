/**
 * The run-store contract: run rows and their projection, the event log with lease fencing,
 * cancel requests, leases, recovery and durable timers — the state one append writes together.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { LeaseLostError, type CommandRow, type EncodedEvent, type RunListQuery, type RunRecord, type RunStore } from '@weft/engine';
import { T0, TTL, event, freshStorePerTest, iso, projection, runRecord, type PortFactory } from './fixtures.js';

/**
 * Registers the RunStore contract for one implementation; `factory` runs before every test.
 *
 * @see execution-semantics.md §5
 */
export function defineRunStoreContract(name: string, factory: PortFactory<RunStore>): void {
  describe(`RunStore contract: ${name}`, () => {
    let store: RunStore;
    freshStorePerTest(factory, (s) => {
      store = s;
    });

    /** Creates a run and takes its lease; returns the epoch. */
    async function leasedRun(runId: string, over: Partial<RunRecord> = {}, owner = 'worker-1'): Promise<number> {
      await store.createRun(runRecord(runId, over));
      const epoch = await store.claimRun(runId, owner, TTL, T0);
      if (epoch === null) throw new Error(`could not lease ${runId}`);
      return epoch;
    }

    describe('runs', () => {
      it('creates a run and reads it back bound to its tenant', async () => {
        const run = runRecord('r1', { cancelRequested: null, leaseOwner: null });
        await store.createRun(run);
        expect(await store.getRun('t1', 'r1')).toEqual(run);
        // invariant: tenant-binding — a foreign tenant cannot see the run.
        expect(await store.getRun('t2', 'r1')).toBeUndefined();
        expect(await store.getRun('t1', 'missing')).toBeUndefined();
        expect(await store.getRunInternal('r1')).toEqual(run);
        expect(await store.getRunInternal('missing')).toBeUndefined();
      });

      it('keeps every field of the record, including lease and cancel state', async () => {
        const run = runRecord('r1', {
          cancelRequested: { reason: 'stop', by: 'bob' },
          leaseOwner: 'w9',
          leaseEpoch: 7,
          leaseExpiresAt: T0 + 5,
          traceContext: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', tracestate: 'vendor=é' },
          projection: projection('running', 4, {
            currentNodeId: 'n1',
            startedAt: iso(T0),
            nodeStates: { n1: { status: 'running', typeId: 'core.noop', attempt: 1 } },
          }),
        });
        await store.createRun(run);
        expect(await store.getRunInternal('r1')).toEqual(run);
      });

      it('keeps the fork link of a forked run, and a plain run has none (migration 0007)', async () => {
        const forked = runRecord('r-fork', { fork: { sourceRunId: 'r-src', fromSeq: 3, mode: 'branch' } });
        await store.createRun(forked);
        await store.createRun(runRecord('r-plain'));
        expect(await store.getRun('t1', 'r-fork')).toEqual(forked);
        expect((await store.listRuns('t1', { limit: 10 })).find((r) => r.runId === 'r-fork')?.fork).toEqual({
          sourceRunId: 'r-src',
          fromSeq: 3,
          mode: 'branch',
        });
        expect(await store.getRunInternal('r-plain')).not.toHaveProperty('fork');
      });

      it('rejects a duplicate run id and keeps the original', async () => {
        await store.createRun(runRecord('r1', { principal: 'alice' }));
        await expect(store.createRun(runRecord('r1', { principal: 'mallory' }))).rejects.toThrow();
        expect((await store.getRunInternal('r1'))?.principal).toBe('alice');
      });

      it('lists one tenant’s runs newest first with the run id breaking ties', async () => {
        await store.createRun(runRecord('r-old', { createdAt: iso(T0) }));
        await store.createRun(runRecord('r-a', { createdAt: iso(T0 + 1000) }));
        await store.createRun(runRecord('r-b', { createdAt: iso(T0 + 1000) }));
        await store.createRun(runRecord('r-new', { createdAt: iso(T0 + 2000) }));
        await store.createRun(runRecord('r-foreign', { tenant: 't2', createdAt: iso(T0 + 3000) }));
        const ids = (await store.listRuns('t1', { limit: 10 })).map((r) => r.runId);
        expect(ids).toEqual(['r-new', 'r-b', 'r-a', 'r-old']);
        expect((await store.listRuns('t1', { limit: 2 })).map((r) => r.runId)).toEqual(['r-new', 'r-b']);
        expect((await store.listRuns('t2', { limit: 10 })).map((r) => r.runId)).toEqual(['r-foreign']);
        expect(await store.listRuns('t3', { limit: 10 })).toEqual([]);
      });

      it('filters runs by status and by workflow id', async () => {
        await store.createRun(runRecord('r1', { workflowId: 'wf-a', projection: projection('running'), createdAt: iso(T0 + 1) }));
        await store.createRun(runRecord('r2', { workflowId: 'wf-b', projection: projection('running'), createdAt: iso(T0 + 2) }));
        await store.createRun(runRecord('r3', { workflowId: 'wf-a', projection: projection('completed'), createdAt: iso(T0 + 3) }));
        await store.createRun(runRecord('r4', { tenant: 't2', workflowId: 'wf-a', projection: projection('running'), createdAt: iso(T0 + 4) }));
        const ids = async (q: RunListQuery): Promise<string[]> => (await store.listRuns('t1', q)).map((r) => r.runId);
        expect(await ids({ limit: 10, status: 'running' })).toEqual(['r2', 'r1']);
        expect(await ids({ limit: 10, workflowId: 'wf-a' })).toEqual(['r3', 'r1']);
        expect(await ids({ limit: 10, workflowId: 'wf-a', status: 'running' })).toEqual(['r1']);
        expect(await ids({ limit: 10, status: 'failed' })).toEqual([]);
      });

      it('filters on the current projection status after appends', async () => {
        const epoch = await leasedRun('r1');
        await store.appendEvents('r1', epoch, [event(0, 'run.started')], projection('running', 0));
        expect((await store.listRuns('t1', { limit: 10, status: 'running' })).map((r) => r.runId)).toEqual(['r1']);
        expect(await store.listRuns('t1', { limit: 10, status: 'pending' })).toEqual([]);
      });

      it('pages through runs with the keyset cursor without gaps or repeats', async () => {
        const expected: string[] = [];
        for (let i = 0; i < 7; i++) {
          // Pairs share a timestamp so the cursor must use the run id as well.
          const id = `run-${String(i).padStart(2, '0')}`;
          await store.createRun(runRecord(id, { createdAt: iso(T0 + Math.floor(i / 2) * 1000) }));
          expected.unshift(id);
        }
        const seen: string[] = [];
        let before: { createdAt: string; runId: string } | undefined;
        for (let page = 0; page < 10; page++) {
          const rows = await store.listRuns('t1', before ? { limit: 3, before } : { limit: 3 });
          if (rows.length === 0) break;
          expect(rows.length).toBeLessThanOrEqual(3);
          seen.push(...rows.map((r) => r.runId));
          const last = rows[rows.length - 1] as RunRecord;
          before = { createdAt: last.createdAt, runId: last.runId };
        }
        expect(seen).toEqual(expected);
        // The cursor also combines with filters.
        const filtered = await store.listRuns('t1', { limit: 10, workflowId: 'wf', before: { createdAt: iso(T0 + 1000), runId: 'run-03' } });
        expect(filtered.map((r) => r.runId)).toEqual(['run-02', 'run-01', 'run-00']);
      });
    });

    describe('events', () => {
      it('appends events that continue the log and updates the projection', async () => {
        const epoch = await leasedRun('r1');
        await store.appendEvents('r1', epoch, [event(0, 'run.started'), event(1, 'node.started', 'n1')], projection('running', 1, { currentNodeId: 'n1' }));
        await store.appendEvents('r1', epoch, [event(2, 'node.completed', 'n1')], projection('running', 2));
        const run = await store.getRunInternal('r1');
        expect(run?.projection).toEqual(projection('running', 2));
        // The lease survives non-terminal appends.
        expect(run?.leaseOwner).toBe('worker-1');
        expect(run?.leaseEpoch).toBe(epoch);
        expect((await store.readEvents('r1', -1, 100)).map((e) => e.sequence)).toEqual([0, 1, 2]);
      });

      it('returns event JSON byte-identical to what was appended', async () => {
        const epoch = await leasedRun('r1');
        const written = [event(0, 'run.started'), event(1, 'node.started', 'n1'), event(2, 'node.completed', 'n1')];
        await store.appendEvents('r1', epoch, written, projection('running', 2));
        const read = await store.readEvents('r1', -1, 100);
        expect(read.map((e) => e.json)).toEqual(written.map((e) => e.json));
        expect(read).toEqual(written);
        expect(read[0]?.nodeId).toBeUndefined();
        expect(read[1]?.nodeId).toBe('n1');
      });

      it('rejects a batch that does not continue the log and writes nothing', async () => {
        const epoch = await leasedRun('r1');
        await expect(store.appendEvents('r1', epoch, [event(1)], projection('running', 1))).rejects.toThrow();
        await store.appendEvents('r1', epoch, [event(0)], projection('running', 0));
        await expect(store.appendEvents('r1', epoch, [event(0)], projection('running', 0))).rejects.toThrow();
        await expect(
          store.appendEvents('r1', epoch, [event(1), event(3)], projection('failed', 3), { set: [{ runId: 'r1', key: 'k', fireAt: T0 }] }),
        ).rejects.toThrow();
        expect((await store.readEvents('r1', -1, 100)).map((e) => e.sequence)).toEqual([0]);
        const run = await store.getRunInternal('r1');
        expect(run?.projection).toEqual(projection('running', 0));
        expect(run?.leaseOwner).toBe('worker-1');
        expect(await store.nextTimerAt()).toBeNull();
      });

      it('fences a stale epoch with LeaseLostError and writes nothing', async () => {
        const stale = await leasedRun('r1');
        await store.appendEvents('r1', stale, [event(0, 'run.started')], projection('running', 0), {
          set: [{ runId: 'r1', key: 'deadline', fireAt: T0 + 100 }],
        });
        // Another worker takes over after the lease expired.
        const fresh = await store.claimRun('r1', 'worker-2', TTL, T0 + TTL);
        expect(fresh).toBe(stale + 1);
        await expect(
          store.appendEvents('r1', stale, [event(1, 'node.started', 'n1')], projection('completed', 1), {
            clearAll: true,
            set: [{ runId: 'r1', key: 'late', fireAt: T0 }],
          }),
        ).rejects.toBeInstanceOf(LeaseLostError);
        expect((await store.readEvents('r1', -1, 100)).map((e) => e.sequence)).toEqual([0]);
        const run = await store.getRunInternal('r1');
        expect(run?.projection.status).toBe('running');
        expect(run?.leaseOwner).toBe('worker-2');
        expect(await store.listDueTimers(T0 + 1000, 10)).toEqual([{ runId: 'r1', key: 'deadline', fireAt: T0 + 100 }]);
        // The holder of the new epoch continues the log.
        await store.appendEvents('r1', fresh as number, [event(1)], projection('running', 1));
        expect((await store.readEvents('r1', -1, 100)).map((e) => e.sequence)).toEqual([0, 1]);
      });

      it('raises LeaseLostError for a run that does not exist', async () => {
        await expect(store.appendEvents('ghost', 1, [event(0)], projection('running', 0))).rejects.toBeInstanceOf(LeaseLostError);
        expect(await store.readEvents('ghost', -1, 10)).toEqual([]);
      });

      it('a terminal append clears the lease but keeps the epoch', async () => {
        const epoch = await leasedRun('r1');
        await store.appendEvents('r1', epoch, [event(0, 'run.started')], projection('running', 0));
        await store.appendEvents('r1', epoch, [event(1, 'run.completed')], projection('completed', 1, { endedAt: iso(T0 + 10), outputs: { answer: 42 } }), {
          clearAll: true,
        });
        const run = await store.getRunInternal('r1');
        expect(run?.projection.status).toBe('completed');
        expect(run?.projection.outputs).toEqual({ answer: 42 });
        expect(run?.leaseOwner).toBeNull();
        expect(run?.leaseExpiresAt).toBeNull();
        expect(run?.leaseEpoch).toBe(epoch);
        expect(await store.claimRun('r1', 'worker-1', TTL, T0)).toBeNull();
      });

      it('reads events after a sequence, ascending and limited', async () => {
        const epoch = await leasedRun('r1');
        const all = Array.from({ length: 10 }, (_, i) => event(i, i % 2 ? 'node.completed' : 'node.started', `n${i >> 1}`));
        await store.appendEvents('r1', epoch, all.slice(0, 4), projection('running', 3));
        await store.appendEvents('r1', epoch, all.slice(4), projection('running', 9));
        expect(await store.readEvents('r1', -1, 4)).toEqual(all.slice(0, 4));
        expect(await store.readEvents('r1', 3, 4)).toEqual(all.slice(4, 8));
        expect(await store.readEvents('r1', 7, 100)).toEqual(all.slice(8));
        expect(await store.readEvents('r1', 9, 100)).toEqual([]);
        expect(await store.readEvents('r1', 2, 0)).toEqual([]);
        // Paging to the end reproduces the log exactly.
        const paged: EncodedEvent[] = [];
        for (let after = -1; ; ) {
          const page = await store.readEvents('r1', after, 3);
          if (page.length === 0) break;
          paged.push(...page);
          after = (page[page.length - 1] as EncodedEvent).sequence;
        }
        expect(paged).toEqual(all);
      });

      it('lets exactly one of two concurrent appends with the same epoch land', async () => {
        const epoch = await leasedRun('r1');
        const results = await Promise.allSettled([
          store.appendEvents('r1', epoch, [event(0, 'run.started')], projection('running', 0)),
          store.appendEvents('r1', epoch, [event(0, 'run.failed')], projection('failed', 0)),
        ]);
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        const log = await store.readEvents('r1', -1, 10);
        expect(log).toHaveLength(1);
        // The projection belongs to the batch that landed.
        const winner = log[0]?.type === 'run.started' ? 'running' : 'failed';
        expect((await store.getRunInternal('r1'))?.projection.status).toBe(winner);
      });

      it('appends a large batch in one call', async () => {
        const epoch = await leasedRun('r1');
        const batch = Array.from({ length: 500 }, (_, i) => event(i, 'node.output', i % 3 ? `n${i}` : undefined));
        await store.appendEvents('r1', epoch, batch, projection('running', 499));
        expect(await store.readEvents('r1', -1, 1000)).toEqual(batch);
      });

      it('accepts an append without events (projection-only)', async () => {
        const epoch = await leasedRun('r1');
        await store.appendEvents('r1', epoch, [], projection('paused', -1));
        expect((await store.getRunInternal('r1'))?.projection.status).toBe('paused');
        await store.appendEvents('r1', epoch, [event(0)], projection('running', 0));
        expect(await store.readEvents('r1', -1, 10)).toHaveLength(1);
      });
    });

    describe('cancel', () => {
      it('records a cancel request once, bound to the tenant', async () => {
        await store.createRun(runRecord('r1', { projection: projection('running') }));
        // invariant: tenant-binding — a foreign tenant can neither see nor cancel the run.
        expect(await store.requestCancel('t2', 'r1', 'nope', 'eve')).toBeUndefined();
        expect((await store.getRunInternal('r1'))?.cancelRequested).toBeNull();
        const first = await store.requestCancel('t1', 'r1', 'user asked', 'alice');
        expect(first?.runId).toBe('r1');
        expect(first?.cancelRequested).toEqual({ reason: 'user asked', by: 'alice' });
        const second = await store.requestCancel('t1', 'r1', 'again', 'bob');
        expect(second?.cancelRequested).toEqual({ reason: 'user asked', by: 'alice' });
        expect((await store.getRun('t1', 'r1'))?.cancelRequested).toEqual({ reason: 'user asked', by: 'alice' });
        expect(await store.requestCancel('t1', 'missing', undefined, 'alice')).toBeUndefined();
      });

      it('records a cancel without a reason', async () => {
        await store.createRun(runRecord('r1'));
        const run = await store.requestCancel('t1', 'r1', undefined, 'alice');
        expect(run?.cancelRequested).toEqual({ by: 'alice' });
        expect(run?.cancelRequested).not.toHaveProperty('reason');
      });

      it('has no effect on a terminal run', async () => {
        await store.createRun(runRecord('r1', { projection: projection('completed', 3) }));
        const run = await store.requestCancel('t1', 'r1', 'too late', 'alice');
        expect(run?.runId).toBe('r1');
        expect(run?.cancelRequested).toBeNull();
        expect((await store.getRunInternal('r1'))?.cancelRequested).toBeNull();
      });
    });

    describe('leases', () => {
      it('claims a free run and increments the epoch on every claim', async () => {
        await store.createRun(runRecord('r1', { leaseEpoch: 0 }));
        expect(await store.claimRun('r1', 'w1', TTL, T0)).toBe(1);
        let run = await store.getRunInternal('r1');
        expect(run?.leaseOwner).toBe('w1');
        expect(run?.leaseExpiresAt).toBe(T0 + TTL);
        // The owner may claim again (e.g. after a restart with the same identity).
        expect(await store.claimRun('r1', 'w1', TTL, T0 + 10)).toBe(2);
        run = await store.getRunInternal('r1');
        expect(run?.leaseEpoch).toBe(2);
        expect(run?.leaseExpiresAt).toBe(T0 + 10 + TTL);
      });

      it('refuses another owner until the lease expires', async () => {
        await store.createRun(runRecord('r1'));
        expect(await store.claimRun('r1', 'w1', TTL, T0)).toBe(1);
        expect(await store.claimRun('r1', 'w2', TTL, T0 + TTL - 1)).toBeNull();
        expect((await store.getRunInternal('r1'))?.leaseOwner).toBe('w1');
        // Expiry is inclusive: at expiresAt the lease is free.
        expect(await store.claimRun('r1', 'w2', TTL, T0 + TTL)).toBe(2);
        const run = await store.getRunInternal('r1');
        expect(run?.leaseOwner).toBe('w2');
        expect(run?.leaseExpiresAt).toBe(T0 + 2 * TTL);
      });

      it('grants a free run to exactly one of many concurrent claimers', async () => {
        await store.createRun(runRecord('r1'));
        const epochs = await Promise.all(Array.from({ length: 10 }, (_, i) => store.claimRun('r1', `w${i}`, TTL, T0)));
        expect(epochs.filter((e) => e !== null)).toEqual([1]);
        const winner = `w${epochs.findIndex((e) => e !== null)}`;
        expect((await store.getRunInternal('r1'))?.leaseOwner).toBe(winner);
      });

      it('takes a live lease when forced', async () => {
        await store.createRun(runRecord('r1'));
        expect(await store.claimRun('r1', 'w1', TTL, T0)).toBe(1);
        expect(await store.claimRun('r1', 'w2', TTL, T0 + 1, true)).toBe(2);
        expect((await store.getRunInternal('r1'))?.leaseOwner).toBe('w2');
      });

      it('refuses terminal and unknown runs', async () => {
        await store.createRun(runRecord('r-done', { projection: projection('failed') }));
        expect(await store.claimRun('r-done', 'w1', TTL, T0)).toBeNull();
        expect(await store.claimRun('r-done', 'w1', TTL, T0, true)).toBeNull();
        expect(await store.claimRun('ghost', 'w1', TTL, T0)).toBeNull();
        expect((await store.getRunInternal('r-done'))?.leaseEpoch).toBe(0);
      });

      it('renews the live leases of one owner only', async () => {
        await store.createRun(runRecord('r1'));
        await store.createRun(runRecord('r2'));
        await store.createRun(runRecord('r3'));
        await store.claimRun('r1', 'w1', TTL, T0);
        await store.claimRun('r2', 'w1', TTL, T0);
        await store.claimRun('r3', 'w2', TTL, T0);
        await store.renewLeases('w1', TTL, T0 + 20_000);
        expect((await store.getRunInternal('r1'))?.leaseExpiresAt).toBe(T0 + 20_000 + TTL);
        expect((await store.getRunInternal('r2'))?.leaseExpiresAt).toBe(T0 + 20_000 + TTL);
        expect((await store.getRunInternal('r3'))?.leaseExpiresAt).toBe(T0 + TTL);
        // Renewal keeps the epoch: appends with the held epoch still pass.
        expect((await store.getRunInternal('r1'))?.leaseEpoch).toBe(1);
        // w2 cannot take a renewed lease at the old expiry.
        expect(await store.claimRun('r1', 'w2', TTL, T0 + TTL)).toBeNull();
      });
    });

    describe('recovery', () => {
      beforeEach(async () => {
        const at = (i: number): string => iso(T0 + i * 1000);
        await store.createRun(runRecord('free', { createdAt: at(1), projection: projection('running') }));
        await store.createRun(runRecord('pending', { createdAt: at(2), projection: projection('pending') }));
        await store.createRun(
          runRecord('leased', { createdAt: at(3), projection: projection('running'), leaseOwner: 'w1', leaseEpoch: 1, leaseExpiresAt: T0 + TTL }),
        );
        await store.createRun(
          runRecord('expired', { createdAt: at(4), projection: projection('running'), leaseOwner: 'w1', leaseEpoch: 1, leaseExpiresAt: T0 }),
        );
        await store.createRun(runRecord('completed', { createdAt: at(5), projection: projection('completed') }));
        await store.createRun(runRecord('cancelled', { createdAt: at(6), projection: projection('cancelled'), cancelRequested: { by: 'a' } }));
        await store.createRun(runRecord('awaiting', { createdAt: at(7), projection: projection('waiting-approval') }));
        await store.createRun(runRecord('paused', { createdAt: at(8), projection: projection('paused') }));
        await store.createRun(runRecord('awaiting-cancel', { createdAt: at(9), projection: projection('waiting-input'), cancelRequested: { by: 'a' } }));
        await store.createRun(runRecord('cancelling', { createdAt: at(10), projection: projection('cancelling'), tenant: 't2' }));
      });

      it('lists non-terminal runs that need a driver and whose lease is free or expired', async () => {
        const ids = await store.listRecoverableRuns(T0, 100);
        expect([...ids].sort()).toEqual(['awaiting-cancel', 'cancelling', 'expired', 'free', 'pending']);
      });

      it('includes live leases on request and respects lease expiry', async () => {
        expect([...(await store.listRecoverableRuns(T0, 100, true))].sort()).toEqual(['awaiting-cancel', 'cancelling', 'expired', 'free', 'leased', 'pending']);
        expect(await store.listRecoverableRuns(T0 + TTL, 100)).toContain('leased');
        expect(await store.listRecoverableRuns(T0 + TTL - 1, 100)).not.toContain('leased');
      });

      it('respects the limit', async () => {
        const all = await store.listRecoverableRuns(T0, 100);
        const two = await store.listRecoverableRuns(T0, 2);
        expect(two).toHaveLength(2);
        for (const id of two) expect(all).toContain(id);
        expect(await store.listRecoverableRuns(T0, 0)).toEqual([]);
      });

      it('drops a run once its terminal append lands', async () => {
        const epoch = (await store.claimRun('free', 'w1', TTL, T0)) as number;
        await store.appendEvents('free', epoch, [event(0, 'run.failed')], projection('failed', 0));
        expect(await store.listRecoverableRuns(T0 + 10 * TTL, 100, true)).not.toContain('free');
      });
    });

    describe('timers', () => {
      it('sets timers with an append and lists the due ones in fire order', async () => {
        const e1 = await leasedRun('r1');
        const e2 = await leasedRun('r2');
        expect(await store.nextTimerAt()).toBeNull();
        await store.appendEvents('r1', e1, [event(0)], projection('running', 0), {
          set: [
            { runId: 'r1', key: 'delay:n1', fireAt: T0 + 300 },
            { runId: 'r1', key: 'deadline', fireAt: T0 + 100 },
          ],
        });
        await store.appendEvents('r2', e2, [event(0)], projection('running', 0), { set: [{ runId: 'r2', key: 'deadline', fireAt: T0 + 200 }] });
        expect(await store.nextTimerAt()).toBe(T0 + 100);
        expect(await store.listDueTimers(T0 + 99, 10)).toEqual([]);
        expect(await store.listDueTimers(T0 + 200, 10)).toEqual([
          { runId: 'r1', key: 'deadline', fireAt: T0 + 100 },
          { runId: 'r2', key: 'deadline', fireAt: T0 + 200 },
        ]);
        expect(await store.listDueTimers(T0 + 1000, 2)).toHaveLength(2);
        expect((await store.listDueTimers(T0 + 1000, 10)).map((t) => t.fireAt)).toEqual([T0 + 100, T0 + 200, T0 + 300]);
      });

      it('replaces a timer by key, clears by key and clears all timers of one run', async () => {
        const e1 = await leasedRun('r1');
        const e2 = await leasedRun('r2');
        await store.appendEvents('r1', e1, [event(0)], projection('running', 0), {
          set: [
            { runId: 'r1', key: 'a', fireAt: T0 + 10 },
            { runId: 'r1', key: 'b', fireAt: T0 + 20 },
            { runId: 'r1', key: 'c', fireAt: T0 + 30 },
          ],
        });
        await store.appendEvents('r2', e2, [event(0)], projection('running', 0), { set: [{ runId: 'r2', key: 'a', fireAt: T0 + 40 }] });
        // Same key again: the new fire time replaces the old one.
        await store.appendEvents('r1', e1, [event(1)], projection('running', 1), { set: [{ runId: 'r1', key: 'a', fireAt: T0 + 50 }], clear: ['b'] });
        const due = async (): Promise<string[]> => (await store.listDueTimers(T0 + 1000, 100)).map((t) => `${t.runId}/${t.key}@${t.fireAt - T0}`);
        expect(await due()).toEqual(['r1/c@30', 'r2/a@40', 'r1/a@50']);
        // clearAll wipes this run's timers before the batch's own sets; other runs keep theirs.
        await store.appendEvents('r1', e1, [event(2)], projection('running', 2), { clearAll: true, set: [{ runId: 'r1', key: 'z', fireAt: T0 + 60 }] });
        expect(await due()).toEqual(['r2/a@40', 'r1/z@60']);
        await store.appendEvents('r1', e1, [event(3, 'run.completed')], projection('completed', 3), { clearAll: true });
        expect(await due()).toEqual(['r2/a@40']);
        expect(await store.nextTimerAt()).toBe(T0 + 40);
        await store.appendEvents('r2', e2, [event(1)], projection('running', 1), { clear: ['a', 'never-set'] });
        expect(await store.nextTimerAt()).toBeNull();
        expect(await store.listDueTimers(T0 + 1000, 100)).toEqual([]);
      });
    });

    describe('commands (run_commands)', () => {
      const command = (id: string, runId: string, at: number): Omit<CommandRow, 'state' | 'result'> => ({
        id,
        runId,
        tenant: 'acme',
        kind: 'pause',
        payload: JSON.stringify({ kind: 'pause', drainPolicy: 'immediate', principal: 'p' }),
        principal: 'p',
        createdAt: at,
      });

      it('returns the pending commands of one run in the order they were written', async () => {
        // Written in an order that differs from both id order and time order.
        await store.enqueueCommand(command('cmd_b', 'run_1', T0 + 5));
        await store.enqueueCommand(command('cmd_a', 'run_1', T0 + 1));
        await store.enqueueCommand(command('cmd_c', 'run_2', T0));
        const pending = await store.pendingCommands('run_1');
        expect(pending.map((c) => c.id)).toEqual(['cmd_b', 'cmd_a']);
        expect(pending[0]).toEqual({ ...command('cmd_b', 'run_1', T0 + 5), state: 'pending', result: null });
      });

      it('records outcomes in the append that applied them, and not when the append is fenced', async () => {
        const epoch = await leasedRun('r1');
        await store.enqueueCommand(command('cmd_1', 'r1', T0));
        await store.enqueueCommand(command('cmd_2', 'r1', T0));
        const outcome = { id: 'cmd_1', state: 'done', result: '{"runId":"r1","status":"paused"}' } as const;
        await store.appendEvents('r1', epoch, [event(0, 'run.started')], projection('running', 0), undefined, { outcomes: [outcome], now: T0 + 1 });
        expect(await store.getCommand('cmd_1')).toMatchObject({ state: 'done', result: outcome.result });
        const fresh = await store.claimRun('r1', 'worker-2', TTL, T0 + TTL);
        expect(fresh).toBe(epoch + 1);
        await expect(
          store.appendEvents('r1', epoch, [event(1)], projection('running', 1), undefined, {
            outcomes: [{ id: 'cmd_2', state: 'done', result: '{}' }],
            now: T0 + 2,
          }),
        ).rejects.toBeInstanceOf(LeaseLostError);
        expect(await store.pendingCommands('r1')).toMatchObject([{ id: 'cmd_2', state: 'pending' }]);
      });

      it('records an outcome once: a finished row leaves the pending list and is not overwritten', async () => {
        await store.enqueueCommand(command('cmd_1', 'run_1', T0));
        await store.enqueueCommand(command('cmd_2', 'run_1', T0));
        await store.finishCommands(
          [
            { id: 'cmd_1', state: 'done', result: '{"runId":"run_1","status":"paused"}' },
            { id: 'cmd_2', state: 'failed', result: '{"code":"run_state_conflict"}' },
          ],
          T0 + 10,
        );
        expect(await store.pendingCommands('run_1')).toEqual([]);
        await store.finishCommands([{ id: 'cmd_1', state: 'failed', result: '{"code":"service_unavailable"}' }], T0 + 20);
        expect(await store.getCommand('cmd_1')).toMatchObject({ state: 'done', result: '{"runId":"run_1","status":"paused"}' });
        expect(await store.getCommand('cmd_2')).toMatchObject({ state: 'failed', result: '{"code":"run_state_conflict"}' });
        expect(await store.getCommand('cmd_missing')).toBeUndefined();
      });

      it('writes a command id once: a second write of the id is a no-op that says so', async () => {
        expect(await store.enqueueCommand(command('cmd_1', 'run_1', T0))).toBe(true);
        expect(await store.enqueueCommand(command('cmd_1', 'run_2', T0 + 1))).toBe(false);
        expect(await store.getCommand('cmd_1')).toMatchObject({ runId: 'run_1', createdAt: T0, state: 'pending' });
      });
    });
  });
}
