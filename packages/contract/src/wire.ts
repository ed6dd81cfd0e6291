/**
 * Wire vocabulary of OpenWOP v1 as Weft speaks it: statuses, event types, stream modes, scopes.
 *
 * @see wire-contract.md §3
 */

/** Protocol version advertised in discovery (`<major>.<minor>`). */
export const PROTOCOL_VERSION = '1.1';
/** Integer engine version (discovery root; string on events; number on snapshots). */
export const ENGINE_VERSION = 1;
/** Per-run event-log schema version (v1 value). */
export const EVENT_LOG_SCHEMA_VERSION = 2;
/** Per-event payload contract version. */
export const EVENT_SCHEMA_VERSION = 1;

/** Every run status of `RunSnapshot.status`. */
export const RUN_STATUSES = [
  'pending',
  'running',
  'paused',
  'waiting-approval',
  'waiting-input',
  'waiting-external',
  'completed',
  'failed',
  'cancelling',
  'cancelled',
] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

/** True for a value of {@link RUN_STATUSES} (a query parameter, a stored string). */
export const isRunStatus = (value: unknown): value is RunStatus => typeof value === 'string' && (RUN_STATUSES as readonly string[]).includes(value);

/** The statuses after which a run never changes. */
export type TerminalStatus = 'completed' | 'failed' | 'cancelled';

/** Statuses after which a run never changes: the one terminal set of engine, server, SDK and CLI. */
export const TERMINAL_STATUSES: ReadonlySet<RunStatus> = new Set<TerminalStatus>(['completed', 'failed', 'cancelled']);

/** True for a terminal run status; accepts any value (a status read off the wire is a string). */
export const isTerminalStatus = (status: unknown): status is TerminalStatus => typeof status === 'string' && TERMINAL_STATUSES.has(status as RunStatus);

/** Statuses in which a run waits for a person, an external event or a resume — not for a driver. */
export const WAITING_STATUSES: ReadonlySet<RunStatus> = new Set<RunStatus>(['waiting-approval', 'waiting-input', 'waiting-external', 'paused']);

/** Event types that end a run; exactly one is emitted and it is the last. */
export const TERMINAL_EVENT_TYPES: ReadonlySet<string> = new Set(['run.completed', 'run.failed', 'run.cancelled']);

/** Stream modes of `GET /v1/runs/{runId}/events`. */
export const STREAM_MODES = ['updates', 'values', 'messages', 'debug'] as const;
export type StreamMode = (typeof STREAM_MODES)[number];

/**
 * Event types delivered in `updates` mode (run transitions, terminal node transitions,
 * suspensions and HITL, artifacts). `debug` delivers everything.
 *
 * @see wire-contract.md §3.5
 */
export const UPDATES_EVENT_TYPES: ReadonlySet<string> = new Set([
  'run.started',
  'run.completed',
  'run.failed',
  'run.cancelled',
  'run.paused',
  'run.resumed',
  'run.annotated',
  'node.completed',
  'node.failed',
  'node.skipped',
  'node.cancelled',
  'node.suspended',
  'node.dispatched',
  'approval.requested',
  'approval.received',
  'clarification.requested',
  'clarification.resolved',
  'interrupt.requested',
  'interrupt.resolved',
  'artifact.created',
  'workspace.updated',
  'cap.breached',
]);

/** Authorization scopes (auth.md vocabulary) Weft enforces. */
export const SCOPES = [
  'manifest:read',
  'runs:create',
  'runs:read',
  'runs:cancel',
  'artifacts:read',
  'webhooks:manage',
  'approvals:respond',
  'audit:read',
  'workflows:write',
  /** Weft: create, list, rotate and revoke managed API keys of the caller's tenant. */
  'keys:manage',
  /** Weft: manage keys of any tenant (operator keys only; never grantable to a managed key). */
  'keys:admin',
  /**
   * Weft: cast quorum approval votes on behalf of named voters (`resumeValue.voter`), for
   * integrations that collect one vote per human. Distinct voters count toward the quorum.
   */
  'interrupts:delegate',
  /** Weft: list the metadata of the tenant's vault secrets (never values). */
  'secrets:read',
  /** Weft: create, rotate and delete the tenant's vault secrets (values are write-only). */
  'secrets:write',
] as const;
export type Scope = (typeof SCOPES)[number];

/** Response header marking a replayed idempotent response. */
export const IDEMPOTENT_REPLAY_HEADER = 'openwop-Idempotent-Replay';

/** The one webhook signature scheme: HMAC-SHA256 over `{timestamp}.{rawBody}` (security-contract §3.2 WH-12). */
export const WEBHOOK_SIGNATURE_ALGORITHM = 'v1';

/** The headers of a webhook delivery (WH-10), lower-case as Node reads them. */
export const WEBHOOK_HEADERS = {
  id: 'x-openwop-webhook-id',
  eventType: 'x-openwop-event-type',
  timestamp: 'x-openwop-timestamp',
  signature: 'x-openwop-signature',
  algorithm: 'x-openwop-signature-algorithm',
} as const;

/** Receivers reject a delivery whose timestamp is further than this from their clock (WH-12). */
export const WEBHOOK_TOLERANCE_SECONDS = 300;
