/**
 * Pure multi-agent decision logic (decision 0026): the closed OrchestratorDecision set, which
 * decision a supervisor takes on a turn, the confidence rule, the dispatch config and the
 * RFC 0022 input/output mappings, and the loop limits. No I/O; millisecond unit tests in
 * `orchestration.test.ts`. The node bodies in `agents/nodes.ts` only call these.
 *
 * @see execution-semantics.md §1.2 (inert back-edges), §1.8 (caps), §5.6 node table;
 *   orchestrator-decision.schema.json, dispatch-config.schema.json
 */

/** The closed canonical OrchestratorDecision set. */
export type OrchestratorDecision =
  | { kind: 'next-worker'; nextWorkerIds: string[]; confidence?: number }
  | { kind: 'ask-user'; prompt: string }
  | { kind: 'terminate'; reason?: string; confidence?: number; successCriteria?: { key: string; met: boolean }[] };

/** The default escalation threshold (execution-semantics §2.2; `configurable.escalationThreshold`). */
export const DEFAULT_ESCALATION_THRESHOLD = 0.7;

/** Host ceiling on orchestrator turns per run (`limits.maxLoopIterations`). */
export const MAX_LOOP_ITERATIONS = 100;

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isConfidence = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= 1;

/**
 * Parses a decision against the closed canonical set (extra keys refused, as the schema's
 * `additionalProperties: false`). Returns a message when it is not one.
 */
export function parseDecision(v: unknown): { decision: OrchestratorDecision } | { problem: string } {
  if (!isObj(v)) return { problem: 'a decision must be an object' };
  const allowed = (keys: string[]): string | undefined => Object.keys(v).find((k) => !keys.includes(k));
  if (v.confidence !== undefined && !isConfidence(v.confidence)) return { problem: 'confidence must be a number in [0, 1]' };
  switch (v.kind) {
    case 'next-worker': {
      const extra = allowed(['kind', 'nextWorkerIds', 'confidence']);
      if (extra) return { problem: `unknown key ${extra} on a next-worker decision` };
      const ids = v.nextWorkerIds;
      if (!Array.isArray(ids) || ids.length === 0 || !ids.every((i) => typeof i === 'string' && i.length > 0 && i.length <= 256))
        return { problem: 'nextWorkerIds must be a non-empty array of worker ids' };
      return {
        decision: { kind: 'next-worker', nextWorkerIds: [...(ids as string[])], ...(v.confidence !== undefined ? { confidence: v.confidence as number } : {}) },
      };
    }
    case 'ask-user': {
      const extra = allowed(['kind', 'prompt']);
      if (extra) return { problem: `unknown key ${extra} on an ask-user decision` };
      if (typeof v.prompt !== 'string' || v.prompt.length === 0) return { problem: 'an ask-user decision needs a prompt' };
      return { decision: { kind: 'ask-user', prompt: v.prompt } };
    }
    case 'terminate': {
      const extra = allowed(['kind', 'reason', 'confidence', 'successCriteria']);
      if (extra) return { problem: `unknown key ${extra} on a terminate decision` };
      if (v.reason !== undefined && (typeof v.reason !== 'string' || v.reason.length === 0)) return { problem: 'reason must be a non-empty string' };
      const d: OrchestratorDecision = { kind: 'terminate' };
      if (typeof v.reason === 'string') d.reason = v.reason;
      if (v.confidence !== undefined) d.confidence = v.confidence as number;
      if (v.successCriteria !== undefined) {
        const sc = v.successCriteria;
        if (!Array.isArray(sc) || !sc.every((c) => isObj(c) && typeof c.key === 'string' && c.key.length > 0 && typeof c.met === 'boolean'))
          return { problem: 'successCriteria must be [{key, met}]' };
        d.successCriteria = sc.map((c) => ({ key: (c as { key: string }).key, met: (c as { met: boolean }).met }));
      }
      return { decision: d };
    }
    default:
      return { problem: 'kind must be next-worker, ask-user or terminate' };
  }
}

/** True when a stated confidence is below the threshold (equal continues; absent or non-finite never escalates). */
export function escalates(confidence: unknown, threshold: number): boolean {
  return typeof confidence === 'number' && Number.isFinite(confidence) && confidence < threshold;
}

/** The run's escalation threshold: `configurable.escalationThreshold` in [0, 1], else 0.7. */
export function escalationThreshold(configurable: Readonly<Record<string, unknown>> | undefined): number {
  const t = configurable?.escalationThreshold;
  return isConfidence(t) ? t : DEFAULT_ESCALATION_THRESHOLD;
}

/** Where a supervisor's decision for a turn comes from. */
export type DecisionSource =
  | { from: 'decision'; decision: OrchestratorDecision; confidence?: number /** From the `decision` input port (model output): untrusted. */; untrusted?: true }
  | { from: 'pending'; decision: OrchestratorDecision; confidence: number }
  | { from: 'invalid'; problem: string };

/** Supervisor config keys that only conformance workflows may use. */
export const MOCK_SUPERVISOR_KEYS = ['mockDispatchPlan', 'mockDecisions', 'mockConfidence', 'mockPendingDecision'] as const;

/**
 * The decision a supervisor takes on turn `turn` (1-based: the count of earlier
 * `runOrchestrator.decided` events + 1):
 * - `mockConfidence` + `mockPendingDecision`: that decision, held for review (`pending`);
 * - `mockDispatchPlan` / `mockDecisions` (conformance) or `plan` (Weft's scripted supervisor):
 *   entry `turn - 1`, `terminate` once exhausted;
 * - else the `decision` input port (an upstream planner, e.g. `core.ai.structuredOutput`);
 * - else `terminate` (`reason: "no-plan"`).
 */
export function decisionForTurn(config: Readonly<Record<string, unknown>>, input: unknown, turn: number): DecisionSource {
  const parse = (v: unknown, where: string): DecisionSource => {
    const p = parseDecision(v);
    if ('problem' in p) return { from: 'invalid', problem: `${where}: ${p.problem}` };
    const c = (p.decision as { confidence?: unknown }).confidence;
    return isConfidence(c) ? { from: 'decision', decision: p.decision, confidence: c } : { from: 'decision', decision: p.decision };
  };
  if (config.mockPendingDecision !== undefined && turn === 1) {
    const p = parse(config.mockPendingDecision, 'mockPendingDecision');
    if (p.from !== 'decision') return p;
    const confidence = isConfidence(config.mockConfidence) ? config.mockConfidence : (p.confidence ?? 1);
    return { from: 'pending', decision: p.decision, confidence };
  }
  const plan = config.mockDispatchPlan ?? config.mockDecisions ?? config.plan;
  if (plan !== undefined) {
    if (!Array.isArray(plan)) return { from: 'invalid', problem: 'the plan must be an array of decisions' };
    if (turn - 1 < plan.length) {
      const p = parse(plan[turn - 1], `plan[${turn - 1}]`);
      if (p.from === 'decision' && isConfidence(config.mockConfidence) && p.confidence === undefined) return { ...p, confidence: config.mockConfidence };
      return p;
    }
    return { from: 'decision', decision: { kind: 'terminate', reason: 'plan-exhausted' } };
  }
  if (input !== undefined) {
    const p = parse(input, 'the decision input');
    return p.from === 'decision' ? { ...p, untrusted: true } : p;
  }
  return { from: 'decision', decision: { kind: 'terminate', reason: 'no-plan' } };
}

/** `core.dispatch` config (dispatch-config.schema.json), checked. */
export interface DispatchConfig {
  askUserRouting: 'conversation' | 'clarification' | 'auto';
  fanOutPolicy: 'sequential' | 'reject';
  iterationCap?: number;
  inputMapping: Record<string, string>;
  outputMapping: Record<string, string>;
  perWorkerInputMappings: Record<string, Record<string, string>>;
  perWorkerOutputMappings: Record<string, Record<string, string>>;
}

const DISPATCH_KEYS = [
  'askUserRouting',
  'workerDispatchModel',
  'fanOutPolicy',
  'iterationCap',
  'inputMapping',
  'outputMapping',
  'perWorkerInputMappings',
  'perWorkerOutputMappings',
];

const stringMap = (v: unknown): v is Record<string, string> => isObj(v) && Object.values(v).every((x) => typeof x === 'string');

/**
 * Checks a `core.dispatch` config; `conversationPrimitive` says whether `askUserRouting:
 * "conversation"` can be honoured (Weft: no). Returns the problems (path relative to config).
 */
export function parseDispatchConfig(
  config: Readonly<Record<string, unknown>>,
  conversationPrimitive = false,
): { config: DispatchConfig } | { problems: { path: string; message: string }[] } {
  const problems: { path: string; message: string }[] = [];
  for (const k of Object.keys(config)) if (!DISPATCH_KEYS.includes(k)) problems.push({ path: `/${k}`, message: 'unknown dispatch config key' });
  const routing = config.askUserRouting ?? 'auto';
  if (routing !== 'conversation' && routing !== 'clarification' && routing !== 'auto')
    problems.push({ path: '/askUserRouting', message: 'must be conversation, clarification or auto' });
  if (routing === 'conversation' && !conversationPrimitive)
    problems.push({ path: '/askUserRouting', message: 'conversation routing needs capabilities.conversationPrimitive, which this host does not advertise' });
  if (config.workerDispatchModel !== undefined && config.workerDispatchModel !== 'child-run')
    problems.push({ path: '/workerDispatchModel', message: 'only child-run is supported' });
  const fanOut = config.fanOutPolicy ?? 'sequential';
  if (fanOut !== 'sequential' && fanOut !== 'reject') problems.push({ path: '/fanOutPolicy', message: 'must be sequential or reject' });
  const cap = config.iterationCap;
  if (cap !== undefined && (typeof cap !== 'number' || !Number.isInteger(cap) || cap < 1))
    problems.push({ path: '/iterationCap', message: 'must be an integer ≥ 1' });
  for (const k of ['inputMapping', 'outputMapping'] as const) {
    if (config[k] !== undefined && !stringMap(config[k])) problems.push({ path: `/${k}`, message: 'must map names to names' });
  }
  for (const k of ['perWorkerInputMappings', 'perWorkerOutputMappings'] as const) {
    const v = config[k];
    if (v !== undefined && !(isObj(v) && Object.values(v).every(stringMap))) problems.push({ path: `/${k}`, message: 'must map worker ids to name maps' });
  }
  if (problems.length > 0) return { problems };
  const out: DispatchConfig = {
    askUserRouting: routing as DispatchConfig['askUserRouting'],
    fanOutPolicy: fanOut as DispatchConfig['fanOutPolicy'],
    inputMapping: (config.inputMapping as Record<string, string> | undefined) ?? {},
    outputMapping: (config.outputMapping as Record<string, string> | undefined) ?? {},
    perWorkerInputMappings: (config.perWorkerInputMappings as Record<string, Record<string, string>> | undefined) ?? {},
    perWorkerOutputMappings: (config.perWorkerOutputMappings as Record<string, Record<string, string>> | undefined) ?? {},
  };
  if (typeof cap === 'number') out.iterationCap = cap;
  return { config: out };
}

/** True when a config uses the RFC 0022 mappings (gated on `agents.dispatchMapping`). */
export function usesMappings(c: DispatchConfig): boolean {
  return [c.inputMapping, c.outputMapping, c.perWorkerInputMappings, c.perWorkerOutputMappings].some((m) => Object.keys(m).length > 0);
}

/** The input mapping for a worker: its per-worker override replaces the default whole. */
export function effectiveInputMapping(c: DispatchConfig, workerId: string): Record<string, string> {
  return Object.hasOwn(c.perWorkerInputMappings, workerId) ? (c.perWorkerInputMappings[workerId] as Record<string, string>) : c.inputMapping;
}

/** The output mapping for a worker: its per-worker override replaces the default whole. */
export function effectiveOutputMapping(c: DispatchConfig, workerId: string): Record<string, string> {
  return Object.hasOwn(c.perWorkerOutputMappings, workerId) ? (c.perWorkerOutputMappings[workerId] as Record<string, string>) : c.outputMapping;
}

/**
 * A child's inputs: `inputs[childKey] = parentVariables[parentKey]`; an unset parent variable
 * stays unset (undefined — never null).
 */
export function childInputs(mapping: Record<string, string>, parentVars: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [childKey, parentKey] of Object.entries(mapping)) {
    const v = parentVars[parentKey];
    if (v !== undefined) out[childKey] = structuredClone(v);
  }
  return out;
}

/**
 * What a child's terminal state harvests into the parent: only a `completed` child, and never
 * an undefined value (the parent variable keeps its value).
 */
export function harvest(mapping: Record<string, string>, childStatus: string, childVars: Readonly<Record<string, unknown>>): Record<string, unknown> {
  if (childStatus !== 'completed') return {};
  const out: Record<string, unknown> = {};
  for (const [parentKey, childKey] of Object.entries(mapping)) {
    const v = childVars[childKey];
    if (v !== undefined) out[parentKey] = structuredClone(v);
  }
  return out;
}

/**
 * The effective limit on orchestrator turns: `min(configurable.maxLoopIterations, host
 * ceiling)`, and the dispatch node's `iterationCap` when it has one.
 */
export function loopLimit(configurable: Readonly<Record<string, unknown>> | undefined, ceiling: number, iterationCap?: number): number {
  const asked = configurable?.maxLoopIterations;
  let limit = typeof asked === 'number' && Number.isInteger(asked) && asked >= 1 ? Math.min(asked, ceiling) : ceiling;
  if (iterationCap !== undefined) limit = Math.min(limit, iterationCap);
  return limit;
}

/** The `agentId` a node acts as: its `agent.agentId`, else a host-derived one (3..256 chars). */
export function agentIdOf(agent: unknown, fallback: string): string {
  const id = isObj(agent) ? agent.agentId : undefined;
  return typeof id === 'string' && id.length >= 3 && id.length <= 256 ? id : fallback.slice(0, 256);
}

/** Whether conformance-only mock config may be used: a `conformance-*` workflow or `conformance.mockAgent: true` in the node config. */
export function mocksAllowed(workflowId: string | undefined, config: Readonly<Record<string, unknown>>): boolean {
  if (workflowId?.startsWith('conformance-')) return true;
  const c = config.conformance;
  return config['conformance.mockAgent'] === true || (isObj(c) && c.mockAgent === true);
}

/**
 * Prompt-injection stance (security-contract §5.1): a decision that came from model output may
 * only name workers the workflow author listed in the supervisor's `allowedWorkers`; without
 * that list such a decision dispatches nothing. Returns the offending problem, or undefined.
 */
export function workerProblem(decision: OrchestratorDecision, untrusted: boolean, allowed: unknown): string | undefined {
  if (decision.kind !== 'next-worker') return undefined;
  const list = Array.isArray(allowed) ? allowed.filter((x): x is string => typeof x === 'string') : undefined;
  if (list === undefined) return untrusted ? 'a decision from the decision input needs config.allowedWorkers' : undefined;
  const bad = decision.nextWorkerIds.findIndex((id) => !list.includes(id));
  return bad === -1 ? undefined : `nextWorkerIds[${bad}] is not in config.allowedWorkers`;
}
