/**
 * Clean shutdown of the real CLI process: `weft serve` gets SIGTERM while an SSE stream and a
 * long-poll are open. The long-poll must be answered, the stream must end, the process must
 * exit 0 within its shutdown bound, and a restarted host must finish the runs — on Postgres
 * at once, because the leases were released rather than left to expire.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { RunEventDoc } from '@weft/contract';
import { createTestDatabase, stopTestDatabases } from './pg.js';
import { REPO_ROOT } from './test-host.js';

const KEY = 'shutdown-test-key-0123456789abcdef';
const BIN = join(REPO_ROOT, 'packages', 'cli', 'dist', 'bin.js');
const SHUTDOWN_TIMEOUT_MS = 5_000;
const auth = { authorization: `Bearer ${KEY}` };

interface Proc {
  child: ChildProcess;
  url: string;
  exited: Promise<number | null>;
}

/** Spawns `weft serve` and resolves with its base URL once it prints the listening line. */
function spawnServe(args: string[]): Promise<Proc> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--shutdown-timeout-ms', String(SHUTDOWN_TIMEOUT_MS), ...args], {
      env: {
        PATH: process.env.PATH ?? '',
        WEFT_API_KEYS: `shut:${KEY}`,
        WEFT_WORKFLOWS_DIR: join(REPO_ROOT, 'examples', 'workflows'),
        WEFT_LOG_LEVEL: 'error',
        WEFT_SSE_KEEPALIVE_MS: '500',
        WEFT_INTERRUPT_TOKEN_KEYS: 'shut1:shutdown-test-interrupt-token-secret-012345',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`host did not start: ${out}${err}`)), 20_000);
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m?.[1]) {
        clearTimeout(timer);
        resolve({ child, url: m[1], exited });
      }
    });
    child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`host exited early (${String(code)}): ${out}${err}`));
    });
  });
}

async function api<T>(url: string, method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { ...auth, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${path} → ${res.status} ${text}`);
  return JSON.parse(text) as T;
}

interface Poll {
  events: RunEventDoc[];
  lastEventSeq: number;
  isTerminal: boolean;
}

/** Long-polls until `pred` holds for the log (an event wait with a deadline). */
async function waitLog(url: string, runId: string, pred: (evs: RunEventDoc[]) => boolean, deadlineMs = 20_000): Promise<RunEventDoc[]> {
  const end = Date.now() + deadlineMs;
  const evs: RunEventDoc[] = [];
  let last = -1;
  while (Date.now() < end) {
    const r = await api<Poll>(url, 'GET', `/v1/runs/${runId}/events/poll?lastSequence=${last}&timeout=2`);
    evs.push(...r.events);
    last = r.lastEventSeq;
    if (pred(evs)) return evs;
  }
  throw new Error(`condition not met for ${runId}: ${evs.map((e) => e.type).join(',')}`);
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

/** Resolves with the exit code, or rejects when the process is still running at the deadline. */
function exitWithin(p: Proc, ms: number): Promise<number | null> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_r, reject) => (timer = setTimeout(() => reject(new Error(`still running ${ms} ms after SIGTERM`)), ms)));
  return Promise.race([p.exited, late]).finally(() => clearTimeout(timer));
}

const terminal = (evs: RunEventDoc[]): boolean => evs.some((e) => ['run.completed', 'run.failed', 'run.cancelled'].includes(e.type));

/** A real server database (PGlite's shared session cannot model two processes). */
async function realPostgres(): ReturnType<typeof createTestDatabase> {
  const before = process.env.WEFT_TEST_PG_URL;
  process.env.WEFT_TEST_PG_URL = before ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  try {
    return await createTestDatabase();
  } finally {
    if (before === undefined) delete process.env.WEFT_TEST_PG_URL;
  }
}

afterAll(async () => {
  await stopTestDatabases();
});

describe.each(['sqlite', 'postgres'] as const)('SIGTERM shutdown of weft serve on %s', (store) => {
  it('answers the open long-poll, ends the SSE stream, exits 0 within the bound; a restarted host finishes the runs', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'weft-shutdown-'));
    const db = store === 'postgres' ? await realPostgres() : undefined;
    const args = ['--store', store, '--data-dir', dataDir, ...(db ? ['--pg-url', db.url] : [])];
    let p = await spawnServe(args);
    try {
      const polled = await api<{ runId: string }>(p.url, 'POST', '/v1/runs', { workflowId: 'weft-sleep', inputs: { delayMs: 3000 } });
      const streamed = await api<{ runId: string }>(p.url, 'POST', '/v1/runs', { workflowId: 'weft-sleep', inputs: { delayMs: 3000 } });
      const before = await waitLog(p.url, polled.runId, (e) => e.some((x) => x.type === 'node.started'));
      await waitLog(p.url, streamed.runId, (e) => e.some((x) => x.type === 'node.started'));

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
      await waitLog(p.url, polled.runId, () => true);
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
        const evs = await waitLog(p.url, id, terminal);
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
      p.child.kill('SIGKILL');
      await p.exited;
      await db?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 90_000);
});
