/**
 * The idempotency-store contract: Layer-1 claims, completion (also through `createRun`, in the
 * same transaction as the run row), release, expiry and concurrent claimers.
 */
import { describe, expect, it } from 'vitest';
import type { IdempotencyStore, RunStore } from '@weft/engine';
import { T0, claim, freshStorePerTest, runRecord, type PortFactory } from './fixtures.js';

/**
 * Registers the IdempotencyStore contract for one implementation; `factory` runs before every test.
 *
 * @see execution-semantics.md §5
 */
export function defineIdempotencyStoreContract(name: string, factory: PortFactory<IdempotencyStore & Pick<RunStore, 'createRun' | 'getRunInternal'>>): void {
  describe(`IdempotencyStore contract: ${name}`, () => {
    let store: IdempotencyStore & Pick<RunStore, 'createRun' | 'getRunInternal'>;
    freshStorePerTest(factory, (s) => {
      store = s;
    });

    describe('idempotency', () => {
      it('claims a new key, reports in-flight to a second claimer, replays after createRun completes it', async () => {
        expect(await store.claimIdempotency(claim({ owner: 'o1' }))).toEqual({ kind: 'claimed' });
        expect(await store.claimIdempotency(claim({ owner: 'o2', now: T0 + 1 }))).toEqual({ kind: 'in-flight' });
        const body = '{"runId":"r1", "status":"pending","note":"ü"}';
        await store.createRun(runRecord('r1'), { tenant: 't1', route: 'POST /v1/runs', key: 'key-1', owner: 'o1', response: { status: 201, body } });
        expect(await store.getRunInternal('r1')).toBeDefined();
        const replay = await store.claimIdempotency(claim({ owner: 'o3', now: T0 + 2 }));
        expect(replay).toEqual({ kind: 'replay', response: { status: 201, body } });
        if (replay.kind === 'replay') expect(replay.response.body).toBe(body);
      });

      it('reports a mismatch when the key is reused for a different request', async () => {
        expect((await store.claimIdempotency(claim({ requestHash: 'h-a' }))).kind).toBe('claimed');
        expect(await store.claimIdempotency(claim({ requestHash: 'h-b', owner: 'o2' }))).toEqual({ kind: 'mismatch' });
        await store.completeIdempotency(
          { tenant: 't1', route: 'POST /v1/runs', key: 'key-1', owner: 'owner-1', response: { status: 200, body: '{}' } },
          86_400_000,
          T0,
        );
        expect(await store.claimIdempotency(claim({ requestHash: 'h-b', owner: 'o3' }))).toEqual({ kind: 'mismatch' });
      });

      it('only the owning attempt can complete a claim', async () => {
        expect((await store.claimIdempotency(claim({ owner: 'o1' }))).kind).toBe('claimed');
        // A run created with someone else's completion does not complete our record.
        await store.createRun(runRecord('r1'), { tenant: 't1', route: 'POST /v1/runs', key: 'key-1', owner: 'intruder', response: { status: 201, body: 'x' } });
        await store.completeIdempotency(
          { tenant: 't1', route: 'POST /v1/runs', key: 'key-1', owner: 'intruder', response: { status: 200, body: 'y' } },
          86_400_000,
          T0,
        );
        expect(await store.claimIdempotency(claim({ owner: 'o2', now: T0 + 1 }))).toEqual({ kind: 'in-flight' });
        await store.completeIdempotency(
          { tenant: 't1', route: 'POST /v1/runs', key: 'key-1', owner: 'o1', response: { status: 202, body: '{"accepted":true}' } },
          86_400_000,
          T0 + 2,
        );
        expect(await store.claimIdempotency(claim({ owner: 'o2', now: T0 + 3 }))).toEqual({
          kind: 'replay',
          response: { status: 202, body: '{"accepted":true}' },
        });
      });

      it('a failed createRun leaves the claim pending', async () => {
        await store.createRun(runRecord('r1'));
        expect((await store.claimIdempotency(claim({ owner: 'o1' }))).kind).toBe('claimed');
        await expect(
          store.createRun(runRecord('r1'), { tenant: 't1', route: 'POST /v1/runs', key: 'key-1', owner: 'o1', response: { status: 201, body: 'dup' } }),
        ).rejects.toThrow();
        expect(await store.claimIdempotency(claim({ owner: 'o2', now: T0 + 1 }))).toEqual({ kind: 'in-flight' });
      });

      it('treats an expired record as new, whatever the request', async () => {
        expect((await store.claimIdempotency(claim({ requestHash: 'h-a', owner: 'o1', retentionMs: 1000 }))).kind).toBe('claimed');
        await store.completeIdempotency({ tenant: 't1', route: 'POST /v1/runs', key: 'key-1', owner: 'o1', response: { status: 201, body: 'old' } }, 1000, T0);
        expect((await store.claimIdempotency(claim({ requestHash: 'h-a', owner: 'o2', now: T0 + 999 }))).kind).toBe('replay');
        expect(await store.claimIdempotency(claim({ requestHash: 'h-b', owner: 'o2', now: T0 + 1000 }))).toEqual({ kind: 'claimed' });
        // The new claim is pending for the new request, not a replay of the old response.
        expect(await store.claimIdempotency(claim({ requestHash: 'h-b', owner: 'o3', now: T0 + 1001 }))).toEqual({ kind: 'in-flight' });
        expect(await store.claimIdempotency(claim({ requestHash: 'h-a', owner: 'o3', now: T0 + 1001 }))).toEqual({ kind: 'mismatch' });
      });

      it('reclaims an abandoned pending claim after pendingTtlMs', async () => {
        const ttl = 5_000;
        expect((await store.claimIdempotency(claim({ owner: 'o1', pendingTtlMs: ttl }))).kind).toBe('claimed');
        expect(await store.claimIdempotency(claim({ owner: 'o2', pendingTtlMs: ttl, now: T0 + ttl - 1 }))).toEqual({ kind: 'in-flight' });
        expect(await store.claimIdempotency(claim({ owner: 'o2', pendingTtlMs: ttl, now: T0 + ttl }))).toEqual({ kind: 'claimed' });
        // The new claim is fresh: a third attempt right after sees it in flight.
        expect(await store.claimIdempotency(claim({ owner: 'o3', pendingTtlMs: ttl, now: T0 + ttl + 1 }))).toEqual({ kind: 'in-flight' });
        // The abandoned owner no longer completes the record; the new owner does.
        await store.completeIdempotency(
          { tenant: 't1', route: 'POST /v1/runs', key: 'key-1', owner: 'o1', response: { status: 201, body: 'stale' } },
          86_400_000,
          T0 + ttl + 2,
        );
        expect((await store.claimIdempotency(claim({ owner: 'o3', pendingTtlMs: ttl, now: T0 + ttl + 3 }))).kind).toBe('in-flight');
        await store.completeIdempotency(
          { tenant: 't1', route: 'POST /v1/runs', key: 'key-1', owner: 'o2', response: { status: 201, body: 'fresh' } },
          86_400_000,
          T0 + ttl + 4,
        );
        expect(await store.claimIdempotency(claim({ owner: 'o3', pendingTtlMs: ttl, now: T0 + 10 * ttl }))).toEqual({
          kind: 'replay',
          response: { status: 201, body: 'fresh' },
        });
      });

      it('release drops only the owner’s pending claim', async () => {
        expect((await store.claimIdempotency(claim({ owner: 'o1' }))).kind).toBe('claimed');
        await store.releaseIdempotency('t1', 'POST /v1/runs', 'key-1', 'someone-else');
        expect((await store.claimIdempotency(claim({ owner: 'o2', now: T0 + 1 }))).kind).toBe('in-flight');
        await store.releaseIdempotency('t1', 'POST /v1/runs', 'key-1', 'o1');
        expect(await store.claimIdempotency(claim({ owner: 'o2', requestHash: 'different', now: T0 + 2 }))).toEqual({ kind: 'claimed' });
        // A completed record is not released.
        await store.completeIdempotency(
          { tenant: 't1', route: 'POST /v1/runs', key: 'key-1', owner: 'o2', response: { status: 200, body: 'done' } },
          86_400_000,
          T0 + 3,
        );
        await store.releaseIdempotency('t1', 'POST /v1/runs', 'key-1', 'o2');
        expect(await store.claimIdempotency(claim({ owner: 'o3', requestHash: 'different', now: T0 + 4 }))).toEqual({
          kind: 'replay',
          response: { status: 200, body: 'done' },
        });
      });

      it('purges expired records and counts them', async () => {
        await store.claimIdempotency(claim({ key: 'short', retentionMs: 1_000 }));
        await store.claimIdempotency(claim({ key: 'short-done', retentionMs: 1_000 }));
        await store.completeIdempotency(
          { tenant: 't1', route: 'POST /v1/runs', key: 'short-done', owner: 'owner-1', response: { status: 200, body: '' } },
          1_000,
          T0,
        );
        await store.claimIdempotency(claim({ key: 'long', retentionMs: 10_000 }));
        expect(await store.purgeExpiredIdempotency(T0 + 999)).toBe(0);
        expect(await store.purgeExpiredIdempotency(T0 + 1_000)).toBe(2);
        expect(await store.purgeExpiredIdempotency(T0 + 1_000)).toBe(0);
        expect((await store.claimIdempotency(claim({ key: 'long', owner: 'o2', now: T0 + 1_001 }))).kind).toBe('in-flight');
        expect((await store.claimIdempotency(claim({ key: 'short-done', owner: 'o2', now: T0 + 1_001, retentionMs: 1_000 }))).kind).toBe('claimed');
      });

      it('scopes keys by tenant and route', async () => {
        expect((await store.claimIdempotency(claim({ tenant: 't1', route: 'r' }))).kind).toBe('claimed');
        expect((await store.claimIdempotency(claim({ tenant: 't2', route: 'r' }))).kind).toBe('claimed');
        expect((await store.claimIdempotency(claim({ tenant: 't1', route: 'r2' }))).kind).toBe('claimed');
        expect((await store.claimIdempotency(claim({ tenant: 't1', route: 'r', owner: 'o2' }))).kind).toBe('in-flight');
      });

      it('grants exactly one of 20 concurrent claims of one key', async () => {
        const results = await Promise.all(Array.from({ length: 20 }, (_, i) => store.claimIdempotency(claim({ key: 'race', owner: `o${i}` }))));
        const kinds = results.map((r) => r.kind);
        expect(kinds.filter((k) => k === 'claimed')).toHaveLength(1);
        expect(kinds.filter((k) => k === 'in-flight')).toHaveLength(19);
      });
    });
  });
}
