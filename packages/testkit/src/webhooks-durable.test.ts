/**
 * Durable webhooks across a crash: a real host process with undelivered outbox rows (some in
 * flight to a receiver that holds them, some not yet claimed) is killed with SIGKILL and
 * restarted on the same data. Every row must then be delivered, and no delivery the receiver
 * acknowledged before the crash may arrive again (the outbox row was removed with the
 * acknowledgement, and the dedupe key — webhook id, run id, sequence — is the same throughout).
 *
 * The receiver runs in this test process on loopback; the host reaches it only because
 * `WEFT_WEBHOOK_ALLOW` names exactly its address and port.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { RunEventDoc } from '@weft/contract';
import { stopTestDatabases } from './pg.js';
import { api, createRealTestDatabase, killHost, SERVER_MAIN, type SpawnedHost, spawnHost, waitLog } from './spawned-host.js';
import { CONTRACTS_DIR, REPO_ROOT } from './test-host.js';
import { countingReceiver } from './webhook-receiver.js';

const KEY = 'webhook-crash-key-0123456789abcdef';
const MASTER = `crash1:${randomBytes(32).toString('base64url')}`;

const terminal = (evs: RunEventDoc[]): boolean => evs.some((e) => ['run.completed', 'run.failed', 'run.cancelled'].includes(e.type));

afterAll(async () => {
  await stopTestDatabases();
});

describe.each(['sqlite', 'postgres'] as const)('durable webhooks on %s', (store) => {
  it('invariant: webhook-durable-crash-safe — after kill -9 with undelivered outbox rows every row is delivered after restart, none acknowledged before it twice', async () => {
    const receiver = await countingReceiver();
    const dataDir = mkdtempSync(join(tmpdir(), 'weft-webhook-crash-'));
    const db = store === 'postgres' ? await createRealTestDatabase() : undefined;
    const env: Record<string, string> = {
      WEFT_STORE: store,
      WEFT_DATA_DIR: dataDir,
      WEFT_PORT: '0',
      WEFT_API_KEYS: `crash:${KEY}`,
      WEFT_MASTER_KEY: MASTER,
      WEFT_WEBHOOK_ALLOW: receiver.allowEntry,
      // Attempts end after 500 ms, so a dead process's leases free up 3 s later.
      WEFT_WEBHOOK_TIMEOUT_MS: '500',
      WEFT_WEBHOOK_RETRY_BASE_MS: '100',
      WEFT_LEASE_TTL_MS: '1000',
      WEFT_WORKFLOWS_DIR: `${join(CONTRACTS_DIR, 'conformance-fixtures')}:${join(REPO_ROOT, 'examples', 'workflows')}`,
      ...(db ? { WEFT_PG_URL: db.url } : {}),
    };
    const spawn = (): Promise<SpawnedHost> => spawnHost({ argv: [SERVER_MAIN], key: KEY, env });
    let p = await spawn();
    try {
      const hook = await api<{ webhookId: string }>(p, 'POST', '/v1/webhooks', {
        url: `${receiver.url}/hook`,
        events: ['run.started', 'run.completed'],
        delivery: 'durable',
      });
      const keysOf = (runIds: string[], evs: Map<string, RunEventDoc[]>): string[] =>
        runIds.flatMap((id) =>
          (evs.get(id) ?? []).filter((e) => e.type === 'run.started' || e.type === 'run.completed').map((e) => `${hook.webhookId}|${id}|${e.sequence}`),
        );
      const logs = new Map<string, RunEventDoc[]>();

      // Phase 1: delivered and acknowledged before the crash.
      const before: string[] = [];
      for (let i = 0; i < 5; i++) before.push((await api<{ runId: string }>(p, 'POST', '/v1/runs', { workflowId: 'weft-hello' })).runId);
      for (const id of before) logs.set(id, await waitLog(p, id, terminal));
      const ackedBefore = keysOf(before, logs);
      await receiver.until(() => ackedBefore.every((k) => receiver.acked.has(k)));

      // Phase 2: the receiver holds every request; rows are claimed (in flight) or waiting when the host dies.
      receiver.mode = 'hold';
      const seenBefore = receiver.seen;
      const after: string[] = [];
      for (let i = 0; i < 5; i++) after.push((await api<{ runId: string }>(p, 'POST', '/v1/runs', { workflowId: 'weft-hello' })).runId);
      for (const id of after) logs.set(id, await waitLog(p, id, terminal));
      await receiver.until(() => receiver.seen > seenBefore);
      await killHost(p);

      // Restart on the same data with a receiver that acknowledges again.
      receiver.mode = 'ack';
      const snapshot = new Map(receiver.acked);
      p = await spawn();
      const all = keysOf([...before, ...after], logs);
      expect(all).toHaveLength(20);
      await receiver.until(() => all.every((k) => receiver.acked.has(k)), 40_000);
      // Nothing acknowledged before the crash came again.
      for (const k of ackedBefore) expect(receiver.acked.get(k), k).toBe(snapshot.get(k));
      for (const k of ackedBefore) expect(snapshot.get(k), k).toBe(1);
      // The records follow the acknowledgements (each is written after its outbox row is removed).
      const end = Date.now() + 10_000;
      let delivered = 0;
      while (Date.now() < end) {
        const records = await api<{ deliveries: { status: string }[] }>(p, 'GET', `/v1/webhooks/${hook.webhookId}/deliveries?limit=100`);
        delivered = records.deliveries.filter((d) => d.status === 'delivered').length;
        if (delivered >= 20) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(delivered).toBe(20);
    } finally {
      await killHost(p).catch(() => undefined);
      await receiver.close();
      await db?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 120_000);
});
