/**
 * The shapes the LLM nodes and the wire adapters share: a provider-neutral chat request and
 * result, and the operator's provider configuration.
 *
 * @see ../../../../docs/decisions/0022-llm-provider-nodes.md
 */

/** One chat message, provider-neutral. */
export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | 'tool';
  content: string;
  name?: string;
  /** For `tool` messages: the call this answers. */
  toolCallId?: string;
  /** For `assistant` messages that called tools. */
  toolCalls?: ToolCall[];
}

/** A tool the model may call. */
export interface ToolSpec {
  name: string;
  description?: string;
  /** JSON Schema of the arguments. */
  parameters: Record<string, unknown>;
}

/** A tool call the model made. */
export interface ToolCall {
  id: string;
  name: string;
  /** The arguments as the model wrote them (JSON text, not yet parsed). */
  arguments: string;
}

/** The semantic request: what the cache key covers (execution-semantics §3.3). */
export interface ChatRequest {
  provider: string;
  model: string;
  messages: ChatMessage[];
  tools?: ToolSpec[];
  temperature?: number;
  topP?: number;
  maxOutputTokens?: number;
  stop?: string[];
  seed?: number;
  responseFormat?: { type: 'text' | 'json' | 'tool_call'; schema?: Record<string, unknown> };
}

/** Why the model stopped, in the wire contract's `output.chunk.meta.finishReason` vocabulary. */
export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter';

/** Token usage of one call. */
export interface ChatUsage {
  inputTokens: number;
  outputTokens: number;
}

/** What one call answered. */
export interface ChatResult {
  content: string;
  toolCalls: ToolCall[];
  finishReason: FinishReason;
  /** The provider's refusal text, when it refused (safety). */
  refusal?: string;
  usage: ChatUsage;
  /** The model that answered (the provider may resolve an alias). */
  model: string;
}

/** The four provider-policy modes (security-contract §5.3). */
export type PolicyMode = 'disabled' | 'optional' | 'required' | 'restricted';

/** A provider as the operator configures it (`WEFT_AI_PROVIDERS`). */
export interface AiProviderConfig {
  /** Lower-case id nodes name in `config.provider` (never URL-shaped). */
  id: string;
  /** Wire format: OpenAI-compatible Chat Completions, Anthropic Messages, or the scripted mock. */
  kind: 'openai' | 'anthropic' | 'mock';
  /** Base URL (`https://api.openai.com/v1`, `http://127.0.0.1:11434/v1` for Ollama, …). */
  baseUrl?: string;
  /** Vault reference of the host's key for this provider; a BYOK node or run may name its own. */
  credentialRef?: string;
  /** True when callers may bring their own key (`credentialRef` on the node). */
  byok?: boolean;
  /** Provider policy: mode (default `optional`) and, for `restricted`, the model globs allowed. */
  policy?: { mode: PolicyMode; allowedModels?: string[] };
  /** Declared capabilities per model (`structured-output`, `tool-calling`, …), or `*` for all models. */
  models?: Record<string, { capabilities?: string[] }>;
  /** Default model when a node names none. */
  defaultModel?: string;
  /** Per-call deadline (ms); the host's outbound deadline still bounds it. */
  timeoutMs?: number;
  /** Anthropic `anthropic-version` header (default `2023-06-01`). */
  apiVersion?: string;
  /** Cost estimate, USD per million tokens. */
  pricing?: { inputPerMTok: number; outputPerMTok: number };
}

/** The providers this host offers, by id. */
export type AiProviders = ReadonlyMap<string, AiProviderConfig>;
