import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { inspect } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunEventDoc } from '@weft/contract';
import { DEFAULT_BASE_URL, WeftClient } from './client.js';
import { WeftApiError, WeftConnectionError, WeftStreamError, parseRetryAfter } from './errors.js';

const API_KEY = 'sk-test-0123456789abcdef';

interface Recorded {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: string;
  req: IncomingMessage;
  res: ServerResponse;
}

interface FakeHost {
  url: string;
  requests: Recorded[];
}

const servers: Server[] = [];

afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
});

/** Starts a loopback host whose answers come from `handler`; every request is recorded first. */
async function fakeHost(handler: (r: Recorded, index: number) => void | Promise<void>): Promise<FakeHost> {
  const requests: Recorded[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const u = new URL(req.url ?? '/', 'http://x');
      const rec: Recorded = {
        method: req.method ?? '',
        path: u.pathname,
        query: u.searchParams,
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        req,
        res,
      };
      requests.push(rec);
      Promise.resolve(handler(rec, requests.length - 1)).catch((err: unknown) => {
        res.destroy(err instanceof Error ? err : new Error(String(err)));
      });
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, requests };
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(body === undefined ? undefined : JSON.stringify(body));
}

const ev = (sequence: number, type: string, extra: Partial<RunEventDoc> = {}): RunEventDoc => ({
  eventId: `r1-${sequence}`,
  runId: 'r1',
  type,
  payload: {},
  timestamp: '2026-01-01T00:00:00.000Z',
  sequence,
  ...extra,
});

const frame = (doc: RunEventDoc): string => `id: ${doc.sequence}\nevent: ${doc.type}\ndata: ${JSON.stringify(doc)}\n\n`;
const batch = (docs: RunEventDoc[]): string => `id: ${docs.at(-1)?.sequence ?? 0}\nevent: batch\ndata: ${JSON.stringify(docs)}\n\n`;

function openSse(res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
  res.write(': connected\n\n');
}

const client = (host: FakeHost, extra: { apiKey?: string; userAgent?: string } = {}): WeftClient =>
  new WeftClient({ baseUrl: host.url, apiKey: API_KEY, ...extra });

const eventPaths = (host: FakeHost): Recorded[] => host.requests.filter((r) => r.path.endsWith('/events'));

describe('WeftClient construction', () => {
  it('reads OPENWOP_* first, then WEFT_*, then the default base URL', async () => {
    const host = await fakeHost((r) => json(r.res, 200, { protocolVersion: '1.1' }));
    await WeftClient.fromEnv({
      OPENWOP_BASE_URL: host.url,
      OPENWOP_API_KEY: 'openwop-key',
      WEFT_BASE_URL: 'http://unused.invalid',
      WEFT_API_KEY: 'weft-key',
    }).discovery();
    await WeftClient.fromEnv({ WEFT_BASE_URL: host.url, WEFT_API_KEY: 'weft-key' }).discovery();
    await WeftClient.fromEnv({ OPENWOP_BASE_URL: host.url, OPENWOP_API_KEY: '', WEFT_API_KEY: 'fallback-key' }).discovery();
    expect(host.requests.map((r) => r.headers.authorization)).toEqual(['Bearer openwop-key', 'Bearer weft-key', 'Bearer fallback-key']);
    expect(WeftClient.fromEnv({}).baseUrl).toBe(DEFAULT_BASE_URL);
  });

  it('sends no Authorization header without a key', async () => {
    const host = await fakeHost((r) => json(r.res, 200, {}));
    await new WeftClient({ baseUrl: host.url }).discovery();
    expect(host.requests[0]?.headers.authorization).toBeUndefined();
  });

  it('rejects base URLs that are not absolute http(s) or that carry credentials', () => {
    expect(() => new WeftClient({ baseUrl: 'localhost:3737' })).toThrow(TypeError);
    expect(() => new WeftClient({ baseUrl: 'ftp://h/' })).toThrow(TypeError);
    expect(() => new WeftClient({ baseUrl: 'http://user:pw@h/' })).toThrow(/credentials/);
  });

  it('keeps a path prefix and drops trailing slashes of the base URL', async () => {
    const host = await fakeHost((r) => json(r.res, 200, { runId: 'r1', workflowId: 'w', status: 'running' }));
    const c = new WeftClient({ baseUrl: `${host.url}/prefix//`, apiKey: API_KEY });
    expect(c.baseUrl).toBe(`${host.url}/prefix`);
    await c.getRun('r1');
    expect(host.requests[0]?.path).toBe('/prefix/v1/runs/r1');
  });

  it('does not expose the API key through inspection or JSON', () => {
    const c = new WeftClient({ baseUrl: 'http://127.0.0.1:1', apiKey: API_KEY });
    expect(inspect(c, { showHidden: true, depth: 5 })).not.toContain(API_KEY);
    expect(JSON.stringify(c)).not.toContain(API_KEY);
  });

  it('uses an injected fetch', async () => {
    const seen: string[] = [];
    const fakeFetch: typeof fetch = async (input) => {
      seen.push(String(input));
      return new Response(JSON.stringify({ openapi: '3.1.0' }), { status: 200, headers: { 'content-type': 'application/json' } });
    };
    const doc = await new WeftClient({ baseUrl: 'http://h.test', fetch: fakeFetch }).openapi();
    expect(doc).toEqual({ openapi: '3.1.0' });
    expect(seen).toEqual(['http://h.test/v1/openapi.json']);
  });
});

describe('WeftClient REST calls', () => {
  it('discovery sends the bearer key, a JSON Accept and the user agent', async () => {
    const host = await fakeHost((r) => json(r.res, 200, { protocolVersion: '1.1', supportedEnvelopes: [], schemaVersions: {}, limits: {} }));
    const doc = await client(host).discovery();
    await client(host, { userAgent: 'my-tool/2' }).discovery();
    expect(doc.protocolVersion).toBe('1.1');
    const [first, second] = host.requests;
    expect(first?.method).toBe('GET');
    expect(first?.path).toBe('/.well-known/openwop');
    expect(first?.headers.authorization).toBe(`Bearer ${API_KEY}`);
    expect(first?.headers.accept).toBe('application/json');
    expect(first?.headers['user-agent']).toBe('weft-sdk/0.1.0');
    expect(second?.headers['user-agent']).toBe('my-tool/2');
  });

  it('getWorkflow encodes the id and returns the definition', async () => {
    const host = await fakeHost((r) => json(r.res, 200, { id: 'wf-1', name: 'x' }));
    const wf = await client(host).getWorkflow('wf 1/x');
    expect(wf).toMatchObject({ id: 'wf-1' });
    expect(host.requests[0]?.path).toBe('/v1/workflows/wf%201%2Fx');
  });

  it('createRun posts the body with Idempotency-Key and reports replays', async () => {
    const answer = { runId: 'r1', status: 'pending', workflowId: 'wf', eventsUrl: '/v1/runs/r1/events', statusUrl: '/v1/runs/r1' };
    const host = await fakeHost((r, i) => json(r.res, 201, answer, i === 1 ? { 'openwop-Idempotent-Replay': 'true' } : {}));
    const body = { workflowId: 'wf', inputs: { n: 1 }, configurable: { mockProvider: 'x' }, tags: ['a'], metadata: { m: true } };
    const first = await client(host).createRun(body, { idempotencyKey: 'key-1' });
    const replay = await client(host).createRun(body, { idempotencyKey: 'key-1' });
    await client(host).createRun({ workflowId: 'wf' });
    expect(first).toEqual({ ...answer, replayed: false });
    expect(replay).toEqual({ ...answer, replayed: true });
    const [req0, , req2] = host.requests;
    expect(req0?.method).toBe('POST');
    expect(req0?.path).toBe('/v1/runs');
    expect(req0?.headers['content-type']).toBe('application/json');
    expect(req0?.headers['idempotency-key']).toBe('key-1');
    expect(JSON.parse(req0?.body ?? '')).toEqual(body);
    expect(req2?.headers['idempotency-key']).toBeUndefined();
  });

  it('getRun and listRuns build paths and query strings', async () => {
    const host = await fakeHost((r) =>
      r.path === '/v1/runs'
        ? json(r.res, 200, { runs: [{ runId: 'r1', workflowId: 'w', status: 'completed' }], nextCursor: 'c2' })
        : json(r.res, 200, { runId: 'r1', workflowId: 'w', status: 'running' }),
    );
    const snap = await client(host).getRun('r1');
    const page = await client(host).listRuns({ status: 'completed', workflowId: 'w', limit: 10, cursor: 'c1' });
    await client(host).listRuns();
    expect(snap.status).toBe('running');
    expect(page.nextCursor).toBe('c2');
    expect(page.runs[0]?.runId).toBe('r1');
    expect(Object.fromEntries(host.requests[1]?.query ?? [])).toEqual({ status: 'completed', workflowId: 'w', limit: '10', cursor: 'c1' });
    expect([...(host.requests[2]?.query ?? [])]).toEqual([]);
  });

  it('cancelRun and bulkCancel post their bodies', async () => {
    const host = await fakeHost((r) =>
      r.path === '/v1/runs:bulk-cancel'
        ? json(r.res, 200, { results: [{ runId: 'a', ok: true, status: 'cancelled' }] })
        : json(r.res, 200, { runId: 'r1', status: 'cancelling' }),
    );
    const c = client(host);
    expect(await c.cancelRun('r1', 'no longer needed', { idempotencyKey: 'k' })).toEqual({ runId: 'r1', status: 'cancelling' });
    await c.cancelRun('r1');
    const bulk = await c.bulkCancel(['a', 'b'], 'cleanup');
    await c.bulkCancel(['a']);
    expect(bulk.results[0]).toEqual({ runId: 'a', ok: true, status: 'cancelled' });
    const [r0, r1, r2, r3] = host.requests;
    expect(r0?.path).toBe('/v1/runs/r1/cancel');
    expect(r0?.headers['idempotency-key']).toBe('k');
    expect(JSON.parse(r0?.body ?? '')).toEqual({ reason: 'no longer needed' });
    expect(JSON.parse(r1?.body ?? '')).toEqual({});
    expect(JSON.parse(r2?.body ?? '')).toEqual({ runIds: ['a', 'b'], reason: 'cleanup' });
    expect(JSON.parse(r3?.body ?? '')).toEqual({ runIds: ['a'] });
  });

  it('key management and audit verification call the Weft extension routes', async () => {
    const key = { keyId: 'k1', tenant: 't', principal: 'key:k1', name: 'ci', scopes: ['runs:read'], status: 'active', createdAt: '2026-01-01T00:00:00.000Z' };
    const host = await fakeHost((r) => {
      if (r.path === '/v1/host/weft/keys' && r.method === 'GET') return json(r.res, 200, { keys: [key] });
      if (r.path === '/v1/host/weft/keys') return json(r.res, 201, { ...key, secret: 'weft_secret' });
      if (r.path.endsWith(':rotate'))
        return json(r.res, 201, { ...key, keyId: 'k2', secret: 'weft_next', rotated: { keyId: 'k1', graceUntil: '2026-01-02T00:00:00.000Z' } });
      if (r.path.endsWith(':revoke')) return json(r.res, 200, { ...key, status: 'revoked' });
      return json(r.res, 200, { fromSeq: 0, toSeq: 9, chainValid: true, checkpointsValid: true, checkpoints: [], anomalies: [] });
    });
    const c = client(host);
    expect((await c.listKeys({ tenant: 't' })).keys).toEqual([key]);
    expect((await c.createKey({ scopes: ['runs:read'], name: 'ci' })).secret).toBe('weft_secret');
    expect((await c.rotateKey('k1', { graceSeconds: 60 })).rotated?.keyId).toBe('k1');
    expect((await c.revokeKey('k1')).status).toBe('revoked');
    expect((await c.verifyAudit(0, 9)).chainValid).toBe(true);
    const [list, create, rotate, revoke, verify] = host.requests;
    expect([list?.method, list?.path, list?.query.get('tenant')]).toEqual(['GET', '/v1/host/weft/keys', 't']);
    expect(JSON.parse(create?.body ?? '')).toEqual({ scopes: ['runs:read'], name: 'ci' });
    expect([rotate?.path, JSON.parse(rotate?.body ?? '')]).toEqual(['/v1/host/weft/keys/k1:rotate', { graceSeconds: 60 }]);
    expect([revoke?.method, revoke?.path, revoke?.body]).toEqual(['POST', '/v1/host/weft/keys/k1:revoke', '{}']);
    expect([verify?.path, verify?.query.get('fromSeq'), verify?.query.get('toSeq')]).toEqual(['/v1/audit/verify', '0', '9']);
    for (const r of host.requests) expect(r.headers.authorization).toBe(`Bearer ${API_KEY}`);
  });

  it('pollEvents passes lastSequence and timeout', async () => {
    const body = { runId: 'r1', events: [ev(4, 'run.completed')], lastEventSeq: 4, runStatus: 'completed', isTerminal: true, isComplete: true };
    const host = await fakeHost((r) => json(r.res, 200, body));
    const page = await client(host).pollEvents('r1', { lastSequence: 3, timeout: 1 });
    expect(page).toEqual(body);
    expect(host.requests[0]?.path).toBe('/v1/runs/r1/events/poll');
    expect(Object.fromEntries(host.requests[0]?.query ?? [])).toEqual({ lastSequence: '3', timeout: '1' });
  });

  it('registers, lists and deletes workflows through the host extension', async () => {
    const host = await fakeHost((r) => {
      if (r.method === 'POST') return json(r.res, 201, { id: 'wf', hash: 'h1', created: true, runnable: true });
      if (r.method === 'DELETE') {
        r.res.writeHead(204);
        return void r.res.end();
      }
      return json(r.res, 200, { workflows: [{ id: 'wf', hash: 'h1', name: 'Wf', source: 'api', createdAt: '2026-01-01T00:00:00Z' }] });
    });
    const c = client(host);
    const def = { id: 'wf', name: 'Wf', version: '1', nodes: [], edges: [], triggers: [], variables: [], metadata: {}, settings: {} };
    expect(await c.registerWorkflow(def)).toEqual({ id: 'wf', hash: 'h1', created: true, runnable: true });
    expect((await c.listWorkflows()).workflows.map((w) => w.id)).toEqual(['wf']);
    await expect(c.deleteWorkflow('wf')).resolves.toBeUndefined();
    expect(host.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      'POST /v1/host/weft/workflows',
      'GET /v1/host/weft/workflows',
      'DELETE /v1/host/weft/workflows/wf',
    ]);
    expect(JSON.parse(host.requests[0]?.body ?? '')).toEqual(def);
  });
});

describe('WeftClient errors', () => {
  it('turns an error envelope into WeftApiError with status, code and details', async () => {
    const host = await fakeHost((r) => json(r.res, 404, { error: 'not_found', message: 'Run not found.', details: { runId: 'nope' } }));
    const err = await client(host)
      .getRun('nope')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WeftApiError);
    expect(err).toMatchObject({ status: 404, code: 'not_found', message: 'Run not found.', details: { runId: 'nope' }, retryAfter: undefined });
  });

  it('reads Retry-After into retryAfter', async () => {
    const host = await fakeHost((r) => json(r.res, 429, { error: 'rate_limited', message: 'Slow down.' }, { 'retry-after': '7' }));
    await expect(client(host).createRun({ workflowId: 'wf' })).rejects.toMatchObject({ status: 429, code: 'rate_limited', retryAfter: 7 });
  });

  it('parses Retry-After as seconds or an HTTP date', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('12', now)).toBe(12);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:30 GMT', now)).toBe(30);
    expect(parseRetryAfter('garbage', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });

  it('maps a non-envelope answer to http_<status>', async () => {
    const host = await fakeHost((r) => {
      r.res.writeHead(502, { 'content-type': 'text/plain' });
      r.res.end('upstream exploded');
    });
    await expect(client(host).discovery()).rejects.toMatchObject({ status: 502, code: 'http_502' });
  });

  it('rejects a 2xx answer that is not JSON as invalid_response', async () => {
    const host = await fakeHost((r) => {
      r.res.writeHead(200, { 'content-type': 'application/json' });
      r.res.end('{not json');
    });
    await expect(client(host).getRun('r1')).rejects.toMatchObject({ status: 200, code: 'invalid_response' });
  });

  it('never puts the API key in an error message, even when the host echoes it', async () => {
    // Client-side guard (not a registered host invariant): a host echoing the key must not leak it.
    const host = await fakeHost((r) => json(r.res, 401, { error: 'unauthenticated', message: `Unknown key ${API_KEY}.`, details: { presented: API_KEY } }));
    const err = await client(host)
      .getRun('r1')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WeftApiError);
    const apiErr = err as WeftApiError;
    expect(apiErr.message).not.toContain(API_KEY);
    expect(apiErr.message).toContain('[redacted]');
    expect(JSON.stringify(apiErr.details)).not.toContain(API_KEY);
    expect(String(apiErr.stack)).not.toContain(API_KEY);
  });

  it('reports an unreachable host as WeftConnectionError without the key', async () => {
    const host = await fakeHost(() => undefined);
    const url = host.url;
    const s = servers.pop();
    s?.closeAllConnections();
    await new Promise<void>((resolve) => s?.close(() => resolve()));
    const err = await new WeftClient({ baseUrl: url, apiKey: API_KEY }).getRun('r1').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WeftConnectionError);
    expect((err as WeftConnectionError).code).toBe('connection_failed');
    expect((err as WeftConnectionError).request).toBe('GET /v1/runs/r1');
    expect((err as Error).message).not.toContain(API_KEY);
  });

  it('rejects with the abort reason when the signal aborts', async () => {
    const host = await fakeHost(() => undefined); // never answers
    const ac = new AbortController();
    const pending = client(host).getRun('r1', { signal: ac.signal });
    ac.abort();
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
    expect(host.requests.length).toBeLessThanOrEqual(1);
  });
});

describe('WeftClient.streamEvents', () => {
  it('yields events, expands batches, skips comments and stops after the terminal event', async () => {
    let closedByClient: Promise<void> | undefined;
    const host = await fakeHost((r) => {
      openSse(r.res);
      closedByClient = new Promise((resolve) => r.res.on('close', () => resolve()));
      r.res.write(frame(ev(0, 'run.started')));
      r.res.write(': keepalive\n\n');
      r.res.write(batch([ev(1, 'node.started', { nodeId: 'a' }), ev(2, 'node.completed', { nodeId: 'a' })]));
      r.res.write(frame(ev(3, 'run.completed')));
      // The connection is left open: the client must stop on its own and hang up.
    });
    const seen: RunEventDoc[] = [];
    for await (const e of client(host).streamEvents('r1', { streamMode: ['updates', 'debug'], bufferMs: 200 })) seen.push(e);
    expect(seen.map((e) => [e.sequence, e.type])).toEqual([
      [0, 'run.started'],
      [1, 'node.started'],
      [2, 'node.completed'],
      [3, 'run.completed'],
    ]);
    expect(seen[1]?.nodeId).toBe('a');
    const req = host.requests[0];
    expect(req?.headers.accept).toBe('text/event-stream');
    expect(req?.headers['last-event-id']).toBeUndefined();
    expect(Object.fromEntries(req?.query ?? [])).toEqual({ streamMode: 'updates,debug', bufferMs: '200' });
    await closedByClient;
    expect(host.requests).toHaveLength(1);
  });

  it('auto-resumes after a dropped connection with Last-Event-ID and yields no duplicates', async () => {
    let dropFirst: (() => void) | undefined;
    const host = await fakeHost((r, i) => {
      openSse(r.res);
      if (i === 0) {
        r.res.write(frame(ev(0, 'run.started')) + frame(ev(1, 'node.started', { nodeId: 'a' })));
        dropFirst = () => {
          // Half a frame, then the socket dies: the partial frame must never surface.
          r.res.write('id: 2\nevent: node.completed\ndata: {"sequ');
          r.req.socket.destroy();
        };
        return;
      }
      // The resumed stream repeats event 1 to prove the client drops what it already yielded.
      r.res.write(frame(ev(1, 'node.started', { nodeId: 'a' })) + frame(ev(2, 'node.completed', { nodeId: 'a' })) + frame(ev(3, 'run.completed')));
      r.res.end();
    });
    const stream = client(host).streamEvents('r1', { streamMode: 'debug' });
    const seen: number[] = [];
    for await (const e of stream) {
      seen.push(e.sequence);
      if (e.sequence === 1) dropFirst?.();
    }
    expect(seen).toEqual([0, 1, 2, 3]);
    const streams = eventPaths(host);
    expect(streams).toHaveLength(2);
    expect(streams[0]?.headers['last-event-id']).toBeUndefined();
    expect(streams[1]?.headers['last-event-id']).toBe('1');
    expect(streams[1]?.query.get('streamMode')).toBe('debug');
  });

  it('resumes from the id of the last batch frame', async () => {
    let dropFirst: (() => void) | undefined;
    const host = await fakeHost((r, i) => {
      openSse(r.res);
      if (i === 0) {
        r.res.write(batch([ev(0, 'run.started'), ev(1, 'node.completed')]));
        dropFirst = () => r.req.socket.destroy();
        return;
      }
      r.res.end(batch([ev(2, 'node.completed'), ev(3, 'run.failed', { payload: { error: { code: 'x', message: 'y' } } })]));
    });
    const seen: number[] = [];
    for await (const e of client(host).streamEvents('r1', { bufferMs: 50 })) {
      seen.push(e.sequence);
      if (e.sequence === 1) dropFirst?.();
    }
    expect(seen).toEqual([0, 1, 2, 3]);
    expect(eventPaths(host)[1]?.headers['last-event-id']).toBe('1');
  });

  it('resumes after a clean end without a terminal event while the run is still live', async () => {
    const host = await fakeHost((r) => {
      if (r.path === '/v1/runs/r1') return json(r.res, 200, { runId: 'r1', workflowId: 'w', status: 'running' });
      openSse(r.res);
      if (r.headers['last-event-id'] === undefined) return void r.res.end(frame(ev(0, 'run.started')));
      r.res.end(frame(ev(1, 'run.completed')));
    });
    const seen: number[] = [];
    for await (const e of client(host).streamEvents('r1')) seen.push(e.sequence);
    expect(seen).toEqual([0, 1]);
    expect(host.requests.map((r) => `${r.path} ${r.headers['last-event-id'] ?? '-'}`)).toEqual([
      '/v1/runs/r1/events -',
      '/v1/runs/r1 -',
      '/v1/runs/r1/events 0',
    ]);
  });

  it('ends after one draining reconnect when the mode filters terminal events and the run has ended', async () => {
    const chunk = (seq: number): RunEventDoc => ev(seq, 'ai.message.chunk', { payload: { chunk: `t${seq}` } });
    const host = await fakeHost((r) => {
      if (r.path === '/v1/runs/r1') return json(r.res, 200, { runId: 'r1', workflowId: 'w', status: 'completed' });
      openSse(r.res);
      if (r.headers['last-event-id'] === undefined) return void r.res.end(frame(chunk(2)) + frame(chunk(3)));
      r.res.end();
    });
    const seen: number[] = [];
    for await (const e of client(host).streamEvents('r1', { streamMode: 'messages' })) seen.push(e.sequence);
    expect(seen).toEqual([2, 3]);
    expect(eventPaths(host).map((r) => r.headers['last-event-id'] ?? '-')).toEqual(['-', '3']);
  });

  it('treats a terminal state.snapshot as the end of a values stream', async () => {
    const snap = (seq: number, status: string): RunEventDoc => ev(seq, 'state.snapshot', { payload: { runId: 'r1', workflowId: 'w', status } });
    const host = await fakeHost((r) => {
      openSse(r.res);
      r.res.write(frame(snap(0, 'running')) + frame(snap(3, 'completed')));
    });
    const seen: string[] = [];
    for await (const e of client(host).streamEvents('r1', { streamMode: 'values' })) seen.push(`${e.sequence}:${(e.payload as { status: string }).status}`);
    expect(seen).toEqual(['0:running', '3:completed']);
    expect(host.requests).toHaveLength(1);
  });

  it('starts after lastEventId and drops anything at or below it', async () => {
    const host = await fakeHost((r) => {
      openSse(r.res);
      r.res.end(frame(ev(5, 'node.completed')) + frame(ev(6, 'node.completed')) + frame(ev(7, 'run.completed')));
    });
    const seen: number[] = [];
    for await (const e of client(host).streamEvents('r1', { lastEventId: 5 })) seen.push(e.sequence);
    expect(seen).toEqual([6, 7]);
    expect(host.requests[0]?.headers['last-event-id']).toBe('5');
  });

  it('fails fast with the envelope when the first connection is refused', async () => {
    const host = await fakeHost((r) =>
      json(r.res, 400, {
        error: 'unsupported_stream_mode',
        message: 'streamMode must be one or more of updates, values, messages, debug.',
        details: { supported: ['updates', 'values', 'messages', 'debug'] },
      }),
    );
    const err = await (async () => {
      for await (const e of client(host).streamEvents('r1', { streamMode: 'bogus' })) expect.unreachable(`unexpected event ${e.type}`);
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WeftApiError);
    expect(err).toMatchObject({ status: 400, code: 'unsupported_stream_mode', details: { supported: ['updates', 'values', 'messages', 'debug'] } });
    expect(host.requests).toHaveLength(1);
  });

  it('rejects an answer that is not an event stream', async () => {
    const host = await fakeHost((r) => json(r.res, 200, { runId: 'r1', events: [] }));
    await expect(client(host).streamEvents('r1').next()).rejects.toMatchObject({ code: 'invalid_response' });
  });

  it('gives up with WeftStreamError after maxRetries failed reconnects', async () => {
    const host = await fakeHost((r, i) => {
      if (i === 0) {
        openSse(r.res);
        return void r.res.write(frame(ev(0, 'run.started')));
      }
      json(r.res, 503, { error: 'service_unavailable', message: 'Overloaded.' }, { 'retry-after': '0' });
    });
    const seen: number[] = [];
    const err = await (async () => {
      for await (const e of client(host).streamEvents('r1', { maxRetries: 2, retryDelayMs: 1 })) {
        seen.push(e.sequence);
        host.requests[0]?.req.socket.destroy();
      }
    })().catch((e: unknown) => e);
    expect(seen).toEqual([0]);
    expect(err).toBeInstanceOf(WeftStreamError);
    expect(err).toMatchObject({ code: 'stream_resume_failed', runId: 'r1', lastEventId: '0', attempts: 3 });
    expect((err as WeftStreamError).cause).toBeInstanceOf(WeftApiError);
    expect(eventPaths(host)).toHaveLength(4);
  });

  it('does not reconnect a non-retryable refusal during resume', async () => {
    const host = await fakeHost((r, i) => {
      if (i === 0) {
        openSse(r.res);
        return void r.res.write(frame(ev(0, 'run.started')));
      }
      json(r.res, 404, { error: 'not_found', message: 'Run not found.' });
    });
    const err = await (async () => {
      for await (const e of client(host).streamEvents('r1')) {
        expect(e.sequence).toBe(0);
        host.requests[0]?.req.socket.destroy();
      }
    })().catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 404, code: 'not_found' });
    expect(host.requests).toHaveLength(2);
  });

  it('throws instead of reconnecting when autoResume is off', async () => {
    const host = await fakeHost((r) => {
      openSse(r.res);
      r.res.write(frame(ev(0, 'run.started')));
    });
    const err = await (async () => {
      for await (const e of client(host).streamEvents('r1', { autoResume: false })) {
        expect(e.sequence).toBe(0);
        host.requests[0]?.req.socket.destroy();
      }
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WeftStreamError);
    expect(host.requests).toHaveLength(1);
  });

  it('rejects with the abort reason and hangs up when the signal aborts', async () => {
    let closed: Promise<void> | undefined;
    const host = await fakeHost((r) => {
      openSse(r.res);
      closed = new Promise((resolve) => r.res.on('close', () => resolve()));
      r.res.write(frame(ev(0, 'run.started')));
    });
    const ac = new AbortController();
    const it = client(host).streamEvents('r1', { signal: ac.signal });
    expect((await it.next()).value).toMatchObject({ sequence: 0 });
    const next = it.next();
    ac.abort();
    await expect(next).rejects.toMatchObject({ name: 'AbortError' });
    await closed;
    expect(host.requests).toHaveLength(1);
  });

  it('watchRun delivers every event and resolves with the final snapshot', async () => {
    const host = await fakeHost((r) => {
      if (r.path === '/v1/runs/r1') return json(r.res, 200, { runId: 'r1', workflowId: 'w', status: 'completed', variables: { out: 1 } });
      openSse(r.res);
      r.res.end(frame(ev(0, 'run.started')) + frame(ev(1, 'run.completed')));
    });
    const types: string[] = [];
    const snapshot = await client(host).watchRun('r1', async (e) => {
      types.push(e.type);
    });
    expect(types).toEqual(['run.started', 'run.completed']);
    expect(snapshot).toMatchObject({ runId: 'r1', status: 'completed', variables: { out: 1 } });
  });
});

describe('WeftClient interrupts and run control', () => {
  const resolved = (nodeId: string, outcome: string) => ({
    runId: 'r 1',
    nodeId,
    interruptId: 'int_1',
    status: 'running',
    interrupt: { kind: 'approval', outcome },
  });

  it('resolveInterrupt posts {resumeValue} to the node path with Idempotency-Key', async () => {
    const host = await fakeHost((r) => json(r.res, 200, resolved('gate/1', 'accepted')));
    const res = await client(host).resolveInterrupt('r 1', 'gate/1', { action: 'refine', feedback: 'shorter' }, { idempotencyKey: 'k1' });
    expect(res).toEqual(resolved('gate/1', 'accepted'));
    const [req] = host.requests;
    expect(`${req?.method} ${req?.path}`).toBe('POST /v1/runs/r%201/interrupts/gate%2F1');
    expect(req?.headers.authorization).toBe(`Bearer ${API_KEY}`);
    expect(req?.headers['idempotency-key']).toBe('k1');
    expect(JSON.parse(req?.body ?? '')).toEqual({ resumeValue: { action: 'refine', feedback: 'shorter' } });
  });

  it('approve, reject and answer build the kind-specific resume values', async () => {
    const host = await fakeHost((r) => json(r.res, 200, resolved('n', 'accepted')));
    const c = client(host);
    await c.approve('r1', 'n');
    await c.approve('r1', 'n', { comment: 'lgtm', idempotencyKey: 'k2' });
    await c.reject('r1', 'n', { comment: 'no' });
    await c.answer('r1', 'ask', { q1: 'blue', q2: 3 });
    expect(host.requests.map((r) => JSON.parse(r.body) as unknown)).toEqual([
      { resumeValue: { action: 'accept' } },
      { resumeValue: { action: 'accept', comment: 'lgtm' } },
      { resumeValue: { action: 'reject', comment: 'no' } },
      { resumeValue: { answers: { q1: 'blue', q2: 3 } } },
    ]);
    expect(host.requests.map((r) => r.path)).toEqual([
      '/v1/runs/r1/interrupts/n',
      '/v1/runs/r1/interrupts/n',
      '/v1/runs/r1/interrupts/n',
      '/v1/runs/r1/interrupts/ask',
    ]);
    expect(host.requests.map((r) => r.headers['idempotency-key'])).toEqual([undefined, 'k2', undefined, undefined]);
  });

  it('reports quorum progress of a vote', async () => {
    const host = await fakeHost((r) =>
      json(r.res, 200, {
        runId: 'r1',
        nodeId: 'n',
        interruptId: 'i',
        status: 'waiting-approval',
        interrupt: { kind: 'approval', outcome: 'pending', votes: { granted: 1, rejected: 0, required: 2 } },
      }),
    );
    const res = await client(host).approve('r1', 'n');
    expect(res.interrupt).toEqual({ kind: 'approval', outcome: 'pending', votes: { granted: 1, rejected: 0, required: 2 } });
    expect(res.status).toBe('waiting-approval');
  });

  it('maps the resolution conflicts to WeftApiError codes', async () => {
    const answers: [number, string][] = [
      [409, 'interrupt_already_resolved'],
      [409, 'already_voted'],
      [410, 'interrupt_expired'],
      [410, 'interrupt_gone'],
      [422, 'interrupt_cancelled'],
      [422, 'correlation_mismatch'],
      [403, 'auth_elevation_required'],
      [400, 'validation_error'],
    ];
    const host = await fakeHost((r, i) => {
      const [status, code] = answers[i] as [number, string];
      json(r.res, status, { error: code, message: `${code} message`, details: { interruptId: 'int_1' } });
    });
    for (const [status, code] of answers) {
      const err = await client(host)
        .resolveInterrupt('r1', 'n', {})
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(WeftApiError);
      expect(err).toMatchObject({ status, code, details: { interruptId: 'int_1' } });
    }
  });

  it('lists the interrupts of a run and the pending ones of the tenant', async () => {
    const view = {
      runId: 'r1',
      nodeId: 'n',
      interruptId: 'int_1',
      kind: 'approval',
      key: 'k',
      data: { title: 'Ship?', actions: ['accept', 'reject'] },
      status: 'pending',
      requestedAt: '2026-01-01T00:00:00Z',
    };
    const host = await fakeHost((r) =>
      r.path === '/v1/host/weft/interrupts'
        ? json(r.res, 200, { interrupts: [{ ...view, workflowId: 'wf' }] })
        : json(r.res, 200, { interrupts: [view, { ...view, nodeId: 'm', status: 'resolved', outcome: 'accepted' }] }),
    );
    const c = client(host);
    const run = await c.listRunInterrupts('r/1');
    const pending = await c.listPendingInterrupts();
    expect(run.interrupts.map((i) => `${i.nodeId}:${i.status}`)).toEqual(['n:pending', 'm:resolved']);
    expect(pending.interrupts[0]?.workflowId).toBe('wf');
    expect(host.requests.map((r) => `${r.method} ${r.path}`)).toEqual(['GET /v1/runs/r%2F1/interrupts', 'GET /v1/host/weft/interrupts']);
  });

  it('sends no Authorization header on the token routes and keeps the token out of errors', async () => {
    const token = 'tok.abc/def+ghi';
    const view = {
      runId: 'r1',
      nodeId: 'n',
      interruptId: 'int_1',
      kind: 'clarification',
      key: 'k',
      data: { questions: [] },
      status: 'pending',
      requestedAt: 't',
    };
    const host = await fakeHost((r, i) => {
      if (i === 0) return json(r.res, 200, view);
      if (i === 1)
        return json(r.res, 200, {
          runId: 'r1',
          nodeId: 'n',
          interruptId: 'int_1',
          status: 'running',
          interrupt: { kind: 'clarification', outcome: 'resolved' },
        });
      json(r.res, 410, { error: 'interrupt_expired', message: `Token ${token} expired.`, details: { token } });
    });
    const c = client(host);
    expect(await c.inspectInterruptToken(token)).toEqual(view);
    const res = await c.resolveInterruptToken(token, { answers: { q: 'a' } }, { idempotencyKey: 'k3' });
    expect(res.interrupt?.outcome).toBe('resolved');
    const err = await c.inspectInterruptToken(token).catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 410, code: 'interrupt_expired', message: 'Token [redacted] expired.', details: { token: '[redacted]' } });
    expect(host.requests.map((r) => r.headers.authorization)).toEqual([undefined, undefined, undefined]);
    expect(host.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      `GET /v1/interrupts/${encodeURIComponent(token)}`,
      `POST /v1/interrupts/${encodeURIComponent(token)}`,
      `GET /v1/interrupts/${encodeURIComponent(token)}`,
    ]);
    expect(host.requests[1]?.headers['idempotency-key']).toBe('k3');
    expect(JSON.parse(host.requests[1]?.body ?? '')).toEqual({ resumeValue: { answers: { q: 'a' } } });
  });

  it('keeps the token out of connection errors', async () => {
    const host = await fakeHost(() => undefined);
    const s = servers.pop();
    s?.closeAllConnections();
    await new Promise<void>((resolve) => s?.close(() => resolve()));
    const token = 'secret-token/with+chars';
    const err = await client(host)
      .resolveInterruptToken(token, {})
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WeftConnectionError);
    expect((err as WeftConnectionError).request).toBe('POST /v1/interrupts/[redacted]');
    expect((err as Error).message).not.toContain(encodeURIComponent(token));
    expect((err as Error).message).not.toContain(token);
  });

  it('pauseRun and resumeRun post to the :pause and :resume verbs', async () => {
    const host = await fakeHost((r) =>
      r.path.endsWith(':pause')
        ? json(r.res, 202, { runId: 'r1', status: 'paused', pausedAt: '2026-01-01T00:00:01Z' })
        : json(r.res, 202, { runId: 'r1', status: 'running', resumedAt: '2026-01-01T00:00:02Z' }),
    );
    const c = client(host);
    expect(await c.pauseRun('r1', { reason: 'maintenance', drainPolicy: 'immediate', idempotencyKey: 'p1' })).toEqual({
      runId: 'r1',
      status: 'paused',
      pausedAt: '2026-01-01T00:00:01Z',
    });
    await c.pauseRun('r1');
    expect(await c.resumeRun('r1', { reason: 'done' })).toEqual({ runId: 'r1', status: 'running', resumedAt: '2026-01-01T00:00:02Z' });
    await c.resumeRun('r1');
    expect(host.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      'POST /v1/runs/r1:pause',
      'POST /v1/runs/r1:pause',
      'POST /v1/runs/r1:resume',
      'POST /v1/runs/r1:resume',
    ]);
    expect(host.requests.map((r) => JSON.parse(r.body) as unknown)).toEqual([{ reason: 'maintenance', drainPolicy: 'immediate' }, {}, { reason: 'done' }, {}]);
    expect(host.requests[0]?.headers['idempotency-key']).toBe('p1');
  });

  it('forkRun posts to the :fork verb with the body and key, and reports an idempotent replay', async () => {
    const body = { runId: 'r2', sourceRunId: 'r1', fromSeq: 3, mode: 'branch', status: 'pending', eventsUrl: '/v1/runs/r2/events' };
    let n = 0;
    const host = await fakeHost((r) => {
      if (n++ > 0) r.res.setHeader('openwop-idempotent-replay', 'true');
      json(r.res, 201, body);
    });
    const c = client(host);
    expect(await c.forkRun('r1', { mode: 'branch', fromSeq: 3, runOptionsOverlay: { tags: ['b'] } }, { idempotencyKey: 'f1' })).toEqual({
      ...body,
      replayed: false,
    });
    expect(await c.forkRun('r1', { mode: 'branch', fromSeq: 3, runOptionsOverlay: { tags: ['b'] } }, { idempotencyKey: 'f1' })).toEqual({
      ...body,
      replayed: true,
    });
    expect(host.requests.map((r) => `${r.method} ${r.path}`)).toEqual(['POST /v1/runs/r1:fork', 'POST /v1/runs/r1:fork']);
    expect(JSON.parse(host.requests[0]?.body ?? '{}')).toEqual({ mode: 'branch', fromSeq: 3, runOptionsOverlay: { tags: ['b'] } });
    expect(host.requests[0]?.headers['idempotency-key']).toBe('f1');
  });

  it('surfaces run_state_conflict with the run status in details', async () => {
    const host = await fakeHost((r) => json(r.res, 409, { error: 'run_state_conflict', message: 'The run is not paused.', details: { runStatus: 'running' } }));
    const err = await client(host)
      .resumeRun('r1')
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 409, code: 'run_state_conflict', details: { runStatus: 'running' } });
  });
});

describe('vault secrets', () => {
  const VALUE = ['sk-', 'sdk', 'SecretValue0123456789abcdef'].join('');
  const meta = { secretId: 'openai', scope: 'tenant', version: 1, createdAt: '2026-01-01T00:00:00.000Z', updatedAt: '2026-01-01T00:00:00.000Z' };

  it('creates, reads (with the ETag), rotates with If-Match and deletes through the host extension', async () => {
    const host = await fakeHost((r) => {
      if (r.method === 'GET') return json(r.res, 200, meta, { etag: '"e1"' });
      if (r.method === 'DELETE') {
        r.res.writeHead(204);
        r.res.end();
        return;
      }
      json(r.res, r.path.endsWith(':rotate') ? 200 : 201, { ...meta, version: r.path.endsWith(':rotate') ? 2 : 1 });
    });
    const c = new WeftClient({ baseUrl: host.url, apiKey: API_KEY });
    expect(await c.createSecret({ secretId: 'openai', value: VALUE }, { idempotencyKey: 'k1' })).toEqual(meta);
    expect(await c.getSecret('openai')).toEqual({ ...meta, etag: '"e1"' });
    expect((await c.rotateSecret('openai', { value: `${VALUE}2` }, { ifMatch: '"e1"' })).version).toBe(2);
    await c.deleteSecret('openai', { ifMatch: '"e2"' });
    expect(host.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      'POST /v1/host/weft/secrets',
      'GET /v1/host/weft/secrets/openai',
      'POST /v1/host/weft/secrets/openai:rotate',
      'DELETE /v1/host/weft/secrets/openai',
    ]);
    expect(JSON.parse(host.requests[0]?.body as string)).toEqual({ secretId: 'openai', value: VALUE });
    expect(host.requests[0]?.headers['idempotency-key']).toBe('k1');
    expect(host.requests[2]?.headers['if-match']).toBe('"e1"');
    expect(host.requests[3]?.headers['if-match']).toBe('"e2"');
  });

  it('redacts the value from an error whose body echoes it', async () => {
    const host = await fakeHost((r) => json(r.res, 400, { error: 'validation_error', message: `bad value ${VALUE}`, details: { got: VALUE } }));
    const c = new WeftClient({ baseUrl: host.url, apiKey: API_KEY });
    const err = await c.createSecret({ secretId: 'x', value: VALUE }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WeftApiError);
    expect(inspect(err, { depth: 5 })).not.toContain(VALUE);
  });
});
