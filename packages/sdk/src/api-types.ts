/**
 * Request and response shapes of the REST surface as the SDK sees them. Wire objects are open
 * for reading (hosts may add fields), so most shapes carry an index signature; the fields Weft
 * and the spec guarantee are typed.
 *
 * @see wire-contract.md §1.1, §3.2, §3.6
 */
import type { RunEventDoc, RunStatus, StreamMode, WorkflowDefinition } from '@weft/contract';

/**
 * The discovery document of `GET /.well-known/openwop` (only the required fields are typed).
 *
 * @see wire-contract.md §2.1
 */
export interface DiscoveryDocument {
  protocolVersion: string;
  supportedEnvelopes: string[];
  schemaVersions: Record<string, unknown>;
  limits: Record<string, unknown>;
  fixtures?: string[];
  implementation?: { name?: string; version?: string; vendor?: string };
  [key: string]: unknown;
}

/** A run snapshot (`GET /v1/runs/{runId}`). @see wire-contract.md §3.2 */
export interface RunSnapshot {
  runId: string;
  workflowId: string;
  status: RunStatus;
  currentNodeId?: string;
  startedAt?: string;
  completedAt?: string;
  endedAt?: string | null;
  variables?: Record<string, unknown>;
  error?: { code: string; message: string; details?: Record<string, unknown> };
  tags?: string[];
  metadata?: Record<string, unknown>;
  configurable?: Record<string, unknown>;
  /** The first pending interrupt while the run waits (`waiting-approval|input|external`). */
  interrupt?: RunInterruptBlock;
  /** Every pending interrupt of the run (parallel branches can wait at once). */
  pendingInterrupts?: PendingInterruptRef[];
  /** When the run was paused (`POST /v1/runs/{runId}:pause`); absent when not paused. */
  pausedAt?: string;
  /** Set on a child run: the run and node that started it. */
  parentRunId?: string;
  parentNodeId?: string;
  /** Child runs started by sub-workflow nodes of this run. */
  childRuns?: ChildRunRef[];
  [key: string]: unknown;
}

/**
 * Interrupt kinds of the wire contract. The four common ones are named; hosts may use others
 * (Weft also knows `conversation.*` and `low-confidence`).
 *
 * @see execution-semantics.md §2.4
 */
export type InterruptKind = 'approval' | 'clarification' | 'external-event' | 'custom' | (string & {});

/** Lifecycle of one interrupt. */
export type InterruptStatus = 'pending' | 'resolved' | 'cancelled' | 'expired';

/** Decisions an approval gate can offer (`data.actions`). */
export type ApprovalAction = 'accept' | 'reject' | 'refine' | 'edit-accept' | 'ask';

/** One vote on a quorum approval. */
export interface InterruptVote {
  principal: string;
  action: string;
  at: string;
}

/** `data` of an `approval` interrupt. */
export interface ApprovalInterruptData {
  title: string;
  description?: string;
  actions: ApprovalAction[];
  requiredApprovals?: number;
  rejectionPolicy?: string;
  [key: string]: unknown;
}

/** One question of a `clarification` interrupt. */
export interface ClarificationQuestion {
  id: string;
  question: string;
  [key: string]: unknown;
}

/** `data` of a `clarification` interrupt. */
export interface ClarificationInterruptData {
  questions: ClarificationQuestion[];
  [key: string]: unknown;
}

/** `data` of an `external-event` interrupt: the event must carry every `correlation` key. */
export interface ExternalEventInterruptData {
  eventType: string;
  correlation: Record<string, unknown>;
  [key: string]: unknown;
}

/** The resume value of an approval. */
export interface ApprovalResumeValue {
  action: ApprovalAction;
  comment?: string;
  feedback?: string;
  [key: string]: unknown;
}

/** The resume value of a clarification: one answer per question id. */
export interface ClarificationResumeValue {
  answers: Record<string, unknown>;
}

/**
 * One interrupt of a run (`GET /v1/runs/{runId}/interrupts`, `GET /v1/interrupts/{token}`).
 * `data` is the kind-specific payload (see {@link ApprovalInterruptData} and siblings).
 */
export interface InterruptView {
  runId: string;
  nodeId: string;
  interruptId: string;
  kind: InterruptKind;
  key: string;
  data: Record<string, unknown>;
  status: InterruptStatus;
  requestedAt: string;
  /** JSON Schema the resume value must match. */
  resumeSchema?: Record<string, unknown>;
  timeoutMs?: number;
  /** Deadline (ISO) when the interrupt times out. */
  expiresAt?: string;
  votes?: InterruptVote[];
  resolvedAt?: string;
  /** How a settled interrupt ended (`accepted`, `rejected`, `resolved`, `expired`…). */
  outcome?: string;
  [key: string]: unknown;
}

/** The 200 body of `GET /v1/runs/{runId}/interrupts` (every interrupt of the run, any status). */
export interface InterruptList {
  interrupts: InterruptView[];
}

/** One entry of `GET /v1/host/weft/interrupts`: a pending interrupt and its run's workflow. */
export interface PendingInterrupt extends InterruptView {
  workflowId: string;
}

/** The 200 body of `GET /v1/host/weft/interrupts`, oldest request first. */
export interface PendingInterruptList {
  interrupts: PendingInterrupt[];
}

/** The `interrupt` block of a waiting run's snapshot. */
export interface RunInterruptBlock {
  kind: InterruptKind;
  nodeId: string;
  interruptId: string;
  key: string;
  /** The interrupt's `data`. */
  payload: Record<string, unknown>;
  requestedAt: string;
  resumeSchema?: Record<string, unknown>;
  expiresAt?: string;
  votes?: InterruptVote[];
  /**
   * Signed callback token for `GET|POST /v1/interrupts/{token}` (only for callers holding
   * `approvals:respond`). It is a credential: whoever holds it can answer the interrupt.
   */
  interruptToken?: string;
  tokenExpiresAt?: string;
  [key: string]: unknown;
}

/** One entry of `RunSnapshot.pendingInterrupts`. */
export interface PendingInterruptRef {
  nodeId: string;
  interruptId: string;
  kind: InterruptKind;
}

/** One entry of `RunSnapshot.childRuns`. */
export interface ChildRunRef {
  runId: string;
  nodeId: string;
  workflowId: string;
}

/** Quorum progress of an approval that needs several votes. */
export interface QuorumTally {
  granted: number;
  rejected: number;
  required: number;
}

/**
 * The 200 body of `POST /v1/runs/{runId}/interrupts/{nodeId}` and `POST /v1/interrupts/{token}`.
 * `interrupt.outcome` is `pending` while a quorum approval still collects votes.
 */
export interface ResolveInterruptResponse {
  runId: string;
  nodeId: string;
  interruptId: string;
  /** The run status after the resolution was applied. */
  status: RunStatus;
  interrupt?: { kind: InterruptKind; outcome?: string; votes?: QuorumTally };
  [key: string]: unknown;
}

/** Options of {@link WeftClient.approve} and {@link WeftClient.reject}. */
export interface ApprovalOptions {
  /** Recorded with the decision. */
  comment?: string;
}

/** How a pause treats the node that is running. */
export type DrainPolicy = 'immediate' | 'drain-current-node';

/** Options of {@link WeftClient.pauseRun}. */
export interface PauseRunOptions {
  reason?: string;
  /** `drain-current-node` (host default) lets running nodes finish; `immediate` aborts them. */
  drainPolicy?: DrainPolicy;
}

/** The 202 body of `POST /v1/runs/{runId}:pause`. */
export interface PauseRunResponse {
  runId: string;
  status: 'paused';
  pausedAt: string;
  [key: string]: unknown;
}

/** Options of {@link WeftClient.resumeRun}. */
export interface ResumeRunOptions {
  reason?: string;
}

/** The 202 body of `POST /v1/runs/{runId}:resume`. */
export interface ResumeRunResponse {
  runId: string;
  status: 'running';
  resumedAt: string;
  [key: string]: unknown;
}

/** Body of `POST /v1/runs`. @see wire-contract.md §1.3 */
export interface CreateRunBody {
  workflowId: string;
  inputs?: Record<string, unknown>;
  configurable?: Record<string, unknown>;
  tags?: string[];
  metadata?: Record<string, unknown>;
}

/** Options of mutating calls that honour `Idempotency-Key`. */
export interface IdempotencyOptions {
  /** Sent as the `Idempotency-Key` header; a retry with the same key and body is replayed. */
  idempotencyKey?: string;
}

/** The 201 body of `POST /v1/runs`. */
export interface CreateRunResponse {
  runId: string;
  status: RunStatus;
  workflowId: string;
  eventsUrl: string;
  statusUrl: string;
  [key: string]: unknown;
}

/** What {@link WeftClient.createRun} resolves with: the body plus the replay marker. */
export interface CreateRunResult extends CreateRunResponse {
  /** True when the host answered from its idempotency cache (`openwop-Idempotent-Replay: true`). */
  replayed: boolean;
}

/** Query of `GET /v1/runs`. */
export interface ListRunsQuery {
  status?: RunStatus;
  workflowId?: string;
  limit?: number;
  cursor?: string;
}

/** One page of `GET /v1/runs`. */
export interface RunList {
  runs: RunSnapshot[];
  /** Pass as `cursor` to get the next page; absent on the last page. */
  nextCursor?: string;
}

/** The 200 body of `POST /v1/runs/{runId}/cancel`. */
export interface CancelRunResponse {
  runId: string;
  status: RunStatus;
  [key: string]: unknown;
}

/** One per-id outcome of `POST /v1/runs:bulk-cancel`, in request order. */
export interface BulkCancelResult {
  runId: string;
  ok: boolean;
  status?: RunStatus;
  error?: { code: string; message: string };
}

/** The 200 body of `POST /v1/runs:bulk-cancel`. */
export interface BulkCancelResponse {
  results: BulkCancelResult[];
}

/** Query of `GET /v1/runs/{runId}/events/poll`. */
export interface PollEventsOptions {
  /** Highest sequence already seen; the answer holds events with a greater sequence. */
  lastSequence?: number;
  /** Long-poll wait in seconds (1..60, host default 30). */
  timeout?: number;
  signal?: AbortSignal;
}

/** The 200 body of `GET /v1/runs/{runId}/events/poll`. @see wire-contract.md §3.6 */
export interface PollEventsResponse {
  runId: string;
  events: RunEventDoc[];
  lastEventSeq: number;
  runStatus: RunStatus;
  isTerminal: boolean;
  isComplete: boolean;
}

/** Options of {@link WeftClient.streamEvents}. @see wire-contract.md §3.5 */
export interface StreamEventsOptions {
  /** One mode, a list (sent comma-joined) or a raw comma list; host default `updates`. */
  streamMode?: StreamMode | readonly StreamMode[] | string;
  /** Server-side batching window in ms (0..5000); `batch` frames are expanded transparently. */
  bufferMs?: number;
  /** Resume after this event id (a sequence); events at or before it are never yielded. */
  lastEventId?: string | number;
  /** Aborts the stream; the iteration then rejects with the abort reason. */
  signal?: AbortSignal;
  /** Reconnect with `Last-Event-ID` when the connection drops before the terminal event. Default true. */
  autoResume?: boolean;
  /** Consecutive failed reconnects tolerated before giving up. Default 5. */
  maxRetries?: number;
  /** Base delay between failed reconnects, doubled each time up to 5 s. Default 250 ms. */
  retryDelayMs?: number;
}

/** One entry of `GET /v1/host/weft/workflows`. */
export interface WorkflowSummary {
  id: string;
  /** Content hash of the stored definition. */
  hash: string;
  name: string;
  /** Where the definition came from (e.g. a directory scanned at boot, or the API). */
  source: string;
  createdAt: string;
  version?: string;
  /** False when the definition uses node types this host cannot run. */
  runnable?: boolean;
  [key: string]: unknown;
}

/** The body of `POST /v1/host/weft/workflows`. */
export interface RegisterWorkflowResult {
  id: string;
  hash: string;
  /** False when the identical definition was already registered (HTTP 200 instead of 201). */
  created: boolean;
  runnable?: boolean;
  [key: string]: unknown;
}

/** The 200 body of `GET /v1/host/weft/workflows`. */
export interface WorkflowList {
  workflows: WorkflowSummary[];
}

/** A workflow definition as stored and served by `GET /v1/workflows/{id}`. */
export type Workflow = WorkflowDefinition;
