/**
 * The node registry and the built-in node types.
 *
 * A node body gets a {@link NodeContext} and returns outputs, or asks to wait until a time (a
 * durable timer). After a crash a running node is executed again from its start, so bodies
 * must be safe to re-run; `ctx.startedAt` is the recorded start, so a re-run delay keeps its
 * original deadline.
 *
 * @see wire-contract.md §5.6, execution-semantics.md §6.7
 */
import { isTerminalStatus } from '@weft/contract';
import { AGENT_NODES } from './agents/nodes.js';
import { FLOW_NODES } from './flow-nodes.js';
import type { Outbound, OutboundRequest, OutboundResponse } from './ports.js';

/** What a node body sees. */
export interface NodeContext {
  readonly runId: string;
  readonly nodeId: string;
  readonly typeId: string;
  readonly tenant: string;
  readonly attempt: number;
  readonly config: Readonly<Record<string, unknown>>;
  /** Input ports resolved from static values, variables and upstream outputs. */
  readonly inputs: Readonly<Record<string, unknown>>;
  /** Epoch ms of this node's recorded `node.started`. */
  readonly startedAt: number;
  /** Aborted on cancel and on the run deadline. */
  readonly signal: AbortSignal;
  now(): number;
  /**
   * The HITL primitive. Returns the recorded resolution for `request.key` (default: the node
   * id) when there is one; otherwise suspends the node (by throwing a {@link SuspendSignal})
   * and the node is executed again from its start once the interrupt is resolved.
   * @throws NodeError `interrupt_expired` when the interrupt timed out without a resolution.
   */
  interrupt(request: InterruptRequest): unknown;
  /** Run variables (initial values overlaid by later variable changes). */
  readonly variables: Readonly<Record<string, unknown>>;
  readonly children: ChildRuns;
  /** Outbound HTTP behind the host's SSRF guard; absent when the host offers none (`httpClient`). */
  readonly http?: Outbound | undefined;
  /**
   * Makes an external effect once per logical invocation (Layer 2). The host derives the
   * `logicalInvocationId` from tenant, run, node, the effect's ordinal within this execution of
   * the node, and `providerKey` — never the attempt — and claims it in the invocation log before
   * `call` runs. If an earlier execution (before a crash, a resume or a retry) recorded an
   * outcome, that outcome is returned (or its error thrown) and `call` is not run again. Only
   * a crash between the call and its record repeats it (the at-least-once window). A
   * non-retryable `NodeError` is recorded as the outcome; any other failure is not, so a retry
   * calls again. The result must be JSON; what it returns is the result as recorded (redacted).
   * Effects must be made in the same order on every execution of the node.
   */
  effect<T>(providerKey: string, call: (e: EffectCall) => Promise<T>): Promise<T>;
  /**
   * Streams an event of this node while it runs — `output.chunk` (`{chunk, isLast?, channel?,
   * meta?}`, delivered in the `messages` stream mode as `ai.message.chunk`) or `log.appended`
   * (`{level, message, fields?}`). Appended in order, before the node's terminal event.
   */
  emit(type: EmittedEventType, payload: Record<string, unknown>): void;
  /** The run's `configurable` object (read-only). */
  readonly configurable?: Readonly<Record<string, unknown>>;
  /** The run's workflow id (the conformance-only mock config of the agent nodes checks it). */
  readonly workflowId?: string;
  /** The node's `agent` binding (AgentRef), if the definition gives one. */
  readonly agent?: unknown;
  /** The run's orchestrator state (decision 0026): turns decided so far and the latest decision. */
  readonly orchestrator?: Readonly<{ agentId: string; turns: number; latest: { nodeId: string; decision: unknown; superseded?: boolean } }>;
  /**
   * Secret references resolved at execution time, bound to the run's tenant; present only for
   * node types that declare {@link NodeType.requiresSecrets}. Fails with `credential_not_found`
   * (missing, deleted or another tenant's) or `credential_unavailable`; every value returned is
   * already registered with the run's redactor. @see security-contract.md §4.1 (SEC-02, SEC-05)
   */
  readonly credentials?: NodeCredentials;
}

/** `ctx.credentials`: resolves a secret reference of the run's tenant. */
export interface NodeCredentials {
  /** The value; throws a non-retryable {@link NodeError} when it cannot be resolved. */
  resolve(ref: string | { ref: string; scope?: string; redactAs?: string }): Promise<string>;
}

/**
 * The event types a running node may {@link NodeContext.emit}: streamed output and logs, and
 * the AI envelope and governance records of the LLM nodes (none of them changes run state).
 */
export const EMITTED_EVENT_TYPES = [
  'output.chunk',
  'log.appended',
  'provider.usage',
  'policy.decision',
  'model.capability.insufficient',
  'envelope.retry.attempted',
  'envelope.retry.exhausted',
  'envelope.refusal',
  'envelope.truncated',
  'envelope.nlToFormat.engaged',
  'envelope.recovery.applied',
  'agent.toolCalled',
  'agent.toolReturned',
  'agent.reasoned',
  'agent.reasoning.delta',
  'agent.handoff',
  'agent.decided',
  'runOrchestrator.decided',
  // Only with a kind in NODE_CAP_KINDS: the caps a node itself enforces.
  'cap.breached',
] as const;

/** The `cap.breached` kinds a node may emit: the caps enforced inside node bodies. */
export const NODE_CAP_KINDS: ReadonlySet<string> = new Set(['schema', 'loop-iterations']);

/** The event types a running node may {@link NodeContext.emit}. */
export type EmittedEventType = (typeof EMITTED_EVENT_TYPES)[number];

/** What an effect's call sees. */
export interface EffectCall {
  /** The logical invocation id: pass it as the provider's `Idempotency-Key` where supported. */
  readonly invocationId: string;
  /** 1 for the first call; more only when an interrupted call is repeated. */
  readonly calls: number;
  readonly signal: AbortSignal;
}

/** What a node asks for when it suspends. @see suspend-request.schema.json */
export interface InterruptRequest {
  kind: 'approval' | 'clarification' | 'external-event' | 'custom' | 'low-confidence';
  key?: string;
  data: Record<string, unknown>;
  resumeSchema?: Record<string, unknown>;
  timeoutMs?: number;
}

/** Control-flow signal: the node suspended on an interrupt (not an error). */
export class SuspendSignal {
  constructor(readonly request: InterruptRequest & { key: string }) {}
}

/** A node's outcome. */
export type NodeResult =
  | {
      outputs: Record<string, unknown>;
      /** Run variables to set (emits variable.changed). */
      variables?: Record<string, unknown>;
      /** `core.dispatch` only: run the dispatch loop body again (another orchestrator turn). */
      repeat?: boolean;
    }
  | { waitUntil: number }
  | { waitForChild: string };

/** A child run as a sub-workflow node sees it. */
export interface ChildRunView {
  runId: string;
  status: string;
  variables: Record<string, unknown>;
  outputs?: Record<string, unknown>;
  error?: { code: string; message: string };
}

/** Child runs of the current node (sub-workflows). */
export interface ChildRuns {
  /** The child this node already started, if any (a re-executed node reuses it). */
  current(): string | undefined;
  /**
   * Starts the child run (idempotent per node, or per node and `key` — `core.dispatch` starts
   * one child per worker and turn); returns its runId.
   */
  start(workflowId: string, inputs: Record<string, unknown>, key?: string): Promise<string>;
  get(runId: string): Promise<ChildRunView | undefined>;
}

/** A registered node type. */
export interface NodeType {
  readonly typeId: string;
  /** Runtime capabilities the node needs; missing ones fail the run before `node.started`. */
  readonly requires?: readonly string[];
  /** True when the node resolves secret references: only then does it get `ctx.credentials`. */
  readonly requiresSecrets?: boolean;
  execute(ctx: NodeContext): NodeResult | Promise<NodeResult>;
}

/** A failure a node reports on purpose, with a wire error code. */
export class NodeError extends Error {
  readonly code: string;
  readonly details: Record<string, unknown> | undefined;
  readonly retryable: boolean;
  constructor(code: string, message: string, details?: Record<string, unknown>, retryable = false) {
    super(message);
    this.name = 'NodeError';
    this.code = code;
    this.details = details;
    this.retryable = retryable;
  }
}

/** A node-scoped cap the host enforced: `cap.breached` payload minus the node id (wire-contract.md). */
export interface CapBreach {
  /** A registered node-scoped kind (`wasm-memory`, `wasm-fuel`, `wasm-execution-time`). */
  kind: 'wasm-memory' | 'wasm-fuel' | 'wasm-execution-time';
  /** The effective ceiling. */
  limit: number;
  /** What was observed at the breach, recorded here and never recomputed; strictly greater than `limit`. */
  observed: number;
}

/**
 * A node failure caused by a cap the host enforced on the node's own execution (a WASM pack's
 * fixed memory). The state machine appends `cap.breached{kind, limit, observed, nodeId}` just
 * before the node's `node.failed` (execution-semantics.md §1.8, §6.6). Never retryable.
 * @throws Error when `observed` is not greater than `limit`
 */
export class CapBreachError extends NodeError {
  readonly breach: CapBreach;
  constructor(breach: CapBreach, code: string, message: string, details?: Record<string, unknown>) {
    super(code, message, details, false);
    if (!(breach.observed > breach.limit)) throw new Error(`cap.breached needs observed > limit (${breach.observed} ≤ ${breach.limit})`);
    this.breach = { kind: breach.kind, limit: breach.limit, observed: breach.observed };
  }
}

/**
 * Reserved typeIds that need a capability this host does not advertise; a run using one is
 * refused at creation with `capability_required`.
 */
export const GATED_TYPE_IDS: ReadonlyMap<string, string> = new Map([['core.conversationGate', 'conversationPrimitive']]);

/**
 * `core.subWorkflow` `onChildFailure` values: `fail-parent` (default) fails the node with
 * `child_failed`; `absorb` (the spec's name) and `continue` (Weft's earlier name) complete the
 * node with the child's status and error, and the parent continues.
 */
export const CHILD_FAILURE_POLICIES = ['fail-parent', 'absorb', 'continue'] as const;

/** Longest delay `core.delay` accepts (7 days): it is a durable timer, not a sleep. */
export const MAX_DELAY_MS = 7 * 24 * 3600 * 1000;

function delayOf(ctx: NodeContext): number {
  const candidates = [ctx.inputs.delayMs, ctx.config.delayMs, ctx.config.ms, ctx.config.durationMs];
  const raw = candidates.find((v) => v !== undefined);
  if (raw === undefined) return 1000;
  if (typeof raw !== 'number' || !Number.isFinite(raw) || raw < 0 || raw > MAX_DELAY_MS) {
    throw new NodeError('validation_error', `core.delay needs a delay between 0 and ${MAX_DELAY_MS} ms`, { nodeId: ctx.nodeId });
  }
  return Math.floor(raw);
}

const APPROVAL_ACTIONS = ['accept', 'reject', 'refine', 'edit', 'ask'] as const;

const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);
const timeoutOf = (cfg: Readonly<Record<string, unknown>>): number | undefined => {
  const t = cfg.timeoutMs ?? (typeof cfg.timeoutSec === 'number' ? cfg.timeoutSec * 1000 : undefined);
  return typeof t === 'number' && Number.isInteger(t) && t > 0 ? t : undefined;
};

/**
 * `core.approvalGate`: suspends `waiting-approval` until a principal (or a quorum of distinct
 * principals) decides. Accept-like actions complete the node with the decision; reject and
 * timeout fail it with `interrupt_rejected` unless `config.onReject` is `continue`.
 */
function approvalGate(ctx: NodeContext): NodeResult {
  const cfg = ctx.config;
  const configured = Array.isArray(cfg.actions) ? cfg.actions.filter((a): a is string => typeof a === 'string') : ['accept', 'reject'];
  const bad = configured.filter((a) => !(APPROVAL_ACTIONS as readonly string[]).includes(a));
  if (bad.length > 0 || configured.length === 0)
    throw new NodeError('validation_error', `approval actions must be a non-empty subset of ${APPROVAL_ACTIONS.join(', ')}`);
  const actions = configured.map((a) => (a === 'edit' ? 'edit-accept' : a));
  const required =
    typeof cfg.requiredApprovals === 'number' && Number.isInteger(cfg.requiredApprovals) && cfg.requiredApprovals >= 1 ? cfg.requiredApprovals : 1;
  const data: Record<string, unknown> = {
    artifactId: str(cfg.artifactId) ?? `${ctx.runId}:${ctx.nodeId}`,
    artifactType: str(cfg.artifactType) ?? 'approval',
    title: str(cfg.title) ?? ctx.nodeId,
    actions,
    requiredApprovals: required,
  };
  if (str(cfg.description)) data.description = cfg.description;
  if (cfg.rejectionPolicy === 'majority' || cfg.rejectionPolicy === 'single-veto') data.rejectionPolicy = cfg.rejectionPolicy;
  if (Array.isArray(cfg.approversList) && cfg.approversList.length > 0) data.approversList = cfg.approversList.filter((a) => typeof a === 'string');
  if (ctx.inputs.artifact !== undefined) data.artifactData = ctx.inputs.artifact;
  const decisions = actions.filter((a) => a !== 'ask');
  const timeoutMs = timeoutOf(cfg);
  const resumeSchema = {
    type: 'object',
    required: ['action'],
    properties: {
      action: { enum: [...decisions, ...(decisions.includes('edit-accept') ? ['edit'] : [])] },
      comment: { type: 'string', maxLength: 4096 },
      feedback: { type: 'string', maxLength: 16384 },
      refineFeedback: { type: 'object' },
      editedArtifactData: {},
      // Taken out before this schema is checked; needs interrupts:delegate.
      voter: { type: 'string', minLength: 1, maxLength: 128, description: 'The named voter this vote is cast for (needs interrupts:delegate).' },
      decidedBy: {},
      decidedAt: {},
    },
    additionalProperties: false,
  };
  const decision = ctx.interrupt({ kind: 'approval', key: ctx.nodeId, data, resumeSchema, ...(timeoutMs ? { timeoutMs } : {}) }) as Record<string, unknown>;
  const action = String(decision.action);
  if (action === 'reject' || action === 'timeout') {
    if (cfg.onReject === 'continue') return { outputs: { ...decision, approved: false } };
    throw new NodeError('interrupt_rejected', action === 'timeout' ? 'The approval timed out and was rejected.' : 'The approval was rejected.', {
      action,
      ...(typeof decision.decidedBy === 'string' ? { decidedBy: decision.decidedBy } : {}),
    });
  }
  return { outputs: { ...decision, approved: true } };
}

/** `core.clarificationGate`: asks questions, suspends `waiting-input`, outputs the answers. */
function clarificationGate(ctx: NodeContext): NodeResult {
  const qs = Array.isArray(ctx.config.questions) ? ctx.config.questions : [];
  const questions = qs
    .filter((q): q is Record<string, unknown> => !!q && typeof q === 'object')
    .map((q) => {
      const out: Record<string, unknown> = { id: String(q.id ?? ''), question: String(q.question ?? '') };
      if (q.schema && typeof q.schema === 'object') out.schema = q.schema;
      return out;
    });
  if (questions.length === 0 || questions.some((q) => !q.id || !q.question)) {
    throw new NodeError('validation_error', 'core.clarificationGate needs questions [{id, question}]');
  }
  const timeoutMs = timeoutOf(ctx.config);
  const value = ctx.interrupt({
    kind: 'clarification',
    key: ctx.nodeId,
    data: { questions },
    resumeSchema: { type: 'object', required: ['answers'], properties: { answers: { type: ['object', 'array'] } } },
    ...(timeoutMs ? { timeoutMs } : {}),
  }) as { answers: Record<string, unknown> };
  return { outputs: { answers: value.answers } };
}

/** `core.interrupt`: a configurable interrupt (external-event, custom, approval, clarification). */
function genericInterrupt(ctx: NodeContext): NodeResult {
  const cfg = ctx.config;
  const kind = cfg.kind === undefined ? 'custom' : cfg.kind;
  if (!['approval', 'clarification', 'external-event', 'custom'].includes(String(kind))) {
    throw new NodeError('validation_error', `core.interrupt does not support kind ${String(kind)}`);
  }
  const data = cfg.data && typeof cfg.data === 'object' ? { ...(cfg.data as Record<string, unknown>) } : {};
  if (kind === 'external-event') {
    if (typeof data.eventType !== 'string') throw new NodeError('validation_error', 'external-event interrupts need data.eventType');
    if (!data.correlation || typeof data.correlation !== 'object') data.correlation = {};
  }
  if (kind === 'custom' && typeof data.customKind !== 'string') data.customKind = 'weft.custom';
  const timeoutMs = timeoutOf(cfg);
  const resumeSchema = cfg.resumeSchema && typeof cfg.resumeSchema === 'object' ? (cfg.resumeSchema as Record<string, unknown>) : undefined;
  const value = ctx.interrupt({
    kind: kind as InterruptRequest['kind'],
    key: str(cfg.key) ?? ctx.nodeId,
    data,
    ...(resumeSchema ? { resumeSchema } : {}),
    ...(timeoutMs ? { timeoutMs } : {}),
  });
  return { outputs: kind === 'external-event' ? { event: value } : { resumeValue: value } };
}

/**
 * `core.subWorkflow`: starts a child run of `config.workflowId` (inputs from `inputMapping`
 * {childVar: parentVar}), waits for it unless `waitForCompletion` is false, and maps child
 * variables or outputs back with `outputMapping` {parentVar: childVar}.
 */
async function subWorkflow(ctx: NodeContext): Promise<NodeResult> {
  const cfg = ctx.config;
  const workflowId = str(cfg.workflowId);
  if (!workflowId) throw new NodeError('validation_error', 'core.subWorkflow needs config.workflowId');
  const inputs: Record<string, unknown> = {};
  const inMap = cfg.inputMapping && typeof cfg.inputMapping === 'object' ? (cfg.inputMapping as Record<string, unknown>) : {};
  for (const [childVar, parentVar] of Object.entries(inMap)) {
    if (typeof parentVar !== 'string') continue;
    const v = ctx.variables[parentVar] ?? ctx.inputs[parentVar];
    if (v !== undefined) inputs[childVar] = v;
  }
  const childRunId = ctx.children.current() ?? (await ctx.children.start(workflowId, inputs));
  if (cfg.waitForCompletion === false) return { outputs: { childRunId } };
  const child = await ctx.children.get(childRunId);
  if (!child || !isTerminalStatus(child.status)) return { waitForChild: childRunId };
  if (child.status !== 'completed') {
    if (cfg.onChildFailure === 'absorb' || cfg.onChildFailure === 'continue')
      return { outputs: { childRunId, childStatus: child.status, ...(child.error ? { childError: child.error } : {}) } };
    throw new NodeError('child_failed', `Child run ${childRunId} ended ${child.status}.`, {
      childRunId,
      childStatus: child.status,
      ...(child.error ? { childError: child.error } : {}),
    });
  }
  const outputs: Record<string, unknown> = { childRunId, childStatus: 'completed' };
  const variables: Record<string, unknown> = {};
  const outMap = cfg.outputMapping && typeof cfg.outputMapping === 'object' ? (cfg.outputMapping as Record<string, unknown>) : {};
  for (const [parentVar, childVar] of Object.entries(outMap)) {
    if (typeof childVar !== 'string') continue;
    const fromOutputs = Object.values(child.outputs ?? {})
      .map((o) => (o as Record<string, unknown>)[childVar])
      .find((v) => v !== undefined);
    const v = child.variables[childVar] ?? fromOutputs;
    if (v !== undefined) {
      outputs[parentVar] = v;
      variables[parentVar] = v;
    }
  }
  return Object.keys(variables).length > 0 ? { outputs, variables } : { outputs };
}

/** Codes an {@link Outbound} fails with, passed through to the node's failure; the first two may succeed on a retry. */
const OUTBOUND_CODES: ReadonlyMap<string, boolean> = new Map([
  ['fetch_failed', true],
  ['fetch_timeout', true],
  ['ssrf_blocked', false],
  ['response_too_large', false],
  ['validation_error', false],
]);

/**
 * The one place a node's HTTP call leaves the engine, so the effect log can wrap it. Fails with
 * `capability_not_provided` when the host wired no {@link Outbound}, and with the adapter's
 * catalog code otherwise.
 */
export async function sendHttp(ctx: NodeContext, req: OutboundRequest): Promise<OutboundResponse> {
  if (!ctx.http) throw new NodeError('capability_not_provided', 'This host offers no outbound HTTP client.', { capability: 'httpClient', nodeId: ctx.nodeId });
  try {
    return await ctx.http.request({ ...req, signal: ctx.signal });
  } catch (e) {
    const f = e as { code?: unknown; message?: unknown; details?: unknown };
    const retryable = typeof f?.code === 'string' ? OUTBOUND_CODES.get(f.code) : undefined;
    if (retryable === undefined) throw new NodeError('fetch_failed', 'The HTTP call failed.', { reason: 'connect' }, true);
    const details = f.details && typeof f.details === 'object' ? (f.details as Record<string, unknown>) : undefined;
    throw new NodeError(f.code as string, typeof f.message === 'string' ? f.message : 'The HTTP call failed.', details, retryable);
  }
}

const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];
const RESPONSE_TYPES = ['auto', 'json', 'text', 'base64'];

/** Input port first, then config. */
const setting = (ctx: NodeContext, key: string): unknown => (ctx.inputs[key] !== undefined ? ctx.inputs[key] : ctx.config[key]);

function positiveInt(ctx: NodeContext, key: string, min: number): number | undefined {
  const v = setting(ctx, key);
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min)
    throw new NodeError('validation_error', `core.http.request ${key} must be an integer ≥ ${min}`, { nodeId: ctx.nodeId });
  return v;
}

/** The request `core.http.request` sends, from its inputs and config. */
function httpRequestOf(ctx: NodeContext): OutboundRequest {
  const bad = (message: string): NodeError => new NodeError('validation_error', `core.http.request ${message}`, { nodeId: ctx.nodeId });
  const url = setting(ctx, 'url');
  if (typeof url !== 'string' || url === '') throw bad('needs a url');
  const headers: Record<string, string> = {};
  for (const source of [ctx.config.headers, ctx.inputs.headers]) {
    if (source === undefined) continue;
    if (!source || typeof source !== 'object' || Array.isArray(source)) throw bad('headers must be an object of strings');
    for (const [k, v] of Object.entries(source)) {
      if (typeof v !== 'string') throw bad(`header ${k} must be a string`);
      headers[k.toLowerCase()] = v;
    }
  }
  const json = setting(ctx, 'json');
  const raw = setting(ctx, 'body');
  let body: string | undefined;
  if (json !== undefined || (raw !== undefined && typeof raw !== 'string')) {
    body = JSON.stringify(json !== undefined ? json : raw);
    headers['content-type'] ??= 'application/json';
  } else if (typeof raw === 'string') {
    body = raw;
    headers['content-type'] ??= 'text/plain; charset=utf-8';
  }
  const method = setting(ctx, 'method') ?? (body === undefined ? 'GET' : 'POST');
  if (typeof method !== 'string' || !HTTP_METHODS.includes(method.toUpperCase())) throw bad(`method must be one of ${HTTP_METHODS.join(', ')}`);
  const req: OutboundRequest = { method: method.toUpperCase(), url, headers };
  if (body !== undefined) req.body = body;
  const timeoutMs = positiveInt(ctx, 'timeoutMs', 1);
  if (timeoutMs !== undefined) req.timeoutMs = timeoutMs;
  const maxResponseBytes = positiveInt(ctx, 'maxResponseBytes', 1);
  if (maxResponseBytes !== undefined) req.maxResponseBytes = maxResponseBytes;
  const follow = setting(ctx, 'followRedirects');
  if (follow !== undefined && typeof follow !== 'boolean') throw bad('followRedirects must be a boolean');
  const maxRedirects = positiveInt(ctx, 'maxRedirects', 0);
  if (follow === false) req.maxRedirects = 0;
  else if (maxRedirects !== undefined) req.maxRedirects = maxRedirects;
  return req;
}

const TEXT_TYPES = /^(text\/|application\/(xml|javascript|x-www-form-urlencoded|x-ndjson)$|.*\+xml$)/;

/** The response body as the node outputs it: parsed JSON, text or base64, as the content type says. */
function responseBody(want: string, res: OutboundResponse): { body: unknown; bodyEncoding: 'json' | 'text' | 'base64' | 'none' } {
  if (res.body.length === 0) return { body: null, bodyEncoding: 'none' };
  const mime = (res.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  const bytes = res.body;
  const asBase64 = () => ({ body: Buffer.from(bytes).toString('base64'), bodyEncoding: 'base64' as const });
  const text = (): string | undefined => {
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      return undefined;
    }
  };
  if (want === 'base64') return asBase64();
  const isJson = mime === 'application/json' || mime.endsWith('+json');
  if (want === 'json' || (want === 'auto' && isJson)) {
    const t = text();
    try {
      if (t !== undefined) return { body: JSON.parse(t) as unknown, bodyEncoding: 'json' };
    } catch {
      // falls through
    }
    if (want === 'json') throw new NodeError('fetch_failed', 'The response body is not valid JSON.', { reason: 'invalid-json', status: res.status });
    return t === undefined ? asBase64() : { body: t, bodyEncoding: 'text' };
  }
  if (want === 'text' || TEXT_TYPES.test(mime) || mime === '') {
    const t = text();
    if (t !== undefined) return { body: t, bodyEncoding: 'text' };
  }
  return asBase64();
}

/** Response headers a node may output: cookies a server sets are credentials, so they stay out of the run log. */
const outputHeaders = (h: Record<string, string>): Record<string, string> => Object.fromEntries(Object.entries(h).filter(([k]) => k !== 'set-cookie'));

/**
 * `core.http.request`: one HTTP call through the host's guarded {@link Outbound}. Settings come
 * from the input port of the same name, else config: `url`, `method` (default GET, or POST
 * with a body), `headers`, `json` or `body`, `timeoutMs`, `maxResponseBytes`,
 * `followRedirects`/`maxRedirects`, `responseType` (`auto`|`json`|`text`|`base64`). Outputs
 * `{status, ok, headers, body, bodyEncoding, url}`; an HTTP error status is an output, not a
 * failure. The call is an effect ({@link NodeContext.effect}): once recorded it is not made again.
 */
async function httpRequest(ctx: NodeContext): Promise<NodeResult> {
  const req = httpRequestOf(ctx);
  const want = setting(ctx, 'responseType') ?? 'auto';
  if (typeof want !== 'string' || !RESPONSE_TYPES.includes(want))
    throw new NodeError('validation_error', `core.http.request responseType must be one of ${RESPONSE_TYPES.join(', ')}`, { nodeId: ctx.nodeId });
  // One effect: a re-execution after a crash or a resume answers the recorded response.
  const outputs = await ctx.effect(`http:${req.method}`, async () => {
    const res = await sendHttp(ctx, req);
    const { body, bodyEncoding } = responseBody(want, res);
    return { status: res.status, ok: res.status >= 200 && res.status < 300, headers: outputHeaders(res.headers), body, bodyEncoding, url: res.url };
  });
  return { outputs };
}

/** The built-in node types. */
export const BUILTIN_NODES: readonly NodeType[] = [
  { typeId: 'core.noop', execute: (ctx) => ({ outputs: { ...ctx.inputs } }) },
  { typeId: 'core.identity', execute: (ctx) => ({ outputs: { ...ctx.inputs } }) },
  {
    typeId: 'core.delay',
    execute: (ctx) => {
      const until = ctx.startedAt + delayOf(ctx);
      return ctx.now() >= until ? { outputs: { delayedMs: until - ctx.startedAt } } : { waitUntil: until };
    },
  },
  {
    typeId: 'core.fail',
    execute: (ctx) => {
      const code = typeof ctx.config.code === 'string' && ctx.config.code ? ctx.config.code : 'deterministic_fail';
      const message = typeof ctx.config.message === 'string' && ctx.config.message ? ctx.config.message : 'core.fail always fails';
      throw new NodeError(code, message);
    },
  },
  { typeId: 'core.approvalGate', execute: approvalGate },
  { typeId: 'core.clarificationGate', execute: clarificationGate },
  { typeId: 'core.interrupt', execute: genericInterrupt },
  { typeId: 'core.subWorkflow', execute: subWorkflow },
  { typeId: 'core.http.request', execute: httpRequest },
  {
    // Conformance fixture node that needs a capability no host provides.
    typeId: 'conformance.requiresMissing',
    requires: ['conformance.never-provided'],
    execute: () => ({ outputs: {} }),
  },
];

/** Node types by typeId. */
export class NodeRegistry {
  private readonly types = new Map<string, NodeType>();
  constructor(types: readonly NodeType[] = [...BUILTIN_NODES, ...FLOW_NODES, ...AGENT_NODES]) {
    for (const t of types) this.register(t);
  }
  register(t: NodeType): void {
    this.types.set(t.typeId, t);
  }
  get(typeId: string): NodeType | undefined {
    return this.types.get(typeId);
  }
  has(typeId: string): boolean {
    return this.types.has(typeId);
  }
}
