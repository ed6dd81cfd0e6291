/**
 * Ports: the only ways the engine touches the world. Adapters live in the store and server
 * packages; tests use the in-memory store and a fake clock.
 *
 * Glossary
 * - run: one execution of a pinned workflow definition, owned by a tenant.
 * - event: an immutable RunEventDoc appended to a run's log; sequence from 0.
 * - projection: the run row's cached view (status, node states, …) folded from the log and
 *   written in the same transaction as the append that changed it.
 * - lease: (owner, epoch, expiry) on a run; only the holder of the current epoch may append.
 * - timer: a durable wake-up row (delay end, run deadline); survives restarts.
 * - idempotency record: a Layer-1 `Idempotency-Key` claim scoped by (tenant, route, key).
 *
 * Managed keys and the audit log have their ports in `@weft/store-kit` (decision 0013).
 */
import { randomUUID } from 'node:crypto';
import type { RunStatus, WorkflowDefinition } from '@weft/contract';

/**
 * Scrubs secrets from what the engine records: every event at the append boundary, and the
 * caller-supplied inputs, tags and metadata of the run row. Implemented by `@weft/security`'s
 * `Redactor` (the host injects it); this is the port the engine sees.
 */
export interface RecordRedactor {
  /** A redactor that also scrubs these known values (a run's sensitive variables). */
  withSecrets(values: Iterable<string>): RecordRedactor;
  /** `JSON.stringify` output with secrets replaced; the input itself when nothing matched. */
  redactJson(json: string): string;
  /** A JSON-like value with secrets replaced, copy-on-write (the same value when clean). */
  redact<T>(value: T): T;
}

/**
 * The outcome of {@link SecretResolver.resolve}: the value, or a run-level error code to fail
 * the node with. A missing reference and another tenant's reference are the same answer.
 */
export type SecretResolution =
  | { ok: true; value: string; version: number }
  | { ok: false; code: 'credential_not_found' | 'credential_unavailable'; message: string };

/**
 * Resolves secret references at node execution time, bound to the run's tenant (tenant A can
 * never resolve B's references). It never throws for a missing reference — the run fails
 * cleanly with the code — and every value it returns is already registered with the host's
 * redactors, so it is scrubbed from every output. Implemented by the server's vault.
 *
 * @see security-contract.md §4.1 (SEC-05)
 */
export interface SecretResolver {
  /**
   * `purpose` is recorded in the audit log (ids only, never the value); `redactAs` is the label
   * the value is scrubbed under (`[REDACTED:<redactAs>]`, default the ref) — a run-level
   * reference is never echoed, not even in a redaction marker.
   */
  resolve(tenant: string, ref: string, purpose?: { runId?: string; nodeId?: string; redactAs?: string }): Promise<SecretResolution>;
}

// The outbound HTTP port (`Outbound`, `OutboundRequest`, `OutboundResponse`) is declared once in
// `@weft/contract`, so the engine and its adapter (`@weft/security`'s OutboundClient) share it.
export type { Outbound, OutboundRequest, OutboundResponse } from '@weft/contract';

/** Cancels a timer set with {@link Clock.setTimer}; a no-op once it fired. */
export type CancelTimer = () => void;

/**
 * Wall clock and timers, injectable so engine behaviour is testable with a fake clock: every
 * engine wait (durable timers, retries, command deadlines) is set through `setTimer`, so a
 * fake clock fires them when it is advanced.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Calls `fn` once, when the clock reaches `at` (epoch ms) or later. Never keeps the process alive. */
  setTimer(at: number, fn: () => void): CancelTimer;
}

/** The system clock over `setTimeout` (unref'd). */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(at, fn) {
    const t = setTimeout(fn, Math.min(Math.max(0, at - Date.now()), 2 ** 31 - 1));
    t.unref();
    return () => clearTimeout(t);
  },
};

/** Identifier source, injectable so tests can make runs and commands with predictable ids. */
export interface Ids {
  /** A new run id (`run_…`). */
  runId(): string;
  /** A new command row id (`cmd_…`). */
  commandId(): string;
}

/**
 * Run ids are `run_` + 32 hex digits: 12 of the creation time in milliseconds, then 20 taken from a
 * random UUID (78 random bits, from `randomUUID`'s cached entropy pool). Time-ordered keys make the inserts of
 * `runs` and `run_events` land on the last pages of their B-trees, so a group commit touches a
 * few pages instead of one random page per run (decision 0027); the id stays unguessable and is
 * still opaque to clients.
 */
function timeOrderedRunId(): string {
  const uuid = randomUUID();
  // 20 of the UUID's hex digits, skipping the dashes and the version nibble (position 14).
  const rand = uuid.slice(0, 8) + uuid.slice(9, 13) + uuid.slice(15, 18) + uuid.slice(19, 23) + uuid.slice(24, 25);
  return `run_${Date.now().toString(16).padStart(12, '0')}${rand}`;
}

/** Random ids: `randomUUID` draws from a cached entropy pool, much cheaper per call than `randomBytes`. */
export const randomIds: Ids = {
  runId: timeOrderedRunId,
  commandId: () => `cmd_${randomUUID().replaceAll('-', '')}`,
};

/** A workflow definition as stored: immutable, addressed by the hash of its canonical JSON. */
export interface StoredWorkflow {
  id: string;
  hash: string;
  definition: WorkflowDefinition;
  /** Where it came from: `dir:<path>` or `api`. */
  source: string;
  createdAt: string;
}

/** The owner block of a run, derived from the credential only. */
export interface RunOwner {
  tenant: string;
  principal: string;
}

/** The projection kept on the run row. */
export interface RunProjection {
  status: RunStatus;
  lastSequence: number;
  /** Count of `node.started` events (the node-executions cap counts these). */
  nodeExecutions: number;
  startedAt?: string;
  endedAt?: string;
  currentNodeId?: string;
  nodeStates: Record<string, NodeStateView>;
  error?: { code: string; message: string; details?: Record<string, unknown> };
  outputs?: Record<string, unknown>;
  /** Interrupts by interruptId (open and closed), folded from interrupt events. */
  interrupts?: Record<string, InterruptView>;
  /** Set while the run is paused. */
  paused?: { at: string; reason?: string; drainPolicy: 'immediate' | 'drain-current-node' };
  /** Set while a `drain-current-node` pause waits for running nodes to end (`weft.run.pausing`). */
  pausing?: { at: string; pausedBy?: string; reason?: string };
  /** Variables changed during the run (overlay on RunRecord.variables). */
  vars?: Record<string, unknown>;
  /** Set on a child run started by a sub-workflow node. */
  parent?: { runId: string; nodeId: string };
  /**
   * Child runs started by sub-workflow and dispatch nodes, by nodeId: the latest one, and
   * (`earlier`, when a dispatch node started more than one) the run ids before it.
   */
  children?: Record<string, { runId: string; workflowId: string; earlier?: string[] }>;
  /**
   * The run's orchestrator (decision 0026), folded from `runOrchestrator.decided`: its agent
   * (fixed at the first decision), the number of turns decided, and the latest decision with
   * the supervisor node that made it — `superseded` once that node started again.
   */
  orchestrator?: { agentId: string; turns: number; latest: { nodeId: string; decision: unknown; superseded?: boolean } };
  /** Sum of the run's `provider.usage` events (last model and provider seen). */
  cost?: { usd: number; inputTokens: number; outputTokens: number; model: string; provider: string };
}

/** The interrupt kinds of the wire contract. */
export type InterruptKind =
  | 'approval'
  | 'clarification'
  | 'external-event'
  | 'custom'
  | 'conversation.start'
  | 'conversation.exchange'
  | 'conversation.close'
  | 'low-confidence';

/** One vote on a quorum approval. */
export interface InterruptVote {
  principal: string;
  action: string;
  at: string;
  comment?: string;
}

/** An interrupt as folded from `interrupt.requested` / `interrupt.resolved` and votes. */
export interface InterruptView {
  interruptId: string;
  nodeId: string;
  kind: InterruptKind;
  key: string;
  status: 'pending' | 'resolved' | 'cancelled' | 'expired';
  data: Record<string, unknown>;
  resumeSchema?: Record<string, unknown>;
  timeoutMs?: number;
  requestedAt: string;
  /** Deadline (ISO) when timeoutMs is set. */
  expiresAt?: string;
  resolvedAt?: string;
  resolvedBy?: string;
  resumeValue?: unknown;
  /** `rejected` / `expired` outcomes (timeouts fail closed). */
  outcome?: string;
  votes?: InterruptVote[];
}

/** Per-node view on the snapshot. */
export interface NodeStateView {
  status: 'pending' | 'running' | 'suspended' | 'completed' | 'failed' | 'skipped' | 'cancelled';
  typeId: string;
  attempt?: number;
  startedAt?: string;
  endedAt?: string;
  outputs?: Record<string, unknown>;
  error?: { code: string; message: string };
  reason?: string;
  /** Between `node.suspended` and `interrupt.requested` only (fold-internal). */
  pendingInterruptId?: string;
  /** After `node.retried`: the attempt that starts next, and when (ISO). */
  retry?: { attempt: number; at: string };
}

/** A run row. */
export interface RunRecord {
  runId: string;
  tenant: string;
  principal: string;
  workflowId: string;
  workflowHash: string;
  createdAt: string;
  /** Variables the run was seeded with (defaults overlaid by inputs), unmasked. */
  variables: Record<string, unknown>;
  configurable: Record<string, unknown>;
  tags: string[];
  metadata: Record<string, unknown>;
  /** Set once a cancel was requested and the run was not yet terminal. */
  cancelRequested: { reason?: string; by?: string } | null;
  projection: RunProjection;
  leaseOwner: string | null;
  leaseEpoch: number;
  leaseExpiresAt: number | null;
  /** Set on a run made by `POST /v1/runs/{runId}:fork` (migration 0007). */
  fork?: RunFork;
  /**
   * W3C trace context of the request that created the run (`traceparent`/`tracestate`), carried
   * into its events and spans; absent when the request had none.
   */
  traceContext?: TraceContext;
  /**
   * The `callbackUrl` of `POST /v1/runs` (migration 0009): the id of the run's callback
   * subscription (a `webhooks` row bound to this run) and whether its `interrupt.requested`
   * deliveries carry a signed interrupt token (the creator held `approvals:respond`). Forks and
   * child runs never inherit it.
   */
  callback?: RunCallback;
}

/** The callback subscription of a run (see {@link RunRecord.callback}). */
export interface RunCallback {
  webhookId: string;
  /** True when deliveries of `interrupt.requested` carry a resolve token. */
  token: boolean;
}

/**
 * The link of a forked run to its source. `replay` re-executes from `fromSeq` with effects served
 * from the source's invocation log; `branch` continues live. Outbound delivery (webhooks) reads it:
 * see `deliversOutbound`.
 *
 * @see execution-semantics.md §3
 */
export interface RunFork {
  sourceRunId: string;
  /** Events of the source before this sequence were copied as the fork's fixed history. */
  fromSeq: number;
  mode: 'replay' | 'branch';
}

/** What the driver tells {@link RunTelemetry} when a node body starts. */
export interface NodeAttemptInfo {
  run: RunRecord;
  nodeId: string;
  typeId: string;
  /** Zero-based. */
  attempt: number;
}

/** A node attempt in progress; `end` is called once, with the error when the body failed. */
export interface NodeAttemptSpan {
  /** The trace context the body's outbound calls carry (the attempt span's own), if any. */
  readonly traceparent?: string;
  end(error?: unknown): void;
}

/**
 * Telemetry, the engine's only view of tracing and metrics (the host adapts OpenTelemetry to it;
 * the engine imports no SDK). Optional: without it the driver does no telemetry work at all.
 * Calls are synchronous and must not throw or block.
 *
 * @see execution-semantics.md §8
 */
export interface RunTelemetry {
  /** One committed append of `run` (its projection as stored); run start and end are read from the event types. */
  committed(run: RunRecord, events: readonly EncodedEvent[], projection: RunProjection): void;
  /** A node body starts. */
  nodeAttempt(a: NodeAttemptInfo): NodeAttemptSpan;
  /** This process took over a run whose lease another owner held (recovery after a crash or a stale lease). */
  leaseTakeover(runId: string): void;
}

/** A W3C trace context as received (validated `traceparent`; `tracestate` as sent, bounded). */
export interface TraceContext {
  traceparent: string;
  tracestate?: string;
}

/** A serialized event as stored: the JSON is kept exactly as written and streamed as is. */
export interface EncodedEvent {
  sequence: number;
  type: string;
  nodeId?: string;
  json: string;
}

/** A durable wake-up. */
export interface TimerRow {
  runId: string;
  key: string;
  fireAt: number;
}

/** Timer changes written atomically with an append. */
export interface TimerChanges {
  set?: TimerRow[];
  clear?: string[];
  /** Remove every timer of the run (terminal append). */
  clearAll?: boolean;
}

/** A Layer-1 idempotency claim request. */
export interface IdempotencyClaim {
  tenant: string;
  route: string;
  key: string;
  requestHash: string;
  /** Owner token of this attempt (so only it completes or releases the record). */
  owner: string;
  now: number;
  /** Pending records older than this are considered abandoned and may be reclaimed. */
  pendingTtlMs: number;
  /** Record lifetime. */
  retentionMs: number;
  /**
   * The host process making the claim (stores that keep process heartbeats fill it in): a
   * pending claim whose process's heartbeat expired is free at once, not after `pendingTtlMs`.
   */
  process?: string;
}

/** The stored final response of an idempotent request. */
export interface IdempotentResponse {
  status: number;
  body: string;
}

/** Outcome of {@link IdempotencyStore.claimIdempotency}. */
export type IdempotencyClaimResult = { kind: 'claimed' } | { kind: 'replay'; response: IdempotentResponse } | { kind: 'mismatch' } | { kind: 'in-flight' };

/** Completion written with the run row so the two can never disagree. */
/**
 * A host-level write that rides in a run's creation transaction (Weft: the `run.created` audit
 * entry, `AuditRider` of `@weft/store-kit`). Opaque to the engine, which only passes it to
 * {@link RunStore.createRun}: a store that knows `kind` writes it atomically with the run and
 * sets `taken`; a store that does not leaves `taken` false and the host writes it separately.
 */
export interface CreateRunRider {
  readonly kind: string;
  /** Set by the store once the rider is part of the creation transaction. */
  taken: boolean;
}

export interface IdempotencyCompletion {
  tenant: string;
  route: string;
  key: string;
  owner: string;
  response: IdempotentResponse;
}

/** Filter for {@link RunStore.listRuns}. */
export interface RunListQuery {
  status?: RunStatus;
  workflowId?: string;
  limit: number;
  /** Keyset cursor: runs created strictly before this (createdAt, runId) pair. */
  before?: { createdAt: string; runId: string };
}

/** Raised by {@link RunStore.appendEvents} when the caller no longer holds the run's lease. */
export class LeaseLostError extends Error {
  constructor(runId: string) {
    super(`lease lost for run ${runId}`);
    this.name = 'LeaseLostError';
  }
}

/**
 * Raised by a {@link Store} when the database is unreachable or dropped the connection (a
 * terminated backend, a restart, a busy or failing disk): the request may succeed when
 * retried, so the host answers 503 `service_unavailable` with `Retry-After` instead of 500.
 * `cause` keeps the driver error for logs; it is never sent to clients.
 */
export class StoreUnavailableError extends Error {
  constructor(cause: unknown) {
    super('the store is temporarily unavailable', { cause });
    this.name = 'StoreUnavailableError';
  }
}

/**
 * Cross-process wake-ups. Postgres implements it with `LISTEN/NOTIFY` on a dedicated
 * connection; SQLite and memory stores serve one process, so an in-process fan-out is enough.
 * Notifications are hints, never data: a receiver always reads the truth from the store.
 * A handler called with the empty payload `''` means "notifications may have been missed"
 * (the listening connection was re-established): re-check everything you care about.
 */
export interface Notifier {
  /** Sends `payload` to every listener of `channel` (on every process sharing the store). */
  notify(channel: string, payload: string): Promise<void>;
  /** Registers a handler; resolves once listening, with the function that stops it. */
  listen(channel: string, fn: (payload: string) => void): Promise<() => void>;
  close(): Promise<void>;
}

/**
 * Appended events, notified by the engine after each append committed: payload lines
 * `<runId>:<firstSequence>:<lastSequence>`, several appends per notification joined by `\n`.
 */
export const EVENTS_CHANNEL = 'weft_events';
/** A command row was written (or a cancel requested) for run `<runId>`. */
export const COMMANDS_CHANNEL = 'weft_commands';
/** Command `<commandId>` has its outcome recorded. */
export const COMMAND_DONE_CHANNEL = 'weft_command_done';

/** A run command as stored (`run_commands`): written by any process, applied by the lease owner. */
export interface CommandRow {
  id: string;
  runId: string;
  tenant: string;
  /** `resolve`, `pause`, `resume`. */
  kind: string;
  /** The command as JSON. */
  payload: string;
  principal: string;
  /** Epoch milliseconds. */
  createdAt: number;
  state: 'pending' | 'done' | 'failed';
  /** JSON of the answer (`done`) or of the error envelope and headers (`failed`). */
  result: string | null;
}

/** Command outcomes recorded with an append, and when. */
export interface FinishedCommands {
  outcomes: readonly CommandOutcome[];
  now: number;
}

/** The outcome of one command, recorded by the process that applied it. */
export interface CommandOutcome {
  id: string;
  state: 'done' | 'failed';
  result: string;
}

/**
 * A delivery to make for an appended event (a durable webhook's outbox row), written in the
 * same transaction as the event it announces, so an event is never committed without it nor
 * announced without being committed. `(tenant, webhookId, runId, sequence)` is its identity;
 * writing the same row twice keeps the first.
 */
export interface OutboxRow {
  tenant: string;
  webhookId: string;
  runId: string;
  sequence: number;
  eventType: string;
}

/** What every store says about itself, and its lifecycle. */
export interface StoreLifecycle {
  readonly kind: 'memory' | 'sqlite' | 'postgres';
  /** True when several host processes may share this store (leases must expire to move). */
  readonly shared: boolean;
  /** Applies pending migrations. Idempotent. */
  migrate(): Promise<void>;
  close(): Promise<void>;
}

/** Content-addressed workflow definitions and the id → current hash map. */
export interface WorkflowStore {
  putWorkflow(wf: StoredWorkflow): Promise<void>;
  getWorkflow(id: string): Promise<StoredWorkflow | undefined>;
  getWorkflowByHash(hash: string): Promise<StoredWorkflow | undefined>;
  listWorkflows(): Promise<StoredWorkflow[]>;
  deleteWorkflow(id: string): Promise<boolean>;
}

/**
 * Runs: the run row and its projection, the event log, leases and durable timers — the state
 * the engine's fencing rules span, so they stay one port (an append writes all four at once).
 *
 * @see execution-semantics.md §5
 */
export interface RunStore {
  // runs
  /**
   * Inserts a run (and completes its idempotency record in the same transaction). A `rider` the
   * store understands is written in that transaction too and marked `taken`; any other rider is
   * left untaken, for the host to write afterwards.
   */
  createRun(run: RunRecord, idem?: IdempotencyCompletion, rider?: CreateRunRider): Promise<void>;
  /** Reads a run bound to `tenant` in the same query; a foreign run is `undefined`. */
  getRun(tenant: string, runId: string): Promise<RunRecord | undefined>;
  /** Engine-internal read without tenant binding. */
  getRunInternal(runId: string): Promise<RunRecord | undefined>;
  listRuns(tenant: string, q: RunListQuery): Promise<RunRecord[]>;
  /**
   * Appends events under lease fencing: fails with {@link LeaseLostError} unless the run's
   * lease epoch is `epoch`. Sequences must continue the log exactly. Projection, timers,
   * events, the outcomes of the commands the step applied (an outcome only finishes a row that
   * is still pending) and the outbox rows announcing the events commit together, or none does.
   * Outbox rows become claimable at once (`available at` = the append's `now`).
   */
  appendEvents(
    runId: string,
    epoch: number,
    events: EncodedEvent[],
    projection: RunProjection,
    timers?: TimerChanges,
    finished?: FinishedCommands,
    outbox?: { rows: readonly OutboxRow[]; now: number },
  ): Promise<void>;
  /** Events with sequence > `afterSequence`, ascending, at most `limit`. */
  readEvents(runId: string, afterSequence: number, limit: number): Promise<EncodedEvent[]>;
  /** Marks a non-terminal run as cancel-requested. Returns the updated row (tenant-bound). */
  requestCancel(tenant: string, runId: string, reason: string | undefined, by: string): Promise<RunRecord | undefined>;

  // leases
  /** Takes the lease if free, expired, or already ours; returns the new epoch or null. */
  claimRun(runId: string, owner: string, ttlMs: number, now: number, force?: boolean): Promise<number | null>;
  /**
   * Extends every non-terminal lease held by `owner`. Shared SQL stores also record `owner` as
   * a live process until `now + ttlMs` (its heartbeat) and tag the idempotency claims made
   * through this store instance with it.
   */
  renewLeases(owner: string, ttlMs: number, now: number): Promise<void>;
  /**
   * Gives up every lease held by `owner` (clean shutdown), so another process may take the
   * runs at once instead of after the lease expires. The epoch is kept: a late append by the
   * old owner is still fenced once someone else claims. Optional: stores no other process
   * shares need not implement it.
   */
  releaseLeases?(owner: string): Promise<void>;
  /** Non-terminal runs that need a driver: not waiting on a person, and lease free or expired. */
  listRecoverableRuns(now: number, limit: number, includeLeased?: boolean): Promise<string[]>;

  // commands (run_commands)
  /**
   * Writes a pending command row; false (and nothing written) when a row with this id exists —
   * a command re-sent under the same Idempotency-Key finds its first row.
   */
  enqueueCommand(cmd: Omit<CommandRow, 'state' | 'result'>): Promise<boolean>;
  /** The pending commands of a run, in the order they were written. */
  pendingCommands(runId: string): Promise<CommandRow[]>;
  /** Records outcomes; a row that is no longer pending is left as it is. */
  finishCommands(outcomes: readonly CommandOutcome[], now: number): Promise<void>;
  getCommand(id: string): Promise<CommandRow | undefined>;

  // timers
  listDueTimers(now: number, limit: number): Promise<TimerRow[]>;
  nextTimerAt(): Promise<number | null>;
}

/** Layer-1 `Idempotency-Key` records (the run-creating completion rides on {@link RunStore.createRun}). */
export interface IdempotencyStore {
  claimIdempotency(claim: IdempotencyClaim): Promise<IdempotencyClaimResult>;
  /** Stores a final response for a claimed key (for responses not tied to run creation). */
  completeIdempotency(done: IdempotencyCompletion, retentionMs: number, now: number): Promise<void>;
  /** Drops a pending claim (the request failed in a way that must not be cached). */
  releaseIdempotency(tenant: string, route: string, key: string, owner: string): Promise<void>;
  purgeExpiredIdempotency(now: number): Promise<number>;
}

/**
 * The storage the engine needs: runs, workflows and idempotency, plus lifecycle. Managed keys
 * and the audit log are ports of their own (`KeyStore`, `AuditStore` in `@weft/store-kit`),
 * which the engine never sees; `HostStore` there is this plus those two. One contract suite
 * per port runs against every implementation.
 *
 * @see execution-semantics.md §5
 */
/**
 * A Layer-2 effect record (`invocation_log`): one external effect of one node, identified by its
 * `logicalInvocationId` (no attempt in it, so a retry, a resume or a re-execution after a crash
 * finds it). `outcome` is the recorded JSON result (`done`) or error envelope (`failed`).
 *
 * @see execution-semantics.md §5.4 (Layer 2)
 */
export interface InvocationRecord {
  id: string;
  tenant: string;
  runId: string;
  nodeId: string;
  /** The effect's position among its node's effects (stable across attempts). */
  ordinal: number;
  /** What the effect talks to, e.g. `http:POST`, `openai:chat:completions`. */
  providerKey: string;
  /** The node attempt (zero-based) that last claimed it. */
  attempt: number;
  state: 'pending' | 'done' | 'failed';
  outcome: string | null;
  /** How many times the effect was started (more than 1 only across a crash). */
  calls: number;
  createdAt: number;
  updatedAt: number;
  expiresAt: number;
}

/** What {@link InvocationStore.claimInvocation} answers. */
export type InvocationClaim = { kind: 'claimed'; calls: number } | { kind: 'recorded'; record: InvocationRecord };

/** The invocation log: effects claimed atomically before they are made, outcomes recorded after. */
export interface InvocationStore {
  /**
   * Atomically inserts a pending record, or — for a pending one left by an interrupted call —
   * counts another call; either way `claimed`, and the caller makes the effect. A recorded one
   * answers `recorded` and must not be made again.
   */
  claimInvocation(r: Omit<InvocationRecord, 'state' | 'outcome' | 'calls' | 'updatedAt'>): Promise<InvocationClaim>;
  /** Records the outcome of a pending invocation (a recorded one is never overwritten). */
  recordInvocation(id: string, state: 'done' | 'failed', outcome: string, now: number): Promise<void>;
  /** Drops a pending claim (a retryable failure: the next attempt calls again). */
  releaseInvocation(id: string): Promise<void>;
  /** The invocations of a run, by node and ordinal (fork and replay read them). */
  listInvocations(runId: string): Promise<InvocationRecord[]>;
  purgeExpiredInvocations(now: number): Promise<number>;
}

/** The tombstone a retention sweep leaves for a run it deleted. */
export interface ExpiredRun {
  runId: string;
  tenant: string;
  /** When the sweep removed it (epoch ms). */
  expiredAt: number;
}

/**
 * Run retention: terminal runs are deleted after a window and leave a tombstone, so a lookup can
 * answer 410 Gone rather than 404 (production profile, wire-contract §errors).
 */
export interface RetentionStore {
  /**
   * Deletes up to `limit` terminal runs that ended before `endedBefore` (epoch ms; a terminal run
   * without `endedAt` counts from `createdAt`), oldest first: the run row, its events, timers,
   * command rows and invocation records, with a tombstone for each, in one transaction. Runs that
   * are not terminal are never removed. Returns the tombstones written.
   */
  expireRuns(endedBefore: number, limit: number, now: number): Promise<ExpiredRun[]>;
  /** The tombstone of an expired run, bound to `tenant` in the same query (a foreign one is `undefined`). */
  getExpiredRun(tenant: string, runId: string): Promise<ExpiredRun | undefined>;
}

export interface Store extends StoreLifecycle, RunStore, WorkflowStore, IdempotencyStore, InvocationStore, RetentionStore {}
