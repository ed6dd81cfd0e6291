/**
 * The invocation-log contract (Layer-2 effects): an effect is claimed atomically before it is
 * made, a recorded outcome is returned instead of a second call, an interrupted claim is taken
 * again (the at-least-once window), and recorded outcomes are never overwritten.
 */
import { describe, expect, it } from 'vitest';
import type { InvocationRecord, InvocationStore } from '@weft/engine';
import { T0, freshStorePerTest, type PortFactory } from './fixtures.js';

const claim = (id: string, over: Partial<InvocationRecord> = {}): Omit<InvocationRecord, 'state' | 'outcome' | 'calls' | 'updatedAt'> => ({
  id,
  tenant: 't1',
  runId: 'run_1',
  nodeId: 'call',
  ordinal: 0,
  providerKey: 'http:POST',
  attempt: 0,
  createdAt: T0,
  expiresAt: T0 + 14 * 86_400_000,
  ...over,
});

/** Registers the InvocationStore contract for one implementation; `factory` runs before every test. */
export function defineInvocationStoreContract(name: string, factory: PortFactory<InvocationStore>): void {
  describe(`InvocationStore contract: ${name}`, () => {
    let store: InvocationStore;
    freshStorePerTest(factory, (s) => {
      store = s;
    });

    it('claims a new effect, and answers its recorded outcome instead of a second claim', async () => {
      expect(await store.claimInvocation(claim('inv_a'))).toEqual({ kind: 'claimed', calls: 1 });
      await store.recordInvocation('inv_a', 'done', '{"status":201}', T0 + 5);
      const again = await store.claimInvocation(claim('inv_a', { attempt: 1, createdAt: T0 + 9 }));
      expect(again).toEqual({
        kind: 'recorded',
        record: { ...claim('inv_a'), state: 'done', outcome: '{"status":201}', calls: 1, updatedAt: T0 + 5 },
      });
    });

    it('takes an interrupted claim again and counts the call (the at-least-once window)', async () => {
      await store.claimInvocation(claim('inv_a'));
      expect(await store.claimInvocation(claim('inv_a', { attempt: 2, createdAt: T0 + 7 }))).toEqual({ kind: 'claimed', calls: 2 });
      const [rec] = await store.listInvocations('run_1');
      expect(rec).toMatchObject({ state: 'pending', calls: 2, attempt: 2, updatedAt: T0 + 7, createdAt: T0 });
    });

    it('never overwrites a recorded outcome, and a release drops only a pending claim', async () => {
      await store.claimInvocation(claim('inv_a'));
      await store.recordInvocation('inv_a', 'failed', '{"code":"x"}', T0 + 1);
      await store.recordInvocation('inv_a', 'done', '{}', T0 + 2);
      await store.releaseInvocation('inv_a');
      expect((await store.listInvocations('run_1'))[0]).toMatchObject({ state: 'failed', outcome: '{"code":"x"}', updatedAt: T0 + 1 });
      await store.claimInvocation(claim('inv_b', { ordinal: 1 }));
      await store.releaseInvocation('inv_b');
      expect((await store.listInvocations('run_1')).map((r) => r.id)).toEqual(['inv_a']);
      expect(await store.claimInvocation(claim('inv_b', { ordinal: 1 }))).toEqual({ kind: 'claimed', calls: 1 });
    });

    it('lists a run by node and ordinal, and purges expired records', async () => {
      await store.claimInvocation(claim('inv_3', { nodeId: 'b', ordinal: 0 }));
      await store.claimInvocation(claim('inv_2', { nodeId: 'a', ordinal: 1 }));
      await store.claimInvocation(claim('inv_1', { nodeId: 'a', ordinal: 0, expiresAt: T0 + 10 }));
      await store.claimInvocation(claim('inv_x', { runId: 'run_2' }));
      expect((await store.listInvocations('run_1')).map((r) => r.id)).toEqual(['inv_1', 'inv_2', 'inv_3']);
      expect(await store.purgeExpiredInvocations(T0 + 10)).toBe(1);
      expect((await store.listInvocations('run_1')).map((r) => r.id)).toEqual(['inv_2', 'inv_3']);
    });

    it('concurrent claimers of one id: exactly one is the first call', async () => {
      const results = await Promise.all(Array.from({ length: 8 }, (_, i) => store.claimInvocation(claim('inv_c', { createdAt: T0 + i }))));
      const calls = results.map((r) => (r.kind === 'claimed' ? r.calls : 0)).sort((a, b) => a - b);
      expect(calls).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    });
  });
}
