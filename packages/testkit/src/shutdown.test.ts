/**
 * Clean shutdown of the real CLI process: `weft serve` gets SIGTERM while an SSE stream and a
 * long-poll are open. The long-poll must be answered, the stream must end, the process must
 * exit 0 within its shutdown bound, and a restarted host must finish the runs — on Postgres
 * at once, because the leases were released rather than left to expire.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { RunEventDoc } from '@weft/contract';
import { stopTestDatabases } from './pg.js';
import { api, CLI_BIN, createRealTestDatabase, exitWithin, killHost, type SpawnedHost, spawnHost, waitLog } from './spawned-host.js';
import { REPO_ROOT } from './test-host.js';

const KEY = 'shutdown-test-key-0123456789abcdef';
const SHUTDOWN_TIMEOUT_MS = 5_000;
const auth = { authorization: `Bearer ${KEY}` };

/** Spawns `weft serve` and resolves with it once it prints the listening line. */
function spawnServe(args: string[]): Promise<SpawnedHost> {
  return spawnHost({
    argv: [CLI_BIN, 'serve', '--port', '0', '--shutdown-timeout-ms', String(SHUTDOWN_TIMEOUT_MS), ...args],
    key: KEY,
    env: {
      WEFT_API_KEYS: `shut:${KEY}`,
      WEFT_WORKFLOWS_DIR: join(REPO_ROOT, 'examples', 'workflows'),
      WEFT_SSE_KEEPALIVE_MS: '500',
      WEFT_INTERRUPT_TOKEN_KEYS: 'shut1:shutdown-test-interrupt-token-secret-012345',
    },
  });
}

/**
 * Reads an SSE body to its end, with a deadline; `ended` tells whether the server ended it.
 * `onFrame` is called once the first event frame arrived.
 */
async function readSse(res: Response, deadlineMs: number, onFrame: () => void = () => undefined): Promise<{ ids: number[]; ended: boolean }> {
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const dec = new TextDecoder();
  let text = '';
  const timer = setTimeout(() => void reader.cancel(), deadlineMs);
  let ended = false;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) {
        ended = true;
        break;
      }
      text += dec.decode(value, { stream: true });
      if (/^id: \d+$/m.test(text)) onFrame();
    }
  } catch {
    ended = false;
  } finally {
    clearTimeout(timer);
  }
  return { ids: [...text.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1])), ended };
}

const terminal = (evs: RunEventDoc[]): boolean => evs.some((e) => ['run.completed', 'run.failed', 'run.cancelled'].includes(e.type));

afterAll(async () => {
  await stopTestDatabases();
});

describe.each(['sqlite', 'postgres'] as const)('SIGTERM shutdown of weft serve on %s', (store) => {
  it('answers the open long-poll, ends the SSE stream, exits 0 within the bound; a restarted host finishes the runs', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'weft-shutdown-'));
    const db = store === 'postgres' ? await createRealTestDatabase() : undefined;
    const args = ['--store', store, '--data-dir', dataDir, ...(db ? ['--pg-url', db.url] : [])];
    let p = await spawnServe(args);
    try {
      const polled = await api<{ runId: string }>(p, 'POST', '/v1/runs', { workflowId: 'weft-sleep', inputs: { delayMs: 3000 } });
      const streamed = await api<{ runId: string }>(p, 'POST', '/v1/runs', { workflowId: 'weft-sleep', inputs: { delayMs: 3000 } });
      const before = await waitLog(p, polled.runId, (e) => e.some((x) => x.type === 'node.started'));
      await waitLog(p, streamed.runId, (e) => e.some((x) => x.type === 'node.started'));

      const stream = await fetch(`${p.url}/v1/runs/${streamed.runId}/events?streamMode=debug`, { headers: { ...auth, accept: 'text/event-stream' } });
      expect(stream.status).toBe(200);
      let framed: () => void = () => undefined;
      const firstFrame = new Promise<void>((r) => (framed = r));
      const streamDone = readSse(stream, 30_000, framed);
      const last = before.at(-1)?.sequence ?? -1;
      const pollDone = fetch(`${p.url}/v1/runs/${polled.runId}/events/poll?lastSequence=${last}&timeout=60`, {
        headers: auth,
        signal: AbortSignal.timeout(30_000),
      });
      // Both requests are open once the host sent the stream's first frame and the poll found nothing new.
      await waitLog(p, polled.runId, () => true);
      await Promise.race([firstFrame, streamDone]);

      p.child.kill('SIGTERM');
      const pollRes = await pollDone;
      expect(pollRes.status).toBe(200);
      const pollBody = (await pollRes.json()) as { runId: string; isTerminal: boolean };
      expect(pollBody).toMatchObject({ runId: polled.runId, isTerminal: false });
      const sse = await streamDone;
      expect(sse.ended).toBe(true);
      expect(sse.ids.length).toBeGreaterThan(0);
      expect(await exitWithin(p, SHUTDOWN_TIMEOUT_MS + 10_000)).toBe(0);

      // A restarted host resumes from the last event the stream delivered and finishes both runs.
      p = await spawnServe(args);
      for (const id of [polled.runId, streamed.runId]) {
        const evs = await waitLog(p, id, terminal);
        expect(evs.map((e) => e.sequence)).toEqual(evs.map((_, i) => i));
        expect(evs.at(-1)?.type).toBe('run.completed');
        expect(evs.filter((e) => e.type === 'run.started')).toHaveLength(1);
      }
      const resumed = await fetch(`${p.url}/v1/runs/${streamed.runId}/events?streamMode=debug`, {
        headers: { ...auth, accept: 'text/event-stream', 'last-event-id': String(Math.max(...sse.ids)) },
      });
      const rest = await readSse(resumed, 10_000);
      expect(rest.ended).toBe(true);
      expect(rest.ids.length).toBeGreaterThan(0);
      expect(Math.min(...rest.ids)).toBe(Math.max(...sse.ids) + 1);
    } finally {
      await killHost(p);
      await db?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 90_000);
});
