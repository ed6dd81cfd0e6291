/**
 * The Store contract suite: one set of behavioural tests that every {@link Store}
 * implementation must pass unchanged. `MemoryStore` is the reference; the SQL stores must be
 * indistinguishable from it through the port. Time is a fixed fake `now` passed explicitly,
 * so nothing here depends on the wall clock.
 *
 * @see execution-semantics.md §5
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RunStatus, WorkflowDefinition } from '@weft/contract';
import {
  LeaseLostError,
  type ApiKeyRecord,
  type AuditCheckpoint,
  type AuditEntry,
  type AuditWriteState,
  type EncodedEvent,
  type IdempotencyClaim,
  type RunProjection,
  type RunRecord,
  type Store,
  type StoredWorkflow,
} from '@weft/engine';

/** What a contract factory hands the suite for one test. */
export interface StoreFixture {
  /** A store over an empty database. The suite calls `migrate()` itself. */
  store: Store;
  /** Closes the store and removes its database. */
  cleanup: () => Promise<void>;
}

/** The fake clock of the suite (2025-01-01T00:00:00Z). */
const T0 = Date.UTC(2025, 0, 1);
const iso = (ms: number): string => new Date(ms).toISOString();
const TTL = 30_000;

function definition(id: string, version: string): WorkflowDefinition {
  return {
    id,
    name: `Workflow ${id}`,
    version,
    nodes: [{ id: 'start', typeId: 'core.noop', name: 'Start', position: { x: 0, y: 0 }, config: { n: 1 }, inputs: {} }],
    edges: [],
    triggers: [],
    variables: [],
    metadata: { note: 'ünïcödé' },
    settings: {},
  };
}

function workflow(id: string, hash: string, version = '1', source = 'api'): StoredWorkflow {
  return { id, hash, definition: definition(id, version), source, createdAt: iso(T0) };
}

function projection(status: RunStatus, lastSequence = -1, extra: Partial<RunProjection> = {}): RunProjection {
  return { status, lastSequence, nodeExecutions: 0, nodeStates: {}, ...extra };
}

function runRecord(runId: string, over: Partial<RunRecord> = {}): RunRecord {
  return {
    runId,
    tenant: 't1',
    principal: 'alice',
    workflowId: 'wf',
    workflowHash: 'hash-wf',
    createdAt: iso(T0),
    variables: { topic: 'weft', n: 3, nested: { ok: true } },
    configurable: { model: 'small' },
    tags: ['a', 'b'],
    metadata: { source: 'test' },
    cancelRequested: null,
    projection: projection('pending'),
    leaseOwner: null,
    leaseEpoch: 0,
    leaseExpiresAt: null,
    ...over,
  };
}

/**
 * An event whose JSON is deliberately not what JSON.stringify would produce (spacing, key
 * order, number spellings, escapes, astral characters), so any re-encoding shows.
 */
function event(sequence: number, type = 'node.started', nodeId?: string): EncodedEvent {
  const json = `{ "sequence": ${sequence},  "type":"${type}", "payload": {"z": 1.50, "a": [1e3, -0.0, 12345678901234567890], "s": "é – 😀 \\u2028 \\"q\\""} }`;
  return nodeId === undefined ? { sequence, type, json } : { sequence, type, nodeId, json };
}

function claim(over: Partial<IdempotencyClaim> = {}): IdempotencyClaim {
  return {
    tenant: 't1',
    route: 'POST /v1/runs',
    key: 'key-1',
    requestHash: 'req-hash-1',
    owner: 'owner-1',
    now: T0,
    pendingTtlMs: 60_000,
    retentionMs: 86_400_000,
    ...over,
  };
}

function apiKey(keyId: string, over: Partial<ApiKeyRecord> = {}): ApiKeyRecord {
  return {
    keyId,
    tenant: 't1',
    principal: `key_${keyId}`,
    name: `key ${keyId} – ünïcödé`,
    scopes: ['runs:read', 'runs:create'],
    hash: `hash-${keyId}`,
    createdAt: T0,
    expiresAt: null,
    revokedAt: null,
    rotatedFrom: null,
    graceUntil: null,
    lastUsedAt: null,
    ...over,
  };
}

/** An audit entry continuing `prev` (hashes are opaque strings to a store). */
function auditEntry(seq: number, prevHash: string | null, over: Partial<AuditEntry> = {}): AuditEntry {
  return {
    seq,
    ts: iso(T0 + seq),
    tenant: 't1',
    principal: 'alice',
    action: 'run.created',
    target: `run-${seq}`,
    details: { workflowId: 'wf', n: seq, nested: { ok: true, list: ['é', 1.5, null] } },
    prevHash,
    hash: `h${seq}`,
    ...over,
  };
}

function checkpoint(n: number, atSeq: number): AuditCheckpoint {
  return { checkpoint: n, atSeq, merkleRoot: `root-${atSeq}`, signature: `sig-${n}`, keyId: 'k1', ts: iso(T0 + atSeq), frontier: [`f-${atSeq}`, 'f2'] };
}

/**
 * Registers the Store contract suite for one implementation. `factory` runs before every test
 * and must return a store over a fresh, empty database.
 *
 * @see execution-semantics.md §5
 */
export function defineStoreContract(name: string, factory: () => Promise<StoreFixture>): void {
  describe(`Store contract: ${name}`, () => {
    let store: Store;
    let cleanup: (() => Promise<void>) | undefined;

    // Generous hook timeouts: the first PGlite start in a process takes seconds.
    beforeEach(async () => {
      const fixture = await factory();
      store = fixture.store;
      cleanup = fixture.cleanup;
      await store.migrate();
    }, 60_000);

    afterEach(async () => {
      const done = cleanup;
      cleanup = undefined;
      await done?.();
    }, 60_000);

    /** Creates a run and takes its lease; returns the epoch. */
    async function leasedRun(runId: string, over: Partial<RunRecord> = {}, owner = 'worker-1'): Promise<number> {
      await store.createRun(runRecord(runId, over));
      const epoch = await store.claimRun(runId, owner, TTL, T0);
      if (epoch === null) throw new Error(`could not lease ${runId}`);
      return epoch;
    }

    describe('migrations', () => {
      it('migrate is idempotent and leaves a working store', async () => {
        await store.migrate();
        await store.migrate();
        expect(['memory', 'sqlite', 'postgres']).toContain(store.kind);
        await store.putWorkflow(workflow('wf', 'h1'));
        expect((await store.getWorkflow('wf'))?.hash).toBe('h1');
      });
    });

    describe('workflows', () => {
      it('stores a workflow and reads it by id and by hash', async () => {
        const wf = workflow('wf', 'h1');
        await store.putWorkflow(wf);
        expect(await store.getWorkflow('wf')).toEqual(wf);
        expect(await store.getWorkflowByHash('h1')).toEqual(wf);
        expect(await store.getWorkflow('other')).toBeUndefined();
        expect(await store.getWorkflowByHash('nope')).toBeUndefined();
      });

      it('addresses content by hash: the same hash is stored once, the first copy wins', async () => {
        await store.putWorkflow(workflow('wf', 'h1', '1', 'api'));
        await store.putWorkflow(workflow('wf', 'h1', '1', 'dir:/somewhere'));
        expect((await store.getWorkflowByHash('h1'))?.source).toBe('api');
        expect(await store.listWorkflows()).toHaveLength(1);
      });

      it('a new version moves the id while the old hash stays readable', async () => {
        await store.putWorkflow(workflow('wf', 'h1', '1'));
        await store.putWorkflow(workflow('wf', 'h2', '2'));
        expect((await store.getWorkflow('wf'))?.definition.version).toBe('2');
        expect((await store.getWorkflowByHash('h1'))?.definition.version).toBe('1');
        expect((await store.listWorkflows()).map((w) => w.hash)).toEqual(['h2']);
      });

      it('lists workflows ordered by id', async () => {
        for (const id of ['mid', 'zeta', 'alpha', 'Beta']) await store.putWorkflow(workflow(id, `h-${id}`));
        // Code-point order ('B' < 'a'), not locale order.
        expect((await store.listWorkflows()).map((w) => w.id)).toEqual(['Beta', 'alpha', 'mid', 'zeta']);
      });

      it('delete unmaps the id only; the definition stays readable by hash', async () => {
        await store.putWorkflow(workflow('wf', 'h1'));
        await store.putWorkflow(workflow('keep', 'h-keep'));
        expect(await store.deleteWorkflow('wf')).toBe(true);
        expect(await store.deleteWorkflow('wf')).toBe(false);
        expect(await store.deleteWorkflow('never')).toBe(false);
        expect(await store.getWorkflow('wf')).toBeUndefined();
        expect((await store.getWorkflowByHash('h1'))?.id).toBe('wf');
        expect((await store.listWorkflows()).map((w) => w.id)).toEqual(['keep']);
        // Re-registering the same content maps the id again.
        await store.putWorkflow(workflow('wf', 'h1'));
        expect((await store.getWorkflow('wf'))?.hash).toBe('h1');
      });
    });

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
          projection: projection('running', 4, { currentNodeId: 'n1', startedAt: iso(T0), nodeStates: { n1: { status: 'running', typeId: 'core.noop', attempt: 1 } } }),
        });
        await store.createRun(run);
        expect(await store.getRunInternal('r1')).toEqual(run);
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
        const ids = async (q: Parameters<Store['listRuns']>[1]): Promise<string[]> => (await store.listRuns('t1', q)).map((r) => r.runId);
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
        await expect(store.appendEvents('r1', epoch, [event(1), event(3)], projection('failed', 3), { set: [{ runId: 'r1', key: 'k', fireAt: T0 }] })).rejects.toThrow();
        expect((await store.readEvents('r1', -1, 100)).map((e) => e.sequence)).toEqual([0]);
        const run = await store.getRunInternal('r1');
        expect(run?.projection).toEqual(projection('running', 0));
        expect(run?.leaseOwner).toBe('worker-1');
        expect(await store.nextTimerAt()).toBeNull();
      });

      it('fences a stale epoch with LeaseLostError and writes nothing', async () => {
        const stale = await leasedRun('r1');
        await store.appendEvents('r1', stale, [event(0, 'run.started')], projection('running', 0), { set: [{ runId: 'r1', key: 'deadline', fireAt: T0 + 100 }] });
        // Another worker takes over after the lease expired.
        const fresh = await store.claimRun('r1', 'worker-2', TTL, T0 + TTL);
        expect(fresh).toBe(stale + 1);
        await expect(
          store.appendEvents('r1', stale, [event(1, 'node.started', 'n1')], projection('completed', 1), { clearAll: true, set: [{ runId: 'r1', key: 'late', fireAt: T0 }] }),
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
        await store.appendEvents('r1', epoch, [event(1, 'run.completed')], projection('completed', 1, { endedAt: iso(T0 + 10), outputs: { answer: 42 } }), { clearAll: true });
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
        await store.createRun(runRecord('leased', { createdAt: at(3), projection: projection('running'), leaseOwner: 'w1', leaseEpoch: 1, leaseExpiresAt: T0 + TTL }));
        await store.createRun(runRecord('expired', { createdAt: at(4), projection: projection('running'), leaseOwner: 'w1', leaseEpoch: 1, leaseExpiresAt: T0 }));
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
        await store.completeIdempotency({ tenant: 't1', route: 'POST /v1/runs', key: 'key-1', owner: 'owner-1', response: { status: 200, body: '{}' } }, 86_400_000, T0);
        expect(await store.claimIdempotency(claim({ requestHash: 'h-b', owner: 'o3' }))).toEqual({ kind: 'mismatch' });
      });

      it('only the owning attempt can complete a claim', async () => {
        expect((await store.claimIdempotency(claim({ owner: 'o1' }))).kind).toBe('claimed');
        // A run created with someone else's completion does not complete our record.
        await store.createRun(runRecord('r1'), { tenant: 't1', route: 'POST /v1/runs', key: 'key-1', owner: 'intruder', response: { status: 201, body: 'x' } });
        await store.completeIdempotency({ tenant: 't1', route: 'POST /v1/runs', key: 'key-1', owner: 'intruder', response: { status: 200, body: 'y' } }, 86_400_000, T0);
        expect(await store.claimIdempotency(claim({ owner: 'o2', now: T0 + 1 }))).toEqual({ kind: 'in-flight' });
        await store.completeIdempotency({ tenant: 't1', route: 'POST /v1/runs', key: 'key-1', owner: 'o1', response: { status: 202, body: '{"accepted":true}' } }, 86_400_000, T0 + 2);
        expect(await store.claimIdempotency(claim({ owner: 'o2', now: T0 + 3 }))).toEqual({ kind: 'replay', response: { status: 202, body: '{"accepted":true}' } });
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
        await store.completeIdempotency({ tenant: 't1', route: 'POST /v1/runs', key: 'key-1', owner: 'o1', response: { status: 201, body: 'stale' } }, 86_400_000, T0 + ttl + 2);
        expect((await store.claimIdempotency(claim({ owner: 'o3', pendingTtlMs: ttl, now: T0 + ttl + 3 }))).kind).toBe('in-flight');
        await store.completeIdempotency({ tenant: 't1', route: 'POST /v1/runs', key: 'key-1', owner: 'o2', response: { status: 201, body: 'fresh' } }, 86_400_000, T0 + ttl + 4);
        expect(await store.claimIdempotency(claim({ owner: 'o3', pendingTtlMs: ttl, now: T0 + 10 * ttl }))).toEqual({ kind: 'replay', response: { status: 201, body: 'fresh' } });
      });

      it('release drops only the owner’s pending claim', async () => {
        expect((await store.claimIdempotency(claim({ owner: 'o1' }))).kind).toBe('claimed');
        await store.releaseIdempotency('t1', 'POST /v1/runs', 'key-1', 'someone-else');
        expect((await store.claimIdempotency(claim({ owner: 'o2', now: T0 + 1 }))).kind).toBe('in-flight');
        await store.releaseIdempotency('t1', 'POST /v1/runs', 'key-1', 'o1');
        expect(await store.claimIdempotency(claim({ owner: 'o2', requestHash: 'different', now: T0 + 2 }))).toEqual({ kind: 'claimed' });
        // A completed record is not released.
        await store.completeIdempotency({ tenant: 't1', route: 'POST /v1/runs', key: 'key-1', owner: 'o2', response: { status: 200, body: 'done' } }, 86_400_000, T0 + 3);
        await store.releaseIdempotency('t1', 'POST /v1/runs', 'key-1', 'o2');
        expect(await store.claimIdempotency(claim({ owner: 'o3', requestHash: 'different', now: T0 + 4 }))).toEqual({ kind: 'replay', response: { status: 200, body: 'done' } });
      });

      it('purges expired records and counts them', async () => {
        await store.claimIdempotency(claim({ key: 'short', retentionMs: 1_000 }));
        await store.claimIdempotency(claim({ key: 'short-done', retentionMs: 1_000 }));
        await store.completeIdempotency({ tenant: 't1', route: 'POST /v1/runs', key: 'short-done', owner: 'owner-1', response: { status: 200, body: '' } }, 1_000, T0);
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

    describe('managed api keys', () => {
      it('creates a key and reads it by id (tenant-bound) and by hash', async () => {
        const k = apiKey('k1', { expiresAt: T0 + 5000 });
        await store.createApiKey(k);
        expect(await store.getApiKey('k1')).toEqual(k);
        expect(await store.getApiKey('k1', 't1')).toEqual(k);
        expect(await store.getApiKey('k1', 't2')).toBeUndefined();
        expect(await store.findApiKeyByHash('hash-k1')).toEqual(k);
        expect(await store.findApiKeyByHash('hash-nope')).toBeUndefined();
        expect(await store.getApiKey('nope')).toBeUndefined();
      });

      it('rejects a duplicate key id or hash and keeps the original', async () => {
        await store.createApiKey(apiKey('k1'));
        await expect(store.createApiKey(apiKey('k1', { hash: 'other' }))).rejects.toThrow();
        await expect(store.createApiKey(apiKey('k2', { hash: 'hash-k1' }))).rejects.toThrow();
        expect((await store.listApiKeys()).map((k) => k.keyId)).toEqual(['k1']);
      });

      it('lists keys oldest first, optionally for one tenant', async () => {
        await store.createApiKey(apiKey('kb', { createdAt: T0 + 1 }));
        await store.createApiKey(apiKey('kc', { createdAt: T0, tenant: 't2' }));
        await store.createApiKey(apiKey('ka', { createdAt: T0 + 1 }));
        expect((await store.listApiKeys()).map((k) => k.keyId)).toEqual(['kc', 'ka', 'kb']);
        expect((await store.listApiKeys('t1')).map((k) => k.keyId)).toEqual(['ka', 'kb']);
        expect(await store.listApiKeys('t3')).toEqual([]);
      });

      it('revokes once, bound to the tenant, keeping the first revocation time', async () => {
        await store.createApiKey(apiKey('k1'));
        expect(await store.revokeApiKey('k1', T0 + 10, 't2')).toBeUndefined();
        expect((await store.getApiKey('k1'))?.revokedAt).toBeNull();
        expect((await store.revokeApiKey('k1', T0 + 10, 't1'))?.revokedAt).toBe(T0 + 10);
        expect((await store.revokeApiKey('k1', T0 + 20))?.revokedAt).toBe(T0 + 10);
        expect(await store.revokeApiKey('nope', T0)).toBeUndefined();
      });

      it('rotates a live key: the successor inherits tenant, principal, name and scopes', async () => {
        const old = apiKey('k1', { principal: 'key_root', scopes: ['runs:read'] });
        await store.createApiKey(old);
        const r = await store.rotateApiKey('k1', { keyId: 'k2', hash: 'hash-k2', createdAt: T0 + 5, expiresAt: T0 + 9000 }, T0 + 1000, T0 + 5, 't1');
        expect(r.kind).toBe('rotated');
        if (r.kind !== 'rotated') return;
        expect(r.old).toEqual({ ...old, graceUntil: T0 + 1000 });
        expect(r.next).toEqual({ ...apiKey('k2'), principal: 'key_root', scopes: ['runs:read'], name: old.name, createdAt: T0 + 5, expiresAt: T0 + 9000, rotatedFrom: 'k1' });
        expect(await store.getApiKey('k1')).toEqual(r.old);
        expect(await store.findApiKeyByHash('hash-k2')).toEqual(r.next);
      });

      it('refuses to rotate a revoked, expired or already rotated key, or a foreign or unknown one, writing nothing', async () => {
        await store.createApiKey(apiKey('rev', { revokedAt: T0 }));
        await store.createApiKey(apiKey('exp', { expiresAt: T0 + 10 }));
        await store.createApiKey(apiKey('done', { graceUntil: T0 + 100 }));
        await store.createApiKey(apiKey('live'));
        const succ = (id: string): { keyId: string; hash: string; createdAt: number; expiresAt: null } => ({ keyId: id, hash: `hash-${id}`, createdAt: T0 + 10, expiresAt: null });
        for (const id of ['rev', 'exp', 'done']) {
          const r = await store.rotateApiKey(id, succ(`${id}-next`), T0 + 500, T0 + 10);
          expect(r.kind).toBe('conflict');
          if (r.kind === 'conflict') expect(r.old.keyId).toBe(id);
        }
        expect(await store.rotateApiKey('live', succ('x1'), T0 + 500, T0 + 10, 't2')).toEqual({ kind: 'not_found' });
        expect(await store.rotateApiKey('nope', succ('x2'), T0 + 500, T0 + 10)).toEqual({ kind: 'not_found' });
        expect((await store.listApiKeys()).map((k) => k.keyId).sort()).toEqual(['done', 'exp', 'live', 'rev']);
        expect((await store.getApiKey('live'))?.graceUntil).toBeNull();
      });

      it('a rotation whose successor hash collides writes nothing', async () => {
        await store.createApiKey(apiKey('k1'));
        await store.createApiKey(apiKey('k2'));
        await expect(store.rotateApiKey('k1', { keyId: 'k3', hash: 'hash-k2', createdAt: T0, expiresAt: null }, T0 + 1, T0)).rejects.toThrow();
        expect((await store.getApiKey('k1'))?.graceUntil).toBeNull();
        expect(await store.getApiKey('k3')).toBeUndefined();
      });

      it('lets exactly one of several concurrent rotations of one key win', async () => {
        await store.createApiKey(apiKey('k1'));
        const results = await Promise.all(
          Array.from({ length: 6 }, (_, i) => store.rotateApiKey('k1', { keyId: `n${i}`, hash: `hash-n${i}`, createdAt: T0, expiresAt: null }, T0 + 100, T0)),
        );
        expect(results.filter((r) => r.kind === 'rotated')).toHaveLength(1);
        expect(results.filter((r) => r.kind === 'conflict')).toHaveLength(5);
        expect(await store.listApiKeys()).toHaveLength(2);
      });

      it('records the last use', async () => {
        await store.createApiKey(apiKey('k1'));
        await store.touchApiKey('k1', T0 + 42);
        expect((await store.getApiKey('k1'))?.lastUsedAt).toBe(T0 + 42);
        await store.touchApiKey('nope', T0);
      });
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
