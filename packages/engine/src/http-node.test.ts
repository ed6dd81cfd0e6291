import { afterEach, describe, expect, it } from 'vitest';
import type { RunEventDoc, WorkflowDefinition } from '@weft/contract';
import { MemoryStore } from './memory-store.js';
import { NodeError, NodeRegistry, type NodeContext } from './nodes.js';
import type { Outbound, OutboundRequest, OutboundResponse } from './ports.js';
import { RunEngine } from './run-engine.js';

/** An Outbound that records requests and answers from a function. */
function fakeOutbound(answer: (req: OutboundRequest) => OutboundResponse | Promise<OutboundResponse>): Outbound & { seen: OutboundRequest[] } {
  const seen: OutboundRequest[] = [];
  return {
    seen,
    async request(req) {
      seen.push(req);
      return answer(req);
    },
  };
}

const response = (status: number, headers: Record<string, string>, body: string | Uint8Array, url = 'https://api.example/x'): OutboundResponse => ({
  status,
  headers,
  body: typeof body === 'string' ? new TextEncoder().encode(body) : body,
  url,
  redirects: 0,
});

const node = new NodeRegistry().get('core.http.request');

function ctx(config: Record<string, unknown>, http: Outbound | undefined, inputs: Record<string, unknown> = {}): NodeContext {
  return {
    runId: 'r',
    nodeId: 'call',
    typeId: 'core.http.request',
    tenant: 't',
    attempt: 0,
    config,
    inputs,
    startedAt: 0,
    signal: new AbortController().signal,
    now: () => 0,
    interrupt: () => undefined,
    variables: {},
    children: { current: () => undefined, start: async () => 'x', get: async () => undefined },
    http,
    // No invocation log here: the effect is made directly.
    effect: (_key, call) => call({ invocationId: 'inv', calls: 1, signal: new AbortController().signal }),
    emit: () => undefined,
  };
}

async function failure(p: unknown): Promise<NodeError> {
  const e = await Promise.resolve(p).then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(NodeError);
  return e as NodeError;
}

describe('core.http.request', () => {
  it('is a built-in node type', () => {
    expect(node?.typeId).toBe('core.http.request');
  });

  it('sends json with a content type and outputs parsed JSON, status and headers without set-cookie', async () => {
    const out = fakeOutbound(() => response(201, { 'content-type': 'application/json; charset=utf-8', 'set-cookie': 'sid=1', 'x-id': '7' }, '{"ok":true}'));
    const r = await node?.execute(ctx({ url: 'https://api.example/x', json: { a: 1 }, headers: { Authorization: 'Bearer t' } }, out));
    expect(out.seen[0]).toMatchObject({
      method: 'POST',
      url: 'https://api.example/x',
      body: '{"a":1}',
      headers: { 'content-type': 'application/json', authorization: 'Bearer t' },
    });
    expect(out.seen[0]?.signal).toBeInstanceOf(AbortSignal);
    expect(r).toEqual({
      outputs: {
        status: 201,
        ok: true,
        headers: { 'content-type': 'application/json; charset=utf-8', 'x-id': '7' },
        body: { ok: true },
        bodyEncoding: 'json',
        url: 'https://api.example/x',
      },
    });
  });

  it('takes settings from input ports before config, and passes limits through', async () => {
    const out = fakeOutbound(() => response(200, { 'content-type': 'text/plain' }, 'hello'));
    const r = await node?.execute(
      ctx({ url: 'https://config.example/', method: 'GET', timeoutMs: 5000, followRedirects: false, maxResponseBytes: 10 }, out, {
        url: 'https://input.example/',
        body: 'raw',
      }),
    );
    expect(out.seen[0]).toMatchObject({ method: 'GET', url: 'https://input.example/', body: 'raw', timeoutMs: 5000, maxRedirects: 0, maxResponseBytes: 10 });
    expect(r).toMatchObject({ outputs: { body: 'hello', bodyEncoding: 'text', status: 200 } });
  });

  it('outputs binary bodies as base64, empty ones as null, and an HTTP error status as an output', async () => {
    const bin = fakeOutbound(() => response(200, { 'content-type': 'image/png' }, new Uint8Array([0x89, 0x50, 0xff])));
    expect(await node?.execute(ctx({ url: 'https://a.example/' }, bin))).toMatchObject({ outputs: { body: 'iVD/', bodyEncoding: 'base64' } });
    const none = fakeOutbound(() => response(404, {}, ''));
    expect(await node?.execute(ctx({ url: 'https://a.example/' }, none))).toMatchObject({
      outputs: { status: 404, ok: false, body: null, bodyEncoding: 'none' },
    });
    const notJson = fakeOutbound(() => response(200, { 'content-type': 'application/json' }, 'not json'));
    expect(await node?.execute(ctx({ url: 'https://a.example/' }, notJson))).toMatchObject({ outputs: { body: 'not json', bodyEncoding: 'text' } });
    expect((await failure(node?.execute(ctx({ url: 'https://a.example/', responseType: 'json' }, notJson)))).code).toBe('fetch_failed');
  });

  it('refuses malformed settings with validation_error before sending anything', async () => {
    const out = fakeOutbound(() => response(200, {}, ''));
    for (const config of [
      {},
      { url: 5 },
      { url: 'https://a.example/', method: 'TRACE' },
      { url: 'https://a.example/', headers: { a: 1 } },
      { url: 'https://a.example/', timeoutMs: 0 },
      { url: 'https://a.example/', responseType: 'xml' },
    ]) {
      expect((await failure(node?.execute(ctx(config, out)))).code).toBe('validation_error');
    }
    expect(out.seen).toHaveLength(0);
  });

  it('fails with capability_not_provided when the host wired no Outbound', async () => {
    const e = await failure(node?.execute(ctx({ url: 'https://a.example/' }, undefined)));
    expect(e).toMatchObject({ code: 'capability_not_provided', details: { capability: 'httpClient' } });
  });

  it("passes the adapter's catalog code and details through; timeouts and connect failures are retryable, a refusal is not", async () => {
    const failing = (code: string, details: Record<string, unknown>): Outbound => ({
      request: async () => {
        throw Object.assign(new Error(`failed ${code}`), { code, details });
      },
    });
    const blocked = await failure(node?.execute(ctx({ url: 'http://10.0.0.1/' }, failing('ssrf_blocked', { reason: 'private' }))));
    expect(blocked).toMatchObject({ code: 'ssrf_blocked', details: { reason: 'private' }, retryable: false });
    expect(await failure(node?.execute(ctx({ url: 'http://a.example/' }, failing('fetch_timeout', { timeoutMs: 5 }))))).toMatchObject({
      code: 'fetch_timeout',
      retryable: true,
    });
    const unknown = await failure(node?.execute(ctx({ url: 'http://a.example/' }, failing('EWHATEVER', {}))));
    expect(unknown).toMatchObject({ code: 'fetch_failed', retryable: true });
  });
});

describe('core.http.request in a run', () => {
  let engine: RunEngine | undefined;
  afterEach(async () => {
    await engine?.stop();
  });

  const def = (url: string): WorkflowDefinition =>
    ({
      id: `http-${url.length}`,
      name: 'http',
      version: '1',
      nodes: [{ id: 'call', typeId: 'core.http.request', name: 'call', position: { x: 0, y: 0 }, config: { url }, inputs: {} }],
      edges: [],
      triggers: [{ id: 'manual', type: 'manual', enabled: true }],
      variables: [],
      metadata: {},
      settings: {},
    }) as WorkflowDefinition;

  async function run(outbound: Outbound, url: string): Promise<RunEventDoc[]> {
    const store = new MemoryStore();
    engine = new RunEngine({ store, limits: { maxNodeExecutions: 10, maxRunDurationMs: 10_000 }, outbound });
    await engine.catalog.register(def(url), 'test');
    await engine.start();
    const rec = await engine.createRun({ tenant: 't', principal: 'p', workflowId: def(url).id });
    const e = engine;
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('no terminal event')), 5000);
      const check = (): void => {
        void store.getRunInternal(rec.runId).then((r) => {
          if (r && ['completed', 'failed'].includes(r.projection.status)) {
            clearTimeout(t);
            off();
            resolve();
          }
        });
      };
      const off = e.bus.subscribe(rec.runId, check);
      check();
    });
    return (await store.readEvents(rec.runId, -1, 100)).map((x) => JSON.parse(x.json) as RunEventDoc);
  }

  it('the engine hands its Outbound to the node as ctx.http', async () => {
    const out = fakeOutbound(() => response(200, { 'content-type': 'application/json' }, '{"n":1}'));
    const evs = await run(out, 'https://api.example/ok');
    expect(evs.at(-1)?.type).toBe('run.completed');
    expect(evs.find((e) => e.type === 'node.completed')?.payload).toMatchObject({ outputs: { status: 200, body: { n: 1 } } });
    expect(out.seen.map((r) => r.url)).toEqual(['https://api.example/ok']);
  });

  it('a refused destination fails the node and the run with ssrf_blocked', async () => {
    const out: Outbound = {
      request: async () => {
        throw Object.assign(new Error('Address 10.0.0.1 is a private address and is not allowed.'), { code: 'ssrf_blocked', details: { reason: 'private' } });
      },
    };
    const evs = await run(out, 'http://10.0.0.1/');
    expect(evs.find((e) => e.type === 'node.failed')?.payload).toMatchObject({ error: { code: 'ssrf_blocked', details: { reason: 'private' } } });
    expect(evs.at(-1)).toMatchObject({ type: 'run.failed', payload: { error: { code: 'ssrf_blocked' } } });
  });
});
