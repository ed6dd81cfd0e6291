/**
 * The state the run state machine steps over: the run's facts (its row), the projection folded
 * from its log, and the little a driver knows beyond the log (which bodies are in flight, which
 * node timers it armed, which nodes wait for a child run). A freshly loaded state knows nothing
 * of the last: no body is in flight and every running node is due, so it is re-executed.
 *
 * @see ../../../../docs/decisions/0014-pure-run-state-machine.md
 */
import type { WorkflowDefinition } from '@weft/contract';
import type { WorkflowGraph } from '../graph.js';
import type { RecordRedactor, RunProjection, RunRecord } from '../ports.js';

/** Host limits the state machine enforces. */
export interface StateLimits {
  maxNodeExecutions: number;
  maxRunDurationMs: number;
}

/** Everything {@link step} reads and updates. */
export interface RunState {
  /** The run row as created (facts that never change, plus the cancel request). */
  readonly rec: RunRecord;
  readonly graph: WorkflowGraph;
  /** The projection: always the fold of every event this state has seen. */
  proj: RunProjection;
  /** Set once a cancel was requested (from the run row; survives restarts). */
  cancel: RunRecord['cancelRequested'];
  /** Node executions allowed (configurable.recursionLimit capped by the host). */
  readonly recursionLimit: number;
  /** Wall-clock budget in ms (configurable.runTimeoutMs, settings.timeout and the host cap). */
  readonly deadlineLimit: number;
  /** Epoch ms of the run deadline, once the run started. */
  deadlineAt?: number;
  /** Scrubs the run's sensitive values from every event before it is folded or stored. */
  readonly redactor: RecordRedactor;
  /** Nodes whose body is in flight (the driver holds their abort controllers). */
  readonly inflight: Set<string>;
  /** Node timers armed by this state: timer key → fire time (0 or a past time = due). */
  readonly armed: Map<string, number>;
  /** Sub-workflow nodes waiting for their child run to end: nodeId → child runId. */
  readonly waitingChild: Map<string, string>;
}

/** The timer key of a node's wait (`core.delay`). */
export const nodeTimerKey = (nodeId: string): string => `node:${nodeId}`;
/** The timer key of a run's deadline. */
export const DEADLINE_KEY = 'deadline';
/** The timer key of a node attempt's deadline (`settings.retry.attemptTimeoutMs`). */
export const attemptTimerKey = (nodeId: string): string => `attempt:${nodeId}`;
/** The timer key of an interrupt's deadline. */
export const interruptTimerKey = (interruptId: string): string => `interrupt:${interruptId}`;

/**
 * Builds the state of a run from its row and folded projection. Running nodes count as due:
 * their bodies are executed again (at-least-once).
 */
export function makeState(
  rec: RunRecord,
  proj: RunProjection,
  graph: WorkflowGraph,
  def: WorkflowDefinition,
  limits: StateLimits,
  redactor: RecordRedactor,
): RunState {
  const secrets = def.variables.filter((v) => v.sensitive && typeof rec.variables[v.name] === 'string').map((v) => rec.variables[v.name] as string);
  const cfg = rec.configurable;
  const recursionLimit = Math.min(typeof cfg.recursionLimit === 'number' ? cfg.recursionLimit : Number.POSITIVE_INFINITY, limits.maxNodeExecutions);
  const deadlineLimit = Math.min(
    typeof cfg.runTimeoutMs === 'number' ? cfg.runTimeoutMs : Number.POSITIVE_INFINITY,
    typeof def.settings.timeout === 'number' && def.settings.timeout > 0 ? def.settings.timeout : Number.POSITIVE_INFINITY,
    limits.maxRunDurationMs,
  );
  const s: RunState = {
    rec,
    graph,
    proj,
    cancel: rec.cancelRequested,
    recursionLimit,
    deadlineLimit,
    // No sensitive values (the usual run): the tenant's redactor already scrubs exactly that.
    redactor: secrets.length > 0 ? redactor.withSecrets(secrets) : redactor,
    inflight: new Set(),
    armed: new Map(),
    waitingChild: new Map(),
  };
  if (proj.startedAt) s.deadlineAt = Date.parse(proj.startedAt) + deadlineLimit;
  // A running node may own a timer row from before a restart; mark it so its completion clears
  // the row (0 = due now, so the node is executed again at once).
  // A node in a retry backoff keeps its backoff.
  for (const [id, st] of Object.entries(proj.nodeStates)) if (st.status === 'running') s.armed.set(nodeTimerKey(id), st.retry ? Date.parse(st.retry.at) : 0);
  return s;
}

/** True while any node is `running` (in flight, on a timer, or waiting for a child run). */
export const hasRunningNodes = (proj: RunProjection): boolean => Object.values(proj.nodeStates).some((s) => s.status === 'running');
