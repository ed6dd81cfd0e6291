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
import { foldEvents, initialProjection } from './fold.js';
import type { WorkflowGraph } from './graph.js';
import { NodeError, NodeRegistry, type ChildRunView, type InterruptRequest, type NodeResult } from './nodes.js';
import {
  COMMANDS_CHANNEL,
  COMMAND_DONE_CHANNEL,
  EVENTS_CHANNEL,
  LeaseLostError,
  StoreUnavailableError,
  randomIds,
  systemClock,
  type CancelTimer,
  type Clock,
  type Ids,
  type CommandOutcome,
  type CommandRow,
  type EncodedEvent,
  type IdempotencyCompletion,
  type IdempotentResponse,
  type InterruptView,
  type Notifier,
  type RecordRedactor,
  type RunRecord,
  type Store,
  type TimerChanges,
} from './ports.js';
import { applyCommand } from './run/commands.js';
import { interruptAnswer } from './run/interrupts.js';
import { type MachineEnv, nodeInputs, step } from './run/machine.js';
import { makeState, type RunState } from './run/state.js';
import type { CommandReply, CommandResult, Effect, NodeOutcome, RunCommand, StepInput, StepOutput, TimerPlan } from './run/types.js';
import { canonicalJson } from './scheduler.js';
import { WorkflowCatalog } from './workflow-catalog.js';

export { DELEGATE_SCOPE, type CommandResult, type RunCommand } from './run/types.js';
export { maskVariables } from './run/machine.js';

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

/** A command accepted by this process, waiting for its outcome. */
interface CommandWaiter {
  resolve: (r: CommandResult) => void;
  reject: (e: unknown) => void;
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
  /** Children started since the last step, not yet recorded with node.dispatched. */
  dispatched: Map<string, { runId: string; workflowId: string }>;
  /** Node timer keys that fired since the last step. */
  fired: string[];
  /** Sub-workflow nodes whose child ended since the last step. */
  childrenEnded: string[];
  /** A cancel request not yet stepped. */
  cancel?: NonNullable<RunRecord['cancelRequested']>;
  /** Command rows applied by this process, kept so a row whose outcome failed to record is not applied twice. */
  applied: Map<string, CommandOutcome>;
}

const isPromise = (v: unknown): v is Promise<unknown> => typeof (v as { then?: unknown })?.then === 'function';

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
    this.notifier = opts.notifier ?? new InProcessNotifier();
    this.commandTimeoutMs = opts.commandTimeoutMs ?? this.leaseTtlMs + 5000;
    this.catalog = new WorkflowCatalog(this.store, this.registry, this.clock);
    this.env = { nodeType: (typeId) => this.registry.get(typeId), runtimeCapabilities: this.runtimeCapabilities, validator: this.validator };
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
    this.cancelTimer?.();
    this.cancelTimer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
    for (const h of this.hot.values()) for (const f of h.bodies.values()) f.ctrl.abort();
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
      runId: child?.runId ?? this.ids.runId(),
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
    if (h && rec.cancelRequested) h.cancel = rec.cancelRequested;
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
    if (TERMINAL_STATUSES.has(rec.projection.status)) return applyCommand({ rec, proj: rec.projection }, cmd, this.validator);
    if (this.stopped) throw new WeftError('service_unavailable', 'The host is shutting down.', { retryAfter: 1 }, { 'retry-after': '1' });
    const id = this.ids.commandId();
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
  private async finishCommands(applied: readonly CommandReply[]): Promise<void> {
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
    return {
      state: makeState(rec, proj, graph, def, this.limits, this.redactor),
      epoch,
      bodies: new Map(),
      settled: [],
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
          const parent = h.state.proj.parent;
          if (parent) {
            this.hot.get(parent.runId)?.childrenEnded.push(parent.nodeId);
            this.wake(parent.runId);
          }
          return;
        }
        if (this.dirty.has(runId)) continue;
        if (h.bodies.size === 0) return; // waiting on a timer or a person; a wake resumes it
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
    const h = this.makeHot(rec, foldEvents(graph, docs), epoch, graph, wf.definition);
    this.hot.set(runId, h);
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
    await this.finishCommands(applied);
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
      input.dispatched = [...h.dispatched].map(([nodeId, c]) => ({ nodeId, ...c }));
      h.dispatched.clear();
    }
    if (h.fired.length > 0) input.timersFired = h.fired.splice(0);
    if (h.childrenEnded.length > 0) input.childrenEnded = h.childrenEnded.splice(0);
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
      const sync = this.runEffects(h, out.effects, acc.later);
      if (out.terminal || sync.length === 0) break;
      // A synchronous chain is bounded per step; the rest follows in the next one.
      if (++rounds >= 10_000) {
        h.settled.push(...sync.map((s) => ({ ...s, token: this.trackBody(h, s.nodeId) })));
        this.dirty.add(h.state.rec.runId);
        break;
      }
      next = { now, settled: sync };
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
  private runEffects(h: HotRun, effects: readonly Effect[], later: Effect[]): { nodeId: string; outcome: NodeOutcome }[] {
    const sync: { nodeId: string; outcome: NodeOutcome }[] = [];
    for (const e of effects) {
      if (e.type === 'abort') {
        for (const b of h.bodies.values()) b.ctrl.abort();
        h.bodies.clear();
      } else if (e.type === 'execute') {
        const outcome = this.runBody(h, e.nodeId);
        if (outcome) sync.push({ nodeId: e.nodeId, outcome });
      } else later.push(e);
    }
    return sync;
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
    let out: NodeResult | Promise<NodeResult>;
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
        now: () => this.clock.now(),
        variables: { ...s.rec.variables, ...(s.proj.vars ?? {}) },
        children: {
          current: () => s.proj.children?.[node.id]?.runId ?? h.dispatched.get(node.id)?.runId,
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
        interrupt: (req: InterruptRequest) => interruptAnswer(s, node.id, req),
      });
    } catch (error) {
      return { error };
    }
    if (!isPromise(out)) return { result: out };
    const token = this.trackBody(h, node.id, ctrl);
    const runId = s.rec.runId;
    out
      .then(
        (result) => h.settled.push({ nodeId: node.id, token, outcome: { result } }),
        (error: unknown) => h.settled.push({ nodeId: node.id, token, outcome: { error } }),
      )
      .finally(() => this.wake(runId));
    return undefined;
  }

  private async commit(h: HotRun, events: EncodedEvent[], timers: TimerPlan, replies: CommandReply[]): Promise<void> {
    const runId = h.state.rec.runId;
    if (events.length === 0 && timers.set.length === 0 && timers.clear.length === 0 && !timers.clearAll && replies.length === 0) return;
    try {
      if (events.length > 0 || timers.set.length > 0 || timers.clear.length > 0 || timers.clearAll) {
        await this.store.appendEvents(runId, h.epoch, events, h.state.proj, timers);
      }
    } catch (e) {
      // Nothing of this step is committed: its commands are still pending and are applied
      // again by the run's next step (here after a retry, or by the process that took the run).
      if (replies.length > 0) this.commandRuns.add(runId);
      throw e;
    }
    if (events.length > 0) {
      this.publish(runId, events, h.state.proj);
      if (this.store.shared) this.noticeEvents(runId, events);
    }
    const status = h.state.proj.status;
    // An interrupt answer carries the status the run reached with it; pause and resume answer
    // the transition they made (`paused`, `running`) as the wire contract fixes.
    const answers = replies.map((a) =>
      a.result === undefined || a.result.pausedAt !== undefined || a.result.resumedAt !== undefined ? a : { id: a.id, result: { ...a.result, status } },
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

  // ------------------------------------------------------------------ sub-workflows

  /**
   * Starts the child run of a sub-workflow node. The child's runId is derived from the parent
   * and node, so a node re-executed after a crash finds its child instead of starting another.
   */
  private async startChild(h: HotRun, nodeId: string, workflowId: string, inputs: Record<string, unknown>): Promise<string> {
    const parent = h.state.rec;
    const runId = `run_${createHash('sha256').update(`child\u0000${parent.runId}\u0000${nodeId}`).digest('base64url').slice(0, 22)}`;
    if (!(await this.store.getRunInternal(runId))) {
      await this.createRun({ tenant: parent.tenant, principal: parent.principal, workflowId, inputs }, undefined, {
        runId,
        parent: { runId: parent.runId, nodeId },
      });
    }
    h.dispatched.set(nodeId, { runId, workflowId });
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
        if (t.key.startsWith('node:')) h.fired.push(t.key);
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
