/**
 * Record builders for store tests: runs, events, workflows, idempotency claims, keys and audit
 * entries with awkward-but-valid content (non-ASCII text, hand-spaced JSON). Time is a fixed
 * fake `now` ({@link T0}) passed explicitly, so nothing depends on the wall clock. No test
 * framework imports: the store packages' own tests use these too.
 */
import type { RunStatus, WorkflowDefinition } from '@weft/contract';
import type { EncodedEvent, IdempotencyClaim, RunProjection, RunRecord, StoredWorkflow } from '@weft/engine';
import type { ApiKeyRecord, AuditCheckpoint, AuditEntry } from '@weft/store-kit';

/** The fake clock of the suites (2025-01-01T00:00:00Z). */
export const T0 = Date.UTC(2025, 0, 1);
export const iso = (ms: number): string => new Date(ms).toISOString();
export const TTL = 30_000;

export function definition(id: string, version: string): WorkflowDefinition {
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

export function workflow(id: string, hash: string, version = '1', source = 'api'): StoredWorkflow {
  return { id, hash, definition: definition(id, version), source, createdAt: iso(T0) };
}

export function projection(status: RunStatus, lastSequence = -1, extra: Partial<RunProjection> = {}): RunProjection {
  return { status, lastSequence, nodeExecutions: 0, nodeStates: {}, ...extra };
}

export function runRecord(runId: string, over: Partial<RunRecord> = {}): RunRecord {
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
export function event(sequence: number, type = 'node.started', nodeId?: string): EncodedEvent {
  const json = `{ "sequence": ${sequence},  "type":"${type}", "payload": {"z": 1.50, "a": [1e3, -0.0, 12345678901234567890], "s": "é – 😀 \\u2028 \\"q\\""} }`;
  return nodeId === undefined ? { sequence, type, json } : { sequence, type, nodeId, json };
}

export function claim(over: Partial<IdempotencyClaim> = {}): IdempotencyClaim {
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

export function apiKey(keyId: string, over: Partial<ApiKeyRecord> = {}): ApiKeyRecord {
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
export function auditEntry(seq: number, prevHash: string | null, over: Partial<AuditEntry> = {}): AuditEntry {
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

export function checkpoint(n: number, atSeq: number): AuditCheckpoint {
  return { checkpoint: n, atSeq, merkleRoot: `root-${atSeq}`, signature: `sig-${n}`, keyId: 'k1', ts: iso(T0 + atSeq), frontier: [`f-${atSeq}`, 'f2'] };
}
