/**
 * The shared row mappers: a record survives the trip to a row and back, and BIGINT columns
 * that `pg` hands over as strings come back as the same numbers SQLite returns.
 */
import { describe, expect, it } from 'vitest';
import type { ApiKeyRecord, AuditCheckpoint, AuditEntry } from '../ports.js';
import {
  apiKeyValues,
  checkpointValues,
  toApiKey,
  toApiKeyRow,
  toAuditEntry,
  toAuditRow,
  toCheckpoint,
  toCheckpointRow,
  toRunRecord,
  toTimer,
  type RunRow,
} from './rows.js';

const key: ApiKeyRecord = {
  keyId: 'k1',
  tenant: 't1',
  principal: 'key_k1',
  name: 'ci – ünïcödé',
  scopes: ['runs:read'],
  hash: 'ab'.repeat(32),
  createdAt: 1_735_689_600_000,
  expiresAt: null,
  revokedAt: 1_735_689_600_123,
  rotatedFrom: null,
  graceUntil: null,
  lastUsedAt: 1,
};

/** Every number of a row as the string pg returns for a BIGINT. */
const asBigintStrings = <T extends object>(row: T): T =>
  Object.fromEntries(Object.entries(row).map(([k, v]) => [k, typeof v === 'number' ? String(v) : v])) as T;

describe('shared row mappers', () => {
  it('a managed key round-trips through its row, with numbers or BIGINT strings', () => {
    expect(toApiKey(toApiKeyRow(key))).toEqual(key);
    expect(toApiKey(asBigintStrings(toApiKeyRow(key)))).toEqual(key);
    expect(apiKeyValues(key)).toEqual(['k1', 't1', 'key_k1', 'ci – ünïcödé', '["runs:read"]', key.hash, key.createdAt, null, key.revokedAt, null, null, 1]);
  });

  it('audit entries and checkpoints round-trip, with numbers or BIGINT strings', () => {
    const e: AuditEntry = {
      seq: 7,
      ts: '2025-01-01T00:00:00.000Z',
      tenant: 't1',
      principal: 'p',
      action: 'key.created',
      target: 'k1',
      details: { n: 1.5, list: ['é', null] },
      prevHash: 'h6',
      hash: 'h7',
    };
    const c: AuditCheckpoint = { checkpoint: 2, atSeq: 7, merkleRoot: 'r', signature: 's', keyId: 'k', ts: e.ts, frontier: ['a', 'b'] };
    expect(toAuditEntry(toAuditRow(e))).toEqual(e);
    expect(toAuditEntry(asBigintStrings(toAuditRow(e)))).toEqual(e);
    expect(toCheckpoint(asBigintStrings(toCheckpointRow(c)))).toEqual(c);
    expect(checkpointValues(c)).toEqual([2, 7, 'r', 's', 'k', e.ts, '["a","b"]']);
  });

  it('a run row maps its JSON columns and a BIGINT lease expiry; a null cancel stays null', () => {
    const row: RunRow<string> = {
      run_id: 'r1',
      tenant: 't1',
      principal: 'alice',
      workflow_id: 'wf',
      workflow_hash: 'h',
      created_at: '2025-01-01T00:00:00.000Z',
      variables_json: '{"a":1}',
      configurable_json: '{}',
      tags_json: '["x"]',
      metadata_json: '{}',
      cancel_json: null,
      projection_json: '{"status":"running","lastSequence":0,"nodeExecutions":1,"nodeStates":{}}',
      lease_owner: 'w1',
      lease_epoch: 3,
      lease_expires_at: '1735689630000',
      fork_json: null,
      trace_context: null,
      callback_json: null,
    };
    const run = toRunRecord(row);
    expect(run).not.toHaveProperty('fork');
    expect(run).not.toHaveProperty('callback');
    expect(toRunRecord({ ...row, callback_json: '{"webhookId":"cb_1","token":true}' }).callback).toEqual({ webhookId: 'cb_1', token: true });
    expect(toRunRecord({ ...row, fork_json: '{"sourceRunId":"r0","fromSeq":2,"mode":"replay"}' }).fork).toEqual({
      sourceRunId: 'r0',
      fromSeq: 2,
      mode: 'replay',
    });
    expect(run.leaseExpiresAt).toBe(1_735_689_630_000);
    expect(run.variables).toEqual({ a: 1 });
    expect(run.tags).toEqual(['x']);
    expect(run.cancelRequested).toBeNull();
    expect(run.projection.status).toBe('running');
    expect(toTimer({ run_id: 'r1', key: 'd', fire_at: '42' })).toEqual({ runId: 'r1', key: 'd', fireAt: 42 });
  });
});
