/**
 * The two LLM wire adapters, over the host's guarded {@link Outbound} (never `fetch`): OpenAI
 * Chat Completions (OpenAI, Azure OpenAI, OpenRouter, Ollama, vLLM, llama.cpp server — any
 * base URL) and Anthropic Messages, both streaming (SSE). Tokens are handed to `onDelta` as the
 * body arrives. The key goes only into the upstream auth header (`Authorization: Bearer` or
 * `x-api-key`); error bodies are never read into a message (a provider may echo the header).
 *
 * @see ../../../../docs/decisions/0022-llm-provider-nodes.md
 */
import { NodeError } from '../nodes.js';
import type { OutboundRequest, OutboundResponse } from '../ports.js';
import { SseParser, type SseEvent } from './sse.js';
import type { AiProviderConfig, ChatMessage, ChatRequest, ChatResult, FinishReason, ToolCall } from './types.js';

/** How one call is made. */
export interface CallOptions {
  /** The resolved key (absent for keyless local servers). */
  key?: string;
  /** Each streamed text delta, in order. */
  onDelta?: (text: string) => void;
  signal?: AbortSignal;
  /** Passed as `Idempotency-Key` (the effect's logical invocation id). */
  idempotencyKey?: string;
}

/** Sends one request; the node passes its `ctx.http` wrapped by `sendHttp`. */
export type Send = (req: OutboundRequest) => Promise<OutboundResponse>;

/** Default Anthropic `max_tokens` (the API requires one). */
const ANTHROPIC_DEFAULT_MAX_TOKENS = 1024;

const trimSlash = (u: string): string => u.replace(/\/+$/, '');

/** Seconds or an HTTP date → ms, or undefined. */
export function parseRetryAfter(v: string | undefined, now = Date.now()): number | undefined {
  if (v === undefined || v.trim() === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(v.trim())) return Math.round(Number(v.trim()) * 1000);
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * The failure for an HTTP error status: 429 `provider_quota_exhausted` and 5xx/529
 * `provider_unavailable` are retryable (with `retryAfterMs` from `Retry-After`, which the
 * retry policy honours as a minimum backoff); any other status is `provider_request_rejected`.
 * The body is never quoted.
 */
export function statusError(provider: string, res: OutboundResponse): NodeError {
  const retryAfterMs = parseRetryAfter(res.headers['retry-after']);
  const details: Record<string, unknown> = { provider, status: res.status, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
  if (res.status === 429) return new NodeError('provider_quota_exhausted', `Provider ${provider} answered 429 (rate limited).`, details, true);
  if (res.status >= 500) return new NodeError('provider_unavailable', `Provider ${provider} answered ${res.status}.`, details, true);
  return new NodeError('provider_request_rejected', `Provider ${provider} refused the request (${res.status}).`, details);
}

const malformed = (provider: string, what: string): NodeError =>
  new NodeError('provider_unavailable', `Provider ${provider} sent a malformed ${what}.`, { provider, reason: 'malformed-stream' }, true);

const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? Math.floor(v) : 0);
const rec = (v: unknown): Record<string, unknown> => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});

/** Streams the request and feeds the SSE parser as bytes arrive; JSON bodies (no stream) are returned whole. */
async function streamed(send: Send, req: OutboundRequest, provider: string, onEvent: (e: SseEvent) => void): Promise<{ json?: unknown }> {
  const parser = new SseParser();
  let failure: unknown;
  const feed = (events: SseEvent[]): void => {
    for (const e of events) {
      if (failure !== undefined) return;
      try {
        onEvent(e);
      } catch (err) {
        failure = err;
      }
    }
  };
  let sse = false;
  const res = await send({
    ...req,
    onBodyChunk: (chunk, head) => {
      // Only a 2xx event stream is parsed as it arrives; an error body is never looked at.
      sse = head.status >= 200 && head.status < 300 && (head.headers['content-type'] ?? '').toLowerCase().includes('text/event-stream');
      if (sse) feed(parser.push(chunk));
    },
  });
  if (res.status < 200 || res.status >= 300) throw statusError(provider, res);
  const type = (res.headers['content-type'] ?? '').toLowerCase();
  if (type.includes('text/event-stream')) {
    // An Outbound that does not stream hands over the whole body at the end.
    if (!sse) feed(parser.push(res.body));
    feed(parser.end());
    if (failure !== undefined) throw failure;
    return {};
  }
  try {
    return { json: JSON.parse(new TextDecoder().decode(res.body)) as unknown };
  } catch {
    throw malformed(provider, 'response');
  }
}

// ------------------------------------------------------------------ OpenAI Chat Completions

function openaiMessages(messages: ChatMessage[]): unknown[] {
  return messages.map((m) => {
    const out: Record<string, unknown> = { role: m.role, content: m.content };
    if (m.name !== undefined) out.name = m.name;
    if (m.toolCallId !== undefined) out.tool_call_id = m.toolCallId;
    if (m.toolCalls && m.toolCalls.length > 0) {
      out.tool_calls = m.toolCalls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments } }));
      if (m.content === '') out.content = null;
    }
    return out;
  });
}

const OPENAI_FINISH: Record<string, FinishReason> = {
  stop: 'stop',
  length: 'length',
  tool_calls: 'tool_calls',
  function_call: 'tool_calls',
  content_filter: 'content_filter',
};

/** The Chat Completions request body. */
export function openaiBody(req: ChatRequest): Record<string, unknown> {
  const body: Record<string, unknown> = { model: req.model, messages: openaiMessages(req.messages), stream: true, stream_options: { include_usage: true } };
  if (req.temperature !== undefined) body.temperature = req.temperature;
  if (req.topP !== undefined) body.top_p = req.topP;
  if (req.maxOutputTokens !== undefined) body.max_tokens = req.maxOutputTokens;
  if (req.stop !== undefined) body.stop = req.stop;
  if (req.seed !== undefined) body.seed = req.seed;
  if (req.tools && req.tools.length > 0)
    body.tools = req.tools.map((t) => ({
      type: 'function',
      function: { name: t.name, ...(t.description ? { description: t.description } : {}), parameters: t.parameters },
    }));
  if (req.responseFormat?.type === 'json') {
    body.response_format = req.responseFormat.schema
      ? { type: 'json_schema', json_schema: { name: 'output', schema: req.responseFormat.schema } }
      : { type: 'json_object' };
  }
  return body;
}

async function callOpenai(send: Send, cfg: AiProviderConfig, req: ChatRequest, o: CallOptions): Promise<ChatResult> {
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'text/event-stream' };
  if (o.key) headers.authorization = `Bearer ${o.key}`;
  if (o.idempotencyKey) headers['idempotency-key'] = o.idempotencyKey;
  let content = '';
  let refusal = '';
  let finish: FinishReason | undefined;
  let model = req.model;
  const usage = { inputTokens: 0, outputTokens: 0 };
  const calls = new Map<number, ToolCall>();
  const onChunk = (chunk: Record<string, unknown>): void => {
    if (chunk.error !== undefined)
      throw new NodeError('provider_unavailable', `Provider ${cfg.id} reported an error in the stream.`, { provider: cfg.id, reason: 'stream-error' }, true);
    if (typeof chunk.model === 'string') model = chunk.model;
    const u = rec(chunk.usage);
    if (chunk.usage) {
      usage.inputTokens = num(u.prompt_tokens);
      usage.outputTokens = num(u.completion_tokens);
    }
    const choices = Array.isArray(chunk.choices) ? chunk.choices : [];
    const c = rec(choices[0]);
    const delta = rec(c.delta ?? c.message);
    if (typeof delta.content === 'string' && delta.content !== '') {
      content += delta.content;
      o.onDelta?.(delta.content);
    }
    if (typeof delta.refusal === 'string') refusal += delta.refusal;
    for (const tc of Array.isArray(delta.tool_calls) ? delta.tool_calls : []) {
      const t = rec(tc);
      const idx = typeof t.index === 'number' ? t.index : calls.size;
      const f = rec(t.function);
      const cur = calls.get(idx) ?? { id: '', name: '', arguments: '' };
      if (typeof t.id === 'string') cur.id = t.id;
      if (typeof f.name === 'string') cur.name += f.name;
      if (typeof f.arguments === 'string') cur.arguments += f.arguments;
      calls.set(idx, cur);
    }
    if (typeof c.finish_reason === 'string') finish = OPENAI_FINISH[c.finish_reason] ?? 'stop';
  };
  const { json } = await streamed(
    send,
    {
      method: 'POST',
      url: `${trimSlash(cfg.baseUrl ?? '')}/chat/completions`,
      headers,
      body: JSON.stringify(openaiBody(req)),
      ...(cfg.timeoutMs ? { timeoutMs: cfg.timeoutMs } : {}),
    },
    cfg.id,
    (e) => {
      if (e.data === '[DONE]') return;
      let chunk: unknown;
      try {
        chunk = JSON.parse(e.data);
      } catch {
        throw malformed(cfg.id, 'stream chunk');
      }
      onChunk(rec(chunk));
    },
  );
  if (json !== undefined) onChunk(rec(json));
  if (finish === undefined) throw malformed(cfg.id, 'stream (it ended without a finish reason)');
  const toolCalls = [...calls.entries()].sort((a, b) => a[0] - b[0]).map(([i, c]) => ({ ...c, id: c.id || `call_${i}` }));
  const out: ChatResult = { content, toolCalls, finishReason: refusal ? 'content_filter' : finish, usage, model };
  if (refusal) out.refusal = refusal;
  return out;
}

// ------------------------------------------------------------------ Anthropic Messages

const ANTHROPIC_FINISH: Record<string, FinishReason> = {
  end_turn: 'stop',
  stop_sequence: 'stop',
  pause_turn: 'stop',
  max_tokens: 'length',
  tool_use: 'tool_calls',
  refusal: 'content_filter',
};

/** The Messages request body: system messages joined into `system`, tool turns as content blocks. */
export function anthropicBody(req: ChatRequest): Record<string, unknown> {
  const system = req.messages.filter((m) => m.role === 'system').map((m) => m.content);
  const messages: Record<string, unknown>[] = [];
  for (const m of req.messages) {
    if (m.role === 'system') continue;
    if (m.role === 'tool') {
      const block = { type: 'tool_result', tool_use_id: m.toolCallId ?? '', content: m.content };
      const last = messages[messages.length - 1];
      // Consecutive tool results go into one user turn.
      if (last?.role === 'user' && Array.isArray(last.content) && (last.content as { type?: string }[]).every((b) => b.type === 'tool_result'))
        (last.content as unknown[]).push(block);
      else messages.push({ role: 'user', content: [block] });
      continue;
    }
    if (m.role === 'assistant' && m.toolCalls && m.toolCalls.length > 0) {
      const blocks: unknown[] = m.content ? [{ type: 'text', text: m.content }] : [];
      for (const c of m.toolCalls) {
        let input: unknown = {};
        try {
          input = JSON.parse(c.arguments || '{}');
        } catch {
          input = {};
        }
        blocks.push({ type: 'tool_use', id: c.id, name: c.name, input });
      }
      messages.push({ role: 'assistant', content: blocks });
      continue;
    }
    messages.push({ role: m.role, content: m.content });
  }
  const body: Record<string, unknown> = { model: req.model, max_tokens: req.maxOutputTokens ?? ANTHROPIC_DEFAULT_MAX_TOKENS, messages, stream: true };
  if (system.length > 0) body.system = system.join('\n\n');
  if (req.temperature !== undefined) body.temperature = req.temperature;
  if (req.topP !== undefined) body.top_p = req.topP;
  if (req.stop !== undefined) body.stop_sequences = req.stop;
  if (req.tools && req.tools.length > 0)
    body.tools = req.tools.map((t) => ({ name: t.name, ...(t.description ? { description: t.description } : {}), input_schema: t.parameters }));
  return body;
}

async function callAnthropic(send: Send, cfg: AiProviderConfig, req: ChatRequest, o: CallOptions): Promise<ChatResult> {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    accept: 'text/event-stream',
    'anthropic-version': cfg.apiVersion ?? '2023-06-01',
  };
  if (o.key) headers['x-api-key'] = o.key;
  if (o.idempotencyKey) headers['idempotency-key'] = o.idempotencyKey;
  let content = '';
  let finish: FinishReason | undefined;
  let model = req.model;
  const usage = { inputTokens: 0, outputTokens: 0 };
  const blocks = new Map<number, { kind: string; call?: ToolCall }>();
  const onEvent = (type: string, ev: Record<string, unknown>): void => {
    if (type === 'error')
      throw new NodeError('provider_unavailable', `Provider ${cfg.id} reported an error in the stream.`, { provider: cfg.id, reason: 'stream-error' }, true);
    if (type === 'message_start') {
      const m = rec(ev.message);
      if (typeof m.model === 'string') model = m.model;
      usage.inputTokens = num(rec(m.usage).input_tokens);
      usage.outputTokens = num(rec(m.usage).output_tokens);
    } else if (type === 'content_block_start') {
      const b = rec(ev.content_block);
      const idx = num(ev.index);
      if (b.type === 'tool_use') blocks.set(idx, { kind: 'tool_use', call: { id: String(b.id ?? `call_${idx}`), name: String(b.name ?? ''), arguments: '' } });
      else blocks.set(idx, { kind: String(b.type ?? 'text') });
      if (b.type === 'text' && typeof b.text === 'string' && b.text !== '') {
        content += b.text;
        o.onDelta?.(b.text);
      }
    } else if (type === 'content_block_delta') {
      const d = rec(ev.delta);
      if (d.type === 'text_delta' && typeof d.text === 'string') {
        content += d.text;
        o.onDelta?.(d.text);
      } else if (d.type === 'input_json_delta' && typeof d.partial_json === 'string') {
        const b = blocks.get(num(ev.index));
        if (b?.call) b.call.arguments += d.partial_json;
      }
    } else if (type === 'message_delta') {
      const d = rec(ev.delta);
      if (typeof d.stop_reason === 'string') finish = ANTHROPIC_FINISH[d.stop_reason] ?? 'stop';
      if (ev.usage) usage.outputTokens = num(rec(ev.usage).output_tokens);
    }
  };
  const { json } = await streamed(
    send,
    {
      method: 'POST',
      url: `${trimSlash(cfg.baseUrl ?? '')}/messages`,
      headers,
      body: JSON.stringify(anthropicBody(req)),
      ...(cfg.timeoutMs ? { timeoutMs: cfg.timeoutMs } : {}),
    },
    cfg.id,
    (e) => {
      let ev: unknown;
      try {
        ev = JSON.parse(e.data);
      } catch {
        throw malformed(cfg.id, 'stream event');
      }
      const r = rec(ev);
      onEvent(typeof r.type === 'string' ? r.type : e.event, r);
    },
  );
  if (json !== undefined) {
    // A non-streamed answer: one message object.
    const m = rec(json);
    if (m.type === 'error')
      throw new NodeError('provider_unavailable', `Provider ${cfg.id} reported an error.`, { provider: cfg.id, reason: 'error-body' }, true);
    onEvent('message_start', { message: m });
    (Array.isArray(m.content) ? m.content : []).forEach((b, index) => {
      const blk = rec(b);
      if (blk.type === 'tool_use') {
        blocks.set(index, {
          kind: 'tool_use',
          call: { id: String(blk.id ?? `call_${index}`), name: String(blk.name ?? ''), arguments: JSON.stringify(blk.input ?? {}) },
        });
      } else onEvent('content_block_start', { index, content_block: blk });
    });
    onEvent('message_delta', { delta: { stop_reason: m.stop_reason }, usage: m.usage });
  }
  if (finish === undefined) throw malformed(cfg.id, 'stream (it ended without a stop reason)');
  const toolCalls = [...blocks.entries()].sort((a, b) => a[0] - b[0]).flatMap(([, b]) => (b.call ? [b.call] : []));
  const out: ChatResult = { content, toolCalls, finishReason: finish, usage, model };
  if (finish === 'content_filter') out.refusal = content;
  return out;
}

/** Calls the provider `cfg` with `req` (the mock provider is handled by the nodes, not here). */
export function callProvider(send: Send, cfg: AiProviderConfig, req: ChatRequest, o: CallOptions): Promise<ChatResult> {
  if (cfg.kind === 'anthropic') return callAnthropic(send, cfg, req, o);
  if (cfg.kind === 'openai') return callOpenai(send, cfg, req, o);
  throw new NodeError('provider_not_supported', `Provider ${cfg.id} has no wire adapter.`, { provider: cfg.id });
}
