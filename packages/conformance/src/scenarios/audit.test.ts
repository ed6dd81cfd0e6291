/**
 * Audit-log integrity (`openwop-audit-log-integrity`): `GET /v1/audit/verify` on the shared
 * host, then, on hosts started here, signed checkpoints checked with the advertised public key,
 * content-free entries for the audited actions, and tamper detection after editing a row
 * directly in the SQLite file or the Postgres table (host-internal).
 *
 * @see security-contract.md §1.10
 */
import { verify as verifySignature } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkContract } from '../contract-check.js';
import { assertErrorEnvelope, call, lacks, notInProcess, target, waitForTerminal } from '../harness.js';

const CANARY = 'CANARY-openwop-CONFORMANCE-NEVER-SECRET';

/** The test kit and server internals, for the hosts this file starts itself. */
const kit = target.inProcess ? await import('@weft/testkit') : undefined;
/**
 * The store of this project, for the hosts started here. The project's `test.env` reaches the
 * test workers but not global-setup.ts, so `target.store` (the shared host) is not reliable.
 */
const projectStore = (process.env.WEFT_TEST_STORE ?? target.store) as 'memory' | 'sqlite' | 'postgres';
const server = target.inProcess ? await import('@weft/server') : undefined;
type Host = Awaited<ReturnType<NonNullable<typeof kit>['startTestHost']>>;

interface VerifyBody {
  fromSeq: number;
  toSeq: number;
  chainValid: boolean;
  checkpointsValid?: boolean;
  checkpoints: { checkpoint: string; atSequence: number; merkleRoot: string; signature: string }[];
  anomalies: { atSeq: number; expectedPrevHash: string; actualPrevHash: string }[];
}

describe.skipIf(await lacks('the audit verify scenarios', { routes: ['auditVerify'], fixtures: ['conformance-noop'] }))('audit log: verify endpoint', () => {
  it('advertises the audit-log-integrity profile with an Ed25519 checkpoint key', async () => {
    const d = await call<{ auth?: { profiles: string[]; auditLogIntegrity?: Record<string, unknown> } }>('GET', '/.well-known/openwop', { key: null });
    if (!d.body.auth?.profiles.includes('openwop-audit-log-integrity')) {
      expect(target.inProcess).toBe(false);
      return;
    }
    checkContract('capabilities', d.body);
    expect(d.body.auth.auditLogIntegrity).toMatchObject({ hashChain: true, checkpointSignatureAlgorithm: 'ed25519', checkpointPublicKey: expect.any(String) });
    const a = d.body.auth.auditLogIntegrity as { checkpointIntervalEntries: number; checkpointIntervalSeconds: number };
    expect(Number.isInteger(a.checkpointIntervalEntries) && a.checkpointIntervalEntries > 0).toBe(true);
    expect(Number.isInteger(a.checkpointIntervalSeconds) && a.checkpointIntervalSeconds > 0).toBe(true);
  });

  it('invariant: audit-chain-tamper-detected — an untampered range verifies, in the official result shape', async () => {
    await call('POST', '/v1/runs', { body: { workflowId: 'conformance-noop' } });
    const r = await call<VerifyBody>('GET', '/v1/audit/verify?fromSeq=0&toSeq=50000');
    expect(r.status).toBe(200);
    checkContract('audit-verify-result', r.body);
    expect(r.body).toMatchObject({ fromSeq: 0, toSeq: 50_000, chainValid: true, anomalies: [] });
  });

  it.each([
    ['', 'both missing'],
    ['fromSeq=0', 'toSeq missing'],
    ['fromSeq=-1&toSeq=3', 'negative'],
    ['fromSeq=1.5&toSeq=3', 'not an integer'],
    ['fromSeq=abc&toSeq=3', 'not a number'],
    ['fromSeq=5&toSeq=4', 'toSeq < fromSeq'],
    ['fromSeq=0&toSeq=100000000', 'range too large'],
  ])('answers 400 for %s (%s)', async (query) => {
    const r = await call('GET', `/v1/audit/verify${query ? `?${query}` : ''}`);
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ error: 'validation_error' });
  });

  it.skipIf(!target.keyReadOnly)('invariant: scope-enforced — verify needs audit:read and authenticates first', async () => {
    const ro = await call('GET', '/v1/audit/verify?fromSeq=0&toSeq=1', { key: target.keyReadOnly as string });
    expect(ro.status).toBe(403);
    expect(ro.body).toMatchObject({ error: 'forbidden', details: { scopeRequired: 'audit:read' } });
    const anon = await call('GET', '/v1/audit/verify?fromSeq=x&toSeq=1', { key: null });
    expect(anon.status).toBe(401);
  });
});

/** A request against a host started by this file. */
async function req<T = Record<string, unknown>>(
  base: string,
  method: string,
  path: string,
  key: string | null,
  body?: unknown,
): Promise<{ status: number; body: T; text: string }> {
  const headers: Record<string, string> = {};
  if (key) headers.authorization = `Bearer ${key}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${base}${path}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const text = await res.text();
  const parsed = (text ? JSON.parse(text) : {}) as T;
  if (res.status >= 400) assertErrorEnvelope(parsed);
  return { status: res.status, body: parsed, text };
}

/** Waits (long-poll, with a deadline) until the run on `base` is terminal. */
async function settle(base: string, key: string, runId: string): Promise<void> {
  const end = Date.now() + 15_000;
  while (Date.now() < end) {
    const r = await req<{ isTerminal: boolean }>(base, 'GET', `/v1/runs/${runId}/events/poll?lastSequence=-1&timeout=5`, key);
    if (r.body.isTerminal) return;
  }
  throw new Error(`run ${runId} did not finish`);
}

/** Direct write access to the host's database, as an attacker with file or superuser access. */
interface RawDb {
  /** Runs an UPDATE with the append-only guard in place (expected to fail). */
  guardedUpdate(sql: string): Promise<void>;
  /** Runs an UPDATE after removing the append-only guard. */
  tamper(sql: string): Promise<void>;
  close(): Promise<void>;
}

async function openRaw(store: string, host: Host, dataDir: string, pgUrl: string | undefined): Promise<RawDb | undefined> {
  if (store === 'sqlite') {
    const { default: Database } = await import('better-sqlite3');
    const { join } = await import('node:path');
    const db = new Database(join(dataDir, 'weft.db'));
    return {
      guardedUpdate: async (sql) => void db.exec(sql),
      tamper: async (sql) => {
        db.exec('DROP TRIGGER IF EXISTS audit_log_no_update');
        db.exec(sql);
      },
      close: async () => {
        db.close();
      },
    };
  }
  if (store === 'postgres' && pgUrl) {
    const { default: pg } = await import('pg');
    const client = new pg.Client({ connectionString: pgUrl });
    await client.connect();
    return {
      guardedUpdate: async (sql) => void (await client.query(sql)),
      tamper: async (sql) => {
        await client.query('ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only');
        await client.query(sql);
      },
      close: async () => client.end(),
    };
  }
  void host;
  return undefined;
}

describe.skipIf(notInProcess('the host-internal audit scenarios'))('audit log: checkpoints, content and tampering (host-internal)', () => {
  // The body is collected even when skipped: nothing here may touch the kit before the hooks.
  if (!kit || !server) return;
  const { startTestHost, TEST_KEYS, CONTRACTS_DIR, REPO_ROOT } = kit;
  const srv = server;
  const store = projectStore;
  const key = TEST_KEYS.tenantA;
  let host: Host;
  let dataDir: string;
  let raw: RawDb | undefined;

  beforeAll(async () => {
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    dataDir = mkdtempSync(join(tmpdir(), 'weft-audit-'));
    host = await startTestHost({
      store,
      workflowsDirs: [join(CONTRACTS_DIR, 'conformance-fixtures'), join(REPO_ROOT, 'examples', 'workflows')],
      config: { dataDir, auditCheckpointEntries: 3 },
    });
    raw = await openRaw(store, host, dataDir, host.pgUrl);
  });
  afterAll(async () => {
    await raw?.close();
    await host?.stop();
    const { rmSync } = await import('node:fs');
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('invariant: audit-entries-content-free — run, interrupt, workflow and key actions are recorded with the principal and ids only', async () => {
    const before = (await host.store.readAuditEntries(0, 1_000_000, 100_000)).length;
    const run = await req<{ runId: string }>(host.url, 'POST', '/v1/runs', key, { workflowId: 'conformance-delay', inputs: { note: CANARY } });
    expect(run.status).toBe(201);
    expect((await req(host.url, 'POST', `/v1/runs/${run.body.runId}/cancel`, key, { reason: CANARY })).status).toBe(200);
    const wf = {
      id: 'audit-probe',
      name: CANARY,
      version: '1',
      nodes: [{ id: 'a', typeId: 'core.noop', name: 'a', position: { x: 0, y: 0 }, config: {}, inputs: {} }],
      edges: [],
      triggers: [],
      variables: [],
      metadata: {},
      settings: {},
    };
    expect((await req(host.url, 'POST', '/v1/host/weft/workflows', key, wf)).status).toBe(201);
    expect((await req(host.url, 'DELETE', '/v1/host/weft/workflows/audit-probe', key)).status).toBe(204);
    const appr = await req<{ runId: string }>(host.url, 'POST', '/v1/runs', key, { workflowId: 'conformance-approval' });
    const end = Date.now() + 10_000;
    let nodeId: string | undefined;
    while (!nodeId && Date.now() < end) {
      const list = await req<{ interrupts: { nodeId: string; status: string }[] }>(host.url, 'GET', `/v1/runs/${appr.body.runId}/interrupts`, key);
      nodeId = list.body.interrupts.find((i) => i.status === 'pending')?.nodeId;
      if (!nodeId) await req(host.url, 'GET', `/v1/runs/${appr.body.runId}/events/poll?lastSequence=-1&timeout=1`, key);
    }
    expect(nodeId).toBeTruthy();
    const decided = await req(host.url, 'POST', `/v1/runs/${appr.body.runId}/interrupts/${nodeId as string}`, key, {
      resumeValue: { action: 'accept', comment: CANARY },
    });
    expect(decided.status).toBe(200);
    const created = await req<{ keyId: string; secret: string }>(host.url, 'POST', '/v1/host/weft/keys', key, { name: CANARY, scopes: ['runs:read'] });
    await req(host.url, 'POST', `/v1/host/weft/keys/${created.body.keyId}:revoke`, key, {});
    await settle(host.url, key, run.body.runId);

    const entries = (await host.store.readAuditEntries(0, 1_000_000, 100_000)).slice(before);
    const actions = entries.map((e) => e.action);
    expect(actions).toEqual(
      expect.arrayContaining(['run.created', 'run.cancelled', 'workflow.registered', 'workflow.deleted', 'interrupt.resolved', 'key.created', 'key.revoked']),
    );
    const principal = (await req<{ owner: { principal: string } }>(host.url, 'GET', `/v1/runs/${run.body.runId}`, key)).body.owner.principal;
    for (const e of entries) {
      expect(e.tenant).toBe('tenant-a');
      expect(e.principal).toBe(principal);
    }
    expect(entries.find((e) => e.action === 'run.created')).toMatchObject({ target: run.body.runId, details: { workflowId: 'conformance-delay' } });
    const text = JSON.stringify(entries);
    expect(text).not.toContain(CANARY);
    expect(text).not.toContain(created.body.secret);
    expect(text).not.toContain(key);
  });

  it('invariant: audit-checkpoint-signed — checkpoints every N entries verify with the advertised public key', async () => {
    for (let i = 0; i < 4; i++) expect((await req(host.url, 'POST', '/v1/runs', key, { workflowId: 'conformance-noop' })).status).toBe(201);
    const d = await req<{ auth: { auditLogIntegrity: { checkpointPublicKey: string; checkpointIntervalEntries: number } } }>(
      host.url,
      'GET',
      '/.well-known/openwop',
      null,
    );
    checkContract('capabilities', d.body);
    expect(d.body.auth.auditLogIntegrity.checkpointIntervalEntries).toBe(3);
    const pub = srv.importCheckpointPublicKey(d.body.auth.auditLogIntegrity.checkpointPublicKey);
    const tip = (await host.store.readAuditEntries(0, 1_000_000, 100_000)).length - 1;
    const r = await req<VerifyBody>(host.url, 'GET', `/v1/audit/verify?fromSeq=0&toSeq=${tip}`, key);
    expect(r.status).toBe(200);
    checkContract('audit-verify-result', r.body);
    expect(r.body).toMatchObject({ chainValid: true, checkpointsValid: true, anomalies: [] });
    expect(r.body.checkpoints.length).toBe(Math.floor((tip + 1) / 3));
    r.body.checkpoints.forEach((c, i) => {
      expect(c.atSequence).toBe(3 * i + 2);
      const payload = Buffer.from(srv.jcs({ checkpoint: c.checkpoint, atSequence: c.atSequence, merkleRoot: c.merkleRoot }));
      expect(verifySignature(null, payload, pub, Buffer.from(c.signature, 'base64'))).toBe(true);
      expect(
        verifySignature(null, Buffer.from(srv.jcs({ ...c, signature: undefined, merkleRoot: '0'.repeat(64) })), pub, Buffer.from(c.signature, 'base64')),
      ).toBe(false);
    });
    // The checkpoint roots are the RFC 6962 tree hash of the entry hashes.
    const hashes = (await host.store.readAuditEntries(0, tip, 100_000)).map((e) => e.hash);
    const last = r.body.checkpoints.at(-1) as VerifyBody['checkpoints'][number];
    const f = srv.MerkleFrontier.empty();
    for (const h of hashes.slice(0, last.atSequence + 1)) f.push(h);
    expect(f.root()).toBe(last.merkleRoot);
  });

  it.skipIf(store === 'memory')('invariant: audit-log-append-only — the database refuses updates of audit rows', async () => {
    await expect((raw as RawDb).guardedUpdate("UPDATE audit_log SET action = 'x' WHERE seq = 0")).rejects.toThrow(/append-only/);
    const r = await req<VerifyBody>(host.url, 'GET', '/v1/audit/verify?fromSeq=0&toSeq=0', key);
    expect(r.body.chainValid).toBe(true);
  });

  it.skipIf(store === 'memory')('invariant: audit-chain-tamper-detected — a row edited in the database breaks the chain at that row', async () => {
    for (let i = 0; i < 3; i++) await req(host.url, 'POST', '/v1/runs', key, { workflowId: 'conformance-noop' });
    const entries = await host.store.readAuditEntries(0, 1_000_000, 100_000);
    const tip = entries.length - 1;
    const clean = await req<VerifyBody>(host.url, 'GET', `/v1/audit/verify?fromSeq=0&toSeq=${tip}`, key);
    expect(clean.body).toMatchObject({ chainValid: true, anomalies: [] });
    const victim = entries[4] as (typeof entries)[number];

    // Rewrite what entry 4 says: its own hash no longer matches what entry 5 committed to.
    await (raw as RawDb).tamper(`UPDATE audit_log SET target = 'run_forged' WHERE seq = ${victim.seq}`);
    const edited = await req<VerifyBody>(host.url, 'GET', `/v1/audit/verify?fromSeq=0&toSeq=${tip}`, key);
    expect(edited.status).toBe(200);
    checkContract('audit-verify-result', edited.body);
    expect(edited.body.chainValid).toBe(false);
    expect(edited.body.checkpointsValid).toBe(false);
    expect(edited.body.anomalies).toEqual([{ atSeq: victim.seq + 1, expectedPrevHash: expect.stringMatching(/^[0-9a-f]{64}$/), actualPrevHash: victim.hash }]);
    // Verifying only the tampered entry names it: it no longer matches its own recorded hash.
    const alone = await req<VerifyBody>(host.url, 'GET', `/v1/audit/verify?fromSeq=${victim.seq}&toSeq=${victim.seq}`, key);
    expect(alone.body.chainValid).toBe(false);
    expect(alone.body.anomalies.map((a) => a.atSeq)).toEqual([victim.seq]);

    // Rewrite the link of entry 7: the break is reported at 7.
    await (raw as RawDb).tamper(`UPDATE audit_log SET prev_hash = '${'a'.repeat(64)}' WHERE seq = 7`);
    const relinked = await req<VerifyBody>(host.url, 'GET', `/v1/audit/verify?fromSeq=6&toSeq=${tip}`, key);
    expect(relinked.body.chainValid).toBe(false);
    expect(relinked.body.anomalies).toContainEqual({ atSeq: 7, expectedPrevHash: entries[6]?.hash, actualPrevHash: 'a'.repeat(64) });
    // Entries before the damage still verify.
    expect((await req<VerifyBody>(host.url, 'GET', '/v1/audit/verify?fromSeq=0&toSeq=3', key)).body.chainValid).toBe(true);
  });
});

describe.skipIf(!target.inProcess)('audit log: shared host records runs', () => {
  it('keeps one valid chain while runs are created concurrently by other scenarios', async () => {
    const r = await call<{ runId: string }>('POST', '/v1/runs', { body: { workflowId: 'conformance-noop' } });
    expect(r.status).toBe(201);
    await waitForTerminal(r.body.runId);
    const v = await call<VerifyBody>('GET', '/v1/audit/verify?fromSeq=0&toSeq=90000');
    expect(v.body.chainValid).toBe(true);
  });
});
