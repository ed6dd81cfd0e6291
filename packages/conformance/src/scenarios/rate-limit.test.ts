/**
 * Per-credential rate limits (429 before the scope check) and global backpressure (503 at the
 * in-flight cap, SSE streams capped apart), on hosts configured for them.
 */
import { TEST_KEYS, startTestHost, type TestHost } from '@weft/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkContract } from '../contract-check.js';
import { call, target } from '../harness.js';
import { OWN_HOSTS, callAt, type CallAtOptions } from '../own-host.js';

let limited: TestHost;
let tiny: TestHost;

beforeAll(async () => {
  if (!OWN_HOSTS) return;
  limited = await startTestHost({ store: 'memory', config: { rateLimit: { limit: 3, windowSec: 3600 } } });
  tiny = await startTestHost({ store: 'memory', config: { maxInFlight: 2, maxSseStreams: 1 } });
});

afterAll(async () => {
  await limited?.stop();
  await tiny?.stop();
});

/** Repeats `attempt` until `done` holds or the deadline passes (each attempt is a real request, no sleeping). */
async function until<T>(attempt: () => Promise<T>, done: (v: T) => boolean, deadlineMs = 10_000): Promise<T> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    const v = await attempt();
    if (done(v) || Date.now() > end) return v;
  }
}

describe.runIf(OWN_HOSTS)('security: per-credential rate limits', () => {
  it('invariant: auth-profiles-honest — advertises the per-key limit in discovery, schema-valid', async () => {
    const r = await callAt(limited.url, 'GET', '/.well-known/openwop');
    checkContract('capabilities', r.body);
    expect((r.body as { rateLimits: unknown }).rateLimits).toEqual({ supported: true, perKey: { limit: 3, windowSeconds: 3600 }, scope: 'key' });
  });

  it('invariant: rate-limit-before-scope — a flooding key gets 429 with integer Retry-After and details, even on a route it lacks scope for', async () => {
    const ro: CallAtOptions = { bearer: TEST_KEYS.readOnly };
    expect((await callAt(limited.url, 'GET', '/v1/runs', ro)).status).toBe(200);
    expect((await callAt(limited.url, 'GET', '/v1/runs', ro)).status).toBe(200);
    // Lacking runs:create: 403 while under the limit (the attempt still counts) ...
    const forbidden = await callAt(limited.url, 'POST', '/v1/runs', { ...ro, body: { workflowId: 'conformance-noop' } });
    expect(forbidden.status).toBe(403);
    // ... and 429, not 403, once over it.
    const r = await callAt(limited.url, 'POST', '/v1/runs', { ...ro, body: { workflowId: 'conformance-noop' } });
    expect(r.status).toBe(429);
    expect(r.body).toMatchObject({ error: 'rate_limited', details: { scope: 'key', limit: 3 } });
    const details = (r.body as { details: { retryAfterMs: number } }).details;
    expect(Number.isInteger(details.retryAfterMs) && details.retryAfterMs > 0).toBe(true);
    const retryAfter = r.headers.get('retry-after') ?? '';
    expect(retryAfter).toMatch(/^[1-9]\d*$/);
    expect(Number(retryAfter)).toBe(Math.ceil(details.retryAfterMs / 1000));
    expect(r.text).not.toContain(TEST_KEYS.readOnly);
    // Routes it may use are throttled too.
    expect((await callAt(limited.url, 'GET', '/v1/runs', ro)).status).toBe(429);
  });

  it('invariant: rate-limit-before-scope — limits are per credential, and authentication still comes first', async () => {
    // Another principal of the same tenant has its own bucket.
    expect((await callAt(limited.url, 'GET', '/v1/runs', { bearer: TEST_KEYS.tenantA })).status).toBe(200);
    // No or a wrong credential is 401, never 429.
    for (let i = 0; i < 5; i++) expect((await callAt(limited.url, 'GET', '/v1/runs', { bearer: 'wrong-key-000000000000000000' })).status).toBe(401);
    expect((await callAt(limited.url, 'GET', '/v1/runs')).status).toBe(401);
    // Public routes are not rate-limited per key.
    expect((await callAt(limited.url, 'GET', '/.well-known/openwop')).status).toBe(200);
  });

  it.runIf(target.inProcess)('invariant: auth-profiles-honest — does not advertise rate limits on a host without them', async () => {
    const r = await call('GET', '/.well-known/openwop', { key: null });
    expect((r.body as { rateLimits?: unknown }).rateLimits).toBeUndefined();
  });
});

describe.runIf(OWN_HOSTS)('security: backpressure', () => {
  it('invariant: backpressure-503 — at the in-flight cap the host answers 503 with Retry-After, and recovers when clients leave', async () => {
    const start = await callAt<{ runId: string }>(tiny.url, 'POST', '/v1/runs', {
      bearer: TEST_KEYS.tenantA,
      body: { workflowId: 'weft-sleep', inputs: { delayMs: 3_600_000 } },
    });
    expect(start.status).toBe(201);
    const { runId } = start.body;
    // Two long-polls at the head of a sleeping run hold both slots. A holder that raced a probe
    // for a slot and lost (503) asks again, so both end up held.
    const ctrl = new AbortController();
    const hold = async (): Promise<unknown> => {
      for (;;) {
        try {
          const r = await callAt(tiny.url, 'GET', `/v1/runs/${runId}/events/poll?lastSequence=100000&timeout=60`, {
            bearer: TEST_KEYS.tenantA,
            signal: ctrl.signal,
          });
          if (r.status !== 503) return r;
        } catch (e) {
          return e;
        }
      }
    };
    const holders = [hold(), hold()];
    const refused = await until(
      () => callAt(tiny.url, 'GET', '/.well-known/openwop'),
      (r) => r.status === 503,
    );
    expect(refused.status).toBe(503);
    expect(refused.body).toMatchObject({ error: 'service_unavailable', details: { retryAfter: 1 } });
    expect(refused.headers.get('retry-after')).toBe('1');
    // Authenticated routes are refused before authentication: no work is done at the cap.
    const authed = await callAt(tiny.url, 'GET', `/v1/runs/${runId}`, { bearer: TEST_KEYS.tenantA });
    expect(authed.status).toBe(503);
    // The clients go away: the slots are released when their sockets close.
    ctrl.abort();
    await Promise.all(holders);
    const back = await until(
      () => callAt(tiny.url, 'GET', `/v1/runs/${runId}`, { bearer: TEST_KEYS.tenantA }),
      (r) => r.status === 200,
    );
    expect(back.status).toBe(200);
  });

  it('invariant: backpressure-503 — SSE streams do not use in-flight slots; they have their own cap', async () => {
    const start = await callAt<{ runId: string }>(tiny.url, 'POST', '/v1/runs', {
      bearer: TEST_KEYS.tenantA,
      body: { workflowId: 'weft-sleep', inputs: { delayMs: 3_600_000 } },
    });
    const { runId } = start.body;
    const ctrl = new AbortController();
    const headers = { authorization: `Bearer ${TEST_KEYS.tenantA}`, accept: 'text/event-stream' };
    const stream = await fetch(`${tiny.url}/v1/runs/${runId}/events`, { headers, signal: ctrl.signal });
    expect(stream.status).toBe(200);
    try {
      // The open stream leaves both in-flight slots free: two concurrent requests both get in
      // (retried only while a slot from the previous test may still be closing).
      const pair = await until(
        () =>
          Promise.all([
            callAt(tiny.url, 'GET', `/v1/runs/${runId}`, { bearer: TEST_KEYS.tenantA }),
            callAt(tiny.url, 'GET', '/v1/runs', { bearer: TEST_KEYS.tenantA }),
          ]),
        (rs) => rs.every((r) => r.status === 200),
      );
      expect(pair.map((r) => r.status)).toEqual([200, 200]);
      // ... while a second stream exceeds the stream cap of 1.
      const second = await fetch(`${tiny.url}/v1/runs/${runId}/events`, { headers });
      expect(second.status).toBe(503);
      const body = (await second.json()) as { error: string };
      expect(body.error).toBe('service_unavailable');
      expect(second.headers.get('retry-after')).toBe('1');
    } finally {
      ctrl.abort();
    }
    const again = await until(
      async () => {
        const c = new AbortController();
        const r = await fetch(`${tiny.url}/v1/runs/${runId}/events`, { headers, signal: c.signal });
        c.abort();
        return r.status;
      },
      (s) => s === 200,
    );
    expect(again).toBe(200);
  });
});
