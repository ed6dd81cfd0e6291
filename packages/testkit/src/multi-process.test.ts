/**
 * Several Weft processes on one Postgres act as one host (issue #8): three real `weft serve`
 * processes share a throwaway database. A run created on A streams live on B and long-polls on
 * C; its approval is resolved through C; a cancel sent to B for a run A leases takes effect;
 * after kill -9 of the owner another process finishes the run within 10 s with a clean log.
 *
 * Needs a real server (LISTEN/NOTIFY across sessions, kill -9 mid-transaction): the one in
 * WEFT_TEST_PG_URL, or the machine's local server when that is unset.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunEventDoc } from '@weft/contract';
import type { TestDatabase } from './pg.js';
import { api, CLI_BIN, createRealTestDatabase, killHost, type SpawnedHost, spawnHost, waitLog } from './spawned-host.js';
import { REPO_ROOT } from './test-host.js';
import { countingReceiver, type CountingReceiver } from './webhook-receiver.js';

const KEY = 'multi-process-key-0123456789abcdef';
const TERMINAL = ['run.completed', 'run.failed', 'run.cancelled'];

/** One master key for all three (webhook secrets are sealed with it), and the webhook receiver they may reach. */
const MASTER = `multi1:${randomBytes(32).toString('base64url')}`;
let receiver: CountingReceiver;

/** Spawns `weft serve --store postgres` on port 0; resolves once it prints its URL. */
function spawnServe(name: string, pgUrl: string): Promise<SpawnedHost> {
  return spawnHost({
    name,
    argv: [CLI_BIN, 'serve', '--store', 'postgres', '--pg-url', pgUrl, '--port', '0'],
    key: KEY,
    env: {
      WEFT_API_KEYS: `multi:${KEY}`,
      WEFT_WORKFLOWS_DIR: join(REPO_ROOT, 'examples', 'workflows'),
      WEFT_INTERRUPT_TOKEN_KEYS: 'multi1:multi-process-interrupt-token-secret-0123456789',
      WEFT_MASTER_KEY: MASTER,
      WEFT_WEBHOOK_ALLOW: receiver.allowEntry,
    },
  });
}

const ended = (evs: RunEventDoc[]): boolean => evs.some((e) => TERMINAL.includes(e.type));
const has =
  (type: string) =>
  (evs: RunEventDoc[]): boolean =>
    evs.some((e) => e.type === type);

/**
 * Opens an SSE stream (debug mode: every event) and collects its frames until the server
 * ends it after the terminal event, or the deadline passes.
 */
function openStream(
  p: SpawnedHost,
  runId: string,
  deadlineMs = 20_000,
): { connected: Promise<void>; frames: Promise<{ id: number; event: string; data: RunEventDoc }[]> } {
  let onConnected: () => void = () => undefined;
  const connected = new Promise<void>((r) => (onConnected = r));
  const frames = (async () => {
    const ctrl = new AbortController();
    const timer = setTimeout(() => ctrl.abort(), deadlineMs);
    const out: { id: number; event: string; data: RunEventDoc }[] = [];
    try {
      const res = await fetch(`${p.url}/v1/runs/${runId}/events?streamMode=debug`, { headers: { authorization: `Bearer ${KEY}` }, signal: ctrl.signal });
      if (res.status !== 200 || !res.body) throw new Error(`${p.name}: SSE → ${res.status}`);
      const decoder = new TextDecoder();
      let buf = '';
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buf += decoder.decode(chunk, { stream: true });
        if (buf.includes(': connected')) onConnected();
        for (let i = buf.indexOf('\n\n'); i >= 0; i = buf.indexOf('\n\n')) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const f: Record<string, string> = {};
          for (const line of block.split('\n')) {
            const m = /^(id|event|data): ?(.*)$/.exec(line);
            if (m) f[m[1] as string] = m[2] as string;
          }
          if (f.data !== undefined && f.id !== undefined) out.push({ id: Number(f.id), event: f.event ?? 'message', data: JSON.parse(f.data) as RunEventDoc });
        }
      }
      return out;
    } finally {
      clearTimeout(timer);
    }
  })();
  return { connected, frames };
}

function assertCleanLog(evs: RunEventDoc[]): void {
  expect(evs.map((e) => e.sequence)).toEqual(evs.map((_, i) => i));
  expect(evs.filter((e) => TERMINAL.includes(e.type))).toHaveLength(1);
  expect(TERMINAL).toContain(evs.at(-1)?.type);
  expect(evs.filter((e) => e.type === 'run.started')).toHaveLength(1);
  const completed = evs.filter((e) => e.type === 'node.completed').map((e) => e.nodeId);
  expect(new Set(completed).size).toBe(completed.length);
}

describe('three Weft processes on one Postgres', () => {
  let db: TestDatabase;
  let a: SpawnedHost;
  let b: SpawnedHost;
  let c: SpawnedHost;

  beforeAll(async () => {
    db = await createRealTestDatabase();
    receiver = await countingReceiver();
    // One at a time: the first one migrates, the others find the schema current.
    a = await spawnServe('A', db.url);
    b = await spawnServe('B', db.url);
    c = await spawnServe('C', db.url);
  }, 60_000);

  afterAll(async () => {
    for (const p of [a, b, c]) if (p) await killHost(p);
    await receiver?.close();
    await db?.drop();
  });

  it('a run created on A streams live on B and long-polls on C; its approval is resolved through C', async () => {
    const run = await api<{ runId: string }>(a, 'POST', '/v1/runs', { workflowId: 'weft-review' });
    const stream = openStream(b, run.runId);
    await stream.connected;
    const polled = waitLog(c, run.runId, ended);
    await waitLog(c, run.runId, has('interrupt.requested'));

    const res = await api<{ status?: string }>(c, 'POST', `/v1/runs/${run.runId}/interrupts/review`, { resumeValue: { action: 'accept' } });
    expect(res).toBeTypeOf('object');

    const frames = await stream.frames;
    const log = await polled;
    assertCleanLog(log);
    expect(log.at(-1)?.type).toBe('run.completed');
    // B saw every event, in order, once: exactly the log.
    expect(frames.map((f) => f.id)).toEqual(log.map((e) => e.sequence));
    expect(frames.map((f) => f.data)).toEqual(log);
    expect(frames.map((f) => f.event)).toEqual(log.map((e) => e.type));
    expect(log.find((e) => e.type === 'interrupt.resolved')?.payload).toMatchObject({ outcome: 'accepted' });
  }, 60_000);

  it('a cancel sent to B for a run leased by A takes effect', async () => {
    const run = await api<{ runId: string }>(a, 'POST', '/v1/runs', { workflowId: 'weft-sleep', inputs: { delayMs: 120_000 } });
    await waitLog(a, run.runId, has('node.started'));
    const res = await api<{ status: string }>(b, 'POST', `/v1/runs/${run.runId}/cancel`, { reason: 'from B' });
    expect(['cancelling', 'cancelled']).toContain(res.status);
    const log = await waitLog(c, run.runId, ended);
    assertCleanLog(log);
    expect(log.at(-1)?.type).toBe('run.cancelled');
    expect(log.at(-1)?.payload).toMatchObject({ reason: 'from B' });
    expect((await api<{ status: string }>(a, 'GET', `/v1/runs/${run.runId}`)).status).toBe('cancelled');
  }, 60_000);

  it('invariant: webhook-durable-crash-safe — each durable outbox row is delivered by exactly one of the three processes', async () => {
    const hook = await api<{ webhookId: string }>(a, 'POST', '/v1/webhooks', {
      url: `${receiver.url}/hook`,
      events: ['run.completed', 'node.completed'],
      delivery: 'durable',
    });
    const runs: string[] = [];
    const hosts = [a, b, c];
    for (let i = 0; i < 30; i++)
      runs.push(
        (await api<{ runId: string }>(hosts[i % 3] as SpawnedHost, 'POST', '/v1/runs', { workflowId: 'weft-hello', inputs: { greeting: 'hi' } })).runId,
      );
    const keys: string[] = [];
    for (const id of runs) {
      const log = await waitLog(c, id, ended);
      for (const e of log) if (e.type === 'run.completed' || e.type === 'node.completed') keys.push(`${hook.webhookId}|${id}|${e.sequence}`);
    }
    await receiver.until(() => keys.every((k) => receiver.acked.has(k)));
    // Every process polls the outbox; let any second delivery arrive before counting.
    const seen = receiver.seen;
    await receiver.until(() => receiver.seen > seen, 1500).catch(() => undefined);
    expect([...receiver.acked.entries()].filter(([k]) => keys.includes(k)).every(([, n]) => n === 1)).toBe(true);
    expect(receiver.acked.size).toBe(keys.length);
  }, 60_000);

  it('after kill -9 of the owner another process finishes the run within 10 s; no event lost or duplicated, the timer fires once', async () => {
    const run = await api<{ runId: string }>(a, 'POST', '/v1/runs', { workflowId: 'weft-sleep', inputs: { delayMs: 1500 } });
    await waitLog(b, run.runId, has('node.started'));
    await killHost(a);
    const killedAt = Date.now();
    const log = await waitLog(b, run.runId, ended, 10_000);
    expect(Date.now() - killedAt).toBeLessThan(10_000);
    assertCleanLog(log);
    expect(log.at(-1)?.type).toBe('run.completed');
    expect(log.filter((e) => e.type === 'node.completed').map((e) => e.nodeId)).toEqual(['sleep', 'after']);
    expect(log.filter((e) => e.type === 'run.started')).toHaveLength(1);
    // C reads the same log.
    expect(await waitLog(c, run.runId, ended)).toEqual(log);
  }, 60_000);
});
