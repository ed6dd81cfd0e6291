/**
 * The LLM node types — `core.ai.callPrompt`, `core.ai.chatCompletion`,
 * `core.ai.structuredOutput`, `core.ai.toolCalling` — and the conformance fixture nodes
 * `conformance.secret.echo`, `conformance.cost.emit`, `conformance.modelCapability.insufficient`.
 *
 * Every LLM call is an effect (`ctx.effect`) keyed `llm:<cache key>` (execution-semantics §3.3),
 * so a call recorded before a crash or a resume is never sent again; tokens stream as
 * `output.chunk` (the `messages` stream mode shows them as `ai.message.chunk`); each live call
 * appends one `provider.usage`. Before every call the provider policy is decided (and recorded
 * as `policy.decision`) and the model's capabilities are checked. Keys are vault references,
 * resolved through `ctx.credentials` and sent only in the provider's auth header.
 *
 * @see ../../../../docs/decisions/0022-llm-provider-nodes.md
 */
import { createHash } from 'node:crypto';
import { compileValidator, createAjv, WeftError } from '@weft/contract';
import { NodeError, sendHttp, type NodeContext, type NodeResult, type NodeType } from '../nodes.js';
import { callProvider } from './adapters.js';
import { llmCacheKey } from './cache-key.js';
import { MOCK_PROVIDER_IDS, mockProviderAnswer, mockProviderProblem } from './mock-providers.js';
import { decidePolicy, missingCapabilities } from './policy.js';
import type { AiProviderConfig, AiProviders, ChatMessage, ChatRequest, ChatResult, FinishReason, ToolCall, ToolSpec } from './types.js';

/** The scripted provider every host has: deterministic answers from the node's `config.mock`. */
export const MOCK_PROVIDER: AiProviderConfig = { id: 'mock', kind: 'mock', defaultModel: 'mock-mini' };

/** Host cap on structured-output schema rounds (advertised as `limits.schemaRounds`). */
export const SCHEMA_ROUNDS = 2;
/** Host cap on tool-calling turns (advertised as `limits.maxLoopIterations`). */
export const MAX_TOOL_TURNS = 10;

/** Property names that carry key material: refused anywhere in an LLM node's config or inputs (SEC-01). */
const RAW_KEY_NAMES = new Set([
  'apikey',
  'api_key',
  'authorization',
  'accesstoken',
  'access_token',
  'clientsecret',
  'client_secret',
  'password',
  'privatekey',
  'secretkey',
  'x-api-key',
]);
/** Credential-shaped strings offered where a reference belongs. */
const KEY_SHAPED = /^(?:sk-|sk_|xai-|AIza|gh[pousr]_|glpat-|xox[abposr]-|Bearer\s)/;
const REF_RE = /^[A-Za-z0-9._-]{1,128}$/;

const obj = (v: unknown): Record<string, unknown> => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
/** Input port first, then config. */
const setting = (ctx: NodeContext, k: string): unknown => (ctx.inputs[k] !== undefined ? ctx.inputs[k] : ctx.config[k]);

function refuseRawKeys(v: unknown, path: string, depth = 0): void {
  if (depth > 8 || v === null || typeof v !== 'object') return;
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    if (RAW_KEY_NAMES.has(k.toLowerCase()))
      throw new NodeError('validation_error', 'Raw key material is refused: store the key in the vault and pass its reference as credentialRef.', {
        path: `${path}/${k}`,
      });
    refuseRawKeys(x, `${path}/${k}`, depth + 1);
  }
}

/** A provider, model and key, after policy and capability checks. */
interface Dispatch {
  cfg: AiProviderConfig;
  model: string;
  key?: string;
  /** The run's `configurable.mockProvider`: every call answers from that catalog entry. */
  runMock?: { id: string; config?: unknown };
}

/**
 * The run's AI options (`configurable.ai.*`, then the top-level `model`, `temperature`,
 * `maxTokens`): they take precedence over the node's own settings for every AI node of the run.
 * `credentialRef` is an opaque vault reference, never echoed (decision 0026).
 */
function runAi(ctx: NodeContext): { provider?: string; model?: string; credentialRef?: string; temperature?: number; maxTokens?: number } {
  const c = ctx.configurable ?? {};
  const ai = obj(c.ai);
  const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
  const out: { provider?: string; model?: string; credentialRef?: string; temperature?: number; maxTokens?: number } = {};
  const provider = str(ai.provider);
  if (provider) out.provider = provider;
  const model = str(ai.model) ?? str(c.model);
  if (model) out.model = model;
  const ref = str(ai.credentialRef);
  if (ref) out.credentialRef = ref;
  const t = num(ai.temperature) ?? num(c.temperature);
  if (t !== undefined) out.temperature = t;
  const m = num(ai.maxTokens) ?? num(c.maxTokens);
  if (m !== undefined) out.maxTokens = m;
  return out;
}

/** Picks the provider and model, decides the policy, checks capabilities, resolves the key. */
async function prepare(ctx: NodeContext, providers: AiProviders, needs: readonly string[]): Promise<Dispatch> {
  refuseRawKeys(ctx.config, '/config');
  refuseRawKeys(ctx.inputs, '/inputs');
  const run = runAi(ctx);
  const mock = obj(ctx.configurable?.mockProvider);
  if (typeof mock.id === 'string') {
    // A test run routed to the mock catalog (the host admitted it for a test key only).
    const problem = mockProviderProblem(mock);
    if (problem)
      throw new NodeError('unsupported_mock_provider', 'configurable.mockProvider names no mock provider of this host.', { supported: [...MOCK_PROVIDER_IDS] });
    const decision = decidePolicy(MOCK_PROVIDER, MOCK_PROVIDER.defaultModel ?? 'mock-mini', false);
    ctx.emit('policy.decision', { ...decision });
    return { cfg: MOCK_PROVIDER, model: run.model ?? str(setting(ctx, 'model')) ?? 'mock-mini', runMock: { id: mock.id, config: mock.config } };
  }
  const id = run.provider ?? str(setting(ctx, 'provider')) ?? (providers.size === 1 ? [...providers.keys()][0] : undefined);
  if (!id) throw new NodeError('validation_error', `${ctx.typeId} needs config.provider (one of ${['mock', ...providers.keys()].join(', ')}).`);
  const cfg = id === 'mock' ? MOCK_PROVIDER : providers.get(id.toLowerCase());
  if (!cfg) throw new NodeError('provider_not_supported', `Provider ${id} is not configured on this host.`, { provider: id });
  const model = run.model ?? str(setting(ctx, 'model')) ?? cfg.defaultModel;
  if (!model) throw new NodeError('validation_error', `${ctx.typeId} needs config.model (provider ${cfg.id} has no default model).`, { provider: cfg.id });
  const fromRun = run.credentialRef !== undefined;
  const ref = run.credentialRef ?? str(setting(ctx, 'credentialRef')) ?? str(obj(ctx.config.credential).ref);
  if (ref !== undefined && (KEY_SHAPED.test(ref) || !REF_RE.test(ref)))
    throw new NodeError('credential_forbidden', 'credentialRef must be a vault reference, never key material.', { provider: cfg.id });
  if (ref !== undefined && !cfg.byok)
    throw new NodeError('credential_forbidden', `Provider ${cfg.id} does not accept caller credentials (BYOK).`, { provider: cfg.id });
  const decision = decidePolicy(cfg, model, ref !== undefined);
  ctx.emit('policy.decision', { ...decision });
  if (decision.decision === 'deny') {
    const why = { provider_disabled: 'is disabled', byok_required: 'requires a caller credential (BYOK)', model_not_allowed: `does not allow model ${model}` };
    throw new NodeError('provider_policy_denied', `Provider ${cfg.id} ${why[decision.reason ?? 'provider_disabled']}.`, {
      provider: cfg.id,
      reason: decision.reason,
      ...(decision.allowed ? { allowed: decision.allowed } : {}),
    });
  }
  const required = [
    ...needs,
    ...(Array.isArray(ctx.config.requiredModelCapabilities) ? ctx.config.requiredModelCapabilities.filter((c): c is string => typeof c === 'string') : []),
  ];
  const missing = missingCapabilities(cfg, model, required);
  if (missing.length > 0) {
    ctx.emit('model.capability.insufficient', { provider: cfg.id, model, missingCapabilities: missing, fallbackAttempted: false });
    throw new NodeError('capability_not_provided', `Model ${model} of ${cfg.id} lacks ${missing.join(', ')}.`, {
      capability: missing.join(','),
      nodeId: ctx.nodeId,
    });
  }
  const keyRef = ref ?? cfg.credentialRef;
  if (keyRef === undefined || cfg.kind === 'mock') return { cfg, model };
  if (!ctx.credentials) throw new NodeError('credential_unavailable', 'This node cannot resolve credentials.', { ref: keyRef });
  try {
    return { cfg, model, key: await ctx.credentials.resolve(fromRun ? { ref: keyRef, redactAs: 'run-credential' } : keyRef) };
  } catch (e) {
    if (e instanceof NodeError && cfg.policy?.mode === 'required' && ref !== undefined)
      throw new NodeError('provider_policy_denied', `The caller credential for ${cfg.id} cannot be resolved.`, {
        provider: cfg.id,
        reason: 'byok_required_but_unresolved',
      });
    // A run-level reference is never echoed: the failure names where it came from, not what it is.
    if (e instanceof NodeError && fromRun) throw new NodeError(e.code, e.message, { provider: cfg.id, source: 'configurable.ai.credentialRef' }, e.retryable);
    throw e;
  }
}

// ------------------------------------------------------------------ the mock provider

const MOCK_FINISH: Record<string, FinishReason> = {
  stop: 'stop',
  end_turn: 'stop',
  length: 'length',
  max_tokens: 'length',
  safety: 'content_filter',
  refusal: 'content_filter',
  content_filter: 'content_filter',
  tool_use: 'tool_calls',
  tool_calls: 'tool_calls',
};

/** The scripted answer number `n` (0-based) of the node: `config.mock` is one entry or a list (the last repeats). */
function mockAnswer(ctx: NodeContext, req: ChatRequest, n: number, onDelta: (t: string) => void): ChatResult {
  const program = ctx.config.mock;
  const list = Array.isArray(program) ? program : program === undefined ? [] : [program];
  const entry = obj(list.length === 0 ? undefined : list[Math.min(n, list.length - 1)]);
  const lastUser = [...req.messages].reverse().find((m) => m.role === 'user')?.content ?? '';
  const content =
    typeof entry.content === 'string' ? entry.content : entry.json !== undefined ? JSON.stringify(entry.json) : list.length === 0 ? `mock: ${lastUser}` : '';
  const toolCalls: ToolCall[] = (Array.isArray(entry.toolCalls) ? entry.toolCalls : []).map((c, i) => {
    const t = obj(c);
    return {
      id: str(t.id) ?? `call_${n}_${i}`,
      name: String(t.name ?? ''),
      arguments: typeof t.arguments === 'string' ? t.arguments : JSON.stringify(t.arguments ?? {}),
    };
  });
  const finishReason = MOCK_FINISH[String(entry.stopReason ?? entry.finishReason ?? (toolCalls.length > 0 ? 'tool_calls' : 'stop'))] ?? 'stop';
  const refusal = finishReason === 'content_filter' ? (str(entry.refusalText) ?? 'refused') : undefined;
  if (!refusal) for (const piece of content.match(/\S+\s*|\s+/g) ?? []) onDelta(piece);
  const words = (s: string): number => s.split(/\s+/).filter(Boolean).length;
  const usage = obj(entry.usage);
  const out: ChatResult = {
    content: refusal ? '' : content,
    toolCalls,
    finishReason,
    usage: {
      inputTokens: typeof usage.inputTokens === 'number' ? usage.inputTokens : req.messages.reduce((a, m) => a + words(m.content), 0),
      outputTokens: typeof usage.outputTokens === 'number' ? usage.outputTokens : words(content),
    },
    model: req.model,
  };
  if (refusal) out.refusal = refusal;
  return out;
}

// ------------------------------------------------------------------ one call

/** A node's LLM calls within one execution (the mock's script position). */
interface Caller {
  call(req: Omit<ChatRequest, 'provider' | 'model'>): Promise<ChatResult>;
}

function caller(ctx: NodeContext, d: Dispatch, stream: boolean): Caller {
  let n = 0;
  return {
    async call(partial) {
      const req: ChatRequest = { ...partial, provider: d.cfg.id, model: d.model };
      const index = n++;
      const started = Date.now();
      const result = await ctx.effect(`llm:${llmCacheKey(req)}`, async (e) => {
        const onDelta = (chunk: string): void => {
          if (stream && chunk !== '') ctx.emit('output.chunk', { chunk, meta: { provider: d.cfg.id, model: d.model } });
        };
        const r = d.runMock
          ? mockProviderAnswer(d.runMock, req, onDelta)
          : d.cfg.kind === 'mock'
            ? mockAnswer(ctx, req, index, onDelta)
            : await callProvider((o) => sendHttp(ctx, o), d.cfg, req, {
                ...(d.key ? { key: d.key } : {}),
                onDelta,
                signal: e.signal,
                idempotencyKey: e.invocationId,
              });
        const usage = { promptTokens: r.usage.inputTokens, completionTokens: r.usage.outputTokens, totalTokens: r.usage.inputTokens + r.usage.outputTokens };
        if (stream) ctx.emit('output.chunk', { chunk: '', isLast: true, meta: { finishReason: r.finishReason, model: r.model, provider: d.cfg.id, usage } });
        const p = d.cfg.pricing;
        ctx.emit('provider.usage', {
          provider: d.cfg.id,
          model: r.model,
          inputTokens: r.usage.inputTokens,
          outputTokens: r.usage.outputTokens,
          totalTokens: usage.totalTokens,
          ...(p ? { costEstimateUsd: (r.usage.inputTokens * p.inputPerMTok + r.usage.outputTokens * p.outputPerMTok) / 1e6, currency: 'USD' } : {}),
        });
        return { ...r, durationMs: Date.now() - started };
      });
      return result;
    },
  };
}

// ------------------------------------------------------------------ shared inputs

function messagesOf(ctx: NodeContext): ChatMessage[] {
  const out: ChatMessage[] = [];
  const system = str(setting(ctx, 'systemPrompt'));
  if (system) out.push({ role: 'system', content: system });
  const given = setting(ctx, 'messages');
  if (given !== undefined) {
    if (!Array.isArray(given)) throw new NodeError('validation_error', `${ctx.typeId} messages must be an array of {role, content}.`);
    for (const m of given) {
      const x = obj(m);
      const role = x.role;
      if (role !== 'system' && role !== 'user' && role !== 'assistant') throw new NodeError('validation_error', 'A message role is system, user or assistant.');
      out.push({ role, content: typeof x.content === 'string' ? x.content : JSON.stringify(x.content ?? '') });
    }
  }
  // configurable.promptOverrides[promptId ?? nodeId] replaces the node's prompt for this run.
  const override = obj(ctx.configurable?.promptOverrides)[str(ctx.config.promptId) ?? ctx.nodeId];
  const prompt = typeof override === 'string' ? override : (setting(ctx, 'prompt') ?? setting(ctx, 'userPrompt'));
  if (prompt !== undefined) out.push({ role: 'user', content: typeof prompt === 'string' ? prompt : JSON.stringify(prompt) });
  // Upstream content is untrusted (PI-02): marked as such, never as instructions.
  const context = ctx.inputs.context;
  if (context !== undefined) out.push({ role: 'user', content: `<UNTRUSTED>${typeof context === 'string' ? context : JSON.stringify(context)}</UNTRUSTED>` });
  // A run routed to a mock provider needs no real prompt: the prompt id stands in.
  if (!out.some((m) => m.role !== 'system') && ctx.configurable?.mockProvider !== undefined)
    out.push({ role: 'user', content: str(ctx.config.promptId) ?? ctx.nodeId });
  if (!out.some((m) => m.role !== 'system')) throw new NodeError('validation_error', `${ctx.typeId} needs a prompt or messages.`);
  return out;
}

function samplingOf(ctx: NodeContext): Pick<ChatRequest, 'temperature' | 'topP' | 'maxOutputTokens' | 'stop' | 'seed'> {
  const out: Pick<ChatRequest, 'temperature' | 'topP' | 'maxOutputTokens' | 'stop' | 'seed'> = {};
  const run = runAi(ctx);
  const t = run.temperature ?? setting(ctx, 'temperature');
  if (t !== undefined) {
    if (typeof t !== 'number' || t < 0 || t > 2) throw new NodeError('validation_error', 'temperature is a number in 0..2.');
    out.temperature = t;
  }
  const p = setting(ctx, 'topP');
  if (typeof p === 'number') out.topP = p;
  const m = run.maxTokens ?? setting(ctx, 'maxTokens') ?? setting(ctx, 'maxOutputTokens');
  if (m !== undefined) {
    if (typeof m !== 'number' || !Number.isInteger(m) || m < 1) throw new NodeError('validation_error', 'maxTokens is a positive integer.');
    out.maxOutputTokens = m;
  }
  const stop = setting(ctx, 'stop') ?? setting(ctx, 'stopSequences');
  if (Array.isArray(stop)) out.stop = stop.filter((s): s is string => typeof s === 'string');
  const seed = setting(ctx, 'seed');
  if (typeof seed === 'number') out.seed = seed;
  return out;
}

const resultOutputs = (d: Dispatch, r: ChatResult & { durationMs?: number }): Record<string, unknown> => ({
  text: r.content,
  finishReason: r.finishReason,
  model: r.model,
  provider: d.cfg.id,
  usage: { inputTokens: r.usage.inputTokens, outputTokens: r.usage.outputTokens, totalTokens: r.usage.inputTokens + r.usage.outputTokens },
});

function refusalError(d: Dispatch, ctx: NodeContext, r: ChatResult): NodeError {
  // The refusal text lives only on the event (scrubbed like every event), never in the error.
  ctx.emit('envelope.refusal', { provider: d.cfg.id, model: r.model, refusalText: r.refusal ?? null, safetyCategory: null });
  return new NodeError('envelope_refused_by_provider', `Provider ${d.cfg.id} refused the request.`, { provider: d.cfg.id });
}

// ------------------------------------------------------------------ the nodes

async function chat(ctx: NodeContext, providers: AiProviders, kind: 'prompt' | 'chat'): Promise<NodeResult> {
  const d = await prepare(ctx, providers, []);
  const r = await caller(ctx, d, ctx.config.stream !== false).call({ messages: messagesOf(ctx), ...samplingOf(ctx) });
  if (r.finishReason === 'content_filter' && r.refusal !== undefined) throw refusalError(d, ctx, r);
  const outputs = resultOutputs(d, r);
  if (kind === 'chat') outputs.message = { role: 'assistant', content: r.content };
  return { outputs };
}

/** Strips a markdown fence, or takes the outermost JSON object/array. */
function lenientParse(text: string): { value: unknown; path: 'markdown-fence' | 'brace-walker' } | undefined {
  const fence = /```(?:json)?\s*\n?([\s\S]*?)\n?```/.exec(text);
  if (fence?.[1] !== undefined) {
    try {
      return { value: JSON.parse(fence[1]) as unknown, path: 'markdown-fence' };
    } catch {
      // falls through
    }
  }
  const open = text.search(/[{[]/);
  const close = Math.max(text.lastIndexOf('}'), text.lastIndexOf(']'));
  if (open >= 0 && close > open) {
    try {
      return { value: JSON.parse(text.slice(open, close + 1)) as unknown, path: 'brace-walker' };
    } catch {
      return undefined;
    }
  }
  return undefined;
}

const ajv = createAjv();
const validators = new WeakMap<object, (v: unknown, what?: string) => unknown>();

/**
 * `core.ai.structuredOutput`: asks for JSON matching `config.outputSchema`, checks it, and
 * retries with a corrective message (parse error, schema violation) or a doubled output budget
 * (truncation), at most `limits.schemaRounds` times. A refusal is terminal. Prose where JSON was
 * wanted gets one extra coercion call (`envelope.nlToFormat.engaged`).
 */
async function structuredOutput(ctx: NodeContext, providers: AiProviders): Promise<NodeResult> {
  const schema = obj(setting(ctx, 'outputSchema') ?? setting(ctx, 'schema'));
  if (Object.keys(schema).length === 0) throw new NodeError('validation_error', 'core.ai.structuredOutput needs config.outputSchema.');
  let validate = validators.get(schema);
  if (!validate) {
    try {
      validate = compileValidator<unknown>(schema, ajv);
    } catch {
      throw new NodeError('validation_error', 'config.outputSchema is not a valid JSON Schema.');
    }
    validators.set(schema, validate);
  }
  const d = await prepare(ctx, providers, ['structured-output']);
  const llm = caller(ctx, d, ctx.config.stream === true);
  const want =
    typeof ctx.config.maxRetries === 'number' && Number.isInteger(ctx.config.maxRetries) && ctx.config.maxRetries >= 0 ? ctx.config.maxRetries : SCHEMA_ROUNDS;
  const attempts = 1 + Math.min(want, SCHEMA_ROUNDS);
  const base = messagesOf(ctx);
  const sampling = samplingOf(ctx);
  const instruction = `Answer with JSON only, matching this JSON Schema: ${JSON.stringify(schema)}`;
  let messages: ChatMessage[] = [{ role: 'system', content: instruction }, ...base];
  let maxTokens = sampling.maxOutputTokens;
  let reason: 'parse-error' | 'schema-violation' | 'truncation' = 'parse-error';
  let lastError: string | null = null;
  let lastText = '';
  const accept = (value: unknown, r: ChatResult): NodeResult => ({ outputs: { ...resultOutputs(d, r), data: value, output: value } });
  const check = (text: string): { ok: true; value: unknown } | { ok: false; reason: 'parse-error' | 'schema-violation'; error: string } => {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      const lenient = lenientParse(text);
      if (!lenient) return { ok: false, reason: 'parse-error', error: 'The answer is not JSON.' };
      ctx.emit('envelope.recovery.applied', { path: lenient.path, byteOffset: null });
      value = lenient.value;
    }
    try {
      (validate as (v: unknown, what?: string) => unknown)(value, 'answer');
      return { ok: true, value };
    } catch (e) {
      const errs = e instanceof WeftError ? ((e.details?.errors as { path: string; message: string }[] | undefined) ?? []) : [];
      return { ok: false, reason: 'schema-violation', error: errs.map((x) => `${x.path || '/'} ${x.message}`).join('; ') || 'schema violation' };
    }
  };
  for (let attempt = 1; attempt <= attempts; attempt++) {
    if (attempt > 1) ctx.emit('envelope.retry.attempted', { attempt, reason, previousError: lastError });
    const r = await llm.call({
      messages,
      ...sampling,
      ...(maxTokens !== undefined ? { maxOutputTokens: maxTokens } : {}),
      responseFormat: { type: 'json', schema },
    });
    if (r.finishReason === 'content_filter') throw refusalError(d, ctx, r);
    if (r.finishReason === 'length') {
      ctx.emit('envelope.truncated', {
        provider: d.cfg.id,
        model: r.model,
        stopReason: 'max_tokens',
        partialPayloadAvailable: r.content !== '',
        outputTokenCount: r.usage.outputTokens,
      });
      reason = 'truncation';
      lastError = 'The answer was cut off at the output token limit.';
      // Truncation is an output-size problem: a bigger budget, not a corrective prompt.
      maxTokens = (maxTokens ?? 1024) * 2;
      continue;
    }
    lastText = r.content;
    const c = check(r.content);
    if (c.ok) return accept(c.value, r);
    reason = c.reason;
    lastError = c.error;
    messages = [...messages, { role: 'assistant', content: r.content }, { role: 'user', content: `That answer was invalid (${c.error}). ${instruction}` }];
  }
  // Prose where JSON was wanted: one coercion call.
  if (reason === 'parse-error' && !/^\s*[{[`]/.test(lastText)) {
    ctx.emit('envelope.nlToFormat.engaged', { originalEnvelopeType: str(schema.title) ?? 'schema.response', fallbackCalls: 1 });
    const r = await llm.call({
      messages: [
        { role: 'system', content: instruction },
        { role: 'user', content: `Convert this text into JSON matching the schema, and answer with the JSON only:\n<UNTRUSTED>${lastText}</UNTRUSTED>` },
      ],
      ...sampling,
      responseFormat: { type: 'json', schema },
    });
    if (r.finishReason === 'content_filter') throw refusalError(d, ctx, r);
    const c = r.finishReason === 'length' ? undefined : check(r.content);
    if (c?.ok) return accept(c.value, r);
    if (c) lastError = c.error;
  }
  ctx.emit('envelope.retry.exhausted', { totalAttempts: attempts, finalReason: reason, finalError: lastError });
  // limits.schemaRounds is a cap (execution-semantics §1.8): its breach is recorded, observed > limit.
  ctx.emit('cap.breached', { kind: 'schema', limit: attempts - 1, observed: attempts });
  if (reason === 'truncation')
    throw new NodeError('envelope_truncation_unrecoverable', `The answer stayed truncated after ${attempts} attempts.`, { attempts, provider: d.cfg.id });
  throw new NodeError('envelope_payload_invalid', `No valid answer for the schema after ${attempts} attempts.`, { attempts, reason, provider: d.cfg.id });
}

/** A tool `core.ai.toolCalling` may call: `{name, description?, parameters, url}` (POSTed the arguments). */
interface HttpTool extends ToolSpec {
  url: string;
}

function toolsOf(ctx: NodeContext): HttpTool[] {
  const raw = setting(ctx, 'tools');
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) throw new NodeError('validation_error', 'core.ai.toolCalling tools must be an array of {name, description?, parameters, url}.');
  const seen = new Set<string>();
  return raw.map((t) => {
    const x = obj(t);
    const name = str(x.name);
    const url = str(x.url);
    if (!name || !/^[A-Za-z0-9_-]{1,64}$/.test(name) || seen.has(name))
      throw new NodeError('validation_error', 'Each tool needs a unique name of [A-Za-z0-9_-]{1,64}.');
    if (!url) throw new NodeError('validation_error', `Tool ${name} needs a url (the host POSTs the arguments there, behind the SSRF guard).`);
    seen.add(name);
    const out: HttpTool = { name, url, parameters: Object.keys(obj(x.parameters)).length > 0 ? obj(x.parameters) : { type: 'object' } };
    if (str(x.description)) out.description = x.description as string;
    return out;
  });
}

const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');

/**
 * `core.ai.toolCalling`: an agent loop. The model may call the declared tools (anything else is
 * answered as an error, never dispatched — the allowlist is the workflow's); each call is an
 * effect (`tool:<name>`) POSTing the arguments to the tool's URL through `ctx.http`; the result
 * goes back wrapped `<UNTRUSTED tool="…">` (PI-02). Bounded by `config.maxIterations` (≤ 10) and
 * `configurable.maxLoopIterations`: past it `cap.breached{kind:"loop-iterations"}` and the node
 * fails `loop_limit_exceeded`. Events carry hashes, never content.
 */
async function toolCalling(ctx: NodeContext, providers: AiProviders): Promise<NodeResult> {
  const tools = toolsOf(ctx);
  const byName = new Map(tools.map((t) => [t.name, t]));
  const d = await prepare(ctx, providers, ['tool-calling']);
  const llm = caller(ctx, d, ctx.config.stream !== false);
  const cfgMax = ctx.config.maxIterations;
  const asked = ctx.configurable?.maxLoopIterations;
  const nodeMax = typeof cfgMax === 'number' && Number.isInteger(cfgMax) && cfgMax >= 1 ? Math.min(cfgMax, MAX_TOOL_TURNS) : 5;
  // The agent-loop cap (execution-semantics §1.8): configurable.maxLoopIterations lowers it too.
  const maxTurns = typeof asked === 'number' && Number.isInteger(asked) && asked >= 1 ? Math.min(nodeMax, asked) : nodeMax;
  const specs: ToolSpec[] = tools.map(({ url: _url, ...spec }) => spec);
  const messages = messagesOf(ctx);
  const sampling = samplingOf(ctx);
  const calls: { name: string; callId: string; status: string }[] = [];
  const agentId = `agent:${ctx.nodeId}`;
  for (let turn = 0; turn < maxTurns; turn++) {
    const r = await llm.call({ messages, ...(specs.length > 0 ? { tools: specs } : {}), ...sampling });
    if (r.finishReason === 'content_filter' && r.refusal !== undefined) throw refusalError(d, ctx, r);
    if (r.toolCalls.length === 0) return { outputs: { ...resultOutputs(d, r), toolCalls: calls, turns: turn + 1 } };
    messages.push({ role: 'assistant', content: r.content, toolCalls: r.toolCalls });
    for (const c of r.toolCalls) {
      ctx.emit('agent.toolCalled', { agentId, toolName: c.name, callId: c.id, argsHash: sha256(c.arguments) });
      const tool = byName.get(c.name);
      let content: string;
      let status: 'ok' | 'error' | 'forbidden';
      if (!tool) {
        status = 'forbidden';
        content = JSON.stringify({ error: `Tool ${c.name} is not declared by this workflow.` });
      } else {
        let args: unknown;
        try {
          args = JSON.parse(c.arguments || '{}');
        } catch {
          args = undefined;
        }
        if (args === undefined) {
          status = 'error';
          content = JSON.stringify({ error: 'The arguments are not JSON.' });
        } else {
          const res = await ctx.effect(`tool:${tool.name}`, async () => {
            const out = await sendHttp(ctx, { method: 'POST', url: tool.url, headers: { 'content-type': 'application/json' }, body: JSON.stringify(args) });
            return { status: out.status, body: new TextDecoder().decode(out.body).slice(0, 65_536) };
          });
          status = res.status >= 200 && res.status < 300 ? 'ok' : 'error';
          content = res.body;
        }
      }
      ctx.emit('agent.toolReturned', { agentId, toolName: c.name, callId: c.id, status, resultSha256: sha256(content), resultLength: content.length });
      calls.push({ name: c.name, callId: c.id, status });
      messages.push({ role: 'tool', toolCallId: c.id, name: c.name, content: `<UNTRUSTED tool="${c.name}">${content}</UNTRUSTED>` });
    }
  }
  ctx.emit('cap.breached', { kind: 'loop-iterations', limit: maxTurns, observed: maxTurns + 1 });
  throw new NodeError('loop_limit_exceeded', `The model was still calling tools after ${maxTurns} turns.`, {
    nodeId: ctx.nodeId,
    limit: maxTurns,
    observed: maxTurns + 1,
  });
}

// ------------------------------------------------------------------ conformance fixture nodes

/** Cost attributes allowed on spans and records (execution-semantics §8): exactly these seven. */
export const COST_ATTRIBUTES = [
  'openwop.cost.tokens.input',
  'openwop.cost.tokens.output',
  'openwop.cost.tokens.total',
  'openwop.cost.usd',
  'openwop.cost.currency',
  'openwop.cost.estimated',
  'openwop.cost.provider',
] as const;

/** The allowlisted, primitive-valued cost attributes of `attrs`. */
export function sanitizeCost(attrs: Record<string, unknown>): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const k of COST_ATTRIBUTES) {
    const v = attrs[k];
    if (typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v))) out[k] = v;
  }
  return out;
}

/** The LLM node types over the configured providers (the scripted `mock` is always there). */
export function aiNodeTypes(providers: AiProviders = new Map()): NodeType[] {
  return [
    { typeId: 'core.ai.callPrompt', requiresSecrets: true, execute: (ctx) => chat(ctx, providers, 'prompt') },
    { typeId: 'core.ai.chatCompletion', requiresSecrets: true, execute: (ctx) => chat(ctx, providers, 'chat') },
    { typeId: 'core.ai.structuredOutput', requiresSecrets: true, execute: (ctx) => structuredOutput(ctx, providers) },
    { typeId: 'core.ai.toolCalling', requiresSecrets: true, execute: (ctx) => toolCalling(ctx, providers) },
    {
      // Resolves a secret and records only its digest and length (the BYOK round-trip fixture).
      typeId: 'conformance.secret.echo',
      requiresSecrets: true,
      async execute(ctx) {
        const ref = str(ctx.config.secretId) ?? str(ctx.config.credentialRef);
        if (!ref) throw new NodeError('validation_error', 'conformance.secret.echo needs config.secretId.');
        const value = await (ctx.credentials as NonNullable<NodeContext['credentials']>).resolve(ref);
        return { outputs: { secretSha256: sha256(value), secretLength: Buffer.byteLength(value, 'utf8') } };
      },
    },
    {
      // Records allowlisted cost attributes only, and their usage into the run's cost rollup.
      typeId: 'conformance.cost.emit',
      execute(ctx) {
        const cost = sanitizeCost(obj(ctx.config.attrs));
        const n = (k: string): number => (typeof cost[k] === 'number' ? (cost[k] as number) : 0);
        ctx.emit('provider.usage', {
          provider: typeof cost['openwop.cost.provider'] === 'string' ? cost['openwop.cost.provider'] : 'unknown',
          model: 'unknown',
          inputTokens: Math.floor(n('openwop.cost.tokens.input')),
          outputTokens: Math.floor(n('openwop.cost.tokens.output')),
          totalTokens: Math.floor(n('openwop.cost.tokens.total')),
          ...(typeof cost['openwop.cost.usd'] === 'number' ? { costEstimateUsd: cost['openwop.cost.usd'], currency: 'USD' } : {}),
        });
        return { outputs: { cost } };
      },
    },
    {
      // Declares a capability no model has: the capability gate refuses it.
      typeId: 'conformance.modelCapability.insufficient',
      execute(ctx) {
        const missing = missingCapabilities(MOCK_PROVIDER, 'mock-mini', ['nonexistent-capability-9b3f']);
        ctx.emit('model.capability.insufficient', { provider: 'mock', model: 'mock-mini', missingCapabilities: missing, fallbackAttempted: false });
        throw new NodeError('capability_not_provided', 'No model provides nonexistent-capability-9b3f.', {
          capability: 'nonexistent-capability-9b3f',
          nodeId: ctx.nodeId,
        });
      },
    },
  ];
}
