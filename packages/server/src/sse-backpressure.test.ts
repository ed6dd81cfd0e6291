/**
 * SSE under a slow reader: the stream honours `res.write()` returning false (waits for
 * `drain`), so a paused client makes the host hold about one page of frames, not the run's log;
 * the backlog is read in pages; and once the client reads again it gets every event exactly
 * once, in order — and a reconnect with `Last-Event-ID` gets exactly the rest.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from './config.js';
import { startHost, type RunningHost } from './host.js';

const KEY = 'sse-backpressure-key-0123456789abcdef';
const NODES = 120;
/** Each node.completed carries this many bytes of output: the run's log is ~NODES × BLOB. */
const BLOB = 48 * 1024;

let dir: string;
let host: RunningHost;
let runId: string;
const serverSockets: net.Socket[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'weft-sse-bp-'));
  const nodes = Array.from({ length: NODES }, (_, i) => ({
    id: `n${i}`,
    typeId: 'core.identity',
    name: `n${i}`,
    position: { x: i * 10, y: 0 },
    config: {},
    inputs: { blob: { type: 'variable', variableName: 'blob' } },
  }));
  const edges = nodes.slice(1).map((n, i) => ({ id: `e${i}`, sourceNodeId: `n${i}`, targetNodeId: n.id }));
  writeFileSync(
    join(dir, 'big-log.json'),
    JSON.stringify({
      id: 'sse-big-log',
      name: 'many large events',
      version: '1.0',
      nodes,
      edges,
      triggers: [{ id: 'manual', type: 'manual', enabled: true }],
      variables: [{ name: 'blob', type: 'string', defaultValue: 'x'.repeat(BLOB) }],
      metadata: { tags: ['test'] },
      settings: { timeout: 60000 },
    }),
  );
  host = await startHost(
    loadConfig(
      {},
      {
        host: '127.0.0.1',
        port: 0,
        store: 'memory',
        apiKeys: [{ tenant: 'bp', key: KEY }],
        generateDevKey: false,
        workflowsDirs: [dir],
        announce: false,
        logLevel: 'silent',
      },
    ),
  );
  host.app.server.on('connection', (s: net.Socket) => serverSockets.push(s));
  const res = await fetch(`${host.url}/v1/runs`, {
    method: 'POST',
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ workflowId: 'sse-big-log' }),
  });
  expect(res.status, await res.clone().text()).toBe(201);
  runId = ((await res.json()) as { runId: string }).runId;
  // Wait for the run to end (long-poll: each answer moves the cursor on, the last is terminal).
  for (let cursor = -1, i = 0; i < 1000; i++) {
    const poll = await fetch(`${host.url}/v1/runs/${runId}/events/poll?lastSequence=${cursor}&timeout=30`, { headers: { authorization: `Bearer ${KEY}` } });
    const body = (await poll.json()) as { lastEventSeq: number; isTerminal: boolean };
    if (body.isTerminal) break;
    cursor = body.lastEventSeq;
  }
}, 60_000);

afterAll(async () => {
  await host?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Opens an SSE request on a raw socket (paused: nothing is read until `resume()`). */
function openPaused(lastEventId?: number): { socket: net.Socket; server: Promise<net.Socket>; text: () => Promise<string> } {
  const port = Number(new URL(host.url).port);
  const before = serverSockets.length;
  const server = new Promise<net.Socket>((resolve, reject) => {
    const deadline = setTimeout(() => reject(new Error('no server-side socket')), 5000);
    const check = (): void => {
      const s = serverSockets[before];
      if (s) {
        clearTimeout(deadline);
        resolve(s);
      } else setImmediate(check);
    };
    check();
  });
  const socket = net.connect(port, '127.0.0.1');
  socket.pause();
  socket.write(
    `GET /v1/runs/${runId}/events?streamMode=debug HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${KEY}\r\nAccept: text/event-stream\r\n${
      lastEventId === undefined ? '' : `Last-Event-ID: ${lastEventId}\r\n`
    }\r\n`,
  );
  const chunks: Buffer[] = [];
  // The stream ends with the last chunk (`0\r\n\r\n`); the connection itself may stay open.
  const ended = new Promise<string>((resolve, reject) => {
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      const tail = Buffer.concat(chunks.slice(-2)).subarray(-7).toString('latin1');
      if (tail === '\r\n0\r\n\r\n') {
        socket.destroy();
        resolve(Buffer.concat(chunks).toString('utf8'));
      }
    });
    socket.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    socket.on('error', reject);
  });
  return { socket, server, text: () => ended };
}

/** Resolves once `cond()` holds, checking on every turn of the event loop, or rejects at the deadline. */
function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const end = Date.now() + ms;
    const tick = (): void => {
      if (cond()) resolve();
      else if (Date.now() > end) reject(new Error(`timed out waiting for ${what}`));
      else setTimeout(tick, 5);
    };
    tick();
  });
}

/** The body of a chunked HTTP/1.1 response (headers dropped, chunk framing removed). */
function dechunk(raw: string): string {
  let rest = raw.slice(raw.indexOf('\r\n\r\n') + 4);
  let out = '';
  for (;;) {
    const eol = rest.indexOf('\r\n');
    const size = Number.parseInt(rest.slice(0, eol), 16);
    if (!(size > 0)) return out;
    // Sizes count bytes; the frames here are ASCII, so characters and bytes agree.
    out += rest.slice(eol + 2, eol + 2 + size);
    rest = rest.slice(eol + 2 + size + 2);
  }
}

/** The `id:` lines of an SSE response, in order, and whether it carries run.completed. */
function ids(raw: string): { seqs: number[]; completed: boolean } {
  const body = dechunk(raw);
  const seqs = body
    .split('\n\n')
    .map((f) => /^id: (\d+)$/m.exec(f)?.[1])
    .filter((x): x is string => x !== undefined)
    .map(Number);
  return { seqs, completed: body.includes('event: run.completed') };
}

describe('SSE backpressure and paged backlog', () => {
  it('a paused reader makes the host buffer about one page, and gets every event exactly once when it reads again', async () => {
    const last = (await host.store.readEvents(runId, -1, 100_000)).at(-1)?.sequence ?? -1;
    const total = (await host.store.readEvents(runId, -1, 100_000)).reduce((n, e) => n + e.json.length, 0);
    expect(total).toBeGreaterThan(NODES * BLOB);
    const c = openPaused();
    const server = await c.server;
    // The host writes until the socket refuses more, then must stop and wait for drain.
    await until(() => server.writableNeedDrain, 10_000, 'the server socket to fill up');
    const atBlock = server.writableLength;
    // Bounded: about one page of events (≤ 100 × ~48 KiB here) beyond what the kernel took —
    // far below the whole log, which an unpaced writer hands to the socket at once.
    expect(atBlock).toBeLessThan(total / 2);
    // And it stays blocked until the reader drains it: one more turn changes nothing.
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(server.writableLength).toBeLessThanOrEqual(atBlock);
    c.socket.resume();
    const body = await c.text();
    const got = ids(body);
    expect(got.completed).toBe(true);
    expect(got.seqs).toEqual(Array.from({ length: last + 1 }, (_, i) => i));
  }, 30_000);

  it('a reconnect with Last-Event-ID gets exactly the events after it', async () => {
    const last = (await host.store.readEvents(runId, -1, 100_000)).at(-1)?.sequence ?? -1;
    const from = Math.floor(last / 3);
    const c = openPaused(from);
    c.socket.resume();
    const got = ids(await c.text());
    expect(got.seqs).toEqual(Array.from({ length: last - from }, (_, i) => from + 1 + i));
    expect(got.completed).toBe(true);
  }, 30_000);
});
