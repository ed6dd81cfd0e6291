/**
 * The run engine: creates runs, drives them through the scheduler, and keeps every wait
 * durable. One driver per run per process; a driver holds the run's lease and is the only
 * writer of its log. Each engine step folds its events into the projection and commits
 * events + projection + timers in one append, then publishes them on the bus.
 *
 * @see ../../../docs/architecture.md
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  TERMINAL_STATUSES,
  WeftError,
  compileValidator,
  createAjv,
  type RunEventDoc,
  type RunStatus,
  type WorkflowDefinition,
  type WorkflowNode,
} from '@weft/contract';
import { EventBus } from './event-bus.js';
import { InProcessNotifier } from './notifier.js';
import { foldEvents, initialProjection } from './fold.js';
import type { WorkflowGraph } from './graph.js';
import { NodeError, NodeRegistry, type ChildRunView, type EffectCall, type EmittedEventType, type InterruptRequest, type NodeResult } from './nodes.js';
import { EMITTED_EVENT_TYPES, NODE_CAP_KINDS, type NodeCredentials } from './nodes.js';
import {
  COMMANDS_CHANNEL,
  COMMAND_DONE_CHANNEL,
  EVENTS_CHANNEL,
  LeaseLostError,
  randomIds,
  systemClock,
  type CancelTimer,
  type Clock,
  type CreateRunRider,
  type Ids,
  type CommandOutcome,
  type EncodedEvent,
  type InvocationRecord,
  type IdempotencyCompletion,
  type IdempotentResponse,
  type Notifier,
  type Outbound,
  type OutboxRow,
  type RunCallback,
  type RunTelemetry,
  type TraceContext,
  type RecordRedactor,
  type RunRecord,
  type SecretResolver,
  type Store,
} from './ports.js';
import { CommandBus, decodeOutcome, outcomeOf } from './run/command-bus.js';
import { applyCommand } from './run/commands.js';
import { type ForkRunParams, ReplaySession, copyPrefix, prepareFork } from './run/fork.js';
import { EventRelay } from './run/event-relay.js';
import { KnownValuesRedactor, RunInputs } from './run/run-inputs.js';
import { interruptAnswer } from './run/interrupts.js';
import { type MachineEnv, nodeInputs, step, toErrorObject } from './run/machine.js';
import { makeState, type RunState } from './run/state.js';
import type { CommandReply, CommandResult, Effect, NodeOutcome, RunCommand, StepInput, StepOutput, TimerPlan } from './run/types.js';
import { canonicalJson } from './scheduler.js';
import { WorkflowCatalog } from './workflow-catalog.js';
import { tracedOutbound } from './trace-context.js';

export { DELEGATE_SCOPE, type CommandResult, type RunCommand } from './run/types.js';
export type { ForkRunParams } from './run/fork.js';
export { maskVariables } from './run/machine.js';
export { CONFIGURABLE_KEYS } from './run/run-inputs.js';

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
  /** Run and command ids (default random). */
  ids?: Ids;
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
  /**
   * Told of every append this process committed (after it committed; never of relayed
   * events), e.g. the webhook dispatcher. Must not throw or block.
   */
  committed?: (run: RunRecord, events: readonly EncodedEvent[]) => void;
  /** Outbox rows (durable webhooks) to write in the same append as `events`. Must not throw. */
  outbox?: (run: RunRecord, events: readonly EncodedEvent[]) => OutboxRow[];
  /** The redactor of a tenant's runs (the vault's per-tenant redactor); default {@link redactor}. */
  redactorFor?: (tenant: string) => RecordRedactor;
  /** Resolves secret references for nodes that declare `requiresSecrets` (`ctx.credentials`). */
  secrets?: SecretResolver;
  /** Traces and metrics (decision 0024); absent = none, at no cost. */
  telemetry?: RunTelemetry;
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
  /** W3C trace context of the creating request, carried into events, spans and outbound calls. */
  traceContext?: TraceContext;
  /** A run id reserved with {@link RunEngine.newRunId} (the server writes the run's callback subscription first). */
  runId?: string;
  /** The run's callback subscription (`callbackUrl`). */
  callback?: RunCallback;
  /** A host write for the run's creation transaction (the audit record), passed to the store. */
  rider?: CreateRunRider;
}

/** How a command was sent. */
export interface CommandOptions {
  /**
   * A key that identifies this request (derived from its Idempotency-Key): the command row is
   * written under it once, so a retry after a crash finds the first row and its outcome.
   */
  commandKey?: string;
}

/** Idempotency completion written with the run row; the response is built from the record. */
export interface CreateRunIdempotency {
  tenant: string;
  route: string;
  key: string;
  owner: string;
  respond: (rec: RunRecord) => IdempotentResponse;
}

/** A node body's outcome as it arrived, with the token of the body that produced it. */
interface Settled {
  nodeId: string;
  token: symbol;
  outcome: NodeOutcome;
}

/** A run this process drives: its machine state and what the driver holds beside it. */
interface HotRun {
  state: RunState;
  epoch: number;
  /** Bodies in flight: their abort controllers and tokens (a stale outcome is dropped). */
  bodies: Map<string, { ctrl: AbortController; token: symbol }>;
  /** Body outcomes not yet stepped. */
  settled: Settled[];
  /** Events bodies emitted (`ctx.emit`) not yet stepped, with the token of their body. */
  emitted: { nodeId: string; token: symbol; type: string; payload: Record<string, unknown> }[];
  /** Children started since the last step, not yet recorded with node.dispatched. */
  /** Children started since the last step, by child run id. */
  dispatched: Map<string, { nodeId: string; runId: string; workflowId: string }>;
  /** Node timer keys that fired since the last step. */
  fired: string[];
  /** Sub-workflow nodes whose child ended since the last step. */
  childrenEnded: string[];
  /** A cancel request not yet stepped. */
  cancel?: NonNullable<RunRecord['cancelRequested']>;
  /** Command rows applied by this process, kept so a row whose outcome failed to record is not applied twice. */
  applied: Map<string, CommandOutcome>;
  /** A replay fork's source: effects are served from it, outcomes compared with it (run/fork.ts). */
  replay?: ReplaySession;
}

const isPromise = (v: unknown): v is Promise<unknown> => typeof (v as { then?: unknown })?.then === 'function';

/** What a node may emit while it runs. */
const EMITTABLE: ReadonlySet<string> = new Set<EmittedEventType>(EMITTED_EVENT_TYPES);

/** `ctx.credentials` of a node that declared `requiresSecrets`: bound to the run's tenant. */
function nodeCredentials(secrets: SecretResolver | undefined, tenant: string, runId: string, nodeId: string): NodeCredentials {
  return {
    async resolve(r) {
      const ref = typeof r === 'string' ? r : r?.ref;
      if (typeof ref !== 'string' || ref === '') throw new NodeError('validation_error', 'A credential reference is a non-empty string.', { nodeId });
      if (!secrets) throw new NodeError('credential_unavailable', 'This host resolves no secrets.', { ref });
      const res = await secrets.resolve(tenant, ref, { runId, nodeId, ...(typeof r === 'object' && r.redactAs ? { redactAs: r.redactAs } : {}) });
      if (!res.ok) throw new NodeError(res.code, res.message, { ref });
      return res.value;
    },
  };
}

/** How long an invocation record is kept (≈ 14 days, as execution-semantics §5.4 advises). */
const INVOCATION_RETENTION_MS = 14 * 86_400_000;

/**
 * The Layer-2 `logicalInvocationId`: base64url(sha256("openwop:activity:v2\0" tenant "\0" run
 * "\0" node "\0" ordinal "\0" providerKey)), unpadded — no attempt in it.
 *
 * @see execution-semantics.md §5.4
 */
export function logicalInvocationId(tenant: string, runId: string, nodeId: string, ordinal: number, providerKey: string): string {
  return createHash('sha256').update(`openwop:activity:v2\u0000${tenant}\u0000${runId}\u0000${nodeId}\u0000${ordinal}\u0000${providerKey}`).digest('base64url');
}

/** A recorded effect outcome: its value, or its error thrown again. */
function recordedOutcome<T>(r: InvocationRecord): T {
  if (r.state === 'done') return JSON.parse(r.outcome ?? 'null') as T;
  const e = JSON.parse(r.outcome ?? '{}') as { code?: string; message?: string; details?: Record<string, unknown> };
  throw new NodeError(e.code ?? 'node_error', e.message ?? 'The effect failed.', e.details);
}

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
  private readonly committed: EngineOptions['committed'];
  private readonly outboxOf: EngineOptions['outbox'];
  private readonly redactorFor: ((tenant: string) => RecordRedactor) | undefined;
  private readonly secrets: SecretResolver | undefined;
  private readonly telemetry: RunTelemetry | undefined;
  private readonly hot = new Map<string, HotRun>();
  /** Runs this process leases that wait on a person and were dropped from `hot` (reloaded on a command notice). */
  private readonly cold = new Set<string>();
  /** Runs this process drives now (loaded, not terminal): the runnable queue telemetry reports. */
  get activeRuns(): number {
    return this.hot.size;
  }
  private readonly active = new Map<string, Promise<void>>();
  private readonly waiters = new Map<string, () => void>();
  private readonly dirty = new Set<string>();
  private readonly inputs: RunInputs;
  private readonly resumeValidators = new Map<string, (v: unknown, what?: string) => unknown>();
  /** Runs that may have pending command rows (or a cancel requested elsewhere). */
  private readonly commandRuns = new Set<string>();
  private readonly commands: CommandBus;
  private readonly relay: EventRelay;
  private readonly notifier: Notifier;
  private readonly commandTimeoutMs: number;
  private unlisten: (() => void)[] = [];
  private readonly ajv = createAjv();
  private cancelTimer: CancelTimer | undefined;
  private readonly ids: Ids;
  private readonly env: MachineEnv;
  private timerAt = Number.POSITIVE_INFINITY;
  private intervals: NodeJS.Timeout[] = [];
  private stopped = false;

  constructor(opts: EngineOptions) {
    this.store = opts.store;
    this.clock = opts.clock ?? systemClock;
    this.ids = opts.ids ?? randomIds;
    this.registry = opts.registry ?? new NodeRegistry();
    this.limits = opts.limits;
    this.runtimeCapabilities = new Set(opts.runtimeCapabilities ?? []);
    this.ownerId = opts.ownerId ?? `weft-${randomBytes(6).toString('hex')}`;
    this.leaseTtlMs = opts.leaseTtlMs ?? 5_000;
    this.log = opts.logger ?? silentLogger;
    this.redactor = opts.redactor ?? new KnownValuesRedactor();
    this.inputs = new RunInputs(this.redactor);
    this.outbound = opts.outbound;
    this.committed = opts.committed;
    this.outboxOf = opts.outbox;
    this.redactorFor = opts.redactorFor;
    this.secrets = opts.secrets;
    this.telemetry = opts.telemetry;
    this.notifier = opts.notifier ?? new InProcessNotifier();
    this.commandTimeoutMs = opts.commandTimeoutMs ?? this.leaseTtlMs + 5000;
    this.catalog = new WorkflowCatalog(this.store, this.registry, this.clock);
    this.commands = new CommandBus({
      store: this.store,
      notifier: this.notifier,
      now: () => this.clock.now(),
      newId: () => this.ids.commandId(),
      timeoutMs: this.commandTimeoutMs,
      retryMs: Math.max(250, Math.floor(this.leaseTtlMs / 3)),
      wake: (runId) => {
        this.commandRuns.add(runId);
        this.wake(runId);
      },
      warn: (o, m) => this.log.warn(o, m),
    });
    this.relay = new EventRelay(this.bus, this.store, this.notifier, (o, m) => this.log.warn(o, m));
    this.env = { nodeType: (typeId) => this.registry.get(typeId), runtimeCapabilities: this.runtimeCapabilities, validator: this.validator };
  }

  // ------------------------------------------------------------------ lifecycle

  /** Recovers runs left by a previous process, arms timers, starts lease heartbeats. */
  async start(): Promise<void> {
    this.stopped = false;
    if (this.store.shared) {
      this.unlisten.push(
        await this.notifier.listen(COMMANDS_CHANNEL, (p) => this.onCommandNotice(p)),
        await this.notifier.listen(COMMAND_DONE_CHANNEL, (p) => this.commands.onDone(p)),
        await this.notifier.listen(EVENTS_CHANNEL, (p) => this.relay.onNotice(p)),
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
    this.commands.rejectAll(new WeftError('service_unavailable', 'The host is shutting down.', { retryAfter: 1 }, { 'retry-after': '1' }));
    for (const i of this.intervals) clearInterval(i);
    this.intervals = [];
    this.cancelTimer?.();
    this.cancelTimer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
    for (const h of this.hot.values()) for (const f of h.bodies.values()) f.ctrl.abort();
    for (const w of this.waiters.values()) w();
    await Promise.allSettled([...this.active.values()]);
    this.hot.clear();
    this.cold.clear();
  }

  private async recoverSweep(): Promise<void> {
    const ids = await this.store.listRecoverableRuns(this.clock.now(), 1000, !this.store.shared);
    for (const id of ids) if (!this.hot.has(id) && !this.active.has(id)) this.wake(id);
    if (ids.length > 0) this.log.info({ runs: ids.length }, 'recovering runs');
  }

  // ------------------------------------------------------------------ commands

  /** A fresh run id, for a caller that must write something keyed by it before {@link createRun}. */
  newRunId(): string {
    return this.ids.runId();
  }

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
    const variables = this.inputs.seedVariables(def, this.inputs.redactInputs(def, p.inputs ?? {}));
    const configurable = this.inputs.checkConfigurable(wf.hash, def, p.configurable ?? {});
    const graph = this.catalog.graphOf(wf);
    const now = this.clock.now();
    const rec: RunRecord = {
      runId: child?.runId ?? p.runId ?? this.ids.runId(),
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
      ...(p.traceContext ? { traceContext: p.traceContext } : {}),
      ...(p.callback ? { callback: p.callback } : {}),
    };
    if (child) rec.projection.parent = child.parent;
    let completion: IdempotencyCompletion | undefined;
    if (idem) completion = { tenant: idem.tenant, route: idem.route, key: idem.key, owner: idem.owner, response: idem.respond(rec) };
    await this.store.createRun(rec, completion, p.rider);
    this.hot.set(rec.runId, this.makeHot(rec, structuredClone(rec.projection), rec.leaseEpoch, graph, def));
    setImmediate(() => this.wake(rec.runId));
    return rec;
  }

  /**
   * Forks a run (`:fork`): a new run in the source's tenant and owner whose log starts with the
   * source's events before `fromSeq` (fixed history) and then continues — `replay` re-executes
   * with the source's recorded effects served and never made, `branch` runs live with the
   * overlay. Returns the `pending` record; the prefix is written before it returns.
   * @throws WeftError `not_found` (unknown or foreign source) | `invalid_from_seq` | `validation_error`
   * @see ./run/fork.ts
   */
  async forkRun(p: ForkRunParams, idem?: CreateRunIdempotency): Promise<RunRecord> {
    if (this.stopped) throw new WeftError('service_unavailable', 'The host is shutting down.', { retryAfter: 1 }, { 'retry-after': '1' });
    const { rec, graph, log } = await prepareFork(this.store, this.catalog, p, {
      runId: this.ids.runId(),
      now: this.clock.now(),
      owner: this.ownerId,
      leaseTtlMs: this.leaseTtlMs,
      redactor: this.redactor,
      checkConfigurable: (wf, cfg) => this.inputs.checkConfigurable(wf.hash, wf.definition, cfg),
    });
    let completion: IdempotencyCompletion | undefined;
    if (idem) completion = { tenant: idem.tenant, route: idem.route, key: idem.key, owner: idem.owner, response: idem.respond(rec) };
    await this.store.createRun(rec, completion);
    try {
      for (const t of (await copyPrefix(this.store, rec, rec.leaseEpoch, graph, this.limits, log)).timers) this.armTimer(t.fireAt);
    } catch (e) {
      // The log stays empty; the run's first load copies the prefix.
      this.log.warn({ runId: rec.runId, err: String(e) }, 'fork prefix copy failed; retried on load');
    }
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
    if (h && rec.cancelRequested) h.cancel = rec.cancelRequested;
    else if (this.store.shared) this.commands.notifyRun(runId);
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
    opts?: CommandOptions,
  ): Promise<CommandResult> {
    return this.command(tenant, runId, { kind: 'resolve', ...args }, opts);
  }

  /** Pauses a run (`:pause`). */
  pauseRun(
    tenant: string,
    runId: string,
    args: { reason?: string; drainPolicy: 'immediate' | 'drain-current-node'; principal: string },
    opts?: CommandOptions,
  ): Promise<CommandResult> {
    return this.command(tenant, runId, { kind: 'pause', ...args }, opts);
  }

  /** Resumes a paused run (`:resume`). */
  resumeRun(tenant: string, runId: string, args: { reason?: string; principal: string }, opts?: CommandOptions): Promise<CommandResult> {
    return this.command(tenant, runId, { kind: 'resume', ...args }, opts);
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
  private async command(tenant: string | null, runId: string, cmd: RunCommand, opts?: CommandOptions): Promise<CommandResult> {
    const rec = tenant === null ? await this.store.getRunInternal(runId) : await this.store.getRun(tenant, runId);
    if (!rec) throw new WeftError('not_found', 'Run not found.');
    const fixedId = opts?.commandKey === undefined ? undefined : `cmd_${opts.commandKey}`;
    if (fixedId) {
      // Sent before under this key: its row answers, even once the run has ended.
      const row = await this.store.getCommand(fixedId);
      if (row && row.runId === runId && row.state !== 'pending') return decodeOutcome(row);
    }
    // No driver for finished runs: answer from the folded state (throws, or an idempotent replay).
    if (TERMINAL_STATUSES.has(rec.projection.status)) return applyCommand({ rec, proj: rec.projection }, cmd, this.validator);
    if (this.stopped) throw new WeftError('service_unavailable', 'The host is shutting down.', { retryAfter: 1 }, { 'retry-after': '1' });
    return this.commands.submit(runId, rec.tenant, cmd, fixedId);
  }

  /** A command row was written for a run (or `''`: re-check every run this process drives). */
  private onCommandNotice(runId: string): void {
    const ids = runId === '' ? [...this.hot.keys(), ...this.cold] : this.hot.has(runId) || this.cold.has(runId) ? [runId] : [];
    for (const id of ids) {
      this.commandRuns.add(id);
      this.wake(id);
    }
  }

  /** The status a client should see: `cancelling` while a cancel is pending. */
  static visibleStatus(rec: RunRecord): RunStatus {
    if (rec.cancelRequested && !TERMINAL_STATUSES.has(rec.projection.status)) return 'cancelling';
    return rec.projection.status;
  }

  // ------------------------------------------------------------------ driving

  private makeHot(rec: RunRecord, proj: RunRecord['projection'], epoch: number, graph: WorkflowGraph, def: WorkflowDefinition): HotRun {
    return {
      state: makeState(rec, proj, graph, def, this.limits, this.redactorFor?.(rec.tenant) ?? this.redactor),
      epoch,
      bodies: new Map(),
      settled: [],
      emitted: [],
      dispatched: new Map(),
      fired: [],
      childrenEnded: [],
      applied: new Map(),
    };
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
        this.cold.delete(runId);
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
          this.cold.delete(runId);
          this.dirty.delete(runId);
          if (this.commandRuns.has(runId)) this.wake(runId);
          const parent = h.state.proj.parent;
          if (parent) {
            this.hot.get(parent.runId)?.childrenEnded.push(parent.nodeId);
            this.wake(parent.runId);
          }
          return;
        }
        if (this.dirty.has(runId)) continue;
        if (h.bodies.size === 0) {
          // Waiting on a timer or a person; a wake resumes it. A run waiting on a person is not
          // kept hot: it may wait for days, and its next command, timer or cancel reloads it by
          // folding its log (the recovery path), so 10,000 waiting runs hold no driver state.
          // Runs linked to sub-workflows stay hot (their in-memory child notifications).
          const p = h.state.proj;
          if (p.status.startsWith('waiting-') && !p.parent && !p.children && !this.dirty.has(runId) && !this.commandRuns.has(runId)) {
            this.hot.delete(runId);
            this.cold.add(runId);
          }
          return;
        }
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
      this.clock.setTimer(this.clock.now() + 1000, () => {
        if (hadCommands) this.commandRuns.add(runId);
        this.wake(runId);
      });
    }
  }

  /** Loads a run that is not hot: claims its lease and rebuilds its state by folding its log. */
  private async load(runId: string): Promise<HotRun | undefined> {
    const now = this.clock.now();
    const rec = await this.store.getRunInternal(runId);
    if (!rec || TERMINAL_STATUSES.has(rec.projection.status)) return undefined;
    let epoch: number | null = rec.leaseEpoch;
    if (!(rec.leaseOwner === this.ownerId && (rec.leaseExpiresAt ?? 0) > now)) {
      epoch = await this.store.claimRun(runId, this.ownerId, this.leaseTtlMs, now, !this.store.shared);
      if (epoch === null) return undefined;
      if (rec.leaseOwner !== null && rec.leaseOwner !== this.ownerId) this.telemetry?.leaseTakeover(runId);
    }
    const wf = await this.catalog.byContentHash(rec.workflowHash);
    if (!wf) {
      this.log.error({ runId, workflowHash: rec.workflowHash }, 'pinned workflow definition missing');
      return undefined;
    }
    const graph = this.catalog.graphOf(wf);
    const docs: RunEventDoc[] = [];
    for (let after = -1; ; ) {
      const page = await this.store.readEvents(runId, after, 1000);
      for (const e of page) docs.push(JSON.parse(e.json) as RunEventDoc);
      if (page.length < 1000) break;
      after = page[page.length - 1]?.sequence ?? after;
    }
    // A fork whose prefix copy did not happen copies it now; a replay fork opens its source (run/fork.ts).
    if (rec.fork && docs.length === 0) {
      const copied = await copyPrefix(this.store, rec, epoch, graph, this.limits);
      docs.push(...copied.docs);
      for (const t of copied.timers) this.armTimer(t.fireAt);
    }
    const proj = foldEvents(graph, docs);
    // The parent link is written with the child's row, not logged: a restarted child keeps it.
    if (rec.projection.parent) proj.parent = rec.projection.parent;
    const h = this.makeHot(rec, proj, epoch, graph, wf.definition);
    if (rec.fork?.mode === 'replay') h.replay = await ReplaySession.open(this.store, rec, docs);
    this.hot.set(runId, h);
    this.cold.delete(runId);
    // Commands may have been written while no process drove the run.
    this.commandRuns.add(runId);
    return h;
  }

  /** Answers the pending commands of a run that ended, from its folded state. */
  private async answerFinished(runId: string): Promise<void> {
    const rec = await this.store.getRunInternal(runId);
    if (!rec || !TERMINAL_STATUSES.has(rec.projection.status)) return;
    const applied: CommandReply[] = [];
    for (const row of await this.store.pendingCommands(runId)) {
      try {
        applied.push({ id: row.id, result: applyCommand({ rec, proj: rec.projection }, JSON.parse(row.payload) as RunCommand, this.validator) });
      } catch (error) {
        applied.push({ id: row.id, error });
      }
    }
    await this.commands.finish(applied);
  }

  /**
   * The command rows a step must apply, when the run was flagged as having some; also picks up
   * a cancel requested through another process. Rows this process already applied (their
   * outcome failed to record) are re-recorded, not applied again.
   */
  private async takeCommands(h: HotRun): Promise<{ id: string; cmd: RunCommand }[]> {
    const runId = h.state.rec.runId;
    if (!this.commandRuns.has(runId)) return [];
    const rows = await this.store.pendingCommands(runId);
    if (this.store.shared && !h.state.cancel && !h.cancel) {
      const fresh = await this.store.getRunInternal(runId);
      if (fresh?.cancelRequested) h.cancel = fresh.cancelRequested;
    }
    this.commandRuns.delete(runId);
    const again = rows.filter((r) => h.applied.has(r.id)).map((r) => h.applied.get(r.id) as CommandOutcome);
    if (again.length > 0) await this.store.finishCommands(again, this.clock.now());
    return rows.filter((r) => !h.applied.has(r.id)).map((row) => ({ id: row.id, cmd: JSON.parse(row.payload) as RunCommand }));
  }

  /**
   * One driver step: gathers what happened since the last one, lets the state machine decide,
   * runs the node bodies it asks for (synchronous outcomes are stepped again at once, so a chain
   * of synchronous nodes is one append), commits, then carries out the remaining effects.
   * Returns true when the run reached a terminal status.
   */
  private async step(h: HotRun): Promise<boolean> {
    const now = this.clock.now();
    const input: StepInput = { now, commands: await this.takeCommands(h) };
    if (h.cancel) {
      input.cancel = h.cancel;
      delete h.cancel;
    }
    if (h.dispatched.size > 0) {
      input.dispatched = [...h.dispatched.values()];
      h.dispatched.clear();
    }
    if (h.fired.length > 0) input.timersFired = h.fired.splice(0);
    if (h.childrenEnded.length > 0) input.childrenEnded = h.childrenEnded.splice(0);
    // Emitted events of live bodies (their tokens are still current), before their outcomes.
    const emitted = h.emitted.splice(0).filter((e) => h.bodies.get(e.nodeId)?.token === e.token);
    if (emitted.length > 0) input.emitted = emitted;
    const settled: { nodeId: string; outcome: NodeOutcome }[] = [];
    for (const s of h.settled.splice(0)) {
      // Outcomes of aborted or superseded bodies are dropped here.
      if (h.bodies.get(s.nodeId)?.token !== s.token) continue;
      h.bodies.delete(s.nodeId);
      settled.push({ nodeId: s.nodeId, outcome: s.outcome });
    }
    if (settled.length > 0) input.settled = settled;

    const acc = {
      events: [] as EncodedEvent[],
      timers: { set: [], clear: [], clearAll: false } as TimerPlan,
      replies: [] as CommandReply[],
      later: [] as Effect[],
    };
    let out: StepOutput;
    for (let next: StepInput | undefined = input, rounds = 0; ; ) {
      out = step(h.state, next, this.env);
      acc.events.push(...out.events);
      acc.timers.set.push(...out.timers.set);
      acc.timers.clear.push(...out.timers.clear);
      if (out.timers.clearAll) acc.timers = { set: [], clear: [], clearAll: true };
      acc.replies.push(...out.replies);
      const { sync, emitted } = this.runEffects(h, out.effects, acc.later);
      if (out.terminal || sync.length === 0) break;
      // A synchronous chain is bounded per step; the rest follows in the next one.
      if (++rounds >= 10_000) {
        for (const s of sync) {
          const token = this.trackBody(h, s.nodeId);
          for (const e of emitted) if (e.nodeId === s.nodeId) h.emitted.push({ ...e, token });
          h.settled.push({ ...s, token });
        }
        this.dirty.add(h.state.rec.runId);
        break;
      }
      next = emitted.length > 0 ? { now, emitted, settled: sync } : { now, settled: sync };
    }
    await this.commit(h, acc.events, acc.timers, acc.replies);
    for (const t of acc.timers.set) this.armTimer(t.fireAt);
    for (const e of acc.later) this.runLaterEffect(h, e);
    return out.terminal;
  }

  /**
   * Carries out the effects that belong before the commit (bodies start and aborts) and returns
   * the synchronous node outcomes; the rest are queued in `later` for after the commit.
   */
  private runEffects(
    h: HotRun,
    effects: readonly Effect[],
    later: Effect[],
  ): { sync: { nodeId: string; outcome: NodeOutcome }[]; emitted: NonNullable<StepInput['emitted']>[number][] } {
    const sync: { nodeId: string; outcome: NodeOutcome }[] = [];
    const emitted: NonNullable<StepInput['emitted']>[number][] = [];
    for (const e of effects) {
      if (e.type === 'abort') {
        for (const [id, b] of h.bodies) {
          if (e.nodeIds && !e.nodeIds.includes(id)) continue;
          b.ctrl.abort();
          h.bodies.delete(id);
        }
      } else if (e.type === 'execute') {
        const outcome = this.runBody(h, e.nodeId);
        if (!outcome) continue;
        // A body that ended synchronously: what it emitted goes with its outcome.
        const token = h.bodies.get(e.nodeId)?.token;
        h.bodies.delete(e.nodeId);
        for (let i = 0; i < h.emitted.length; ) {
          const x = h.emitted[i] as HotRun['emitted'][number];
          if (x.token === token) {
            emitted.push({ nodeId: x.nodeId, type: x.type, payload: x.payload });
            h.emitted.splice(i, 1);
          } else i++;
        }
        sync.push({ nodeId: e.nodeId, outcome });
      } else later.push(e);
    }
    return { sync, emitted };
  }

  private runLaterEffect(h: HotRun, e: Effect): void {
    const runId = h.state.rec.runId;
    if (e.type === 'cancel-children') {
      for (const child of e.runIds) {
        this.cancelRun(h.state.rec.tenant, child, 'parent-cancelled', e.by, false).catch((err: unknown) =>
          this.log.warn({ runId: child, err: String(err) }, 'cascade cancel failed'),
        );
      }
    } else if (e.type === 'watch-child') {
      // The child may have ended after the node read it and before this wait was registered;
      // its end then woke nobody. Read it once more now that the wait is visible.
      this.store.getRunInternal(e.childRunId).then(
        (c) => {
          if (c && TERMINAL_STATUSES.has(c.projection.status) && h.state.waitingChild.get(e.nodeId) === e.childRunId) {
            h.childrenEnded.push(e.nodeId);
            this.wake(runId);
          }
        },
        (err: unknown) => this.log.warn({ runId, childRunId: e.childRunId, err: String(err) }, 'child status check failed'),
      );
    }
  }

  /**
   * Makes one effect of a node body through the invocation log (Layer 2): claimed before the
   * call, the outcome recorded after; a recorded outcome is returned (or its error thrown)
   * without calling again.
   */
  private async runEffect<T>(
    h: HotRun,
    at: { nodeId: string; attempt: number; ordinal: number; providerKey: string; signal: AbortSignal },
    call: (e: EffectCall) => Promise<T>,
  ): Promise<T> {
    const s = h.state;
    const now = this.clock.now();
    // A replay fork makes no effect: the source's recorded outcome is served (run/fork.ts, §3.4).
    if (h.replay)
      return recordedOutcome<T>(
        await h.replay.serve(at, (run) => logicalInvocationId(s.rec.tenant, run, at.nodeId, at.ordinal, at.providerKey), now, INVOCATION_RETENTION_MS),
      );
    const id = logicalInvocationId(s.rec.tenant, s.rec.runId, at.nodeId, at.ordinal, at.providerKey);
    const claim = await this.store.claimInvocation({
      id,
      tenant: s.rec.tenant,
      runId: s.rec.runId,
      nodeId: at.nodeId,
      ordinal: at.ordinal,
      providerKey: at.providerKey,
      attempt: at.attempt,
      createdAt: now,
      expiresAt: now + INVOCATION_RETENTION_MS,
    });
    if (claim.kind === 'recorded') return recordedOutcome<T>(claim.record);
    let value: T;
    try {
      value = await call({ invocationId: id, calls: claim.calls, signal: at.signal });
    } catch (e) {
      // A deterministic failure is the outcome; anything else (retryable, aborted, unexpected)
      // is not, so the next execution calls again.
      if (e instanceof NodeError && !e.retryable && !at.signal.aborted) {
        const err = toErrorObject(e);
        await this.store.recordInvocation(id, 'failed', s.redactor.redactJson(JSON.stringify(err)), this.clock.now());
      } else await this.store.releaseInvocation(id).catch(() => undefined);
      throw e;
    }
    const json = JSON.stringify(value);
    if (json === undefined) throw new NodeError('validation_error', `The result of effect ${at.providerKey} is not JSON.`);
    // Recorded as stored (redacted), and returned as recorded, so a live call and a replayed one agree.
    const stored = s.redactor.redactJson(json);
    await this.store.recordInvocation(id, 'done', stored, this.clock.now());
    return JSON.parse(stored) as T;
  }

  /** A new body token for `nodeId` (the previous body's outcome, if any, no longer counts). */
  private trackBody(h: HotRun, nodeId: string, ctrl = new AbortController()): symbol {
    const token = Symbol(nodeId);
    h.bodies.set(nodeId, { ctrl, token });
    return token;
  }

  /** Runs a node body; returns its outcome when it ended synchronously. */
  private runBody(h: HotRun, nodeId: string): NodeOutcome | undefined {
    const s = h.state;
    const node = s.graph.byId.get(nodeId) as WorkflowNode;
    const type = this.registry.get(node.typeId);
    if (!type) return { error: new NodeError('unsupported_node_type', `No implementation for node type ${node.typeId}.`) };
    const st = s.proj.nodeStates[node.id];
    const ctrl = new AbortController();
    // Registered before the body runs, so what it emits synchronously counts.
    const token = this.trackBody(h, node.id, ctrl);
    const runId = s.rec.runId;
    const attempt = st?.attempt ?? 0;
    let ordinal = 0;
    let out: NodeResult | Promise<NodeResult>;
    // Telemetry (decision 0024): the attempt span, and the trace context outbound calls carry.
    const span = this.telemetry?.nodeAttempt({ run: s.rec, nodeId: node.id, typeId: node.typeId, attempt });
    const http = tracedOutbound(this.outbound, span?.traceparent ?? s.rec.traceContext?.traceparent);
    try {
      out = type.execute({
        runId: s.rec.runId,
        nodeId: node.id,
        typeId: node.typeId,
        tenant: s.rec.tenant,
        attempt: st?.attempt ?? 0,
        config: node.config,
        inputs: nodeInputs(s, node),
        startedAt: st?.startedAt ? Date.parse(st.startedAt) : this.clock.now(),
        signal: ctrl.signal,
        http: h.replay ? h.replay.outbound : http,
        now: () => this.clock.now(),
        variables: { ...s.rec.variables, ...(s.proj.vars ?? {}) },
        children: {
          current: () => s.proj.children?.[node.id]?.runId ?? [...h.dispatched.values()].findLast((c) => c.nodeId === node.id)?.runId,
          start: (workflowId: string, inputs: Record<string, unknown>, key?: string) =>
            h.replay ? h.replay.refuseDispatch() : this.startChild(h, node.id, workflowId, inputs, key),
          get: async (childRunId: string) => {
            const c = await this.store.getRunInternal(childRunId);
            if (!c) return undefined;
            const view: ChildRunView = { runId: c.runId, status: c.projection.status, variables: { ...c.variables, ...(c.projection.vars ?? {}) } };
            if (c.projection.outputs) view.outputs = c.projection.outputs;
            if (c.projection.error) view.error = { code: c.projection.error.code, message: c.projection.error.message };
            return view;
          },
        },
        interrupt: (req: InterruptRequest) => interruptAnswer(s, node.id, req),
        effect: <T>(providerKey: string, call: (e: EffectCall) => Promise<T>) =>
          this.runEffect(h, { nodeId: node.id, attempt, ordinal: ordinal++, providerKey, signal: ctrl.signal }, call),
        emit: (type: EmittedEventType, payload: Record<string, unknown>) => {
          if (!EMITTABLE.has(type)) throw new NodeError('validation_error', `A node may emit ${[...EMITTABLE].join(' or ')}, not ${String(type)}.`);
          if (type === 'cap.breached' && !NODE_CAP_KINDS.has(String(payload.kind))) throw new NodeError('validation_error', 'A node may not report this cap.');
          if (h.bodies.get(node.id)?.token !== token) return; // aborted or superseded
          h.emitted.push({ nodeId: node.id, token, type, payload: structuredClone(payload) });
          this.wake(runId);
        },
        configurable: s.rec.configurable,
        workflowId: s.rec.workflowId,
        agent: node.agent,
        ...(s.proj.orchestrator ? { orchestrator: structuredClone(s.proj.orchestrator) } : {}),
        ...(type.requiresSecrets ? { credentials: nodeCredentials(this.secrets, s.rec.tenant, runId, node.id) } : {}),
      });
    } catch (error) {
      this.observeReplay(h, node.id, token, { error });
      span?.end(error);
      return { error };
    }
    if (!isPromise(out)) {
      this.observeReplay(h, node.id, token, { result: out });
      span?.end();
      return { result: out };
    }
    if (span)
      out.then(
        () => span.end(),
        (e: unknown) => span.end(e),
      );
    out
      .then(
        (result) => {
          this.observeReplay(h, node.id, token, { result });
          h.settled.push({ nodeId: node.id, token, outcome: { result } });
        },
        (error: unknown) => {
          this.observeReplay(h, node.id, token, { error });
          h.settled.push({ nodeId: node.id, token, outcome: { error } });
        },
      )
      .finally(() => this.wake(runId));
    return undefined;
  }

  /** A replay fork: a node outcome that differs from the source's is reported (`replay.diverged`) just before it. */
  private observeReplay(h: HotRun, nodeId: string, token: symbol, outcome: NodeOutcome): void {
    const d = h.replay?.observe(nodeId, outcome, h.state.redactor, h.state.proj.lastSequence + 1);
    if (d) h.emitted.push({ nodeId, token, type: 'replay.diverged', payload: { ...d } });
  }

  /**
   * Commits a step: events, projection, timer changes and the outcomes of the commands it
   * applied in one append, so a command's effect and its recorded answer are never apart.
   * Then publishes, and answers the callers waiting here (and tells those elsewhere).
   */
  private async commit(h: HotRun, events: EncodedEvent[], timers: TimerPlan, replies: CommandReply[]): Promise<void> {
    const runId = h.state.rec.runId;
    const changes = events.length > 0 || timers.set.length > 0 || timers.clear.length > 0 || timers.clearAll;
    if (!changes && replies.length === 0) return;
    const status = h.state.proj.status;
    // An interrupt answer carries the status the run reached with it; pause and resume answer
    // the transition they made (`paused`, `running`) as the wire contract fixes.
    const answers = replies.map((a) =>
      a.result === undefined || a.result.pausedAt !== undefined || a.result.resumedAt !== undefined ? a : { id: a.id, result: { ...a.result, status } },
    );
    const outcomes = answers.map(outcomeOf);
    try {
      if (changes) {
        const outbox = events.length > 0 ? this.outboxOf?.(h.state.rec, events) : undefined;
        const now = this.clock.now();
        await this.store.appendEvents(
          runId,
          h.epoch,
          events,
          h.state.proj,
          timers,
          outcomes.length > 0 ? { outcomes, now } : undefined,
          outbox?.length ? { rows: outbox, now } : undefined,
        );
      }
    } catch (e) {
      // Nothing of this step is committed: its commands are still pending and are applied
      // again by the run's next step (here after a retry, or by the process that took the run).
      if (replies.length > 0) this.commandRuns.add(runId);
      throw e;
    }
    if (events.length > 0) {
      this.telemetry?.committed(h.state.rec, events, h.state.proj);
      this.relay.publish(runId, events, h.state.proj);
      if (this.store.shared) this.relay.announce(runId, events);
      this.committed?.(h.state.rec, events);
    }
    // Commands that changed nothing (refused) are recorded on their own: applying them again
    // after a crash gives the same answer.
    for (const o of outcomes) h.applied.set(o.id, o);
    await this.commands.finish(answers, changes);
  }

  // ------------------------------------------------------------------ sub-workflows

  /**
   * Starts the child run of a sub-workflow node. The child's runId is derived from the parent
   * and node, so a node re-executed after a crash finds its child instead of starting another.
   */
  private async startChild(h: HotRun, nodeId: string, workflowId: string, inputs: Record<string, unknown>, key?: string): Promise<string> {
    const parent = h.state.rec;
    const seed = `child\u0000${parent.runId}\u0000${nodeId}${key === undefined ? '' : `\u0000${key}`}`;
    const runId = `run_${createHash('sha256').update(seed).digest('base64url').slice(0, 22)}`;
    if (!(await this.store.getRunInternal(runId))) {
      const trace = parent.traceContext ? { traceContext: parent.traceContext } : {};
      await this.createRun({ tenant: parent.tenant, principal: parent.principal, workflowId, inputs, ...trace }, undefined, {
        runId,
        parent: { runId: parent.runId, nodeId },
      });
    }
    // Keyed by child: a fan-out node may start several children before the next step records them.
    h.dispatched.set(runId, { nodeId, runId, workflowId });
    return runId;
  }

  /** Compiles (and caches) a resume-value or answer validator. */
  private readonly validator = (schema: Record<string, unknown>): ((v: unknown, what?: string) => unknown) => {
    const k = canonicalJson(schema);
    let fn = this.resumeValidators.get(k);
    if (!fn) {
      fn = compileValidator<unknown>(schema, this.ajv);
      this.resumeValidators.set(k, fn);
    }
    return fn;
  };

  // ------------------------------------------------------------------ timers

  private armTimer(at: number): void {
    if (this.stopped || at >= this.timerAt) return;
    this.cancelTimer?.();
    this.timerAt = at;
    this.cancelTimer = this.clock.setTimer(at, () => {
      this.fireTimers().catch((e: unknown) => {
        // The store failed (e.g. the database restarted): the due timers are still in it, so
        // look again shortly instead of waiting for the next unrelated arm.
        this.log.error({ err: String(e) }, 'timer sweep failed; retrying');
        this.armTimer(this.clock.now() + 1000);
      });
    });
  }

  /**
   * Fires due timers. A timer only takes effect through its run's lease holder: a run that is
   * not hot here is woken too, which claims it only when its lease is free or expired (its
   * owner died), so every timer fires once across processes.
   */
  private async fireTimers(): Promise<void> {
    this.cancelTimer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
    if (this.stopped) return;
    const now = this.clock.now();
    const due = await this.store.listDueTimers(now, 500);
    let ours = false;
    for (const t of due) {
      const h = this.hot.get(t.runId);
      if (h) {
        ours = true;
        if (t.key.startsWith('node:') || t.key.startsWith('attempt:')) h.fired.push(t.key);
      }
      this.wake(t.runId);
    }
    const next = await this.store.nextTimerAt();
    // A due row is consumed by the step it wakes; re-check shortly rather than spin on it.
    // Due rows of runs another live process drives are its to consume: look again later.
    const recheck = ours || due.length === 0 ? 25 : Math.max(250, Math.floor(this.leaseTtlMs / 3));
    if (next !== null) this.armTimer(next <= now ? now + recheck : next);
  }
}
