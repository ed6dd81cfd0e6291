/**
 * The run-level mock provider catalog (`configurable.mockProvider {id, config}`, run-options
 * schema): when a run names one, every AI node of the run answers from it instead of a real
 * provider — deterministic, no network. Test keys only; the host refuses it for other keys
 * (`mock_provider_forbidden`) and refuses an id outside {@link MOCK_PROVIDER_IDS}
 * (`unsupported_mock_provider`) before the run exists.
 *
 * - `stream-text` `{tokens: string[], finishReason?, usage?{inputTokens, outputTokens}, model?}`:
 *   the tokens stream as they are (one `output.chunk` each), then the finish reason.
 * - `tool-calls` `{toolCalls: [{id?, name, arguments}]}`: one answer asking for those tools.
 * - `error` `{code, message, retryable?}`: the call fails with that code.
 * - `usage-only` `{usage}`: an empty answer that only reports usage.
 *
 * `delayMsPerToken` is accepted and not waited for (tests never sleep).
 */
import { NodeError } from '../nodes.js';
import type { ChatRequest, ChatResult, FinishReason } from './types.js';

/** The mock provider ids this host serves (discovery `testing.mockProviders`). */
export const MOCK_PROVIDER_IDS = ['stream-text', 'tool-calls', 'error', 'usage-only'] as const;

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const CODE_RE = /^[a-z][a-z0-9_]{0,63}$/;
const FINISH: Record<string, FinishReason> = {
  stop: 'stop',
  end_turn: 'stop',
  length: 'length',
  max_tokens: 'length',
  content_filter: 'content_filter',
  safety: 'content_filter',
  tool_calls: 'tool_calls',
};

/** Why `{id, config}` is not a mock provider this host can serve, or undefined. */
export function mockProviderProblem(v: unknown): string | undefined {
  if (!isObj(v) || typeof v.id !== 'string') return 'mockProvider must be {id, config?}';
  if (!(MOCK_PROVIDER_IDS as readonly string[]).includes(v.id)) return 'unknown mock provider id';
  const c = v.config === undefined ? {} : v.config;
  if (!isObj(c)) return 'mockProvider.config must be an object';
  if (v.id === 'stream-text') {
    if (c.tokens !== undefined && !(Array.isArray(c.tokens) && c.tokens.length <= 10_000 && c.tokens.every((t) => typeof t === 'string')))
      return 'stream-text config.tokens must be an array of strings';
    if (c.finishReason !== undefined && !(typeof c.finishReason === 'string' && c.finishReason in FINISH)) return 'unknown finishReason';
  }
  if (v.id === 'tool-calls' && !(Array.isArray(c.toolCalls) && c.toolCalls.every((t) => isObj(t) && typeof t.name === 'string')))
    return 'tool-calls config.toolCalls must be [{name, arguments}]';
  if (v.id === 'error' && c.code !== undefined && !(typeof c.code === 'string' && CODE_RE.test(c.code))) return 'error config.code must be a lower-case code';
  return undefined;
}

const words = (s: string): number => s.split(/\s+/).filter(Boolean).length;

function usageOf(c: Record<string, unknown>, req: ChatRequest, content: string): ChatResult['usage'] {
  const u = isObj(c.usage) ? c.usage : {};
  const n = (...vals: unknown[]): number | undefined => vals.find((x): x is number => typeof x === 'number' && Number.isInteger(x) && x >= 0);
  return {
    inputTokens: n(u.inputTokens, u.promptTokens, u.prompt_tokens) ?? req.messages.reduce((a, m) => a + words(m.content), 0),
    outputTokens: n(u.outputTokens, u.completionTokens, u.completion_tokens) ?? words(content),
  };
}

/** The answer of mock provider `id` to `req`; each streamed token goes to `onDelta`. */
export function mockProviderAnswer(mock: { id: string; config?: unknown }, req: ChatRequest, onDelta: (t: string) => void): ChatResult {
  const c = isObj(mock.config) ? mock.config : {};
  const model = typeof c.model === 'string' && c.model ? c.model : req.model;
  switch (mock.id) {
    case 'stream-text': {
      const tokens = Array.isArray(c.tokens) ? (c.tokens as string[]) : ['mock'];
      for (const t of tokens) onDelta(t);
      const content = tokens.join('');
      const finishReason = FINISH[String(c.finishReason ?? 'stop')] ?? 'stop';
      return { content, toolCalls: [], finishReason, usage: usageOf(c, req, content), model };
    }
    case 'tool-calls': {
      const calls = (Array.isArray(c.toolCalls) ? c.toolCalls : []).filter(isObj);
      const toolCalls = calls.map((t, i) => ({
        id: typeof t.id === 'string' && t.id ? t.id : `call_mock_${i}`,
        name: String(t.name),
        arguments: typeof t.arguments === 'string' ? t.arguments : JSON.stringify(t.arguments ?? {}),
      }));
      return { content: '', toolCalls, finishReason: 'tool_calls', usage: usageOf(c, req, ''), model };
    }
    case 'error': {
      const code = typeof c.code === 'string' && CODE_RE.test(c.code) ? c.code : 'provider_unavailable';
      const message = typeof c.message === 'string' && c.message ? c.message.slice(0, 500) : 'The mock provider failed.';
      throw new NodeError(code, message, { provider: 'mock', mockProvider: 'error' }, c.retryable === true);
    }
    default:
      return { content: '', toolCalls: [], finishReason: 'stop', usage: usageOf(c, req, ''), model };
  }
}
