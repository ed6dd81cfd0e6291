/**
 * The audit-store contract: the single-writer, hash-chained append and its checkpoints.
 */
import { describe, expect, it } from 'vitest';
import type { AuditEntry, AuditStore, AuditWriteState } from '@weft/store-kit';
import { auditEntry, checkpoint, freshStorePerTest, type PortFactory } from './fixtures.js';

/**
 * Registers the AuditStore contract for one implementation; `factory` runs before every test.
 *
 * @see execution-semantics.md §5
 */
export function defineAuditStoreContract(name: string, factory: PortFactory<AuditStore>): void {
  describe(`AuditStore contract: ${name}`, () => {
    let store: AuditStore;
    freshStorePerTest(factory, (s) => {
      store = s;
    });

    describe('audit log', () => {
      /** Appends `n` entries continuing whatever the tip is. */
      const appendN = async (n: number, afterSeq = -1): Promise<AuditWriteState> => {
        let seen: AuditWriteState | undefined;
        await store.appendAudit(afterSeq, (state) => {
          seen = state;
          const start = (state.tip?.seq ?? -1) + 1;
          let prev = state.tip?.hash ?? null;
          const entries: AuditEntry[] = [];
          for (let i = 0; i < n; i++) {
            const e = auditEntry(start + i, prev);
            entries.push(e);
            prev = e.hash;
          }
          return { entries };
        });
        return seen as AuditWriteState;
      };

      it('appends entries that continue the tip and reads them back exactly', async () => {
        const first = await appendN(3);
        expect(first).toEqual({ tip: undefined, newer: [], lastCheckpoint: undefined });
        const second = await appendN(1, 2);
        expect(second.tip).toEqual({ seq: 2, hash: 'h2' });
        expect(second.newer).toEqual([]);
        expect(await store.readAuditEntries(0, 100, 100)).toEqual([auditEntry(0, null), auditEntry(1, 'h0'), auditEntry(2, 'h1'), auditEntry(3, 'h2')]);
        expect((await store.readAuditEntries(1, 2, 100)).map((e) => e.seq)).toEqual([1, 2]);
        expect((await store.readAuditEntries(0, 100, 2)).map((e) => e.seq)).toEqual([0, 1]);
      });

      it('hands the builder the entries written after afterSeq', async () => {
        await appendN(4);
        const seen = await appendN(0, 1);
        expect(seen.newer.map((e) => e.seq)).toEqual([2, 3]);
        expect(seen.newer[0]).toEqual(auditEntry(2, 'h1'));
      });

      it('rejects entries that do not continue the tip and writes nothing', async () => {
        await appendN(2);
        await expect(store.appendAudit(1, () => ({ entries: [auditEntry(3, 'h1')] }))).rejects.toThrow(/gap/);
        await expect(store.appendAudit(1, () => ({ entries: [auditEntry(1, 'h0')] }))).rejects.toThrow();
        await expect(
          store.appendAudit(1, () => {
            throw new Error('builder failed');
          }),
        ).rejects.toThrow('builder failed');
        expect((await store.readAuditEntries(0, 100, 100)).map((e) => e.seq)).toEqual([0, 1]);
      });

      it('writes checkpoints with their entries and finds them by sequence', async () => {
        await store.appendAudit(-1, () => ({ entries: [auditEntry(0, null), auditEntry(1, 'h0')], checkpoint: checkpoint(1, 1) }));
        const seen = await appendN(2, 1);
        expect(seen.lastCheckpoint).toEqual(checkpoint(1, 1));
        await store.appendAudit(3, () => ({ entries: [], checkpoint: checkpoint(2, 3) }));
        expect(await store.listAuditCheckpoints(0, 100, 10)).toEqual([checkpoint(1, 1), checkpoint(2, 3)]);
        expect(await store.listAuditCheckpoints(2, 3, 10)).toEqual([checkpoint(2, 3)]);
        expect(await store.listAuditCheckpoints(0, 100, 1)).toEqual([checkpoint(1, 1)]);
        expect(await store.auditCheckpointBefore(3)).toEqual(checkpoint(1, 1));
        expect(await store.auditCheckpointBefore(4)).toEqual(checkpoint(2, 3));
        expect(await store.auditCheckpointBefore(1)).toBeUndefined();
      });

      it('refuses a checkpoint out of order or over unwritten entries, writing nothing', async () => {
        await appendN(2);
        await expect(store.appendAudit(1, () => ({ entries: [], checkpoint: checkpoint(2, 1) }))).rejects.toThrow();
        await expect(store.appendAudit(1, () => ({ entries: [auditEntry(2, 'h1')], checkpoint: checkpoint(1, 3) }))).rejects.toThrow();
        expect(await store.listAuditCheckpoints(0, 100, 10)).toEqual([]);
        expect((await store.readAuditEntries(0, 100, 100)).map((e) => e.seq)).toEqual([0, 1]);
      });

      it('serializes concurrent appends into one unbroken chain', async () => {
        await Promise.all(Array.from({ length: 12 }, () => appendN(1)));
        const all = await store.readAuditEntries(0, 100, 100);
        expect(all.map((e) => e.seq)).toEqual(Array.from({ length: 12 }, (_, i) => i));
        for (const [i, e] of all.entries()) expect(e.prevHash).toBe(i === 0 ? null : `h${i - 1}`);
      });
    });
  });
}
