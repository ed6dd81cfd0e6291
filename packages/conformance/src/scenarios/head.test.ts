/**
 * HEAD on every GET route of the host's own OpenAPI document answers promptly with headers
 * only — including the SSE stream and the long-poll, which must neither open a stream nor
 * wait for events when asked for HEAD.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { call, startRun, target, waitForTerminal } from '../harness.js';

/** A HEAD with a deadline: a route that holds the response open fails the test instead of hanging it. */
async function head(path: string): Promise<{ status: number; body: string; contentType: string | null }> {
  const res = await fetch(`${target.baseUrl}${path}`, {
    method: 'HEAD',
    headers: { authorization: `Bearer ${target.keyA}` },
    signal: AbortSignal.timeout(5_000),
  });
  return { status: res.status, body: await res.text(), contentType: res.headers.get('content-type') };
}

interface OpenApiDoc {
  paths: Record<string, { get?: unknown }>;
}

const running: string[] = [];

afterAll(async () => {
  for (const runId of running) await call('POST', `/v1/runs/${runId}/cancel`, { body: { reason: 'head scenario done' } });
});

describe('HEAD on GET routes', () => {
  it('answers HEAD on every GET route of the OpenAPI document promptly, with no body', async () => {
    const doc = (await call<OpenApiDoc>('GET', '/v1/openapi.json')).body;
    const getPaths = Object.entries(doc.paths)
      .filter(([, ops]) => ops.get !== undefined)
      .map(([p]) => p);
    expect(getPaths).toContain('/v1/runs/{runId}/events');
    expect(getPaths).toContain('/v1/runs/{runId}/events/poll');

    const done = await startRun('conformance-noop');
    await waitForTerminal(done.runId);
    const live = await startRun('conformance-cancellable');
    running.push(live.runId);

    for (const runId of [done.runId, live.runId]) {
      const params: Record<string, string> = { runId, workflowId: 'conformance-noop', artifactId: 'art_none' };
      for (const p of getPaths) {
        const path = p.replace(/\{(\w+)\}/g, (_m, name: string) => encodeURIComponent(params[name] ?? 'x'));
        const r = await head(path);
        expect(r.status, `HEAD ${path}`).toBeLessThan(500);
        expect(r.body, `HEAD ${path}`).toBe('');
      }
    }
  });

  it('describes the event stream of a run in its HEAD answer and refuses unknown runs', async () => {
    const live = await startRun('conformance-cancellable');
    running.push(live.runId);
    const ok = await head(`/v1/runs/${live.runId}/events`);
    expect(ok.status).toBe(200);
    expect(ok.contentType).toMatch(/^text\/event-stream/);
    expect(ok.body).toBe('');
    const poll = await head(`/v1/runs/${live.runId}/events/poll?timeout=60`);
    expect(poll.status).toBe(200);
    expect(poll.body).toBe('');
    expect((await head('/v1/runs/run_unknown_head/events')).status).toBe(404);
    expect((await head('/v1/runs/run_unknown_head/events/poll')).status).toBe(404);
  });
});
