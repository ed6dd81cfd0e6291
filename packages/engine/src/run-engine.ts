/**
 * The run engine: creates runs, drives them through the scheduler, and keeps every wait
 * durable. One driver per run per process; a driver holds the run's lease and is the only
 * writer of its log. Each engine step folds its events into the projection and commits
 * events + projection + timers in one append, then publishes them on the bus.
 *
 * @see ../../../docs/architecture.md
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import {
  ENGINE_VERSION,
  EVENT_SCHEMA_VERSION,
  TERMINAL_STATUSES,
  WeftError,
  compileValidator,
  createAjv,
  type RunEventDoc,
  type RunStatus,
  type Scope,
  type WorkflowDefinition,
  type WorkflowNode,
} from '@weft/contract';
import { EventBus } from './event-bus.js';
import { InProcessNotifier } from './notifier.js';
import { applyEvent, initialProjection, pendingInterruptOf } from './fold.js';
import type { WorkflowGraph } from './graph.js';
import { NodeError, NodeRegistry, SuspendSignal, type ChildRunView, type InterruptRequest, type NodeResult } from './nodes.js';
import {
  COMMANDS_CHANNEL,
  COMMAND_DONE_CHANNEL,
  EVENTS_CHANNEL,
  LeaseLostError,
  StoreUnavailableError,
  systemClock,
  type Clock,
  type CommandOutcome,
  type CommandRow,
  type EncodedEvent,
  type IdempotencyCompletion,
  type IdempotentResponse,
  type InterruptView,
  type Notifier,
  type Outbound,
  type RecordRedactor,
  type RunRecord,
  type Store,
  type TimerChanges,
} from './ports.js';
import { canonicalJson, decide, evaluateCondition } from './scheduler.js';
import { WorkflowCatalog } from './workflow-catalog.js';

/** Host-wide limits; advertised in discovery and enforced here. */
export interface EngineLimits {
  maxNodeExecutions: number;
  maxRunDurationMs: number;
}

/** Structured log sink (pino-compatible). */
export interface EngineLogger {
  info(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
  error(obj: Record<string, unknown>, msg: string): void;
}

const silentLogger: EngineLogger = { info() {}, warn() {}, error() {} };

export interface EngineOptions {
  store: Store;
  limits: EngineLimits;
  clock?: Clock;
  registry?: NodeRegistry;
  /** Runtime capabilities nodes may `require`. */
  runtimeCapabilities?: readonly string[];
  /** This process's lease owner id. */
  ownerId?: string;
  /** Run lease lifetime; renewed every third of it. Default 5 s. */
  leaseTtlMs?: number;
  /**
   * Cross-process wake-ups (commands, appended events). Required for a shared store so
   * processes hear of each other; defaults to an in-process notifier.
   */
  notifier?: Notifier;
  /** How long a command waits for the run's owner to apply it before 503. Default leaseTtlMs + 5 s. */
  commandTimeoutMs?: number;
  logger?: EngineLogger;
  /**
   * Scrubs secrets before anything is stored (the host passes `@weft/security`'s Redactor);
   * without it only declared-sensitive values are scrubbed.
   */
  redactor?: RecordRedactor;
  /** Outbound HTTP for nodes (`ctx.http`, `core.http.request`); the host wires the SSRF-guarded client. */
  outbound?: Outbound;
}

/** Parameters of {@link RunEngine.createRun}; tenant and principal come from the credential. */
export interface CreateRunParams {
  tenant: string;
  principal: string;
  workflowId: string;
  inputs?: Record<string, unknown>;
  configurable?: Record<string, unknown>;
  tags?: string[];
  metadata?: Record<string, unknown>;
}

/** Idempotency completion written with the run row; the response is built from the record. */
export interface CreateRunIdempotency {
  tenant: string;
  route: string;
  key: string;
  owner: string;
  respond: (rec: RunRecord) => IdempotentResponse;
}

/** Reserved `configurable` keys this host enforces, with their shape. */
export const CONFIGURABLE_KEYS = {
  recursionLimit: { type: 'integer', min: 1, description: 'Cap on node executions for this run (min with limits.maxNodeExecutions).' },
  runTimeoutMs: { type: 'integer', min: 1, description: 'Wall-clock limit for this run in ms (min with limits.maxRunDurationMs).' },
} as const;

/** A command applied by the run's driver, serialized with its steps (one writer per run). */
export type RunCommand =
  | {
      kind: 'resolve';
      nodeId?: string;
      interruptId?: string;
      resumeValue: unknown;
      principal: string;
      via: 'bearer' | 'token';
      /** The caller holds {@link DELEGATE_SCOPE}: an approval `resumeValue.voter` is honoured. */
      mayDelegate?: boolean;
    }
  | { kind: 'pause'; reason?: string; drainPolicy: 'immediate' | 'drain-current-node'; principal: string }
  | { kind: 'resume'; reason?: string; principal: string };

/** Scope that lets a principal vote on an approval on behalf of a named voter. */
export const DELEGATE_SCOPE: Scope = 'interrupts:delegate';

/** Named voters: printable, no spaces or quotes, 1..128 characters. */
const VOTER_PATTERN = /^[A-Za-z0-9._@+:-]{1,128}$/;

/** What a command answers. */
export interface CommandResult {
  runId: string;
  status: RunStatus;
  /** The vote identity (`voter:<name>`) when an approval vote was cast on behalf of a voter. */
  voter?: string;
  nodeId?: string;
  interruptId?: string;
  interrupt?: { kind: string; outcome?: string; votes?: { granted: number; rejected: number; required: number } };
  pausedAt?: string;
  resumedAt?: string;
}

/** A command accepted by this process, waiting for its outcome. */
interface CommandWaiter {
  resolve: (r: CommandResult) => void;
  reject: (e: unknown) => void;
}

/** A command row being applied in a step, with what it answered. */
interface AppliedCommand {
  id: string;
  result?: CommandResult;
  error?: unknown;
}

/** Encodes an error for a command row: the closed envelope and headers only, never internals. */
function encodeCommandError(e: unknown): string {
  if (e instanceof WeftError) return JSON.stringify({ code: e.code, message: e.message, details: e.details, headers: e.headers });
  if (e instanceof StoreUnavailableError || e instanceof LeaseLostError) {
    return JSON.stringify({
      code: 'service_unavailable',
      message: 'The run is temporarily unavailable; retry shortly.',
      details: { retryAfter: 1 },
      headers: { 'retry-after': '1' },
    });
  }
  return JSON.stringify({ code: 'internal_error', message: 'The command failed.' });
}

/** The answer recorded on a finished command row: its result, or the error it threw. */
function decodeOutcome(row: CommandRow): CommandResult {
  if (row.state === 'done') return JSON.parse(row.result ?? '{}') as CommandResult;
  const e = JSON.parse(row.result ?? '{}') as {
    code?: WeftError['code'];
    message?: string;
    details?: Record<string, unknown>;
    headers?: Record<string, string>;
  };
  throw new WeftError(e.code ?? 'internal_error', e.message ?? 'The command failed.', e.details, e.headers);
}

const COMMAND_TIMEOUT = Symbol('command timeout');

interface Settled {
  nodeId: string;
  token: symbol;
  result?: NodeResult;
  error?: unknown;
}

interface HotRun {
  rec: RunRecord;
  proj: RunRecord['projection'];
  epoch: number;
  graph: WorkflowGraph;
  cancel: RunRecord['cancelRequested'];
  inflight: Map<string, { ctrl: AbortController; token: symbol }>;
  settled: Settled[];
  /** Node timers this process armed: key → fireAt. */
  armed: Map<string, number>;
  redactor: RecordRedactor;
  recursionLimit: number;
  deadlineLimit: number;
  deadlineAt?: number;
  /** Sub-workflow nodes waiting for a child run (re-executed when the child ends). */
  waitingChild: Map<string, string>;
  /** Children started since the last step, not yet recorded with node.dispatched. */
  dispatched: Map<string, { runId: string; workflowId: string }>;
  /** Command rows applied by this process, kept so a row whose outcome failed to record is not applied twice. */
  applied: Map<string, CommandOutcome>;
  /**
   * A `drain-current-node` pause accepted while nodes were running: nothing new starts, and
   * `run.paused` is appended once the last running node reached its terminal event.
   */
  pausePending?: { payload: Record<string, unknown>; at: string };
}

/** True while any node is `running` (in flight, on a timer, or waiting for a child run). */
const hasRunningNodes = (proj: RunRecord['projection']): boolean => Object.values(proj.nodeStates).some((s) => s.status === 'running');
const isPromise = (v: unknown): v is Promise<unknown> => typeof (v as { then?: unknown })?.then === 'function';
const nodeTimerKey = (nodeId: string): string => `node:${nodeId}`;
const DEADLINE_KEY = 'deadline';

/** Collects one step's events, folding each into the projection as it is added. */
class StepBatch {
  readonly events: EncodedEvent[] = [];
  readonly timers: Required<Pick<TimerChanges, 'set' | 'clear'>> & { clearAll: boolean } = { set: [], clear: [], clearAll: false };
  /** Commands applied in this step; their outcomes are recorded once the batch committed. */
  readonly answers: AppliedCommand[] = [];
  readonly ts: string;
  constructor(
    private readonly h: HotRun,
    readonly now: number,
  ) {
    this.ts = new Date(now).toISOString();
  }
  add(type: string, payload: unknown, nodeId?: string): void {
    const sequence = this.h.proj.lastSequence + 1;
    const doc: RunEventDoc = {
      eventId: `${this.h.rec.runId}.${sequence}`,
      runId: this.h.rec.runId,
      type,
      payload,
      timestamp: this.ts,
      sequence,
      ...(nodeId === undefined ? {} : { nodeId }),
      schemaVersion: EVENT_SCHEMA_VERSION,
      engineVersion: String(ENGINE_VERSION),
    };
    const raw = JSON.stringify(doc);
    const json = this.h.redactor.redactJson(raw);
    // Fold what is stored: the projection (snapshots, downstream inputs) never holds a secret
    // the log does not.
    applyEvent(this.h.proj, json === raw ? doc : (JSON.parse(json) as RunEventDoc));
    const ev: EncodedEvent = { sequence, type, json };
    if (nodeId !== undefined) ev.nodeId = nodeId;
    this.events.push(ev);
  }
  get empty(): boolean {
    return this.events.length === 0 && this.timers.set.length === 0 && this.timers.clear.length === 0 && !this.timers.clearAll && this.answers.length === 0;
  }
}

/** Error object of `node.failed` / `run.failed` payloads. */
function toErrorObject(e: unknown): { code: string; message: string; details?: Record<string, unknown> } {
  if (e instanceof NodeError) return e.details ? { code: e.code, message: e.message, details: e.details } : { code: e.code, message: e.message };
  if (e instanceof Error) return { code: 'node_error', message: e.message || 'node failed' };
  return { code: 'node_error', message: 'node failed' };
}

/**
 * Separates an approval's `resumeValue.voter` from the decision. Only a caller holding
 * {@link DELEGATE_SCOPE} may name a voter; the check runs before the interrupt's state is told.
 * @throws WeftError `forbidden` (no delegation scope) | `validation_error` (malformed voter)
 */
function splitVoter(cmd: Extract<RunCommand, { kind: 'resolve' }>): { resumeValue: unknown; voter?: string } {
  const rv = cmd.resumeValue;
  if (!rv || typeof rv !== 'object' || Array.isArray(rv) || !('voter' in rv)) return { resumeValue: rv };
  if (!cmd.mayDelegate) throw new WeftError('forbidden', 'Voting on behalf of a voter needs the interrupts:delegate scope.', { scopeRequired: DELEGATE_SCOPE });
  const { voter, ...rest } = rv as Record<string, unknown>;
  if (typeof voter !== 'string' || !VOTER_PATTERN.test(voter)) {
    throw new WeftError('validation_error', 'The voter is invalid.', {
      errors: [{ path: '/resumeValue/voter', message: 'must be 1..128 characters of A-Z a-z 0-9 . _ @ + : -' }],
    });
  }
  return { resumeValue: rest, voter };
}

/**
 * The spec's external-event resume shape is `{eventPayload: <event>}`; Weft also accepts the
 * event itself. Either way the recorded value (and the node's `event` output) is the event.
 */
function unwrapEventPayload(v: unknown): unknown {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return v;
  const keys = Object.keys(v);
  return keys.length === 1 && keys[0] === 'eventPayload' ? (v as { eventPayload: unknown }).eventPayload : v;
}

/** The fallback {@link RecordRedactor}: masks the JSON-escaped form of known values only. */
class KnownValuesRedactor implements RecordRedactor {
  private readonly needles: string[];
  constructor(values: Iterable<string> = []) {
    this.needles = [...values].filter((s) => s.length >= 4).map((s) => JSON.stringify(s).slice(1, -1));
  }
  withSecrets(values: Iterable<string>): RecordRedactor {
    return new KnownValuesRedactor(values);
  }
  redactJson(json: string): string {
    let out = json;
    for (const n of this.needles) if (out.includes(n)) out = out.split(n).join('[REDACTED]');
    return out;
  }
  redact<T>(value: T): T {
    return value;
  }
}

/** Variables with `sensitive: true` masked, for events and snapshots. */
export function maskVariables(def: WorkflowDefinition, vars: Record<string, unknown>): Record<string, unknown> {
  const sensitive = new Set(def.variables.filter((v) => v.sensitive).map((v) => v.name));
  if (sensitive.size === 0) return vars;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(vars)) out[k] = sensitive.has(k) ? '[REDACTED]' : v;
  return out;
}

const TYPE_CHECKS: Record<string, (v: unknown) => boolean> = {
  string: (v) => typeof v === 'string',
  number: (v) => typeof v === 'number' && Number.isFinite(v),
  boolean: (v) => typeof v === 'boolean',
  object: (v) => typeof v === 'object' && v !== null && !Array.isArray(v),
  array: (v) => Array.isArray(v),
};

export class RunEngine {
  readonly bus = new EventBus();
  readonly catalog: WorkflowCatalog;
  readonly registry: NodeRegistry;
  readonly ownerId: string;
  readonly limits: EngineLimits;
  readonly runtimeCapabilities: ReadonlySet<string>;
  private readonly store: Store;
  private readonly clock: Clock;
  private readonly leaseTtlMs: number;
  private readonly log: EngineLogger;
  private readonly redactor: RecordRedactor;
  private readonly outbound: Outbound | undefined;
  private readonly hot = new Map<string, HotRun>();
  private readonly active = new Map<string, Promise<void>>();
  private readonly waiters = new Map<string, () => void>();
  private readonly dirty = new Set<string>();
  private readonly configurableValidators = new Map<string, (v: unknown, what?: string) => unknown>();
  private readonly resumeValidators = new Map<string, (v: unknown, what?: string) => unknown>();
  /** Commands this process accepted, by command id. */
  private readonly cmdWaiters = new Map<string, CommandWaiter>();
  /** Runs that may have pending command rows (or a cancel requested elsewhere). */
  private readonly commandRuns = new Set<string>();
  /** Per-run chains relaying other processes' events to local subscribers. */
  private readonly relays = new Map<string, Promise<void>>();
  private readonly notifier: Notifier;
  private readonly commandTimeoutMs: number;
  private unlisten: (() => void)[] = [];
  /** Appends committed in this turn of the event loop, notified together. */
  private eventNotices: string[] = [];
  private readonly ajv = createAjv();
  private timerHandle: NodeJS.Timeout | undefined;
  private timerAt = Number.POSITIVE_INFINITY;
  private intervals: NodeJS.Timeout[] = [];
  private stopped = false;

  constructor(opts: EngineOptions) {
    this.store = opts.store;
    this.clock = opts.clock ?? systemClock;
    this.registry = opts.registry ?? new NodeRegistry();
    this.limits = opts.limits;
    this.runtimeCapabilities = new Set(opts.runtimeCapabilities ?? []);
    this.ownerId = opts.ownerId ?? `weft-${randomBytes(6).toString('hex')}`;
    this.leaseTtlMs = opts.leaseTtlMs ?? 5_000;
    this.log = opts.logger ?? silentLogger;
    this.redactor = opts.redactor ?? new KnownValuesRedactor();
    this.outbound = opts.outbound;
    this.notifier = opts.notifier ?? new InProcessNotifier();
    this.commandTimeoutMs = opts.commandTimeoutMs ?? this.leaseTtlMs + 5000;
    this.catalog = new WorkflowCatalog(this.store, this.registry, this.clock);
  }

  // ------------------------------------------------------------------ lifecycle

  /** Recovers runs left by a previous process, arms timers, starts lease heartbeats. */
  async start(): Promise<void> {
    this.stopped = false;
    if (this.store.shared) {
      this.unlisten.push(
        await this.notifier.listen(COMMANDS_CHANNEL, (p) => this.onCommandNotice(p)),
        await this.notifier.listen(COMMAND_DONE_CHANNEL, (p) => this.onCommandDone(p)),
        await this.notifier.listen(EVENTS_CHANNEL, (p) => this.onEventsNotice(p)),
      );
    }
    // The first heartbeat at once: it marks this process live (idempotency claims it makes are
    // tagged with it) before any request arrives.
    await this.store
      .renewLeases(this.ownerId, this.leaseTtlMs, this.clock.now())
      .catch((e: unknown) => this.log.warn({ err: String(e) }, 'lease renewal failed'));
    await this.recoverSweep();
    const next = await this.store.nextTimerAt();
    if (next !== null) this.armTimer(next);
    const beat = setInterval(
      () => {
        this.store
          .renewLeases(this.ownerId, this.leaseTtlMs, this.clock.now())
          .catch((e: unknown) => this.log.warn({ err: String(e) }, 'lease renewal failed'));
      },
      Math.max(250, Math.floor(this.leaseTtlMs / 3)),
    );
    beat.unref();
    this.intervals.push(beat);
    if (this.store.shared) {
      const sweep = setInterval(
        () => {
          this.recoverSweep().catch((e: unknown) => this.log.warn({ err: String(e) }, 'recovery sweep failed'));
        },
        Math.max(500, Math.floor(this.leaseTtlMs / 2)),
      );
      sweep.unref();
      this.intervals.push(sweep);
    }
  }

  /** Stops timers and aborts in-flight node bodies; the log keeps everything for recovery. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const u of this.unlisten.splice(0)) u();
    for (const w of this.cmdWaiters.values())
      w.reject(new WeftError('service_unavailable', 'The host is shutting down.', { retryAfter: 1 }, { 'retry-after': '1' }));
    this.cmdWaiters.clear();
    for (const i of this.intervals) clearInterval(i);
    this.intervals = [];
    if (this.timerHandle) clearTimeout(this.timerHandle);
    this.timerHandle = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
    for (const h of this.hot.values()) for (const f of h.inflight.values()) f.ctrl.abort();
    for (const w of this.waiters.values()) w();
    await Promise.allSettled([...this.active.values()]);
    this.hot.clear();
  }

  private async recoverSweep(): Promise<void> {
    const ids = await this.store.listRecoverableRuns(this.clock.now(), 1000, !this.store.shared);
    for (const id of ids) if (!this.hot.has(id) && !this.active.has(id)) this.wake(id);
    if (ids.length > 0) this.log.info({ runs: ids.length }, 'recovering runs');
  }

  // ------------------------------------------------------------------ commands

  /**
   * Validates and creates a run; returns at once with the `pending` record. Execution starts
   * on the next turn of the event loop.
   * @throws WeftError `validation_error` | `capability_required`
   */
  async createRun(p: CreateRunParams, idem?: CreateRunIdempotency, child?: { runId: string; parent: { runId: string; nodeId: string } }): Promise<RunRecord> {
    if (this.stopped) throw new WeftError('service_unavailable', 'The host is shutting down.', { retryAfter: 1 }, { 'retry-after': '1' });
    const wf = await this.catalog.get(p.workflowId);
    // No echo of the caller's string: the message and details never carry the workflowId.
    if (!wf) throw new WeftError('validation_error', 'Unknown workflowId.');
    const def = wf.definition;
    const run = this.catalog.runnability(def);
    if (run.gated) {
      throw new WeftError('capability_required', `Node type ${run.gated.typeId} needs a capability this host does not provide.`, {
        requiredCapability: run.gated.capability,
        offendingTypeId: run.gated.typeId,
        nodeId: run.gated.nodeId,
      });
    }
    const variables = this.seedVariables(def, this.redactInputs(def, p.inputs ?? {}));
    const configurable = this.checkConfigurable(wf.hash, def, p.configurable ?? {});
    const graph = this.catalog.graphOf(wf);
    const now = this.clock.now();
    const rec: RunRecord = {
      // randomUUID draws from a cached entropy pool: much cheaper per run than randomBytes.
      runId: child?.runId ?? `run_${randomUUID().replaceAll('-', '')}`,
      tenant: p.tenant,
      principal: p.principal,
      workflowId: def.id,
      workflowHash: wf.hash,
      createdAt: new Date(now).toISOString(),
      variables,
      configurable,
      tags: this.redactor.redact(p.tags ?? []),
      metadata: this.redactor.redact(p.metadata ?? {}),
      cancelRequested: null,
      projection: initialProjection(graph),
      leaseOwner: this.ownerId,
      leaseEpoch: 1,
      leaseExpiresAt: now + this.leaseTtlMs,
    };
    if (child) rec.projection.parent = child.parent;
    let completion: IdempotencyCompletion | undefined;
    if (idem) completion = { tenant: idem.tenant, route: idem.route, key: idem.key, owner: idem.owner, response: idem.respond(rec) };
    await this.store.createRun(rec, completion);
    this.hot.set(rec.runId, this.makeHot(rec, structuredClone(rec.projection), rec.leaseEpoch, graph, def));
    setImmediate(() => this.wake(rec.runId));
    return rec;
  }

  /**
   * Requests cancellation. Returns the (tenant-bound) record after the request, or undefined
   * when the run does not exist for this tenant. Waits briefly so a run that can stop at once
   * is reported as `cancelled`.
   */
  async cancelRun(tenant: string, runId: string, reason: string | undefined, by: string, wait = true): Promise<RunRecord | undefined> {
    const rec = await this.store.requestCancel(tenant, runId, reason, by);
    if (!rec || TERMINAL_STATUSES.has(rec.projection.status)) return rec;
    const h = this.hot.get(runId);
    if (h) h.cancel = rec.cancelRequested;
    else if (this.store.shared) this.notifyCommand(runId);
    this.wake(runId);
    const driving = this.active.get(runId);
    if (driving && wait) {
      let t: NodeJS.Timeout | undefined;
      await Promise.race([driving, new Promise<void>((r) => (t = setTimeout(r, 250)))]);
      if (t) clearTimeout(t);
    }
    return (await this.store.getRun(tenant, runId)) ?? rec;
  }

  /**
   * Resolves (or votes on) a pending interrupt. `tenant` is null only for the signed-token
   * route, where the token itself is the authority.
   */
  resolveInterrupt(
    tenant: string | null,
    runId: string,
    args: { nodeId?: string; interruptId?: string; resumeValue: unknown; principal: string; via: 'bearer' | 'token'; mayDelegate?: boolean },
  ): Promise<CommandResult> {
    return this.command(tenant, runId, { kind: 'resolve', ...args });
  }

  /** Pauses a run (`:pause`). */
  pauseRun(
    tenant: string,
    runId: string,
    args: { reason?: string; drainPolicy: 'immediate' | 'drain-current-node'; principal: string },
  ): Promise<CommandResult> {
    return this.command(tenant, runId, { kind: 'pause', ...args });
  }

  /** Resumes a paused run (`:resume`). */
  resumeRun(tenant: string, runId: string, args: { reason?: string; principal: string }): Promise<CommandResult> {
    return this.command(tenant, runId, { kind: 'resume', ...args });
  }

  /** Reads a run for a signed-token caller (no tenant binding: the token is the authority). */
  async getRunForToken(runId: string): Promise<RunRecord | undefined> {
    return this.store.getRunInternal(runId);
  }

  /**
   * Writes the command as a row and waits for its outcome. Whichever process holds the run's
   * lease applies it in its next step (woken locally or by a notification); when no live
   * process holds the lease, this one claims the run and applies it itself.
   */
  private async command(tenant: string | null, runId: string, cmd: RunCommand): Promise<CommandResult> {
    const rec = tenant === null ? await this.store.getRunInternal(runId) : await this.store.getRun(tenant, runId);
    if (!rec) throw new WeftError('not_found', 'Run not found.');
    // No driver for finished runs: answer from the folded state (throws, or an idempotent replay).
    if (TERMINAL_STATUSES.has(rec.projection.status)) return this.applyCommand(undefined, rec, rec.projection, cmd);
    if (this.stopped) throw new WeftError('service_unavailable', 'The host is shutting down.', { retryAfter: 1 }, { 'retry-after': '1' });
    const id = `cmd_${randomUUID().replaceAll('-', '')}`;
    const outcome = new Promise<CommandResult>((resolve, reject) => this.cmdWaiters.set(id, { resolve, reject }));
    try {
      await this.store.enqueueCommand({
        id,
        runId,
        tenant: rec.tenant,
        kind: cmd.kind,
        payload: JSON.stringify(cmd),
        principal: cmd.principal,
        createdAt: this.clock.now(),
      });
    } catch (e) {
      this.cmdWaiters.delete(id);
      throw e;
    }
    this.commandRuns.add(runId);
    this.wake(runId);
    if (this.store.shared) this.notifyCommand(runId);
    return this.awaitCommand(id, runId, outcome);
  }

  /** Tells the other processes that run `runId` has a new command (or a cancel request). */
  private notifyCommand(runId: string): void {
    this.notifier.notify(COMMANDS_CHANNEL, runId).catch((e: unknown) => this.log.warn({ err: String(e) }, 'command notification failed'));
  }

  /**
   * Waits for a command's outcome. On a shared store it also retries taking the run (its
   * owner may have died) and re-reads the row (a notification may have been missed). Past
   * the deadline the command is withdrawn if still pending, and the row's final state answers.
   */
  private async awaitCommand(id: string, runId: string, outcome: Promise<CommandResult>): Promise<CommandResult> {
    let timer: NodeJS.Timeout | undefined;
    let retry: NodeJS.Timeout | undefined;
    try {
      return await new Promise<CommandResult>((resolve, reject) => {
        outcome.then(resolve, reject);
        timer = setTimeout(() => reject(COMMAND_TIMEOUT), this.commandTimeoutMs);
        if (this.store.shared) {
          retry = setInterval(
            () => {
              this.commandRuns.add(runId);
              this.wake(runId);
              this.settleFromRow(id);
            },
            Math.max(250, Math.floor(this.leaseTtlMs / 3)),
          );
        }
      });
    } catch (e) {
      if (e !== COMMAND_TIMEOUT) throw e;
      this.cmdWaiters.delete(id);
      const unavailable = new WeftError(
        'service_unavailable',
        'No host process applied the command in time; retry shortly.',
        { retryAfter: 1 },
        { 'retry-after': '1' },
      );
      await this.store.finishCommands([{ id, state: 'failed', result: encodeCommandError(unavailable) }], this.clock.now()).catch(() => undefined);
      const row = await this.store.getCommand(id).catch(() => undefined);
      if (!row || row.state === 'pending') throw unavailable;
      return decodeOutcome(row);
    } finally {
      if (timer) clearTimeout(timer);
      if (retry) clearInterval(retry);
    }
  }

  /** Settles a local waiter from its row once another process recorded the outcome. */
  private settleFromRow(id: string): void {
    if (!this.cmdWaiters.has(id)) return;
    this.store.getCommand(id).then(
      (row) => {
        const w = this.cmdWaiters.get(id);
        if (!row || row.state === 'pending' || !w) return;
        this.cmdWaiters.delete(id);
        try {
          w.resolve(decodeOutcome(row));
        } catch (e) {
          w.reject(e);
        }
      },
      (e: unknown) => this.log.warn({ err: String(e) }, 'reading a command outcome failed'),
    );
  }

  /** Records command outcomes, answers this process's waiters and tells the others. */
  private async finishCommands(applied: readonly AppliedCommand[]): Promise<void> {
    if (applied.length === 0) return;
    const outcomes: CommandOutcome[] = applied.map((a) =>
      a.error === undefined
        ? { id: a.id, state: 'done', result: JSON.stringify(a.result) }
        : { id: a.id, state: 'failed', result: encodeCommandError(a.error) },
    );
    try {
      await this.store.finishCommands(outcomes, this.clock.now());
    } catch (e) {
      // The effects are committed; the rows stay pending and are re-recorded by a later step
      // (see HotRun.applied). Local callers still get their answer now.
      this.log.warn({ err: String(e) }, 'recording command outcomes failed');
    }
    let remote = false;
    for (const a of applied) {
      const w = this.cmdWaiters.get(a.id);
      if (!w) {
        remote = true;
        continue;
      }
      this.cmdWaiters.delete(a.id);
      if (a.error === undefined) w.resolve(a.result as CommandResult);
      else w.reject(a.error);
    }
    if (remote && this.store.shared) {
      for (const a of applied) {
        if (this.cmdWaiters.has(a.id)) continue;
        this.notifier.notify(COMMAND_DONE_CHANNEL, a.id).catch((e: unknown) => this.log.warn({ err: String(e) }, 'command notification failed'));
      }
    }
  }

  /** A command row was written for a run (or `''`: re-check every run this process drives). */
  private onCommandNotice(runId: string): void {
    const ids = runId === '' ? [...this.hot.keys()] : this.hot.has(runId) ? [runId] : [];
    for (const id of ids) {
      this.commandRuns.add(id);
      this.wake(id);
    }
  }

  /** Another process recorded a command outcome (or `''`: re-check every waiting command). */
  private onCommandDone(id: string): void {
    if (id === '') for (const k of this.cmdWaiters.keys()) this.settleFromRow(k);
    else this.settleFromRow(id);
  }

  /**
   * Another process appended events (`<runId>:<from>:<to>`): when this process has live
   * subscribers for the run, read the log after the last delivered sequence and publish it
   * locally, in order, once (`''`: catch up every subscribed run).
   */
  private onEventsNotice(payload: string): void {
    if (payload === '') {
      for (const runId of this.bus.runs()) this.queueRelay(runId, undefined);
      return;
    }
    for (const line of payload.split('\n')) {
      const m = /^(.+):(\d+):(\d+)$/.exec(line);
      if (!m) continue;
      const runId = m[1] as string;
      if (!this.bus.has(runId)) continue;
      const last = this.bus.lastSequence(runId);
      if (last !== undefined && last >= Number(m[3])) continue;
      this.queueRelay(runId, Number(m[2]));
    }
  }

  /**
   * Tells the other processes about committed events. Notifications are coalesced per turn of
   * the event loop and sent outside the append's transaction: a NOTIFY inside it would take
   * Postgres's cluster-wide notify lock across the commit's flush and serialize every append.
   */
  private noticeEvents(runId: string, events: EncodedEvent[]): void {
    const first = events[0]?.sequence ?? 0;
    this.eventNotices.push(`${runId}:${first}:${first + events.length - 1}`);
    if (this.eventNotices.length > 1) return;
    setImmediate(() => {
      const lines = this.eventNotices.splice(0);
      // Postgres caps a payload below 8000 bytes.
      for (let i = 0, chunk: string[] = [], size = 0; i <= lines.length; i++) {
        const line = lines[i];
        if (line === undefined || size + line.length + 1 > 7800) {
          if (chunk.length > 0)
            this.notifier.notify(EVENTS_CHANNEL, chunk.join('\n')).catch((e: unknown) => this.log.warn({ err: String(e) }, 'event notification failed'));
          chunk = [];
          size = 0;
        }
        if (line === undefined) break;
        chunk.push(line);
        size += line.length + 1;
      }
    });
  }

  private queueRelay(runId: string, from: number | undefined): void {
    const prev = this.relays.get(runId) ?? Promise.resolve();
    const next: Promise<void> = prev
      .then(() => this.relayOnce(runId, from))
      .catch((e: unknown) => this.log.warn({ runId, err: String(e) }, 'event relay failed'))
      .finally(() => {
        if (this.relays.get(runId) === next) this.relays.delete(runId);
      });
    this.relays.set(runId, next);
  }

  private async relayOnce(runId: string, from: number | undefined): Promise<void> {
    const known = this.bus.lastSequence(runId);
    if (!this.bus.has(runId) || (known === undefined && from === undefined)) return;
    const events: EncodedEvent[] = [];
    for (let after = known ?? (from as number) - 1; ; ) {
      const page = await this.store.readEvents(runId, after, 1000);
      events.push(...page);
      if (page.length < 1000) break;
      after = page[page.length - 1]?.sequence ?? after;
    }
    if (events.length === 0) return;
    const rec = await this.store.getRunInternal(runId);
    // This process may have published some meanwhile (it took the run over): skip those.
    const floor = this.bus.lastSequence(runId) ?? -1;
    const fresh = events.filter((e) => e.sequence > floor);
    if (rec && fresh.length > 0) this.bus.publish(runId, fresh, rec.projection);
  }

  /** The status a client should see: `cancelling` while a cancel is pending. */
  static visibleStatus(rec: RunRecord): RunStatus {
    if (rec.cancelRequested && !TERMINAL_STATUSES.has(rec.projection.status)) return 'cancelling';
    return rec.projection.status;
  }

  /**
   * Credential-shaped input values are scrubbed before the run row is written, so nodes see the
   * marker too; declared-sensitive inputs are kept for nodes (masked by name and scrubbed by
   * value in everything recorded instead).
   */
  private redactInputs(def: WorkflowDefinition, inputs: Record<string, unknown>): Record<string, unknown> {
    const sensitive = new Set(def.variables.filter((v) => v.sensitive).map((v) => v.name));
    let out: Record<string, unknown> | undefined;
    for (const [k, v] of Object.entries(inputs)) {
      if (sensitive.has(k)) continue;
      const r = this.redactor.redact(v);
      if (r !== v) (out ??= { ...inputs })[k] = r;
    }
    return out ?? inputs;
  }

  private seedVariables(def: WorkflowDefinition, inputs: Record<string, unknown>): Record<string, unknown> {
    const vars: Record<string, unknown> = {};
    const errors: { path: string; message: string }[] = [];
    for (const v of def.variables) if (v.defaultValue !== undefined) vars[v.name] = structuredClone(v.defaultValue);
    Object.assign(vars, inputs);
    for (const v of def.variables) {
      const val = vars[v.name];
      if (val === undefined) {
        if (v.required) errors.push({ path: `/inputs/${v.name}`, message: 'required input is missing' });
        continue;
      }
      const check = TYPE_CHECKS[v.type];
      if (check && !check(val)) errors.push({ path: `/inputs/${v.name}`, message: `must be of type ${v.type}` });
    }
    if (errors.length > 0) throw new WeftError('validation_error', 'The run inputs are invalid.', { errors });
    return vars;
  }

  private checkConfigurable(hash: string, def: WorkflowDefinition, cfg: Record<string, unknown>): Record<string, unknown> {
    const errors: { path: string; message: string }[] = [];
    if (def.configurableSchema) {
      let validate = this.configurableValidators.get(hash);
      if (!validate) {
        try {
          validate = compileValidator<unknown>(def.configurableSchema, this.ajv);
        } catch {
          throw new WeftError('validation_error', 'The workflow configurableSchema cannot be compiled.', { workflowId: def.id });
        }
        this.configurableValidators.set(hash, validate);
      }
      try {
        validate(cfg, 'configurable object');
      } catch (e) {
        if (e instanceof WeftError) throw new WeftError('validation_error', 'configurable does not match the workflow configurableSchema.', e.details);
        throw e;
      }
    } else {
      for (const k of Object.keys(cfg)) if (!(k in CONFIGURABLE_KEYS)) errors.push({ path: `/configurable/${k}`, message: 'unknown configurable key' });
    }
    for (const [k, spec] of Object.entries(CONFIGURABLE_KEYS)) {
      const v = cfg[k];
      if (v === undefined) continue;
      if (typeof v !== 'number' || !Number.isInteger(v) || v < spec.min)
        errors.push({ path: `/configurable/${k}`, message: `must be an integer ≥ ${spec.min}` });
    }
    if (errors.length > 0) throw new WeftError('validation_error', 'The configurable object is invalid.', { errors });
    return cfg;
  }

  // ------------------------------------------------------------------ driving

  private makeHot(rec: RunRecord, proj: RunRecord['projection'], epoch: number, graph: WorkflowGraph, def: WorkflowDefinition): HotRun {
    const secrets = def.variables.filter((v) => v.sensitive && typeof rec.variables[v.name] === 'string').map((v) => rec.variables[v.name] as string);
    const cfg = rec.configurable;
    const recursionLimit = Math.min(typeof cfg.recursionLimit === 'number' ? cfg.recursionLimit : Number.POSITIVE_INFINITY, this.limits.maxNodeExecutions);
    const deadlineLimit = Math.min(
      typeof cfg.runTimeoutMs === 'number' ? cfg.runTimeoutMs : Number.POSITIVE_INFINITY,
      typeof def.settings.timeout === 'number' && def.settings.timeout > 0 ? def.settings.timeout : Number.POSITIVE_INFINITY,
      this.limits.maxRunDurationMs,
    );
    const h: HotRun = {
      rec,
      proj,
      epoch,
      graph,
      cancel: rec.cancelRequested,
      inflight: new Map(),
      settled: [],
      armed: new Map(),
      redactor: this.redactor.withSecrets(secrets),
      recursionLimit,
      deadlineLimit,
      waitingChild: new Map(),
      dispatched: new Map(),
      applied: new Map(),
    };
    if (proj.startedAt) h.deadlineAt = Date.parse(proj.startedAt) + deadlineLimit;
    return h;
  }

  /** Marks a run as needing a step and starts a driver if none runs. */
  private wake(runId: string): void {
    if (this.stopped) return;
    this.dirty.add(runId);
    const w = this.waiters.get(runId);
    if (w) {
      this.waiters.delete(runId);
      w();
      return;
    }
    if (this.active.has(runId)) return;
    const p = this.drive(runId).finally(() => {
      this.active.delete(runId);
      // A wake or a command that raced the driver's exit must not be lost.
      if ((this.dirty.has(runId) && this.hot.has(runId)) || this.commandRuns.has(runId)) this.wake(runId);
    });
    this.active.set(runId, p);
  }

  private async drive(runId: string): Promise<void> {
    try {
      const h = this.hot.get(runId) ?? (await this.load(runId));
      if (!h) {
        this.dirty.delete(runId);
        // Not ours to drive: finished (answer its commands from the folded state) or leased by
        // a live process (which applies them when notified).
        if (this.commandRuns.delete(runId)) {
          try {
            await this.answerFinished(runId);
          } catch (e) {
            this.commandRuns.add(runId); // retried with the step (see the catch below)
            throw e;
          }
        }
        return;
      }
      for (;;) {
        if (this.stopped) return;
        this.dirty.delete(runId);
        const terminal = await this.step(h);
        if (terminal) {
          this.hot.delete(runId);
          this.dirty.delete(runId);
          if (this.commandRuns.has(runId)) this.wake(runId);
          const parent = h.proj.parent;
          if (parent) {
            this.hot.get(parent.runId)?.waitingChild.delete(parent.nodeId);
            this.wake(parent.runId);
          }
          return;
        }
        if (this.dirty.has(runId)) continue;
        if (h.inflight.size === 0) return; // waiting on a timer or a person; a wake resumes it
        await new Promise<void>((resolve) => this.waiters.set(runId, resolve));
      }
    } catch (e) {
      this.hot.delete(runId);
      this.dirty.delete(runId);
      // Pending command rows stay pending: the run's next driver (here or elsewhere) applies
      // them. The flag is taken off so the exit does not re-wake at once (a failing store would
      // spin) and put back with the delayed retry.
      const hadCommands = this.commandRuns.delete(runId);
      if (e instanceof LeaseLostError) {
        this.log.warn({ runId }, 'lease lost; another process owns the run');
        return;
      }
      this.log.error({ runId, err: e instanceof Error ? e.message : String(e) }, 'run step failed; will retry');
      const t = setTimeout(() => {
        if (hadCommands) this.commandRuns.add(runId);
        this.wake(runId);
      }, 1000);
      t.unref();
    }
  }

  /** Loads a run that is not hot: claims its lease and rebuilds it by folding its log. */
  private async load(runId: string): Promise<HotRun | undefined> {
    const now = this.clock.now();
    const rec = await this.store.getRunInternal(runId);
    if (!rec || TERMINAL_STATUSES.has(rec.projection.status)) return undefined;
    let epoch: number | null = rec.leaseEpoch;
    if (!(rec.leaseOwner === this.ownerId && (rec.leaseExpiresAt ?? 0) > now)) {
      epoch = await this.store.claimRun(runId, this.ownerId, this.leaseTtlMs, now, !this.store.shared);
      if (epoch === null) return undefined;
    }
    const wf = await this.catalog.byContentHash(rec.workflowHash);
    if (!wf) {
      this.log.error({ runId, workflowHash: rec.workflowHash }, 'pinned workflow definition missing');
      return undefined;
    }
    const graph = this.catalog.graphOf(wf);
    const proj = initialProjection(graph);
    for (let after = -1; ; ) {
      const page = await this.store.readEvents(runId, after, 1000);
      for (const e of page) applyEvent(proj, JSON.parse(e.json) as RunEventDoc);
      if (page.length < 1000) break;
      after = page[page.length - 1]?.sequence ?? after;
    }
    const h = this.makeHot(rec, proj, epoch, graph, wf.definition);
    // A running node may own a timer row from before the restart; mark it so its completion
    // clears the row (0 = due now, so the node is re-executed at once).
    for (const [id, s] of Object.entries(proj.nodeStates)) if (s.status === 'running') h.armed.set(nodeTimerKey(id), 0);
    this.hot.set(runId, h);
    // Commands may have been written while no process drove the run.
    this.commandRuns.add(runId);
    return h;
  }

  /** Answers the pending commands of a run that ended, from its folded state. */
  private async answerFinished(runId: string): Promise<void> {
    const rec = await this.store.getRunInternal(runId);
    if (!rec || !TERMINAL_STATUSES.has(rec.projection.status)) return;
    const applied: AppliedCommand[] = [];
    for (const row of await this.store.pendingCommands(runId)) {
      try {
        applied.push({ id: row.id, result: this.applyCommand(undefined, rec, rec.projection, JSON.parse(row.payload) as RunCommand) });
      } catch (error) {
        applied.push({ id: row.id, error });
      }
    }
    await this.finishCommands(applied);
  }

  /**
   * The command rows a step must apply, when the run was flagged as having some; also picks up
   * a cancel requested through another process. Rows this process already applied (their
   * outcome failed to record) are re-recorded, not applied again.
   */
  private async takeCommands(h: HotRun): Promise<{ row: CommandRow; cmd: RunCommand }[]> {
    const runId = h.rec.runId;
    if (!this.commandRuns.has(runId)) return [];
    const rows = await this.store.pendingCommands(runId);
    if (this.store.shared && !h.cancel) {
      const fresh = await this.store.getRunInternal(runId);
      if (fresh?.cancelRequested) h.cancel = fresh.cancelRequested;
    }
    this.commandRuns.delete(runId);
    const again = rows.filter((r) => h.applied.has(r.id)).map((r) => h.applied.get(r.id) as CommandOutcome);
    if (again.length > 0) await this.store.finishCommands(again, this.clock.now());
    return rows.filter((r) => !h.applied.has(r.id)).map((row) => ({ row, cmd: JSON.parse(row.payload) as RunCommand }));
  }

  /** One engine step. Returns true when the run reached a terminal status. */
  private async step(h: HotRun): Promise<boolean> {
    const now = this.clock.now();
    const b = new StepBatch(h, now);
    const runId = h.rec.runId;
    const commands = await this.takeCommands(h);

    if (h.proj.status === 'pending') {
      const def = h.graph.definition;
      const started: Record<string, unknown> = {
        workflowId: h.rec.workflowId,
        inputs: maskVariables(def, h.rec.variables),
        owner: { tenant: h.rec.tenant, principal: h.rec.principal },
        transport: 'rest',
        engineVersion: String(ENGINE_VERSION),
      };
      if (h.rec.tags.length > 0) started.tags = h.rec.tags;
      if (Object.keys(h.rec.metadata).length > 0) started.metadata = h.rec.metadata;
      b.add('run.started', started);
      h.deadlineAt = now + h.deadlineLimit;
      if (Number.isFinite(h.deadlineAt)) {
        b.timers.set.push({ runId, key: DEADLINE_KEY, fireAt: h.deadlineAt });
        this.armTimer(h.deadlineAt);
      }
    }

    if (h.cancel) {
      this.abortInflight(h);
      for (const [id, s] of Object.entries(h.proj.nodeStates)) {
        if (s.status === 'running' || s.status === 'suspended') b.add('node.cancelled', { nodeId: id, reason: 'run-cancelled' }, id);
      }
      const payload: Record<string, unknown> = { durationMs: this.durationMs(h, now) };
      if (h.cancel.reason !== undefined) payload.reason = h.cancel.reason;
      if (h.cancel.by !== undefined) payload.cancelledBy = h.cancel.by;
      if (h.cancel.reason === 'parent-cancelled' && h.proj.parent) payload.parentRunId = h.proj.parent.runId;
      b.add('run.cancelled', payload);
      for (const { row, cmd } of commands) {
        const error =
          cmd.kind === 'resolve'
            ? new WeftError('interrupt_cancelled', 'The run was cancelled while the interrupt was pending.')
            : new WeftError('run_state_conflict', 'The run is being cancelled.', { runStatus: 'cancelling' });
        b.answers.push({ id: row.id, error });
      }
      const children = Object.values(h.proj.children ?? {});
      const done = await this.commitTerminal(h, b);
      for (const c of children) {
        this.cancelRun(h.rec.tenant, c.runId, 'parent-cancelled', h.cancel.by ?? 'system', false).catch((e: unknown) =>
          this.log.warn({ runId: c.runId, err: String(e) }, 'cascade cancel failed'),
        );
      }
      return done;
    }

    if (h.deadlineAt !== undefined && now >= h.deadlineAt) {
      const observed = Math.max(now - Date.parse(h.proj.startedAt ?? new Date(now).toISOString()), h.deadlineLimit + 1);
      b.add('cap.breached', { kind: 'run-duration', limit: h.deadlineLimit, observed });
      this.failRun(h, b, { code: 'run_timeout', message: `The run exceeded its ${h.deadlineLimit} ms limit.` });
      return this.commitTerminal(h, b);
    }

    for (const iv of Object.values(h.proj.interrupts ?? {})) {
      if (iv.status !== 'pending' || !iv.expiresAt || Date.parse(iv.expiresAt) > now) continue;
      if (iv.kind === 'approval') this.resolveWith(h, b, iv, { action: 'timeout', decidedAt: b.ts }, 'system:timeout', 'rejected', 'timeout');
      else this.resolveWith(h, b, iv, null, 'system:timeout', 'expired', 'timeout');
    }

    for (const { row, cmd } of commands) {
      try {
        b.answers.push({ id: row.id, result: this.applyCommand(h, h.rec, h.proj, cmd, b) });
      } catch (error) {
        b.answers.push({ id: row.id, error });
      }
    }

    for (const [nodeId, c] of h.dispatched) {
      if (!h.proj.children?.[nodeId]) b.add('node.dispatched', { childRunId: c.runId, childWorkflowId: c.workflowId, childStatus: 'pending' }, nodeId);
    }
    h.dispatched.clear();

    for (const s of h.settled.splice(0)) {
      const f = h.inflight.get(s.nodeId);
      if (!f || f.token !== s.token) continue;
      h.inflight.delete(s.nodeId);
      if (h.proj.nodeStates[s.nodeId]?.status !== 'running') continue;
      this.applyResult(h, b, s.nodeId, s.error === undefined ? { result: s.result as NodeResult } : { error: s.error });
    }

    // Paused: nothing new starts. With drain-current-node, nodes already running may finish.
    if (h.proj.paused?.drainPolicy === 'immediate') {
      await this.commit(h, b);
      return false;
    }

    // Running nodes with no body in flight: after a restart, a resolved interrupt, or their
    // timer fired. Re-execute from the start (at-least-once); a delay keeps its deadline.
    for (const node of h.graph.order) {
      if (h.proj.nodeStates[node.id]?.status !== 'running' || h.inflight.has(node.id)) continue;
      const armedAt = h.armed.get(nodeTimerKey(node.id));
      if (armedAt !== undefined && armedAt > now) continue;
      if (h.waitingChild.has(node.id)) continue;
      const terminal = this.execute(h, b, node);
      if (terminal) return this.commitTerminal(h, b);
    }

    if (h.pausePending && !hasRunningNodes(h.proj)) {
      b.add('run.paused', h.pausePending.payload);
      delete h.pausePending;
    }
    if (h.proj.paused || h.pausePending) {
      await this.commit(h, b);
      return false;
    }

    for (;;) {
      const d = decide(h.graph, h.proj);
      for (const s of d.skip) b.add('node.skipped', { nodeId: s.nodeId, reason: s.reason }, s.nodeId);
      if (d.final) {
        if (d.final.status === 'completed') {
          b.add('run.completed', { outputs: this.runOutputs(h), durationMs: this.durationMs(h, now) });
        } else {
          const payload: Record<string, unknown> = { error: d.final.error, durationMs: this.durationMs(h, now) };
          if (d.final.failedNodeId) payload.failedNodeId = d.final.failedNodeId;
          b.add('run.failed', payload);
        }
        return this.commitTerminal(h, b);
      }
      if (d.ready.length === 0) break;
      for (const id of d.ready) {
        const node = h.graph.byId.get(id) as WorkflowNode;
        const type = this.registry.get(node.typeId);
        if (!type) {
          this.failRun(
            h,
            b,
            { code: 'unsupported_node_type', message: `No implementation for node type ${node.typeId}.`, details: { typeId: node.typeId, nodeId: id } },
            id,
          );
          return this.commitTerminal(h, b);
        }
        const missing = [...(type.requires ?? []), ...(node.requires ?? [])].find((c) => !this.runtimeCapabilities.has(c));
        if (missing) {
          this.failRun(
            h,
            b,
            {
              code: 'capability_not_provided',
              message: `Node ${id} requires capability ${missing}, which this host does not provide.`,
              details: { capability: missing, nodeId: id },
            },
            id,
          );
          return this.commitTerminal(h, b);
        }
        if (h.proj.nodeExecutions + 1 > h.recursionLimit) {
          b.add('cap.breached', { kind: 'node-executions', limit: h.recursionLimit, observed: h.proj.nodeExecutions + 1, nodeId: id });
          this.failRun(h, b, { code: 'recursion_limit_exceeded', message: `The run exceeded its limit of ${h.recursionLimit} node executions.` }, id);
          return this.commitTerminal(h, b);
        }
        b.add('node.started', { nodeId: id, typeId: node.typeId, attempt: 0 }, id);
        if (this.execute(h, b, node)) return this.commitTerminal(h, b);
      }
    }
    await this.commit(h, b);
    return false;
  }

  /** Runs a node body; a synchronous outcome is folded into `b` at once. */
  private execute(h: HotRun, b: StepBatch, node: WorkflowNode): boolean {
    const type = this.registry.get(node.typeId);
    if (!type) return this.failRun(h, b, { code: 'unsupported_node_type', message: `No implementation for node type ${node.typeId}.` }, node.id);
    const st = h.proj.nodeStates[node.id];
    const ctrl = new AbortController();
    let out: NodeResult | Promise<NodeResult>;
    try {
      out = type.execute({
        runId: h.rec.runId,
        nodeId: node.id,
        typeId: node.typeId,
        tenant: h.rec.tenant,
        attempt: st?.attempt ?? 0,
        config: node.config,
        inputs: this.resolveInputs(h, node),
        startedAt: st?.startedAt ? Date.parse(st.startedAt) : this.clock.now(),
        signal: ctrl.signal,
        http: this.outbound,
        now: () => this.clock.now(),
        variables: { ...h.rec.variables, ...(h.proj.vars ?? {}) },
        children: {
          current: () => h.proj.children?.[node.id]?.runId ?? h.dispatched.get(node.id)?.runId,
          start: (workflowId: string, inputs: Record<string, unknown>) => this.startChild(h, node.id, workflowId, inputs),
          get: async (childRunId: string) => {
            const c = await this.store.getRunInternal(childRunId);
            if (!c) return undefined;
            const view: ChildRunView = { runId: c.runId, status: c.projection.status, variables: { ...c.variables, ...(c.projection.vars ?? {}) } };
            if (c.projection.outputs) view.outputs = c.projection.outputs;
            if (c.projection.error) view.error = { code: c.projection.error.code, message: c.projection.error.message };
            return view;
          },
        },
        interrupt: (req: InterruptRequest) => {
          const key = req.key ?? node.id;
          const iv = Object.values(h.proj.interrupts ?? {})
            .filter((i) => i.nodeId === node.id && i.key === key)
            .at(-1);
          if (iv?.status === 'resolved') return structuredClone(iv.resumeValue);
          if (iv?.status === 'expired')
            throw new NodeError('interrupt_expired', `The ${iv.kind} interrupt timed out without a resolution.`, { interruptId: iv.interruptId });
          if (iv?.status === 'cancelled') throw new NodeError('interrupt_cancelled', 'The interrupt was cancelled.', { interruptId: iv.interruptId });
          throw new SuspendSignal({ ...req, key });
        },
      });
    } catch (e) {
      this.applyResult(h, b, node.id, { error: e });
      return false;
    }
    if (isPromise(out)) {
      const token = Symbol(node.id);
      h.inflight.set(node.id, { ctrl, token });
      const runId = h.rec.runId;
      out
        .then(
          (result) => h.settled.push({ nodeId: node.id, token, result }),
          (error: unknown) => h.settled.push({ nodeId: node.id, token, error }),
        )
        .finally(() => this.wake(runId));
      return false;
    }
    this.applyResult(h, b, node.id, { result: out });
    return false;
  }

  private applyResult(h: HotRun, b: StepBatch, nodeId: string, r: { result: NodeResult } | { error: unknown }): void {
    const key = nodeTimerKey(nodeId);
    if ('error' in r && r.error instanceof SuspendSignal) {
      if (h.armed.delete(key)) b.timers.clear.push(key);
      this.suspend(h, b, nodeId, r.error.request);
      return;
    }
    if ('error' in r) {
      const st = h.proj.nodeStates[nodeId];
      b.add('node.failed', { nodeId, error: toErrorObject(r.error), attempts: (st?.attempt ?? 0) + 1 }, nodeId);
      if (h.armed.delete(key)) b.timers.clear.push(key);
      return;
    }
    if ('waitForChild' in r.result) {
      const childRunId = r.result.waitForChild;
      h.waitingChild.set(nodeId, childRunId);
      // The child may have ended after the node read it and before this wait was registered;
      // its end then woke nobody. Read it once more now that the wait is visible.
      const runId = h.rec.runId;
      this.store.getRunInternal(childRunId).then(
        (c) => {
          if (c && TERMINAL_STATUSES.has(c.projection.status) && h.waitingChild.get(nodeId) === childRunId) {
            h.waitingChild.delete(nodeId);
            this.wake(runId);
          }
        },
        (e: unknown) => this.log.warn({ runId, childRunId, err: String(e) }, 'child status check failed'),
      );
      return;
    }
    if ('waitUntil' in r.result) {
      const until = r.result.waitUntil;
      if (h.armed.get(key) !== until) {
        b.timers.set.push({ runId: h.rec.runId, key, fireAt: until });
        h.armed.set(key, until);
      }
      this.armTimer(until);
      return;
    }
    const st = h.proj.nodeStates[nodeId];
    const durationMs = st?.startedAt ? Math.max(0, this.clock.now() - Date.parse(st.startedAt)) : 0;
    for (const [name, next] of Object.entries(r.result.variables ?? {})) {
      const previous = h.proj.vars?.[name] ?? h.rec.variables[name];
      b.add('variable.changed', { name, ...(previous === undefined ? {} : { previous }), next, nodeId }, nodeId);
    }
    b.add('node.completed', { nodeId, outputs: r.result.outputs, durationMs }, nodeId);
    if (h.armed.delete(key)) b.timers.clear.push(key);
  }

  private failRun(h: HotRun, b: StepBatch, error: { code: string; message: string; details?: Record<string, unknown> }, failedNodeId?: string): true {
    this.abortInflight(h);
    for (const [id, s] of Object.entries(h.proj.nodeStates)) {
      if (s.status === 'running' || s.status === 'suspended')
        b.add('node.failed', { nodeId: id, error: { code: error.code, message: error.message }, attempts: (s.attempt ?? 0) + 1 }, id);
    }
    const payload: Record<string, unknown> = { error, durationMs: this.durationMs(h, this.clock.now()) };
    if (failedNodeId) payload.failedNodeId = failedNodeId;
    b.add('run.failed', payload);
    return true;
  }

  private abortInflight(h: HotRun): void {
    for (const f of h.inflight.values()) f.ctrl.abort();
    h.inflight.clear();
  }

  private resolveInputs(h: HotRun, node: WorkflowNode): Record<string, unknown> {
    const inputs: Record<string, unknown> = {};
    for (const e of h.graph.incoming.get(node.id) ?? []) {
      const src = h.proj.nodeStates[e.sourceNodeId];
      if (src?.status !== 'completed') continue;
      if (e.condition && !evaluateCondition(e.condition, src.outputs)) continue;
      const v = src.outputs?.[e.sourceOutput ?? 'output'];
      if (v !== undefined) inputs[e.targetInput ?? 'input'] = v;
    }
    for (const [port, pv] of Object.entries(node.inputs)) {
      let v: unknown;
      if (pv.type === 'static') v = pv.value;
      else if (pv.type === 'variable') v = h.proj.vars?.[pv.variableName] ?? h.rec.variables[pv.variableName];
      else if (pv.type === 'connection') v = h.proj.nodeStates[pv.nodeId]?.outputs?.[pv.outputKey];
      if (v !== undefined) inputs[port] = structuredClone(v);
    }
    return inputs;
  }

  private runOutputs(h: HotRun): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const id of h.graph.sinks) {
      const s = h.proj.nodeStates[id];
      if (s?.status === 'completed' && s.outputs) out[id] = s.outputs;
    }
    return out;
  }

  private durationMs(h: HotRun, now: number): number {
    return h.proj.startedAt ? Math.max(0, now - Date.parse(h.proj.startedAt)) : 0;
  }

  private async commit(h: HotRun, b: StepBatch): Promise<void> {
    if (b.empty) return;
    const timers: TimerChanges = { set: b.timers.set, clear: b.timers.clear, clearAll: b.timers.clearAll };
    try {
      if (b.events.length > 0 || timers.set?.length || timers.clear?.length || timers.clearAll) {
        await this.store.appendEvents(h.rec.runId, h.epoch, b.events, h.proj, timers);
      }
    } catch (e) {
      // Nothing of this step is committed: its commands are still pending and are applied
      // again by the run's next step (here after a retry, or by the process that took the run).
      if (b.answers.length > 0) this.commandRuns.add(h.rec.runId);
      throw e;
    }
    if (b.events.length > 0) {
      this.publish(h.rec.runId, b.events, h.proj);
      if (this.store.shared) this.noticeEvents(h.rec.runId, b.events);
    }
    const answers = b.answers.map((a) =>
      a.result === undefined ? a : { id: a.id, result: { ...a.result, status: a.result.status === 'paused' ? 'paused' : h.proj.status } },
    );
    for (const a of answers) {
      h.applied.set(
        a.id,
        a.error === undefined
          ? { id: a.id, state: 'done', result: JSON.stringify(a.result) }
          : { id: a.id, state: 'failed', result: encodeCommandError(a.error) },
      );
    }
    await this.finishCommands(answers);
  }

  /**
   * Publishes committed events on the local bus. While a relay of another process's earlier
   * events is still reading (this process just took the run over), the publish waits behind
   * it so subscribers get the sequences in order.
   */
  private publish(runId: string, events: EncodedEvent[], projection: RunRecord['projection']): void {
    const relaying = this.relays.get(runId);
    if (!relaying) {
      this.bus.publish(runId, events, projection);
      return;
    }
    void relaying.then(() => this.bus.publish(runId, events, projection));
  }

  private async commitTerminal(h: HotRun, b: StepBatch): Promise<true> {
    b.timers.clearAll = true;
    b.timers.set.length = 0;
    h.armed.clear();
    await this.commit(h, b);
    return true;
  }

  // ------------------------------------------------------------------ sub-workflows

  /**
   * Starts the child run of a sub-workflow node. The child's runId is derived from the parent
   * and node, so a node re-executed after a crash finds its child instead of starting another.
   */
  private async startChild(h: HotRun, nodeId: string, workflowId: string, inputs: Record<string, unknown>): Promise<string> {
    const runId = `run_${createHash('sha256').update(`child\u0000${h.rec.runId}\u0000${nodeId}`).digest('base64url').slice(0, 22)}`;
    if (!(await this.store.getRunInternal(runId))) {
      await this.createRun({ tenant: h.rec.tenant, principal: h.rec.principal, workflowId, inputs }, undefined, {
        runId,
        parent: { runId: h.rec.runId, nodeId },
      });
    }
    h.dispatched.set(nodeId, { runId, workflowId });
    return runId;
  }

  // ------------------------------------------------------------------ interrupts

  /** Appends the suspension of `nodeId` on a new interrupt. */
  private suspend(h: HotRun, b: StepBatch, nodeId: string, req: InterruptRequest & { key: string }): void {
    const runId = h.rec.runId;
    const interruptId = `int_${createHash('sha256').update(`${runId}\u0000${nodeId}\u0000${req.key}`).digest('hex').slice(0, 24)}`;
    if (h.proj.interrupts?.[interruptId]) {
      // A second interrupt with a key already used in this run returns nothing new.
      b.add('node.failed', { nodeId, error: { code: 'validation_error', message: `interrupt key ${req.key} was already used in this run` } }, nodeId);
      return;
    }
    b.add('node.suspended', { nodeId, interruptId, kind: req.kind, key: req.key }, nodeId);
    const payload: Record<string, unknown> = { kind: req.kind, key: req.key, data: req.data };
    if (req.resumeSchema) payload.resumeSchema = req.resumeSchema;
    if (req.timeoutMs !== undefined) payload.timeoutMs = req.timeoutMs;
    b.add('interrupt.requested', payload, nodeId);
    if (req.kind === 'approval') {
      const d = req.data;
      const legacy: Record<string, unknown> = {
        nodeId,
        interruptId,
        artifactId: d.artifactId,
        artifactType: d.artifactType,
        title: d.title,
        actions: (Array.isArray(d.actions) ? d.actions : []).map((a) => (a === 'edit-accept' ? 'edit' : a)),
      };
      if (typeof d.requiredApprovals === 'number') legacy.requiredApprovals = d.requiredApprovals;
      if (Array.isArray(d.approversList)) legacy.approversList = d.approversList;
      b.add('approval.requested', legacy, nodeId);
    } else if (req.kind === 'clarification') {
      b.add('clarification.requested', { nodeId, interruptId, questions: req.data.questions }, nodeId);
    }
    if (req.timeoutMs !== undefined) {
      const fireAt = b.now + req.timeoutMs;
      b.timers.set.push({ runId, key: `interrupt:${interruptId}`, fireAt });
      this.armTimer(fireAt);
    }
  }

  /** Appends the resolution of an interrupt; the node runs again and reads the value. */
  private resolveWith(
    h: HotRun,
    b: StepBatch,
    iv: InterruptView,
    value: unknown,
    resolvedBy: string,
    outcome?: string,
    reason?: string,
    extra?: Record<string, unknown>,
  ): void {
    const { nodeId, interruptId } = iv;
    const resolved: Record<string, unknown> = { nodeId, interruptId, kind: iv.kind, resumeValue: value, resolvedBy, resolvedAt: b.ts, ...extra };
    if (outcome) resolved.outcome = outcome;
    if (reason) resolved.reason = reason;
    b.add('interrupt.resolved', resolved, nodeId);
    if (iv.kind === 'approval') {
      const v = (value ?? {}) as Record<string, unknown>;
      const received: Record<string, unknown> = { nodeId, action: String(v.action), decidedAt: b.ts };
      if (typeof v.decidedBy === 'string') received.decidedBy = v.decidedBy;
      for (const k of ['comment', 'feedback', 'refineFeedback', 'editedArtifactData']) if (v[k] !== undefined) received[k] = v[k];
      b.add('approval.received', received, nodeId);
    } else if (iv.kind === 'clarification' && value && typeof value === 'object') {
      b.add('clarification.resolved', { nodeId, answers: (value as { answers: unknown }).answers, answeredBy: resolvedBy }, nodeId);
    }
    b.add('node.resumed', { nodeId, interruptId, resumeValue: value }, nodeId);
    b.timers.clear.push(`interrupt:${interruptId}`);
  }

  private resumeValidator(schema: Record<string, unknown>): (v: unknown, what?: string) => unknown {
    const k = canonicalJson(schema);
    let fn = this.resumeValidators.get(k);
    if (!fn) {
      fn = compileValidator<unknown>(schema, this.ajv);
      this.resumeValidators.set(k, fn);
    }
    return fn;
  }

  /**
   * Applies a command to the run state: validates it against the folded state and, when `h`
   * is given, appends its events. With `h` undefined (a finished run) it only throws the error
   * the caller should see.
   */
  private applyCommand(h: HotRun | undefined, rec: RunRecord, proj: RunRecord['projection'], cmd: RunCommand, b?: StepBatch): CommandResult {
    const runId = rec.runId;
    if (cmd.kind === 'pause') {
      if (proj.paused) throw new WeftError('run_state_conflict', 'The run is already paused.', { runStatus: 'paused', pausedAt: proj.paused.at });
      if (h?.pausePending) throw new WeftError('run_state_conflict', 'The run is already pausing.', { runStatus: 'paused', pausedAt: h.pausePending.at });
      if (!h || !b) throw new WeftError('run_state_conflict', `The run is ${proj.status}.`, { runStatus: proj.status });
      if (h.cancel) throw new WeftError('run_state_conflict', 'The run is being cancelled.', { runStatus: 'cancelling' });
      const payload: Record<string, unknown> = { drainPolicy: cmd.drainPolicy, pausedBy: cmd.principal };
      if (cmd.reason !== undefined) payload.reason = cmd.reason;
      if (cmd.drainPolicy === 'drain-current-node' && hasRunningNodes(proj)) {
        // run.paused follows the running nodes' terminal events (see step()).
        h.pausePending = { payload, at: b.ts };
        return { runId, status: 'paused', pausedAt: b.ts };
      }
      b.add('run.paused', payload);
      if (cmd.drainPolicy === 'immediate') this.abortInflight(h);
      return { runId, status: 'paused', pausedAt: b.ts };
    }
    if (cmd.kind === 'resume') {
      if (h?.pausePending && !proj.paused && b) {
        // Resumed before the drain finished: the pause never took effect, so nothing is logged.
        delete h.pausePending;
        return { runId, status: 'running', resumedAt: b.ts };
      }
      if (!proj.paused || !h || !b) throw new WeftError('run_state_conflict', 'The run is not paused.', { runStatus: proj.status });
      const payload: Record<string, unknown> = { resumedBy: cmd.principal };
      if (cmd.reason !== undefined) payload.reason = cmd.reason;
      b.add('run.resumed', payload);
      return { runId, status: 'running', resumedAt: b.ts };
    }
    const all = Object.values(proj.interrupts ?? {});
    const iv = cmd.interruptId
      ? proj.interrupts?.[cmd.interruptId]
      : (all.find((i) => i.nodeId === cmd.nodeId && i.status === 'pending') ?? all.filter((i) => i.nodeId === cmd.nodeId).at(-1));
    if (!iv || (cmd.nodeId !== undefined && iv.nodeId !== cmd.nodeId)) throw new WeftError('not_found', 'No interrupt for this node.');
    const answer = (outcome?: string, votes?: CommandResult['interrupt']): CommandResult => ({
      runId,
      status: proj.status,
      nodeId: iv.nodeId,
      interruptId: iv.interruptId,
      interrupt: { kind: iv.kind, ...(outcome ? { outcome } : {}), ...(votes ? { votes: votes.votes } : {}) } as CommandResult['interrupt'],
    });
    // A delegated vote is refused before anything else about the interrupt is answered.
    const split: { resumeValue: unknown; voter?: string } =
      iv.kind === 'approval' ? splitVoter(cmd) : { resumeValue: iv.kind === 'external-event' ? unwrapEventPayload(cmd.resumeValue) : cmd.resumeValue };
    const parentCancelled = rec.cancelRequested?.reason === 'parent-cancelled';
    // A resolved interrupt never answers 2xx again, not even to an identical payload:
    // re-delivery of one request is what Idempotency-Key replays are for.
    if (iv.status === 'resolved') {
      throw new WeftError('interrupt_already_resolved', 'The interrupt was already resolved.', { interruptId: iv.interruptId });
    }
    if (iv.status === 'expired') throw new WeftError('interrupt_expired', 'The interrupt passed its deadline.', { interruptId: iv.interruptId });
    if (iv.status === 'cancelled' || rec.cancelRequested) {
      if (parentCancelled || cmd.via === 'token') throw new WeftError('interrupt_gone', 'The interrupt was invalidated.', { interruptId: iv.interruptId });
      throw new WeftError('interrupt_cancelled', 'The run was cancelled while the interrupt was pending.', { interruptId: iv.interruptId });
    }
    if (!h || !b) throw new WeftError('interrupt_gone', 'The interrupt is no longer pending.', { interruptId: iv.interruptId });
    const node = h.graph.byId.get(iv.nodeId);
    if (cmd.via === 'token' && node?.config.profile === 'openwop-interrupt-auth-required') {
      throw new WeftError('auth_elevation_required', 'Resolve this interrupt with a bearer credential holding approvals:respond.');
    }
    if (iv.resumeSchema) {
      try {
        this.resumeValidator(iv.resumeSchema)(split.resumeValue, 'resumeValue');
      } catch (e) {
        if (e instanceof WeftError) throw new WeftError('validation_error', "resumeValue does not match the interrupt's resumeSchema.", e.details);
        throw e;
      }
    }
    if (iv.kind === 'approval') return this.applyApproval(h, b, iv, { ...cmd, resumeValue: split.resumeValue }, split.voter, answer);
    let value = split.resumeValue;
    if (iv.kind === 'clarification') value = this.checkAnswers(iv, value);
    if (iv.kind === 'external-event') this.checkCorrelation(iv, value);
    this.resolveWith(h, b, iv, value, cmd.principal);
    return answer('resolved');
  }

  private applyApproval(
    h: HotRun,
    b: StepBatch,
    iv: InterruptView,
    cmd: Extract<RunCommand, { kind: 'resolve' }>,
    voter: string | undefined,
    answer: (outcome?: string, votes?: CommandResult['interrupt']) => CommandResult,
  ): CommandResult {
    const v = { ...((cmd.resumeValue ?? {}) as Record<string, unknown>) };
    // The decider is the authenticated principal (or the voter it was trusted to name); a
    // client-supplied decidedBy is ignored.
    delete v.decidedBy;
    delete v.decidedAt;
    const action = v.action === 'edit' ? 'edit-accept' : String(v.action);
    // Named voters live in their own namespace, so a delegate can never vote as an
    // authenticated principal.
    const identity = voter === undefined ? cmd.principal : `voter:${voter}`;
    const delegated = voter === undefined ? undefined : { delegatedBy: cmd.principal };
    const approvers = Array.isArray(iv.data.approversList) ? (iv.data.approversList as string[]) : [];
    if (approvers.length > 0 && !approvers.includes(identity)) {
      throw new WeftError('forbidden', 'This principal is not an approver of this gate.');
    }
    const required = typeof iv.data.requiredApprovals === 'number' ? iv.data.requiredApprovals : 1;
    const answerFor = (outcome: string, votes?: CommandResult['interrupt']): CommandResult => {
      const r = answer(outcome, votes);
      return voter === undefined ? r : { ...r, voter: identity };
    };
    const recordDelegation = (): void => {
      if (!delegated) return;
      // approval.granted/rejected are closed payloads: the delegate is recorded beside them.
      b.add(
        'log.appended',
        {
          level: 'info',
          message: 'approval vote cast on behalf of a named voter',
          nodeId: iv.nodeId,
          fields: { voter: identity, principal: cmd.principal, action },
        },
        iv.nodeId,
      );
    };
    if (required <= 1) {
      recordDelegation();
      this.resolveWith(
        h,
        b,
        iv,
        { ...v, action, decidedBy: identity, decidedAt: b.ts },
        identity,
        action === 'reject' ? 'rejected' : 'accepted',
        undefined,
        delegated,
      );
      return answerFor(action === 'reject' ? 'rejected' : 'accepted');
    }
    const votes = iv.votes ?? [];
    if (votes.some((x) => x.principal === identity)) {
      throw new WeftError('already_voted', 'This principal or voter already voted on this approval.', { interruptId: iv.interruptId });
    }
    const granted = votes.filter((x) => x.action === 'accept').length + (action === 'reject' ? 0 : 1);
    const rejected = votes.filter((x) => x.action === 'reject').length + (action === 'reject' ? 1 : 0);
    const tally = { granted, rejected, required };
    recordDelegation();
    if (action === 'reject') {
      const payload: Record<string, unknown> = { gateId: iv.nodeId, principal: identity };
      if (typeof v.comment === 'string') payload.reason = v.comment;
      b.add('approval.rejected', payload, iv.nodeId);
      const threshold = iv.data.rejectionPolicy === 'majority' ? Math.floor(required / 2) + 1 : 1;
      if (rejected < threshold) return answerFor('pending', { kind: 'approval', votes: tally });
      this.resolveWith(
        h,
        b,
        iv,
        { action: 'reject', decidedBy: `quorum:${rejected}-of-${required}`, decidedAt: b.ts },
        identity,
        'rejected',
        undefined,
        delegated,
      );
      return answerFor('rejected', { kind: 'approval', votes: tally });
    }
    b.add('approval.granted', { gateId: iv.nodeId, principal: identity, quorumProgress: { granted, required } }, iv.nodeId);
    if (granted < required) return answerFor('pending', { kind: 'approval', votes: tally });
    this.resolveWith(h, b, iv, { ...v, action, decidedBy: `quorum:${granted}-of-${required}`, decidedAt: b.ts }, identity, 'accepted', undefined, delegated);
    return answerFor('accepted', { kind: 'approval', votes: tally });
  }

  /** Normalizes clarification answers to a map and checks every question is answered. */
  private checkAnswers(iv: InterruptView, value: unknown): { answers: Record<string, unknown> } {
    const raw = (value as { answers?: unknown }).answers;
    const answers: Record<string, unknown> = {};
    if (Array.isArray(raw)) {
      for (const a of raw)
        if (a && typeof a === 'object' && typeof (a as { id?: unknown }).id === 'string')
          answers[(a as { id: string }).id] = (a as { answer?: unknown }).answer;
    } else if (raw && typeof raw === 'object') Object.assign(answers, raw);
    const questions = (Array.isArray(iv.data.questions) ? iv.data.questions : []) as { id: string; schema?: Record<string, unknown> }[];
    const errors: { path: string; message: string }[] = [];
    const ids = new Set(questions.map((q) => q.id));
    for (const q of questions) {
      if (answers[q.id] === undefined || answers[q.id] === null || answers[q.id] === '')
        errors.push({ path: `/resumeValue/answers/${q.id}`, message: 'missing answer' });
      else if (q.schema) {
        try {
          this.resumeValidator(q.schema)(answers[q.id], `answer to ${q.id}`);
        } catch {
          errors.push({ path: `/resumeValue/answers/${q.id}`, message: 'does not match the question schema' });
        }
      }
    }
    for (const k of Object.keys(answers)) if (!ids.has(k)) errors.push({ path: `/resumeValue/answers/${k}`, message: 'unknown question' });
    if (errors.length > 0) throw new WeftError('validation_error', 'The clarification answers are invalid.', { errors });
    return { answers };
  }

  /** Shallow-matches every key of the interrupt's correlation against the event. */
  private checkCorrelation(iv: InterruptView, value: unknown): void {
    const expected = (iv.data.correlation ?? {}) as Record<string, unknown>;
    const v = (value ?? {}) as Record<string, unknown>;
    const got = (v.correlation && typeof v.correlation === 'object' ? v.correlation : v) as Record<string, unknown>;
    const mismatched = Object.keys(expected).filter((k) => canonicalJson(got[k]) !== canonicalJson(expected[k]));
    if (mismatched.length > 0) throw new WeftError('correlation_mismatch', 'The event does not match the interrupt correlation.', { mismatched });
  }

  // ------------------------------------------------------------------ timers

  private armTimer(at: number): void {
    if (this.stopped || at >= this.timerAt) return;
    if (this.timerHandle) clearTimeout(this.timerHandle);
    this.timerAt = at;
    const delay = Math.min(Math.max(0, at - this.clock.now()), 2 ** 31 - 1);
    this.timerHandle = setTimeout(() => {
      this.fireTimers().catch((e: unknown) => {
        // The store failed (e.g. the database restarted): the due timers are still in it, so
        // look again shortly instead of waiting for the next unrelated arm.
        this.log.error({ err: String(e) }, 'timer sweep failed; retrying');
        this.armTimer(this.clock.now() + 1000);
      });
    }, delay);
    this.timerHandle.unref();
  }

  /**
   * Fires due timers. A timer only takes effect through its run's lease holder: a run that is
   * not hot here is woken too, which claims it only when its lease is free or expired (its
   * owner died), so every timer fires once across processes.
   */
  private async fireTimers(): Promise<void> {
    this.timerHandle = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
    if (this.stopped) return;
    const now = this.clock.now();
    const due = await this.store.listDueTimers(now, 500);
    let ours = false;
    for (const t of due) {
      const h = this.hot.get(t.runId);
      if (h) ours = true;
      if (h && t.key.startsWith('node:')) h.armed.set(t.key, now);
      this.wake(t.runId);
    }
    const next = await this.store.nextTimerAt();
    // A due row is consumed by the step it wakes; re-check shortly rather than spin on it.
    // Due rows of runs another live process drives are its to consume: look again later.
    const recheck = ours || due.length === 0 ? 25 : Math.max(250, Math.floor(this.leaseTtlMs / 3));
    if (next !== null) this.armTimer(next <= now ? now + recheck : next);
  }
}
