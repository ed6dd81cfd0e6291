/**
 * Crash safety: a real host process is killed with SIGKILL mid-run and restarted on the same
 * data; every accepted run must finish from its log with nothing lost or duplicated.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { RunEventDoc } from '@weft/contract';
import { stopTestDatabases } from './pg.js';
import { api, createRealTestDatabase, killHost, SERVER_MAIN, type SpawnedHost, spawnHost, waitLog } from './spawned-host.js';
import { CONTRACTS_DIR, REPO_ROOT } from './test-host.js';

const KEY = 'crash-test-key-0123456789abcdef';

/** Spawns a host and resolves with it once it prints the listening line. */
function spawnCrashHost(env: Record<string, string>): Promise<SpawnedHost> {
  return spawnHost({
    argv: [SERVER_MAIN],
    key: KEY,
    env: {
      WEFT_PORT: '0',
      WEFT_API_KEYS: `crash:${KEY}`,
      WEFT_WORKFLOWS_DIR: `${join(CONTRACTS_DIR, 'conformance-fixtures')}:${join(REPO_ROOT, 'examples', 'workflows')}`,
      WEFT_LEASE_TTL_MS: '1000',
      WEFT_INTERRUPT_TOKEN_KEYS: 'crash1:crash-test-interrupt-token-secret-0123456789',
      ...env,
    },
  });
}

const terminal = (evs: RunEventDoc[]): boolean => evs.some((e) => ['run.completed', 'run.failed', 'run.cancelled'].includes(e.type));

function assertCleanLog(evs: RunEventDoc[]): void {
  expect(evs.map((e) => e.sequence)).toEqual(evs.map((_, i) => i));
  expect(evs.filter((e) => ['run.completed', 'run.failed', 'run.cancelled'].includes(e.type))).toHaveLength(1);
  expect(terminal([evs.at(-1) as RunEventDoc])).toBe(true);
  expect(evs.filter((e) => e.type === 'run.started')).toHaveLength(1);
  const completed = evs.filter((e) => e.type === 'node.completed').map((e) => e.nodeId);
  expect(new Set(completed).size).toBe(completed.length);
}

/** A gate whose deadline (60 ms) passes while the host is down. */
const QUICK_DEADLINE = {
  id: 'crash-quick-deadline',
  name: 'Quick deadline',
  version: '1.0',
  nodes: [
    {
      id: 'gate',
      typeId: 'core.approvalGate',
      name: 'gate',
      position: { x: 0, y: 0 },
      config: { title: 'Quick', actions: ['accept', 'reject'], timeoutMs: 60 },
      inputs: {},
    },
  ],
  edges: [],
  triggers: [{ id: 'manual', type: 'manual', enabled: true }],
  variables: [],
  metadata: {},
  settings: {},
};

afterAll(async () => {
  await stopTestDatabases();
});

describe.each(['sqlite', 'postgres'] as const)('crash recovery on %s', (store) => {
  it('every accepted run continues from its log after kill -9 and restart; gates, tokens and deadlines survive', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'weft-crash-'));
    // PGlite multiplexes every socket onto one backend session, so a client killed mid-transaction
    // would poison it for everyone: always a real server.
    const db = store === 'postgres' ? await createRealTestDatabase() : undefined;
    const env: Record<string, string> = { WEFT_STORE: store, WEFT_DATA_DIR: dataDir, ...(db ? { WEFT_PG_URL: db.url } : {}) };
    let p = await spawnCrashHost(env);
    try {
      const done = await api<{ runId: string }>(p, 'POST', '/v1/runs', { workflowId: 'conformance-noop' });
      const doneLog = await waitLog(p, done.runId, terminal);
      const short = await api<{ runId: string }>(p, 'POST', '/v1/runs', { workflowId: 'weft-sleep', inputs: { delayMs: 50 } });
      const long = await api<{ runId: string }>(p, 'POST', '/v1/runs', { workflowId: 'weft-sleep', inputs: { delayMs: 1500 } });
      await waitLog(p, short.runId, (e) => e.some((x) => x.type === 'node.started'));
      await waitLog(p, long.runId, (e) => e.some((x) => x.type === 'node.started'));
      const accepted = await api<{ runId: string }>(p, 'POST', '/v1/runs', { workflowId: 'weft-fanout' });
      // A dispatch loop killed while its worker sleeps (decision 0026).
      const team = await api<{ runId: string }>(p, 'POST', '/v1/runs', { workflowId: 'weft-agents-sleepy' });
      const teamLog = await waitLog(p, team.runId, (e) => e.some((x) => x.type === 'node.dispatched'));
      const worker = (teamLog.find((x) => x.type === 'node.dispatched')?.payload as { childRunId: string }).childRunId;
      await waitLog(p, worker, (e) => e.some((x) => x.type === 'node.started'));

      // A gate waiting on a person, with its callback token, and a gate whose deadline passes
      // while the host is down.
      const gate = await api<{ runId: string }>(p, 'POST', '/v1/runs', { workflowId: 'conformance-approval' });
      await waitLog(p, gate.runId, (e) => e.some((x) => x.type === 'interrupt.requested'));
      const gateSnap = await api<{ interrupt: { interruptToken: string } }>(p, 'GET', `/v1/runs/${gate.runId}`);
      const token = gateSnap.interrupt.interruptToken;
      await api(p, 'POST', '/v1/host/weft/workflows', QUICK_DEADLINE);
      const quick = await api<{ runId: string }>(p, 'POST', '/v1/runs', { workflowId: QUICK_DEADLINE.id });
      const quickLog = await waitLog(p, quick.runId, (e) => e.some((x) => x.type === 'interrupt.requested'));
      const deadline = Date.parse(quickLog.find((x) => x.type === 'interrupt.requested')?.timestamp ?? '') + 60;

      await killHost(p);
      p = await spawnCrashHost(env);
      const restartedAt = Date.now();

      const doneAfter = await waitLog(p, done.runId, terminal);
      expect(doneAfter).toEqual(doneLog);
      for (const id of [short.runId, long.runId, accepted.runId]) {
        const evs = await waitLog(p, id, terminal);
        assertCleanLog(evs);
        expect(evs.at(-1)?.type).toBe('run.completed');
      }
      // The loop finds its sleeping worker again: one child, two turns, one terminal event.
      const teamAfter = await waitLog(p, team.runId, terminal);
      expect(teamAfter.at(-1)?.type).toBe('run.completed');
      expect(teamAfter.map((e) => e.sequence)).toEqual(teamAfter.map((_, i) => i));
      expect(teamAfter.filter((e) => e.type === 'run.started')).toHaveLength(1);
      expect(teamAfter.filter((e) => e.type === 'node.dispatched')).toHaveLength(1);
      expect(teamAfter.filter((e) => e.type === 'runOrchestrator.decided').map((e) => (e.payload as { decision: { kind: string } }).decision.kind)).toEqual([
        'next-worker',
        'terminate',
      ]);
      const workerAfter = await waitLog(p, worker, terminal);
      assertCleanLog(workerAfter);
      expect(workerAfter.at(-1)?.type).toBe('run.completed');
      const longLog = await waitLog(p, long.runId, terminal);
      expect(longLog.filter((e) => e.type === 'node.completed').map((e) => e.nodeId)).toEqual(['sleep', 'after']);
      const snap = await api<{ status: string }>(p, 'GET', `/v1/runs/${long.runId}`);
      expect(snap.status).toBe('completed');

      // The deadline passed while the host was down: it fires exactly once after restart.
      expect(deadline).toBeLessThan(restartedAt);
      const quickAfter = await waitLog(p, quick.runId, terminal);
      assertCleanLog(quickAfter);
      expect(quickAfter.filter((x) => x.type === 'interrupt.resolved')).toHaveLength(1);
      expect(quickAfter.find((x) => x.type === 'interrupt.resolved')?.payload).toMatchObject({ outcome: 'rejected', reason: 'timeout' });

      // The gate is still waiting, and the token minted before the crash resolves it.
      expect((await api<{ status: string }>(p, 'GET', `/v1/runs/${gate.runId}`)).status).toBe('waiting-approval');
      const res = await fetch(`${p.url}/v1/interrupts/${token}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ resumeValue: { action: 'accept' } }),
      });
      expect(res.status).toBe(200);
      const gateLog = await waitLog(p, gate.runId, terminal);
      assertCleanLog(gateLog);
      expect(gateLog.at(-1)?.type).toBe('run.completed');
    } finally {
      await killHost(p);
      await db?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 60_000);
});
