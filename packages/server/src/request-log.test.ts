/**
 * The operational log lines at the default level: one per request, one per run transition,
 * with the fields the production profile requires (run id, tenant, status, error code,
 * correlation id), through the host logger and its redactor.
 */
import { EventEmitter, once } from 'node:events';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from './config.js';
import { createLogger, startHost, type RunningHost } from './host.js';

const KEY = 'request-log-tenant-key-0123456789abcdef';
const lines: string[] = [];
const wrote = new EventEmitter();
let host: RunningHost;

beforeAll(async () => {
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      wrote.emit('line');
      cb();
    },
  });
  const config = loadConfig(
    {},
    {
      port: 0,
      store: 'memory',
      apiKeys: [{ tenant: 'acme', key: KEY }],
      generateDevKey: false,
      workflowsDirs: [new URL('../../../examples/workflows', import.meta.url).pathname],
      announce: false,
    },
  );
  expect(config.logLevel).toBe('info');
  host = await startHost(config, { logger: createLogger(config.logLevel, sink) });
});

afterAll(async () => {
  await host.close();
});

const parsed = (): Record<string, unknown>[] => lines.map((l) => JSON.parse(l) as Record<string, unknown>);

/** Resolves once a line matching `pred` was logged (checked after each write), or rejects after 5 s. */
async function logged(pred: (l: Record<string, unknown>) => boolean, what: string): Promise<Record<string, unknown>> {
  const signal = AbortSignal.timeout(5000);
  for (;;) {
    const hit = parsed().find(pred);
    if (hit) return hit;
    await once(wrote, 'line', { signal }).catch(() => {
      throw new Error(`no log line: ${what}`);
    });
  }
}

describe('request and run log lines', () => {
  it('one info line per request: method, route pattern, status, duration, ids, tenant, run id, error code', async () => {
    const auth = { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' };
    const res = await fetch(`${host.url}/v1/runs`, {
      method: 'POST',
      headers: { ...auth, 'x-request-id': 'client-req-42' },
      body: JSON.stringify({ workflowId: 'weft-noop' }),
    });
    expect(res.status).toBe(201);
    const { runId } = (await res.json()) as { runId: string };
    const created = await logged((l) => l.kind === 'request' && l.route === '/v1/runs' && l.correlationId === 'client-req-42', 'POST /v1/runs');
    expect(created).toMatchObject({ level: 30, method: 'POST', status: 201, tenant: 'acme', msg: 'request' });
    expect(typeof created.durationMs).toBe('number');
    expect(String(created.reqId)).toMatch(/^req_[0-9a-f]{32}$/);

    const missing = await fetch(`${host.url}/v1/runs/run_nope?x=1`, {
      headers: { ...auth, traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' },
    });
    expect(missing.status).toBe(404);
    const line = await logged((l) => l.kind === 'request' && l.runId === 'run_nope', 'GET a missing run');
    // The route pattern, never the concrete path with its query; the trace id as correlation.
    expect(line).toMatchObject({
      method: 'GET',
      route: '/v1/runs/:runId',
      status: 404,
      errorCode: 'not_found',
      tenant: 'acme',
      correlationId: '0af7651916cd43dd8448eb211c80319c',
    });

    const refused = await fetch(`${host.url}/v1/runs/${runId}`);
    expect(refused.status).toBe(401);
    const anon = await logged((l) => l.kind === 'request' && l.status === 401, 'an unauthenticated request');
    expect(anon).toMatchObject({ errorCode: 'unauthenticated', route: '/v1/runs/:runId', runId });
    expect(anon.tenant).toBeUndefined();
  });

  it('one line per run transition, carrying the correlation id of the request that created the run', async () => {
    const res = await fetch(`${host.url}/v1/runs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json', 'x-request-id': 'create-7' },
      body: JSON.stringify({ workflowId: 'weft-noop' }),
    });
    const { runId } = (await res.json()) as { runId: string };
    const done = await logged((l) => l.kind === 'run' && l.runId === runId && l.status === 'completed', 'run completed');
    expect(done).toMatchObject({ event: 'run.completed', tenant: 'acme', workflowId: 'weft-noop', correlationId: 'create-7', level: 30 });
    const started = await logged((l) => l.kind === 'run' && l.runId === runId && l.event === 'run.started', 'run started');
    expect(started).toMatchObject({ status: 'running', correlationId: 'create-7' });
    expect(parsed().filter((l) => l.kind === 'run' && l.runId === runId)).toHaveLength(2);
  });

  it('invariant: no-secret-in-logs — a credential-shaped X-Request-Id is redacted in the request line', async () => {
    const shaped = ['sk-', 'ant-', 'api03-', 'REQUESTIDCANARY0123456789abcdefXYZ'].join('');
    await fetch(`${host.url}/v1/runs/run_x`, { headers: { authorization: `Bearer ${KEY}`, 'x-request-id': shaped } });
    await logged((l) => l.kind === 'request' && l.runId === 'run_x', 'the request line');
    expect(lines.join('\n')).not.toContain(shaped);
    expect(lines.join('\n')).not.toContain(KEY);
  });
});
