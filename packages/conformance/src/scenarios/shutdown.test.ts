/**
 * Clean shutdown over real HTTP, on a host of its own: `close()` answers the open long-poll
 * with its current result, ends the open SSE stream (the client resumes elsewhere with
 * Last-Event-ID), and a request that arrives while the host closes gets 503 in the closed
 * envelope with Retry-After — not Fastify's own body.
 */
import { connect } from 'node:net';
import { TEST_KEYS, startTestHost, type TestHost } from '@weft/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertErrorEnvelope } from '../harness.js';
import { OWN_HOSTS, callAt } from '../own-host.js';

let host: TestHost;
let stopped = false;

beforeAll(async () => {
  if (!OWN_HOSTS) return;
  host = await startTestHost({ store: 'memory', config: { shutdownTimeoutMs: 5_000 } });
});

afterAll(async () => {
  if (host && !stopped) await host.stop();
});

/** Reads an SSE body to its end; resolves with the ids seen and whether the server ended it. */
async function readSse(res: Response, deadlineMs: number): Promise<{ ids: string[]; ended: boolean }> {
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const dec = new TextDecoder();
  const ids: string[] = [];
  let buf = '';
  const timer = setTimeout(() => void reader.cancel(), deadlineMs);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return { ids, ended: true };
      buf += dec.decode(value, { stream: true });
      for (const m of buf.matchAll(/^id: (\d+)$/gm)) if (m[1] && !ids.includes(m[1])) ids.push(m[1]);
    }
  } catch {
    return { ids, ended: false };
  } finally {
    clearTimeout(timer);
  }
}

/** Sends a request's first bytes on a raw connection; `finish()` sends the rest and returns the raw answer. */
async function halfSentRequest(port: number, path: string): Promise<{ finish: () => Promise<string> }> {
  const socket = connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  let answer = '';
  socket.on('data', (d: Buffer) => (answer += d.toString('utf8')));
  const ended = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.write(`GET ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\n`);
  return {
    finish: async () => {
      socket.write(`authorization: Bearer ${TEST_KEYS.tenantA}\r\n\r\n`);
      await ended;
      return answer;
    },
  };
}

describe.runIf(OWN_HOSTS)('host shutdown', () => {
  it('invariant: shutdown-503-envelope — answers open long-polls, ends SSE streams and refuses requests arriving while closing with the 503 envelope', async () => {
    const start = async (): Promise<string> => {
      const r = await callAt<{ runId: string }>(host.url, 'POST', '/v1/runs', { bearer: TEST_KEYS.tenantA, body: { workflowId: 'conformance-cancellable' } });
      expect(r.status).toBe(201);
      return r.body.runId;
    };
    const polled = await start();
    const streamed = await start();
    const auth = { authorization: `Bearer ${TEST_KEYS.tenantA}` };

    const stream = await fetch(`${host.url}/v1/runs/${streamed}/events?streamMode=debug`, { headers: { ...auth, accept: 'text/event-stream' } });
    expect(stream.status).toBe(200);
    const streamDone = readSse(stream, 15_000);
    // A long-poll past its backlog waits (up to 60 s) for events that a sleeping run will not produce.
    const first = await callAt<{ lastEventSeq: number }>(host.url, 'GET', `/v1/runs/${polled}/events/poll`, { bearer: TEST_KEYS.tenantA });
    const pollDone = fetch(`${host.url}/v1/runs/${polled}/events/poll?lastSequence=${first.body.lastEventSeq}&timeout=60`, {
      headers: auth,
      signal: AbortSignal.timeout(15_000),
    });
    const late = await halfSentRequest(host.port, '/v1/runs');
    // Both waiting requests are registered once the gauges count them.
    const until = Date.now() + 10_000;
    while ((host.app.loadGauges.inFlight < 1 || host.app.loadGauges.sseStreams < 1) && Date.now() < until) await new Promise((r) => setImmediate(r));

    stopped = true;
    const closing = host.stop();

    const pollRes = await pollDone;
    expect(pollRes.status).toBe(200);
    const pollBody = (await pollRes.json()) as { runId: string; events: unknown[]; isTerminal: boolean };
    expect(pollBody).toMatchObject({ runId: polled, events: [], isTerminal: false });

    const sse = await streamDone;
    expect(sse.ended).toBe(true);
    expect(sse.ids.length).toBeGreaterThan(0);

    // The long-poll was answered, so the host is closing: this request must meet the gate.
    const raw = await late.finish();
    const [head = '', body = ''] = raw.split('\r\n\r\n');
    expect(head).toMatch(/^HTTP\/1\.1 503 /);
    expect(head.toLowerCase()).toMatch(/\r\nretry-after: 1\r\n/);
    expect(head.toLowerCase()).toMatch(/\r\nconnection: close\r\n/);
    const envelope = JSON.parse(body) as { error: string };
    assertErrorEnvelope(envelope);
    expect(envelope.error).toBe('service_unavailable');

    await closing;
  });
});
