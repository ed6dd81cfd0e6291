/**
 * Response shapes of the REST surface that have no TypeBox schema (yet): interrupts, pause and
 * resume, the workflow catalog, discovery. Types only, so that `@weft/contract/types` (and the
 * SDK through it) carries no runtime dependency. Wire objects are open for reading (hosts may
 * add fields), so most shapes carry an index signature; the fields Weft and the spec guarantee
 * are typed. Shapes that have a schema (`RunSnapshot`, `CreateRunResponse`, `PollResponse`…)
 * are `Static` types of schemas.ts.
 *
 * @see wire-contract.md §1.1, §2.1, §3.2
 */
import type { InterruptVote, WorkflowDefinition } from './schemas.js';
import type { RunStatus } from './wire.js';

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

/** How a pause treats the node that is running. */
export type DrainPolicy = 'immediate' | 'drain-current-node';

/** The 202 body of `POST /v1/runs/{runId}:pause`. */
export interface PauseRunResponse {
  runId: string;
  status: 'paused';
  pausedAt: string;
  [key: string]: unknown;
}

/** The 202 body of `POST /v1/runs/{runId}:resume`. */
export interface ResumeRunResponse {
  runId: string;
  status: 'running';
  resumedAt: string;
  [key: string]: unknown;
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

/** Lifecycle of a managed API key. */
export type ApiKeyStatus = 'active' | 'rotating' | 'revoked' | 'expired';

/**
 * One managed API key as `GET /v1/host/weft/keys` lists it: never the secret, never a hash.
 * Weft host extension.
 *
 * @see security-contract.md §1.4
 */
export interface ApiKeyView {
  keyId: string;
  tenant: string;
  principal: string;
  name: string;
  scopes: string[];
  status: ApiKeyStatus;
  createdAt: string;
  expiresAt?: string;
  revokedAt?: string;
  rotatedFrom?: string;
  graceUntil?: string;
  lastUsedAt?: string;
  [key: string]: unknown;
}

/** The 200 body of `GET /v1/host/weft/keys`. */
export interface ApiKeyList {
  keys: ApiKeyView[];
}

/**
 * The 201 body of `POST /v1/host/weft/keys` and `POST /v1/host/weft/keys/{keyId}:rotate`: the
 * key and its secret, shown this once (the host keeps only a hash).
 */
export interface IssuedApiKey extends ApiKeyView {
  secret: string;
  /** On rotation: the predecessor and the end of its grace window. */
  rotated?: { keyId: string; graceUntil: string };
}

/** The body of `POST /v1/host/weft/keys`. */
export interface CreateApiKeyRequest {
  /** Only the operator credential names a tenant; other callers create in their own. */
  tenant?: string;
  name?: string;
  scopes: string[];
  expiresInSeconds?: number;
}

/** The body of `POST /v1/host/weft/keys/{keyId}:rotate`. */
export interface RotateApiKeyRequest {
  graceSeconds?: number;
  expiresInSeconds?: number;
}

/** One signed checkpoint in an audit verification. */
export interface AuditCheckpointView {
  checkpoint: string;
  atSequence: number;
  merkleRoot: string;
  signature: string;
}

/** One break in the audit hash chain. */
export interface AuditAnomaly {
  atSeq: number;
  expectedPrevHash: string;
  actualPrevHash: string;
}

/** The 200 body of `GET /v1/audit/verify` (official schema `audit-verify-result`). */
export interface AuditVerifyResult {
  fromSeq: number;
  toSeq: number;
  chainValid: boolean;
  checkpointsValid: boolean;
  checkpoints: AuditCheckpointView[];
  anomalies: AuditAnomaly[];
}
