/**
 * `core.http.request` through the host's SSRF guard, black-box: a run calling a blocked
 * destination (directly or through a redirect) fails with `ssrf_blocked` and never connects;
 * a run calling the target the host allowlists succeeds. Gated on `httpClient` in discovery
 * and on the `weft-http-request` example workflow.
 *
 * The in-process hosts allow exactly the loopback target the global setup starts
 * (`WEFT_OUTBOUND_ALLOW=127.0.0.1:<port>`); an external host needs `WEFT_TEST_OUTBOUND_TARGET`
 * (a URL it allows that echoes requests like packages/testkit/src/outbound-target.ts) for the
 * allowed-target scenarios.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunEventDoc } from '@weft/contract';
import { call, lacks, startRun, target, waitForTerminal } from '../harness.js';

const discovery = (await call('GET', '/.well-known/openwop', { key: null })).body as { httpClient?: Record<string, unknown> };
const gated = discovery.httpClient?.supported === true ? await lacks('the http-client scenarios', { workflows: ['weft-http-request'] }) : 'no httpClient';
if (gated === 'no httpClient') process.stderr.write('skipping the http-client scenarios: the host does not advertise httpClient\n');
const noTarget = !target.outboundTarget;
if (!gated && noTarget) process.stderr.write('skipping the allowed-target http-client scenarios: set WEFT_TEST_OUTBOUND_TARGET to a URL the host allows\n');

/** Runs weft-http-request with these inputs to its end. */
async function request(inputs: Record<string, unknown>): Promise<RunEventDoc[]> {
  const { runId } = await startRun('weft-http-request', { inputs });
  return waitForTerminal(runId);
}

const failure = (evs: RunEventDoc[]) => (evs.at(-1)?.payload as { error?: { code: string } }).error;
const outputs = (evs: RunEventDoc[]) => (evs.find((e) => e.type === 'node.completed')?.payload as { outputs: Record<string, unknown> }).outputs;

describe.skipIf(gated)('httpClient: core.http.request behind the SSRF guard', () => {
  /** A loopback listener the host is not allowed to reach; it must never see a connection. */
  let canary: Server;
  let canaryPort = 0;
  let connections = 0;

  beforeAll(async () => {
    canary = createServer((_req, res) => res.end('canary'));
    canary.on('connection', () => connections++);
    await new Promise<void>((resolve) => canary.listen(0, '127.0.0.1', resolve));
    canaryPort = (canary.address() as AddressInfo).port;
  });
  afterAll(async () => {
    canary.closeAllConnections();
    await new Promise((r) => canary.close(r));
  });

  it('invariant: http-client-ssrf-guard — discovery advertises httpClient with ssrfGuard, a body cap, a timeout and methods', () => {
    expect(discovery.httpClient).toMatchObject({ supported: true, ssrfGuard: true });
    expect(discovery.httpClient?.maxResponseBodyBytes).toBeGreaterThan(0);
    expect(discovery.httpClient?.requestTimeoutMs).toBeGreaterThan(0);
    expect(discovery.httpClient?.methods).toEqual(expect.arrayContaining(['GET', 'POST']));
  });

  it.each([
    ['a loopback port the host does not allow', () => `http://127.0.0.1:${canaryPort}/`, 'loopback'],
    ['an IPv4-mapped IPv6 loopback', () => `http://[::ffff:127.0.0.1]:${canaryPort}/`, 'loopback'],
    ['a hex-spelled loopback', () => `http://0x7f.1:${canaryPort}/`, 'loopback'],
    ['localhost', () => `http://localhost:${canaryPort}/`, 'loopback'],
    ['the cloud metadata address', () => 'http://169.254.169.254/latest/meta-data/', 'metadata'],
    ['metadata.google.internal', () => 'http://metadata.google.internal/computeMetadata/v1/', 'metadata'],
    ['an RFC 1918 address', () => 'http://10.0.0.1/', 'private'],
    ['a file URL', () => 'file:///etc/passwd', 'scheme'],
  ])('invariant: http-client-ssrf-guard — a call to %s fails the run with ssrf_blocked and never connects', async (_what, url, reason) => {
    const before = connections;
    const evs = await request({ url: url() });
    expect(evs.at(-1)?.type).toBe('run.failed');
    expect(evs.find((e) => e.type === 'node.failed')?.payload).toMatchObject({ error: { code: 'ssrf_blocked', details: { reason } } });
    expect(failure(evs)).toMatchObject({ code: 'ssrf_blocked' });
    if (target.inProcess) expect(connections).toBe(before);
  });

  it.skipIf(noTarget)('an allowed target succeeds: status, headers and the parsed JSON body are the node outputs', async () => {
    const evs = await request({ url: `${target.outboundTarget}/echo?x=1`, json: { hello: 'world' } });
    expect(evs.at(-1)?.type).toBe('run.completed');
    const out = outputs(evs);
    expect(out).toMatchObject({ status: 200, ok: true, bodyEncoding: 'json' });
    expect(out.body).toMatchObject({ method: 'POST', path: '/echo?x=1', body: '{"hello":"world"}', headers: { 'content-type': 'application/json' } });
  });

  it.skipIf(noTarget)('a text body is output as text, and cookies the target sets stay out of the run log', async () => {
    const evs = await request({ url: `${target.outboundTarget}/text` });
    expect(outputs(evs)).toMatchObject({ status: 200, body: 'plain text from the target', bodyEncoding: 'text' });
    expect(JSON.stringify(evs)).not.toContain('target-cookie');
  });

  it.skipIf(noTarget)(
    'invariant: ssrf-redirect-rechecked — an allowed target redirecting to a blocked address fails the run with ssrf_blocked and never connects',
    async () => {
      for (const [to, reason] of [
        [`http://127.0.0.1:${canaryPort}/`, 'loopback'],
        ['http://169.254.169.254/latest/meta-data/', 'metadata'],
      ] as const) {
        const before = connections;
        const evs = await request({ url: `${target.outboundTarget}/redirect?to=${encodeURIComponent(to)}` });
        expect(evs.at(-1)?.type).toBe('run.failed');
        expect(evs.find((e) => e.type === 'node.failed')?.payload).toMatchObject({ error: { code: 'ssrf_blocked', details: { reason } } });
        expect(failure(evs)).toMatchObject({ code: 'ssrf_blocked' });
        if (target.inProcess) expect(connections).toBe(before);
      }
    },
  );

  it.skipIf(noTarget)('a redirect within the allowed target is followed', async () => {
    const evs = await request({ url: `${target.outboundTarget}/redirect?to=${encodeURIComponent('/landed')}` });
    expect(outputs(evs)).toMatchObject({ status: 200, body: { method: 'GET', path: '/landed' } });
  });
});

const noRetryWorkflow = gated ? true : await lacks('the http retry scenario', { workflows: ['weft-http-retry'] });

describe.skipIf(gated || noTarget || noRetryWorkflow)('node retries: core.http.request with settings.retry', () => {
  it('a timed-out call is retried with node.retried and a new node.started per attempt, then fails with the total attempts', async () => {
    const { runId } = await startRun('weft-http-retry', { inputs: { url: `${target.outboundTarget}/slow?ms=3000` } });
    const evs = await waitForTerminal(runId, 20_000);
    const mine = evs.filter((e) => e.nodeId === 'call').map((e) => e.type);
    expect(mine).toEqual(['node.started', 'node.retried', 'node.started', 'node.retried', 'node.started', 'node.failed']);
    expect(evs.filter((e) => e.type === 'node.started').map((e) => (e.payload as { attempt: number }).attempt)).toEqual([0, 1, 2]);
    expect(evs.filter((e) => e.type === 'node.retried').map((e) => e.payload)).toEqual([
      expect.objectContaining({ nodeId: 'call', attempt: 1, delayMs: 10, lastError: expect.objectContaining({ code: 'fetch_timeout' }) }),
      expect.objectContaining({ nodeId: 'call', attempt: 2, delayMs: 20 }),
    ]);
    expect(evs.find((e) => e.type === 'node.failed')?.payload).toMatchObject({ attempts: 3, error: { code: 'fetch_timeout' } });
    expect(evs.at(-1)?.type).toBe('run.failed');
  });

  it('a call that answers is one attempt: no retry', async () => {
    const { runId } = await startRun('weft-http-retry', { inputs: { url: `${target.outboundTarget}/text` } });
    const evs = await waitForTerminal(runId);
    expect(evs.filter((e) => e.nodeId === 'call').map((e) => e.type)).toEqual(['node.started', 'node.completed']);
  });
});
