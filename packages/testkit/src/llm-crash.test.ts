/**
 * LLM calls across kill -9 (issue #11 acceptance): a real host process is killed while a
 * provider call streams, and after a call was recorded. The completed call is never sent again;
 * the interrupted one is sent once more, with the same Idempotency-Key.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunEventDoc } from '@weft/contract';
import { type FakeLlm, startFakeLlm } from './fake-llm.js';
import { api, killHost, SERVER_MAIN, type SpawnedHost, spawnHost, waitLog } from './spawned-host.js';
import { REPO_ROOT } from './test-host.js';

const KEY = 'llm-crash-key-0123456789abcdef';
const terminal = (evs: RunEventDoc[]): boolean => evs.some((e) => ['run.completed', 'run.failed', 'run.cancelled'].includes(e.type));

describe('LLM calls across kill -9 (SQLite)', () => {
  let llm: FakeLlm;
  let dataDir: string;
  beforeAll(async () => {
    llm = await startFakeLlm();
    dataDir = mkdtempSync(join(tmpdir(), 'weft-llm-crash-'));
  });
  afterAll(async () => {
    await llm?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  const spawn = (): Promise<SpawnedHost> =>
    spawnHost({
      argv: [SERVER_MAIN],
      key: KEY,
      env: {
        WEFT_PORT: '0',
        WEFT_STORE: 'sqlite',
        WEFT_DATA_DIR: dataDir,
        WEFT_API_KEYS: `crash:${KEY}`,
        WEFT_WORKFLOWS_DIR: join(REPO_ROOT, 'examples', 'workflows'),
        WEFT_LEASE_TTL_MS: '1000',
        WEFT_OUTBOUND_ALLOW: llm.allowEntry,
        WEFT_AI_PROVIDERS: JSON.stringify([{ id: 'local', kind: 'openai', baseUrl: llm.baseUrl }]),
      },
    });

  it('a recorded call is not re-sent after kill -9; a call killed mid-stream is sent once more with the same Idempotency-Key', async () => {
    let p = await spawn();
    try {
      // After the record: the agent's draft is recorded, the run waits for approval.
      const agent = await api<{ runId: string }>(p, 'POST', '/v1/runs', {
        workflowId: 'weft-agent',
        inputs: { provider: 'local', model: 'fake-chat', topic: 'crash draft' },
      });
      await waitLog(p, agent.runId, (e) => e.some((x) => x.type === 'interrupt.requested'));
      // During the stream: the provider streamed a token and stalls.
      const stall = await api<{ runId: string }>(p, 'POST', '/v1/runs', {
        workflowId: 'weft-ai-prompt',
        inputs: { provider: 'local', model: 'fake-stall', prompt: 'stall' },
      });
      await waitLog(p, stall.runId, (e) => e.some((x) => x.type === 'output.chunk'));
      const before = llm.requests();
      expect(before.filter((q) => q.model === 'fake-chat')).toHaveLength(1);
      expect(before.filter((q) => q.model === 'fake-stall')).toHaveLength(1);

      await killHost(p);
      p = await spawn();

      const stallLog = await waitLog(p, stall.runId, terminal);
      expect(stallLog.at(-1)?.type).toBe('run.completed');
      const stalls = llm.requests().filter((q) => q.model === 'fake-stall');
      expect(stalls).toHaveLength(2);
      expect(stalls[1]?.idempotencyKey).toBe(stalls[0]?.idempotencyKey);
      expect(stallLog.filter((e) => e.type === 'node.completed')).toHaveLength(1);

      await api(p, 'POST', `/v1/runs/${agent.runId}/interrupts/review`, { resumeValue: { action: 'accept' } });
      const agentLog = await waitLog(p, agent.runId, terminal);
      expect(agentLog.at(-1)?.type).toBe('run.completed');
      // Two LLM calls in all: the draft (once, before the kill) and the finish.
      expect(llm.requests().filter((q) => q.model === 'fake-chat')).toHaveLength(2);
      expect(agentLog.filter((e) => e.type === 'provider.usage')).toHaveLength(2);
    } finally {
      await killHost(p);
    }
  }, 60_000);
});
