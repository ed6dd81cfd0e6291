/**
 * A loopback fake LLM provider speaking both wire formats Weft adapts — OpenAI Chat
 * Completions (`POST /v1/chat/completions`) and Anthropic Messages (`POST /v1/messages`) — with
 * streaming (SSE) or a JSON body (`"stream": false`). Tests pick a behaviour by model name:
 *
 * - `fake-chat` (default): streams `You said: <last user message>` word by word.
 * - `fake-json`: answers `{"valid":true,"result":"ok"}`.
 * - `fake-tools`: when offered tools, calls `lookup` with `{"q":"weft"}` until the request
 *   carries a tool result, then answers `Done: <tool result>`; without tools, like `fake-chat`.
 * - `fake-refusal`: refuses (OpenAI `refusal` delta / Anthropic `stop_reason: "refusal"`).
 * - `fake-truncate`: stops at the token limit (`length` / `max_tokens`).
 * - `fake-429`: the first request of each `Idempotency-Key` gets 429 with `Retry-After: 1`.
 * - `fake-500`: always 503.
 * - `fake-malformed`: a stream chunk that is not JSON.
 * - `fake-echo-auth`: 401 whose body echoes the request's auth headers (a provider bug the
 *   host must never pass on).
 * - `fake-echo-key`: 200 whose streamed text contains the presented key.
 * - `fake-hang`: never answers.
 * - `fake-stall`: the first request of each `Idempotency-Key` streams one token and then stalls
 *   (the connection stays open); a repeat with the same key answers like `fake-chat`.
 *
 * `GET /requests` lists what was received (`{path, model, idempotencyKey, authSha256}`, never a
 * key); `DELETE /requests` clears it.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** The vault reference the conformance hosts configure as the fake providers' key. */
export const FAKE_LLM_KEY_REF = 'fake-llm-key';

/** One received request, as `GET /requests` lists it. */
export interface FakeLlmRequest {
  path: string;
  model: string;
  idempotencyKey?: string;
  /** SHA-256 of the presented key (`Authorization: Bearer` or `x-api-key`), if any. */
  authSha256?: string;
  stream: boolean;
  /** The request's output token budget (`max_tokens`), if any. */
  maxTokens?: number;
  temperature?: number;
}

/** A running fake provider. */
export interface FakeLlm {
  /** `http://127.0.0.1:<port>/v1` — the base URL of both adapters. */
  baseUrl: string;
  port: number;
  /** The outbound allowlist entry that permits exactly this server. */
  allowEntry: string;
  requests(): FakeLlmRequest[];
  close(): Promise<void>;
}

interface Answer {
  text: string;
  toolCalls: { id: string; name: string; arguments: string }[];
  finish: 'stop' | 'length' | 'tool_calls' | 'refusal';
}

const sha = (s: string): string => createHash('sha256').update(s).digest('hex');
const obj = (v: unknown): Record<string, unknown> => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});

function lastUserText(messages: unknown[]): string {
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = obj(messages[i]);
    if (m.role !== 'user') continue;
    if (typeof m.content === 'string') return m.content;
    if (Array.isArray(m.content)) {
      const t = m.content.map((b) => obj(b)).find((b) => b.type === 'text');
      if (t && typeof t.text === 'string') return t.text;
    }
  }
  return '';
}

/** The tool result in the request, if the conversation has one (both formats). */
function toolResult(messages: unknown[]): string | undefined {
  for (const raw of messages) {
    const m = obj(raw);
    if (m.role === 'tool' && typeof m.content === 'string') return m.content;
    if (Array.isArray(m.content)) {
      const b = m.content.map((x) => obj(x)).find((x) => x.type === 'tool_result');
      if (b) return typeof b.content === 'string' ? b.content : JSON.stringify(b.content);
    }
  }
  return undefined;
}

function answerFor(model: string, messages: unknown[], key: string | undefined, toolsOffered: boolean): Answer {
  const plain = (text: string, finish: Answer['finish'] = 'stop'): Answer => ({ text, toolCalls: [], finish });
  switch (model) {
    case 'fake-json':
      return plain('{"valid":true,"result":"ok"}');
    case 'fake-tools': {
      const r = toolResult(messages);
      if (r !== undefined) return plain(`Done: ${r}`);
      // A model cannot call tools it was not offered.
      if (!toolsOffered) return plain(`You said: ${lastUserText(messages)}`);
      return { text: '', toolCalls: [{ id: 'call_lookup_1', name: 'lookup', arguments: '{"q":"weft"}' }], finish: 'tool_calls' };
    }
    case 'fake-refusal':
      return plain('I cannot help with that request.', 'refusal');
    case 'fake-truncate':
      return plain('{"valid": tr', 'length');
    case 'fake-echo-key':
      return plain(`Your key is ${key ?? 'none'} and nothing else.`);
    default:
      return plain(`You said: ${lastUserText(messages)}`);
  }
}

const words = (s: string): string[] => s.match(/\S+\s*|\s+/g) ?? [];

function sse(res: ServerResponse, frames: { event?: string; data: string }[]): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  for (const f of frames) res.write(`${f.event ? `event: ${f.event}\n` : ''}data: ${f.data}\n\n`);
  res.end();
}

function openaiAnswer(res: ServerResponse, model: string, a: Answer, stream: boolean, malformed: boolean): void {
  const usage = { prompt_tokens: 12, completion_tokens: Math.max(1, words(a.text).length), total_tokens: 12 + Math.max(1, words(a.text).length) };
  const finish = a.finish === 'refusal' ? 'stop' : a.finish;
  const toolCalls = a.toolCalls.map((c, index) => ({ index, id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments } }));
  if (!stream) {
    const message: Record<string, unknown> = { role: 'assistant', content: a.finish === 'refusal' ? null : a.text };
    if (a.finish === 'refusal') message.refusal = a.text;
    if (toolCalls.length > 0) message.tool_calls = toolCalls.map(({ index: _i, ...c }) => c);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ id: 'chatcmpl-fake', object: 'chat.completion', model, choices: [{ index: 0, message, finish_reason: finish }], usage }));
    return;
  }
  const frames: { data: string }[] = [];
  const chunk = (delta: Record<string, unknown>, finish_reason: string | null = null): void => {
    frames.push({ data: JSON.stringify({ id: 'chatcmpl-fake', object: 'chat.completion.chunk', model, choices: [{ index: 0, delta, finish_reason }] }) });
  };
  chunk({ role: 'assistant', content: '' });
  if (malformed) frames.push({ data: '{"choices": [ this is not json' });
  if (a.finish === 'refusal') chunk({ refusal: a.text });
  else for (const w of words(a.text)) chunk({ content: w });
  if (toolCalls.length > 0) chunk({ tool_calls: toolCalls });
  chunk({}, finish);
  frames.push({ data: JSON.stringify({ id: 'chatcmpl-fake', object: 'chat.completion.chunk', model, choices: [], usage }) });
  frames.push({ data: '[DONE]' });
  sse(res, frames);
}

function anthropicAnswer(res: ServerResponse, model: string, a: Answer, stream: boolean, malformed: boolean): void {
  const out = Math.max(1, words(a.text).length);
  const stop = a.finish === 'stop' ? 'end_turn' : a.finish === 'length' ? 'max_tokens' : a.finish === 'tool_calls' ? 'tool_use' : 'refusal';
  if (!stream) {
    const content: unknown[] = a.text ? [{ type: 'text', text: a.text }] : [];
    for (const c of a.toolCalls) content.push({ type: 'tool_use', id: c.id, name: c.name, input: JSON.parse(c.arguments) as unknown });
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        id: 'msg_fake',
        type: 'message',
        role: 'assistant',
        model,
        content,
        stop_reason: stop,
        usage: { input_tokens: 12, output_tokens: out },
      }),
    );
    return;
  }
  const frames: { event: string; data: string }[] = [];
  const ev = (type: string, body: Record<string, unknown>): void => {
    frames.push({ event: type, data: JSON.stringify({ type, ...body }) });
  };
  ev('message_start', { message: { id: 'msg_fake', type: 'message', role: 'assistant', model, content: [], usage: { input_tokens: 12, output_tokens: 1 } } });
  if (malformed) frames.push({ event: 'content_block_delta', data: 'not json at all' });
  let index = 0;
  if (a.text) {
    ev('content_block_start', { index, content_block: { type: 'text', text: '' } });
    for (const w of words(a.text)) ev('content_block_delta', { index, delta: { type: 'text_delta', text: w } });
    ev('content_block_stop', { index });
    index++;
  }
  for (const c of a.toolCalls) {
    ev('content_block_start', { index, content_block: { type: 'tool_use', id: c.id, name: c.name, input: {} } });
    ev('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: c.arguments } });
    ev('content_block_stop', { index });
    index++;
  }
  ev('message_delta', { delta: { stop_reason: stop }, usage: { output_tokens: out } });
  ev('message_stop', {});
  sse(res, frames);
}

/** Starts the fake provider on an ephemeral loopback port. */
export async function startFakeLlm(): Promise<FakeLlm> {
  const log: FakeLlmRequest[] = [];
  const seen429 = new Set<string>();
  const stalled = new Set<string>();
  const handle = (req: IncomingMessage, res: ServerResponse, raw: string): void => {
    const path = new URL(req.url ?? '/', 'http://fake').pathname;
    if (path === '/requests') {
      if (req.method === 'DELETE') log.length = 0;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(req.method === 'DELETE' ? [] : log));
      return;
    }
    const openai = path === '/v1/chat/completions';
    const anthropic = path === '/v1/messages';
    if (req.method !== 'POST' || (!openai && !anthropic)) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"error":"not found"}');
      return;
    }
    let body: Record<string, unknown>;
    try {
      body = obj(JSON.parse(raw));
    } catch {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end('{"error":"bad json"}');
      return;
    }
    const model = typeof body.model === 'string' ? body.model : 'fake-chat';
    const auth = req.headers.authorization;
    const key =
      typeof auth === 'string' && auth.startsWith('Bearer ')
        ? auth.slice(7)
        : typeof req.headers['x-api-key'] === 'string'
          ? req.headers['x-api-key']
          : undefined;
    const idem = typeof req.headers['idempotency-key'] === 'string' ? req.headers['idempotency-key'] : undefined;
    const stream = body.stream === true;
    log.push({
      path,
      model,
      stream,
      ...(idem ? { idempotencyKey: idem } : {}),
      ...(key ? { authSha256: sha(key) } : {}),
      ...(typeof body.max_tokens === 'number' ? { maxTokens: body.max_tokens } : {}),
      ...(typeof body.temperature === 'number' ? { temperature: body.temperature } : {}),
    });
    if (model === 'fake-hang') return; // never answers; the caller's deadline ends it
    if (model === 'fake-stall' && !stalled.has(idem ?? '')) {
      stalled.add(idem ?? '');
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(`data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: 'partial ' }, finish_reason: null }] })}\n\n`);
      return; // stalls mid-stream
    }
    if (model === 'fake-500') {
      res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '1' });
      res.end('{"error":{"message":"overloaded"}}');
      return;
    }
    if (model === 'fake-429' && !seen429.has(idem ?? '')) {
      seen429.add(idem ?? '');
      res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '1' });
      res.end('{"error":{"message":"rate limited"}}');
      return;
    }
    if (model === 'fake-echo-auth') {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: `invalid key: ${String(auth ?? '')} ${String(req.headers['x-api-key'] ?? '')}` } }));
      return;
    }
    const messages = Array.isArray(body.messages) ? body.messages : [];
    const a = answerFor(model, messages, key, Array.isArray(body.tools) && body.tools.length > 0);
    const malformed = model === 'fake-malformed';
    if (openai) openaiAnswer(res, model, a, stream, malformed);
    else anthropicAnswer(res, model, a, stream, malformed);
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handle(req, res, Buffer.concat(chunks).toString('utf8')));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    port,
    allowEntry: `127.0.0.1:${port}`,
    requests: () => log.map((r) => ({ ...r })),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
