/**
 * The audit log against the in-memory store with a fake clock: chaining, count- and
 * time-based checkpoints, Merkle roots equal to a naive RFC 6962 tree hash, verification of
 * intact and tampered logs, and two writers on one store.
 */
import { createHash, generateKeyPairSync } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { MemoryAuditStore, type AuditEntry, type AuditStore } from '@weft/store-kit';
import { MerkleFrontier, entryHash, importCheckpointPublicKey, jcs, leafHash, verifyCheckpoint } from './audit-chain.js';
import { AuditLog, type AuditRecord } from './audit-log.js';

const T0 = Date.UTC(2025, 0, 1);
const key = generateKeyPairSync('ed25519');

function clock(start = T0): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

const rec = (i: number): AuditRecord => ({ tenant: 't1', principal: 'key_abc', action: 'run.created', target: `run_${i}`, details: { workflowId: 'wf' } });

/** RFC 6962 MTH, written the recursive way, as the reference. */
function naiveRoot(hashes: string[]): string {
  const mth = (leaves: string[]): Buffer => {
    if (leaves.length === 1) return leafHash(leaves[0] as string);
    let k = 1;
    while (k * 2 < leaves.length) k *= 2;
    return createHash('sha256')
      .update(Buffer.concat([Buffer.from([1]), mth(leaves.slice(0, k)), mth(leaves.slice(k))]))
      .digest();
  };
  return mth(hashes).toString('hex');
}

/** A store whose reads of one entry return it altered, as if the row was edited on disk. */
function tampered(store: AuditStore, seq: number, change: (e: AuditEntry) => AuditEntry): AuditStore {
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'readAuditEntries') {
        return async (a: number, b: number, limit: number) => (await target.readAuditEntries(a, b, limit)).map((e) => (e.seq === seq ? change(e) : e));
      }
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...args: unknown[]) => unknown).bind(target) : v;
    },
  });
}

async function openLog(store: AuditStore, over: Partial<Parameters<typeof AuditLog.open>[1]> = {}): Promise<AuditLog> {
  return AuditLog.open(store, { signingKey: key, checkpointEntries: 4, checkpointSeconds: 60, timers: false, ...over });
}

describe('audit chain primitives', () => {
  it('the Merkle frontier equals the recursive RFC 6962 tree hash for every size up to 40', () => {
    const hashes = Array.from({ length: 40 }, (_, i) => createHash('sha256').update(`e${i}`).digest('hex'));
    const f = MerkleFrontier.empty();
    hashes.forEach((h, i) => {
      f.push(h);
      expect(f.root()).toBe(naiveRoot(hashes.slice(0, i + 1)));
      const restored = MerkleFrontier.restore(i + 1, f.roots());
      expect(restored?.root()).toBe(f.root());
    });
    expect(MerkleFrontier.restore(5, ['00'.repeat(32)])).toBeUndefined();
  });

  it('hashes the RFC 8785 canonical form, so key order and number spelling do not matter', () => {
    const a = { seq: 1, ts: 'x', tenant: 't', principal: 'p', action: 'a', target: 'r', details: { b: 1, a: [1.5, 'é'] }, prevHash: null };
    const b = { prevHash: null, details: { a: [1.5, 'é'], b: 1.0 }, target: 'r', action: 'a', principal: 'p', tenant: 't', ts: 'x', seq: 1 };
    expect(entryHash(a)).toBe(entryHash(b));
    expect(jcs({ b: 1, a: 2 })).toBe('{"a":2,"b":1}');
    expect(entryHash({ ...a, details: { b: 2, a: [1.5, 'é'] } })).not.toBe(entryHash(a));
  });
});

describe('AuditLog', () => {
  it('chains entries: each prevHash is the previous entry hash and each hash covers the content', async () => {
    const store = new MemoryAuditStore();
    const log = await openLog(store);
    for (let i = 0; i < 3; i++) await log.append(rec(i));
    const all = await store.readAuditEntries(0, 10, 10);
    expect(all.map((e) => e.seq)).toEqual([0, 1, 2]);
    expect(all[0]?.prevHash).toBeNull();
    all.forEach((e, i) => {
      expect(e.hash).toBe(entryHash(e));
      if (i > 0) expect(e.prevHash).toBe(all[i - 1]?.hash);
    });
    expect(all[1]).toMatchObject({ tenant: 't1', principal: 'key_abc', action: 'run.created', target: 'run_1', details: { workflowId: 'wf' } });
  });

  it('signs a checkpoint every N entries whose root and signature verify with the advertised key', async () => {
    const store = new MemoryAuditStore();
    const log = await openLog(store);
    await Promise.all(Array.from({ length: 9 }, (_, i) => log.append(rec(i))));
    const cps = await store.listAuditCheckpoints(0, 100, 10);
    expect(cps.map((c) => c.atSeq)).toEqual([3, 7]);
    const pub = importCheckpointPublicKey((log.advertisement().blocks?.auditLogIntegrity as { checkpointPublicKey: string }).checkpointPublicKey);
    const hashes = (await store.readAuditEntries(0, 100, 100)).map((e) => e.hash);
    for (const c of cps) {
      expect(c.merkleRoot).toBe(naiveRoot(hashes.slice(0, c.atSeq + 1)));
      expect(verifyCheckpoint(pub, { checkpoint: `ckpt-${c.checkpoint}`, atSequence: c.atSeq, merkleRoot: c.merkleRoot, signature: c.signature })).toBe(true);
      expect(verifyCheckpoint(pub, { checkpoint: `ckpt-${c.checkpoint}`, atSequence: c.atSeq, merkleRoot: 'f'.repeat(64), signature: c.signature })).toBe(
        false,
      );
    }
  });

  it('signs a checkpoint once the oldest unsigned entry is checkpointSeconds old, whichever comes first', async () => {
    const store = new MemoryAuditStore();
    const c = clock();
    const log = await openLog(store, { checkpointEntries: 1000, checkpointSeconds: 60, now: c.now });
    await log.append(rec(0));
    expect(await log.checkpoint()).toBeUndefined();
    c.advance(59_999);
    expect(await log.checkpoint()).toBeUndefined();
    c.advance(1);
    const cp = await log.checkpoint();
    expect(cp).toMatchObject({ checkpoint: 1, atSeq: 0 });
    // Nothing new: no checkpoint however much time passes.
    c.advance(3_600_000);
    expect(await log.checkpoint()).toBeUndefined();
    // The next entry, older than the interval since the last checkpoint, is signed at once.
    await log.append(rec(1));
    expect((await store.listAuditCheckpoints(0, 10, 10)).map((x) => x.atSeq)).toEqual([0, 1]);
  });

  it('arms a timer for the time-based checkpoint', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    try {
      const store = new MemoryAuditStore();
      const log = await openLog(store, { checkpointEntries: 1000, checkpointSeconds: 30, timers: true });
      await log.append(rec(0));
      await vi.advanceTimersByTimeAsync(29_000);
      expect(await store.listAuditCheckpoints(0, 10, 10)).toEqual([]);
      await vi.advanceTimersByTimeAsync(1_000);
      await (log as unknown as { draining?: Promise<void> }).draining;
      expect((await store.listAuditCheckpoints(0, 10, 10)).map((x) => x.atSeq)).toEqual([0]);
      await log.close();
    } finally {
      vi.useRealTimers();
    }
  });

  it('verifies an intact range with its checkpoints', async () => {
    const store = new MemoryAuditStore();
    const log = await openLog(store);
    for (let i = 0; i < 10; i++) await log.append(rec(i));
    const r = await log.verify(0, 9);
    expect(r).toMatchObject({ fromSeq: 0, toSeq: 9, chainValid: true, checkpointsValid: true, anomalies: [] });
    expect(r.checkpoints.map((c) => c.atSequence)).toEqual([3, 7]);
    const mid = await log.verify(5, 8);
    expect(mid).toMatchObject({ chainValid: true, anomalies: [] });
    expect(mid.checkpoints.map((c) => c.checkpoint)).toEqual(['ckpt-2']);
    // A range past the tip verifies what exists.
    expect((await log.verify(8, 50)).chainValid).toBe(true);
  });

  it('reports an edited entry at the entry whose prevHash no longer matches, and fails the checkpoint over it', async () => {
    const store = new MemoryAuditStore();
    const log = await openLog(store);
    for (let i = 0; i < 10; i++) await log.append(rec(i));
    const bad = tampered(store, 5, (e) => ({ ...e, target: 'run_forged' }));
    const badLog = await openLog(bad);
    const r = await badLog.verify(0, 9);
    expect(r.chainValid).toBe(false);
    expect(r.checkpointsValid).toBe(false);
    expect(r.anomalies).toHaveLength(1);
    const a = r.anomalies[0];
    expect(a?.atSeq).toBe(6);
    expect(a?.actualPrevHash).toBe((await store.readAuditEntries(5, 5, 1))[0]?.hash);
    // Outside the tampered range nothing is wrong.
    expect((await badLog.verify(0, 4)).chainValid).toBe(true);
  });

  it('reports a rewritten prevHash at that entry and an edited last entry at its own seq', async () => {
    const store = new MemoryAuditStore();
    const log = await openLog(store, { checkpointEntries: 1000 });
    for (let i = 0; i < 6; i++) await log.append(rec(i));
    const relinked = await openLog(tampered(store, 3, (e) => ({ ...e, prevHash: 'a'.repeat(64) })));
    // Entry 3's own link is wrong, and its content (prevHash included) no longer hashes to what entry 4 committed to.
    expect((await relinked.verify(0, 5)).anomalies.map((x) => x.atSeq)).toEqual([3, 4]);
    const tail = await openLog(tampered(store, 5, (e) => ({ ...e, details: { workflowId: 'other' } })));
    const r = await tail.verify(0, 5);
    expect(r.chainValid).toBe(false);
    expect(r.anomalies.map((x) => x.atSeq)).toEqual([5]);
  });

  it('detects a forged checkpoint signature and a missing entry', async () => {
    const store = new MemoryAuditStore();
    const log = await openLog(store);
    for (let i = 0; i < 8; i++) await log.append(rec(i));
    const other = generateKeyPairSync('ed25519');
    const wrongKey = await openLog(store, { signingKey: other });
    const r = await wrongKey.verify(0, 7);
    expect(r.anomalies).toEqual([]);
    expect(r.checkpointsValid).toBe(false);
    expect(r.chainValid).toBe(false);
    let hide = false;
    const gap = new Proxy(store, {
      get(target, prop, receiver) {
        if (prop === 'readAuditEntries')
          return async (a: number, b: number, l: number) => (await target.readAuditEntries(a, b, l)).filter((e) => !hide || e.seq !== 2);
        const v = Reflect.get(target, prop, receiver) as unknown;
        return typeof v === 'function' ? (v as (...args: unknown[]) => unknown).bind(target) : v;
      },
    }) as AuditStore;
    const gapLog = await openLog(gap);
    hide = true;
    const withGap = await gapLog.verify(0, 7);
    expect(withGap.chainValid).toBe(false);
    expect(withGap.checkpointsValid).toBe(false);
    expect(withGap.anomalies).toEqual([{ atSeq: 3, expectedPrevHash: 'missing:2', actualPrevHash: expect.any(String) }]);
  });

  it('reopens from the last checkpoint and continues one chain', async () => {
    const store = new MemoryAuditStore();
    const a = await openLog(store);
    for (let i = 0; i < 6; i++) await a.append(rec(i));
    await a.close();
    const b = await openLog(store);
    expect(b.lastSeq).toBe(5);
    for (let i = 6; i < 12; i++) await b.append(rec(i));
    const r = await b.verify(0, 11);
    expect(r).toMatchObject({ chainValid: true, anomalies: [] });
    expect(r.checkpoints.map((c) => c.atSequence)).toEqual([3, 7, 11]);
  });

  it('two writers on one store interleave into one valid chain', async () => {
    const store = new MemoryAuditStore();
    const a = await openLog(store);
    const b = await openLog(store);
    await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? a : b).append(rec(i))));
    await a.append(rec(10));
    const r = await b.verify(0, 10);
    expect(r).toMatchObject({ chainValid: true, checkpointsValid: true, anomalies: [] });
    expect((await store.readAuditEntries(0, 100, 100)).map((e) => e.seq)).toEqual(Array.from({ length: 11 }, (_, i) => i));
  });
});
