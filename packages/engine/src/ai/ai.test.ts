/**
 * The LLM pieces without a network: the SSE parser, the cache-key recipe, both wire adapters
 * over a scripted {@link Send}, provider policy and capabilities, and the nodes in an engine on
 * a manual clock (a recorded call is not re-sent after a restart; Retry-After is a minimum).
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { RunEventDoc, WorkflowDefinition } from '@weft/contract';
import { ManualClock } from '../manual-clock.js';
import { MemoryStore } from '../memory-store.js';
import { BUILTIN_NODES, NodeError, NodeRegistry, type NodeResult } from '../nodes.js';
import type { OutboundRequest, OutboundResponse, SecretResolver } from '../ports.js';
import { RunEngine } from '../run-engine.js';
import { anthropicBody, callProvider, parseRetryAfter, type Send } from './adapters.js';
import { jcs, llmCacheKey } from './cache-key.js';
import { mockProviderAnswer, mockProviderProblem } from './mock-providers.js';
import { aiNodeTypes, sanitizeCost } from './nodes.js';
import { decidePolicy, globMatch, missingCapabilities } from './policy.js';
import { SseParser } from './sse.js';
import type { AiProviderConfig, ChatRequest } from './types.js';

const enc = new TextEncoder();
const res = (status: number, headers: Record<string, string>, body: string): OutboundResponse => ({
  status,
  headers,
  body: enc.encode(body),
  url: 'https://llm.example/v1',
  redirects: 0,
});

/** A Send that streams `body` in `pieces` chunks through onBodyChunk, recording requests. */
function scripted(answer: (req: OutboundRequest, n: number) => OutboundResponse, pieces = 3): Send & { seen: OutboundRequest[] } {
  const seen: OutboundRequest[] = [];
  const send = (async (req: OutboundRequest) => {
    seen.push(req);
    const r = answer(req, seen.length);
    const size = Math.ceil(r.body.length / pieces) || 1;
    for (let i = 0; i < r.body.length; i += size) req.onBodyChunk?.(r.body.slice(i, i + size), { status: r.status, headers: r.headers });
    return r;
  }) as Send & { seen: OutboundRequest[] };
  send.seen = seen;
  return send;
}

const sse = (frames: unknown[], events?: string[]): string =>
  frames.map((f, i) => `${events?.[i] ? `event: ${events[i]}\n` : ''}data: ${typeof f === 'string' ? f : JSON.stringify(f)}\n\n`).join('');

const openaiStream = (texts: string[], finish = 'stop', extra: unknown[] = []): string =>
  sse([
    ...texts.map((t) => ({ choices: [{ index: 0, delta: { content: t }, finish_reason: null }] })),
    ...extra,
    { choices: [{ index: 0, delta: {}, finish_reason: finish }] },
    { choices: [], usage: { prompt_tokens: 7, completion_tokens: texts.length } },
    '[DONE]',
  ]);

const OPENAI: AiProviderConfig = { id: 'openai', kind: 'openai', baseUrl: 'https://llm.example/v1', credentialRef: 'openai-key' };
const ANTHROPIC: AiProviderConfig = { id: 'anthropic', kind: 'anthropic', baseUrl: 'https://llm.example/v1' };
const REQ: ChatRequest = { provider: 'openai', model: 'gpt-x', messages: [{ role: 'user', content: 'hi' }] };

async function failure(p: Promise<unknown>): Promise<NodeError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(NodeError);
  return e as NodeError;
}

describe('mock provider catalog (configurable.mockProvider)', () => {
  it('checks ids and configs, streams stream-text tokens as given, and fails with the error entry', () => {
    expect(mockProviderProblem({ id: 'stream-text', config: { tokens: ['a', 'b'] } })).toBeUndefined();
    expect(mockProviderProblem({ id: 'nope' })).toBe('unknown mock provider id');
    expect(mockProviderProblem({ id: 'stream-text', config: { tokens: [1] } })).toBeDefined();
    expect(mockProviderProblem({ id: 'tool-calls', config: {} })).toBeDefined();
    const seen: string[] = [];
    const r = mockProviderAnswer({ id: 'stream-text', config: { tokens: ['Hi', ' there'], usage: { prompt_tokens: 2, completion_tokens: 2 } } }, REQ, (t) =>
      seen.push(t),
    );
    expect(seen).toEqual(['Hi', ' there']);
    expect(r).toMatchObject({ content: 'Hi there', finishReason: 'stop', usage: { inputTokens: 2, outputTokens: 2 }, model: 'gpt-x' });
    expect(mockProviderAnswer({ id: 'tool-calls', config: { toolCalls: [{ name: 'lookup', arguments: { q: 1 } }] } }, REQ, () => {})).toMatchObject({
      finishReason: 'tool_calls',
      toolCalls: [{ name: 'lookup', arguments: '{"q":1}' }],
    });
    expect(() => mockProviderAnswer({ id: 'error', config: { code: 'provider_quota_exhausted', retryable: true } }, REQ, () => {})).toThrow(NodeError);
  });
});

describe('SseParser', () => {
  it('yields events split across chunks, with CRLF and CR line ends, multi-line data, comments and event names', () => {
    const p = new SseParser();
    const text = ': keepalive\r\nevent: a\r\ndata: one\r\ndata: two\r\n\r\ndata: x\r\rdata: {"k":1}\n\n';
    const out = [];
    for (const ch of text) out.push(...p.push(enc.encode(ch)));
    out.push(...p.end());
    expect(out).toEqual([
      { event: 'a', data: 'one\ntwo' },
      { event: 'message', data: 'x' },
      { event: 'message', data: '{"k":1}' },
    ]);
  });

  it('flushes a last event without its blank line at the end, and splits multi-byte characters safely', () => {
    const p = new SseParser();
    const bytes = enc.encode('data: héllo ✓');
    const out = [...p.push(bytes.slice(0, 8)), ...p.push(bytes.slice(8))];
    expect(out).toEqual([]);
    expect(p.end()).toEqual([{ event: 'message', data: 'héllo ✓' }]);
  });
});

describe('LLM cache key (execution-semantics §3.3)', () => {
  it('is 64 lowercase hex over JCS, independent of key order, tool order and absent fields', () => {
    const a = llmCacheKey({
      ...REQ,
      provider: 'OpenAI',
      tools: [
        { name: 'b', parameters: { type: 'object', properties: { z: {}, a: {} } } },
        { name: 'a', parameters: { type: 'object' } },
      ],
      temperature: 0,
    });
    const b = llmCacheKey({
      temperature: 0,
      tools: [
        { parameters: { type: 'object' }, name: 'a' },
        { parameters: { properties: { a: {}, z: {} }, type: 'object' }, name: 'b' },
      ],
      messages: [{ content: 'hi', role: 'user' }],
      model: 'gpt-x',
      provider: 'openai',
      topP: undefined,
    } as ChatRequest);
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    expect(a).toBe(b);
    expect(llmCacheKey({ ...REQ, model: 'gpt-y' })).not.toBe(llmCacheKey(REQ));
    expect(llmCacheKey({ ...REQ, temperature: 0.5 })).not.toBe(llmCacheKey(REQ));
  });

  it('JCS sorts keys by UTF-16 code units and prints numbers as ECMAScript does', () => {
    expect(jcs({ b: 1, a: [1e21, 0.1, -0], é: null, A: 'x' })).toBe('{"A":"x","a":[1e+21,0.1,0],"b":1,"é":null}');
  });
});

describe('OpenAI Chat Completions adapter', () => {
  it('streams deltas in order, assembles usage and tool calls, and sends the key only in Authorization', async () => {
    const toolChunks = [
      { choices: [{ index: 0, delta: { tool_calls: [{ index: 0, id: 'c1', function: { name: 'look', arguments: '{"q":' } }] }, finish_reason: null }] },
      { choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: '"w"}' } }] }, finish_reason: null }] },
    ];
    const send = scripted(() => res(200, { 'content-type': 'text/event-stream' }, openaiStream(['Hel', 'lo'], 'tool_calls', toolChunks)), 7);
    const deltas: string[] = [];
    const r = await callProvider(send, OPENAI, REQ, { key: 'sk-test-key-0123456789', onDelta: (d) => deltas.push(d), idempotencyKey: 'inv1' });
    expect(deltas).toEqual(['Hel', 'lo']);
    expect(r).toMatchObject({
      content: 'Hello',
      finishReason: 'tool_calls',
      usage: { inputTokens: 7, outputTokens: 2 },
      toolCalls: [{ id: 'c1', name: 'look', arguments: '{"q":"w"}' }],
    });
    const req = send.seen[0] as OutboundRequest;
    expect(req.url).toBe('https://llm.example/v1/chat/completions');
    expect(req.headers).toMatchObject({ authorization: 'Bearer sk-test-key-0123456789', 'idempotency-key': 'inv1' });
    expect(String(req.body)).not.toContain('sk-test-key');
    expect(JSON.parse(String(req.body))).toMatchObject({ model: 'gpt-x', stream: true, messages: [{ role: 'user', content: 'hi' }] });
  });

  it('reads a JSON (non-streamed) answer and a refusal', async () => {
    const body = {
      model: 'gpt-x-2',
      choices: [{ message: { role: 'assistant', content: null, refusal: 'no' }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 1, completion_tokens: 1 },
    };
    const r = await callProvider(
      scripted(() => res(200, { 'content-type': 'application/json' }, JSON.stringify(body))),
      OPENAI,
      REQ,
      {},
    );
    expect(r).toMatchObject({ finishReason: 'content_filter', refusal: 'no', model: 'gpt-x-2' });
  });

  it('429 is retryable with Retry-After; 5xx retryable; other 4xx not — and an error body echoing the key is never quoted', async () => {
    const e429 = await failure(
      callProvider(
        scripted(() => res(429, { 'retry-after': '2' }, '{}')),
        OPENAI,
        REQ,
        {},
      ),
    );
    expect(e429).toMatchObject({ code: 'provider_quota_exhausted', retryable: true, details: { retryAfterMs: 2000, status: 429 } });
    const e503 = await failure(
      callProvider(
        scripted(() => res(503, {}, '{}')),
        OPENAI,
        REQ,
        {},
      ),
    );
    expect(e503).toMatchObject({ code: 'provider_unavailable', retryable: true });
    const key = 'sk-canary-echo-0123456789abcdef';
    const e401 = await failure(
      callProvider(
        scripted((r) => res(401, { 'content-type': 'text/event-stream' }, `data: bad key ${String(r.headers?.authorization)}\n\n`)),
        OPENAI,
        REQ,
        { key },
      ),
    );
    expect(e401).toMatchObject({ code: 'provider_request_rejected', retryable: false });
    expect(JSON.stringify({ m: e401.message, d: e401.details })).not.toContain(key);
  });

  it('a malformed chunk or a stream without a finish reason fails provider_unavailable (retryable), no partial success', async () => {
    const bad = await failure(
      callProvider(
        scripted(() => res(200, { 'content-type': 'text/event-stream' }, 'data: {"choices": [ nope\n\n')),
        OPENAI,
        REQ,
        {},
      ),
    );
    expect(bad).toMatchObject({ code: 'provider_unavailable', retryable: true, details: { reason: 'malformed-stream' } });
    const cut = await failure(
      callProvider(
        scripted(() => res(200, { 'content-type': 'text/event-stream' }, sse([{ choices: [{ delta: { content: 'x' } }] }]))),
        OPENAI,
        REQ,
        {},
      ),
    );
    expect(cut.code).toBe('provider_unavailable');
  });

  it('parses Retry-After as seconds or an HTTP date', () => {
    expect(parseRetryAfter('3')).toBe(3000);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4000)).toBe(6000);
    expect(parseRetryAfter('soon')).toBeUndefined();
  });
});

describe('Anthropic Messages adapter', () => {
  const stream = (stop: string, blocks: unknown[]): string => {
    const frames: unknown[] = [{ type: 'message_start', message: { model: 'claude-x', usage: { input_tokens: 9, output_tokens: 1 } } }, ...blocks];
    frames.push({ type: 'message_delta', delta: { stop_reason: stop }, usage: { output_tokens: 4 } }, { type: 'message_stop' });
    return sse(
      frames,
      frames.map((f) => (f as { type: string }).type),
    );
  };

  it('streams text, assembles tool_use input, maps stop reasons, and sends the key only in x-api-key', async () => {
    const send = scripted(
      () =>
        res(
          200,
          { 'content-type': 'text/event-stream' },
          stream('tool_use', [
            { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
            { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Hi ' } },
            { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'there' } },
            { type: 'content_block_start', index: 1, content_block: { type: 'tool_use', id: 'tu1', name: 'look', input: {} } },
            { type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: '{"q":"w"}' } },
          ]),
        ),
      5,
    );
    const deltas: string[] = [];
    const r = await callProvider(send, ANTHROPIC, { ...REQ, provider: 'anthropic' }, { key: 'sk-ant-test-0123456789', onDelta: (d) => deltas.push(d) });
    expect(deltas).toEqual(['Hi ', 'there']);
    expect(r).toMatchObject({
      content: 'Hi there',
      finishReason: 'tool_calls',
      model: 'claude-x',
      usage: { inputTokens: 9, outputTokens: 4 },
      toolCalls: [{ id: 'tu1', name: 'look', arguments: '{"q":"w"}' }],
    });
    const req = send.seen[0] as OutboundRequest;
    expect(req.url).toBe('https://llm.example/v1/messages');
    expect(req.headers).toMatchObject({ 'x-api-key': 'sk-ant-test-0123456789', 'anthropic-version': '2023-06-01' });
    expect(req.headers?.authorization).toBeUndefined();
  });

  it('maps max_tokens to length and refusal to content_filter; an error event fails provider_unavailable', async () => {
    const t = await callProvider(
      scripted(() => res(200, { 'content-type': 'text/event-stream' }, stream('max_tokens', []))),
      ANTHROPIC,
      REQ,
      {},
    );
    expect(t.finishReason).toBe('length');
    const f = await callProvider(
      scripted(() => res(200, { 'content-type': 'text/event-stream' }, stream('refusal', []))),
      ANTHROPIC,
      REQ,
      {},
    );
    expect(f.finishReason).toBe('content_filter');
    const e = await failure(
      callProvider(
        scripted(() => res(200, { 'content-type': 'text/event-stream' }, sse([{ type: 'error', error: { type: 'overloaded_error' } }], ['error']))),
        ANTHROPIC,
        REQ,
        {},
      ),
    );
    expect(e.code).toBe('provider_unavailable');
  });

  it('puts system messages in `system` and tool turns in content blocks', () => {
    const body = anthropicBody({
      ...REQ,
      messages: [
        { role: 'system', content: 'be brief' },
        { role: 'user', content: 'q' },
        { role: 'assistant', content: '', toolCalls: [{ id: 't1', name: 'look', arguments: '{"a":1}' }] },
        { role: 'tool', toolCallId: 't1', content: 'r1' },
      ],
    });
    expect(body).toMatchObject({
      system: 'be brief',
      max_tokens: 1024,
      messages: [
        { role: 'user', content: 'q' },
        { role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: 'look', input: { a: 1 } }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't1', content: 'r1' }] },
      ],
    });
  });
});

describe('provider policy and model capabilities (security-contract §5.3)', () => {
  it('decides the four modes', () => {
    const p = (policy: AiProviderConfig['policy']): AiProviderConfig => ({ ...OPENAI, ...(policy ? { policy } : {}) });
    expect(decidePolicy(p(undefined), 'm', false)).toMatchObject({ decision: 'permit', mode: 'optional' });
    expect(decidePolicy(p({ mode: 'disabled' }), 'm', true)).toMatchObject({ decision: 'deny', reason: 'provider_disabled' });
    expect(decidePolicy(p({ mode: 'required' }), 'm', false)).toMatchObject({ decision: 'deny', reason: 'byok_required' });
    expect(decidePolicy(p({ mode: 'required' }), 'm', true)).toMatchObject({ decision: 'permit' });
    expect(decidePolicy(p({ mode: 'restricted' }), 'm', false)).toMatchObject({ decision: 'deny', reason: 'model_not_allowed', allowed: [] });
    expect(decidePolicy(p({ mode: 'restricted', allowedModels: ['gpt-4o*'] }), 'gpt-4o-mini', false).decision).toBe('permit');
    expect(decidePolicy(p({ mode: 'restricted', allowedModels: ['gpt-4o*'] }), 'GPT-4o', false).decision).toBe('deny');
  });

  it('globs are anchored and escape regex characters', () => {
    expect(globMatch('a.b*', 'a.bc')).toBe(true);
    expect(globMatch('a.b*', 'axbc')).toBe(false);
    expect(globMatch('*-mini', 'x-mini-2')).toBe(false);
  });

  it('an unreserved capability is never provided; declared capabilities are checked', () => {
    expect(missingCapabilities(OPENAI, 'm', ['nonexistent-capability-9b3f', 'structured-output'])).toEqual(['nonexistent-capability-9b3f']);
    const declared = { ...OPENAI, models: { m: { capabilities: ['function-calling'] } } };
    expect(missingCapabilities(declared, 'm', ['tool-calling', 'structured-output'])).toEqual(['structured-output']);
  });

  it('cost attributes pass an allowlist of seven primitive-valued names', () => {
    const out = sanitizeCost({ 'openwop.cost.usd': 1, 'openwop.cost.evil': 'x', 'openwop.cost.provider': { nested: 1 }, 'openwop.cost.currency': 'usd' });
    expect(out).toEqual({ 'openwop.cost.usd': 1, 'openwop.cost.currency': 'usd' });
  });
});

// ------------------------------------------------------------------ in an engine

const HOUR = 3_600_000;
const engines: RunEngine[] = [];
afterEach(async () => {
  for (const e of engines.splice(0)) await e.stop();
});

const held: (() => void)[] = [];
const KEY = 'sk-vault-value-0123456789abcdef';
const resolver: SecretResolver = {
  async resolve(_tenant, ref) {
    return ref === 'openai-key' ? { ok: true, value: KEY, version: 1 } : { ok: false, code: 'credential_not_found', message: 'No such secret.' };
  },
};

function registry(): NodeRegistry {
  const r = new NodeRegistry();
  for (const n of BUILTIN_NODES) r.register(n);
  for (const n of aiNodeTypes(new Map([['openai', OPENAI]]))) r.register(n);
  r.register({ typeId: 'test.hold', execute: () => new Promise<NodeResult>((resolve) => held.push(() => resolve({ outputs: {} }))) });
  return r;
}

const wf = (nodes: { id: string; typeId: string; config?: Record<string, unknown>; settings?: Record<string, unknown> }[]): WorkflowDefinition =>
  ({
    id: 'agent',
    name: 'agent',
    version: '1',
    nodes: nodes.map((n) => ({ name: n.id, position: { x: 0, y: 0 }, inputs: {}, config: {}, ...n })),
    edges: nodes.slice(1).map((n, i) => ({ id: `e${i}`, sourceNodeId: (nodes[i] as { id: string }).id, targetNodeId: n.id })),
    triggers: [{ id: 'manual', type: 'manual', enabled: true }],
    variables: [],
    metadata: {},
    settings: {},
  }) as WorkflowDefinition;

async function engineOn(store: MemoryStore, clock: ManualClock, send: Send, def: WorkflowDefinition): Promise<RunEngine> {
  const e = new RunEngine({
    store,
    clock,
    registry: registry(),
    limits: { maxNodeExecutions: 100, maxRunDurationMs: 24 * HOUR },
    outbound: { request: (req) => send(req) },
    secrets: resolver,
  });
  engines.push(e);
  await e.catalog.register(def, 'test');
  await e.start();
  return e;
}

async function eventually(store: MemoryStore, e: RunEngine, runId: string, type: string): Promise<RunEventDoc[]> {
  const read = async () => (await store.readEvents(runId, -1, 10_000)).map((x) => JSON.parse(x.json) as RunEventDoc);
  return new Promise<RunEventDoc[]>((resolve, reject) => {
    const t = setTimeout(() => {
      off();
      void read().then((evs) => reject(new Error(`no ${type} in ${evs.map((x) => x.type).join(', ')}`)));
    }, 5000);
    const check = (): void => {
      void read().then((evs) => {
        if (!evs.some((x) => x.type === type)) return;
        clearTimeout(t);
        off();
        resolve(evs);
      });
    };
    const off = e.bus.subscribe(runId, check);
    check();
  });
}

describe('LLM nodes in the engine', () => {
  it('a recorded LLM call is not re-sent after a restart; tokens, usage and the policy decision are in the log', async () => {
    held.length = 0;
    const send = scripted(() => res(200, { 'content-type': 'text/event-stream' }, openaiStream(['Draft ', 'ready'])));
    const store = new MemoryStore();
    const clock = new ManualClock();
    const def = wf([
      { id: 'draft', typeId: 'core.ai.callPrompt', config: { provider: 'openai', model: 'gpt-x', prompt: 'write' } },
      { id: 'wait', typeId: 'test.hold' },
    ]);
    const first = await engineOn(store, clock, send, def);
    const rec = await first.createRun({ tenant: 't', principal: 'p', workflowId: 'agent' });
    await expect.poll(() => held.length, { timeout: 5000 }).toBe(1);
    expect(send.seen).toHaveLength(1);
    await first.stop();
    held.length = 0;
    // The second process re-reads the run; the completed LLM node stays completed and nothing is sent.
    const second = await engineOn(store, clock, send, def);
    await expect.poll(() => held.length, { timeout: 5000 }).toBe(1);
    held.shift()?.();
    const evs = await eventually(store, second, rec.runId, 'run.completed');
    expect(send.seen).toHaveLength(1);
    const chunks = evs.filter((x) => x.type === 'output.chunk').map((x) => (x.payload as { chunk: string }).chunk);
    expect(chunks.join('')).toBe('Draft ready');
    expect(evs.find((x) => x.type === 'provider.usage')?.payload).toMatchObject({ provider: 'openai', model: 'gpt-x', inputTokens: 7, outputTokens: 2 });
    expect(evs.find((x) => x.type === 'policy.decision')?.payload).toMatchObject({ provider: 'openai', decision: 'permit', mode: 'optional' });
    expect(evs.find((x) => x.type === 'node.completed' && x.nodeId === 'draft')?.payload).toMatchObject({
      outputs: { text: 'Draft ready', finishReason: 'stop' },
    });
    const projection = (await store.getRunInternal(rec.runId))?.projection;
    expect(projection?.cost).toMatchObject({ inputTokens: 7, outputTokens: 2, provider: 'openai' });
    const [inv] = await store.listInvocations(rec.runId);
    expect(inv?.providerKey).toMatch(/^llm:[0-9a-f]{64}$/);
    expect((send.seen[0] as OutboundRequest).headers?.authorization).toBe(`Bearer ${KEY}`);
  });

  it('a re-execution of a node whose call was recorded answers the record without sending (the interrupted call is sent once more)', async () => {
    held.length = 0;
    // The LLM node itself waits after its call: a restart re-executes it.
    const r = registry();
    const send = scripted(() => res(200, { 'content-type': 'text/event-stream' }, openaiStream(['ok'])));
    const ai = aiNodeTypes(new Map([['openai', OPENAI]])).find((t) => t.typeId === 'core.ai.callPrompt');
    r.register({
      typeId: 'test.ai-then-hold',
      requiresSecrets: true,
      execute: async (ctx) => {
        const out = await (ai as { execute: (c: typeof ctx) => Promise<NodeResult> }).execute(ctx);
        await new Promise<void>((resolve) => held.push(resolve));
        return out;
      },
    });
    const store = new MemoryStore();
    const clock = new ManualClock();
    const def = wf([{ id: 'draft', typeId: 'test.ai-then-hold', config: { provider: 'openai', model: 'gpt-x', prompt: 'write' } }]);
    const mk = async () => {
      const e = new RunEngine({
        store,
        clock,
        registry: r,
        limits: { maxNodeExecutions: 100, maxRunDurationMs: 24 * HOUR },
        outbound: { request: (q) => send(q) },
        secrets: resolver,
      });
      engines.push(e);
      await e.catalog.register(def, 'test');
      await e.start();
      return e;
    };
    const first = await mk();
    const rec = await first.createRun({ tenant: 't', principal: 'p', workflowId: 'agent' });
    await expect.poll(() => held.length, { timeout: 5000 }).toBe(1);
    await first.stop();
    held.length = 0;
    const second = await mk();
    await expect.poll(() => held.length, { timeout: 5000 }).toBe(1);
    held.shift()?.();
    await eventually(store, second, rec.runId, 'run.completed');
    expect(send.seen).toHaveLength(1);
    expect((await store.listInvocations(rec.runId))[0]).toMatchObject({ state: 'done', calls: 1 });
  });

  it('a 429 with Retry-After is retried no sooner than it asks, even with a shorter configured backoff', async () => {
    const send = scripted((_q, n) =>
      n === 1 ? res(429, { 'retry-after': '30' }, '{}') : res(200, { 'content-type': 'text/event-stream' }, openaiStream(['fine'])),
    );
    const store = new MemoryStore();
    const clock = new ManualClock();
    const def = wf([
      {
        id: 'draft',
        typeId: 'core.ai.callPrompt',
        config: { provider: 'openai', model: 'gpt-x', prompt: 'w' },
        settings: { retry: { maxRetries: 2, backoffMs: 10 } },
      },
    ]);
    const e = await engineOn(store, clock, send, def);
    const rec = await e.createRun({ tenant: 't', principal: 'p', workflowId: 'agent' });
    const evs = await eventually(store, e, rec.runId, 'node.retried');
    expect(evs.find((x) => x.type === 'node.retried')?.payload).toMatchObject({ delayMs: 30_000, lastError: { code: 'provider_quota_exhausted' } });
    clock.advance(29_000);
    await new Promise((r) => setImmediate(r));
    expect(send.seen).toHaveLength(1);
    clock.advance(1_000);
    await eventually(store, e, rec.runId, 'run.completed');
    expect(send.seen).toHaveLength(2);
  });

  it('a missing credential reference fails the run with credential_not_found before anything is sent', async () => {
    const send = scripted(() => res(200, {}, ''));
    const store = new MemoryStore();
    const def = wf([{ id: 'draft', typeId: 'core.ai.callPrompt', config: { provider: 'openai', model: 'gpt-x', prompt: 'w' } }]);
    const cfg = { ...OPENAI, credentialRef: 'gone' };
    const r = new NodeRegistry();
    for (const n of aiNodeTypes(new Map([['openai', cfg]]))) r.register(n);
    const e = new RunEngine({
      store,
      registry: r,
      limits: { maxNodeExecutions: 100, maxRunDurationMs: HOUR },
      outbound: { request: (q) => send(q) },
      secrets: resolver,
    });
    engines.push(e);
    await e.catalog.register(def, 'test');
    await e.start();
    const rec = await e.createRun({ tenant: 't', principal: 'p', workflowId: 'agent' });
    const evs = await eventually(store, e, rec.runId, 'run.failed');
    expect(evs.find((x) => x.type === 'run.failed')?.payload).toMatchObject({ error: { code: 'credential_not_found' } });
    expect(send.seen).toHaveLength(0);
  });

  it('structuredOutput retries a schema violation once with envelope.retry.attempted, then completes (mock provider)', async () => {
    const store = new MemoryStore();
    const def = wf([
      {
        id: 'structured-call',
        typeId: 'core.ai.structuredOutput',
        config: {
          provider: 'mock',
          outputSchema: { type: 'object', required: ['valid'], properties: { valid: { type: 'boolean' } } },
          messages: [{ role: 'user', content: 'emit' }],
          mock: [{ content: 'not json {' }, { json: { valid: true } }],
        },
      },
    ]);
    const e = await engineOn(
      store,
      new ManualClock(),
      scripted(() => res(500, {}, '')),
      def,
    );
    const rec = await e.createRun({ tenant: 't', principal: 'p', workflowId: 'agent' });
    const evs = await eventually(store, e, rec.runId, 'run.completed');
    const retries = evs.filter((x) => x.type === 'envelope.retry.attempted');
    expect(retries).toHaveLength(1);
    expect(retries[0]?.payload).toMatchObject({ attempt: 2, reason: 'parse-error', nodeId: 'structured-call' });
    expect(evs.find((x) => x.type === 'node.completed')?.payload).toMatchObject({ outputs: { data: { valid: true } } });
  });

  it('toolCalling past its turns: cap.breached{kind:"loop-iterations"} then loop_limit_exceeded; configurable.maxLoopIterations lowers the limit', async () => {
    const store = new MemoryStore();
    const def = wf([
      {
        id: 'agent-loop',
        typeId: 'core.ai.toolCalling',
        config: {
          provider: 'mock',
          prompt: 'go',
          maxIterations: 3,
          tools: [{ name: 'x', parameters: { type: 'object' }, url: 'https://tools.example/x' }],
          // Always asks for an undeclared tool: answered as forbidden, never dispatched.
          mock: [{ toolCalls: [{ name: 'y', arguments: {} }] }],
        },
      },
    ]);
    const e = await engineOn(
      store,
      new ManualClock(),
      scripted(() => res(500, {}, '')),
      def,
    );
    const a = await e.createRun({ tenant: 't', principal: 'p', workflowId: 'agent' });
    const evsA = await eventually(store, e, a.runId, 'run.failed');
    expect(evsA.find((x) => x.type === 'cap.breached')?.payload).toEqual({ kind: 'loop-iterations', limit: 3, observed: 4, nodeId: 'agent-loop' });
    expect(evsA.find((x) => x.type === 'node.failed')?.payload).toMatchObject({ error: { code: 'loop_limit_exceeded' } });
    const b = await e.createRun({ tenant: 't', principal: 'p', workflowId: 'agent', configurable: { maxLoopIterations: 1 } });
    const evsB = await eventually(store, e, b.runId, 'run.failed');
    expect(evsB.find((x) => x.type === 'cap.breached')?.payload).toMatchObject({ kind: 'loop-iterations', limit: 1, observed: 2 });
    expect(evsB.filter((x) => x.type === 'agent.toolCalled')).toHaveLength(1);
  });

  it('schemaRounds exhausted: envelope.retry.exhausted{finalReason} then cap.breached{kind:"schema"}, node fails envelope_payload_invalid', async () => {
    const store = new MemoryStore();
    const def = wf([
      {
        id: 'structured-call',
        typeId: 'core.ai.structuredOutput',
        config: {
          provider: 'mock',
          outputSchema: { type: 'object', required: ['valid'], properties: { valid: { type: 'boolean' } } },
          messages: [{ role: 'user', content: 'emit' }],
          mock: [{ json: { valid: 'no' } }],
        },
      },
    ]);
    const e = await engineOn(
      store,
      new ManualClock(),
      scripted(() => res(500, {}, '')),
      def,
    );
    const rec = await e.createRun({ tenant: 't', principal: 'p', workflowId: 'agent' });
    const evs = await eventually(store, e, rec.runId, 'run.failed');
    const tail = evs.filter((x) => ['envelope.retry.exhausted', 'cap.breached', 'node.failed'].includes(x.type));
    expect(tail.map((x) => x.type)).toEqual(['envelope.retry.exhausted', 'cap.breached', 'node.failed']);
    expect(tail[0]?.payload).toMatchObject({ totalAttempts: 3, finalReason: 'schema-violation' });
    expect(tail[1]?.payload).toEqual({ kind: 'schema', limit: 2, observed: 3, nodeId: 'structured-call' });
    expect(tail[2]?.payload).toMatchObject({ error: { code: 'envelope_payload_invalid' } });
  });
});
