/**
 * Options of the client's calls (what the caller passes, not what goes on the wire).
 */
import type { CreateRunResponse, DrainPolicy, ForkRunResponse, RunStatus, StreamMode } from '@weft/contract/types';

/** Options of {@link WeftClient.approve} and {@link WeftClient.reject}. */
export interface ApprovalOptions {
  /** Recorded with the decision. */
  comment?: string;
}

/** Options of {@link WeftClient.pauseRun}. */
export interface PauseRunOptions {
  reason?: string;
  /** `drain-current-node` (host default) lets running nodes finish; `immediate` aborts them. */
  drainPolicy?: DrainPolicy;
}

/** Options of {@link WeftClient.resumeRun}. */
export interface ResumeRunOptions {
  reason?: string;
}

/** Options of mutating calls that honour `Idempotency-Key`. */
export interface IdempotencyOptions {
  /** Sent as the `Idempotency-Key` header; a retry with the same key and body is replayed. */
  idempotencyKey?: string;
}

/** What {@link WeftClient.createRun} resolves with: the body plus the replay marker. */
export interface CreateRunResult extends CreateRunResponse {
  /** True when the host answered from its idempotency cache (`openwop-Idempotent-Replay: true`). */
  replayed: boolean;
}

/** What {@link WeftClient.forkRun} returns: the 201 body and whether it was an idempotent replay. */
export interface ForkRunResult extends ForkRunResponse {
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

/** Query of `GET /v1/runs/{runId}/events/poll`. */
export interface PollEventsOptions {
  /** Highest sequence already seen; the answer holds events with a greater sequence. */
  lastSequence?: number;
  /** Long-poll wait in seconds (1..60, host default 30). */
  timeout?: number;
  signal?: AbortSignal;
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

/** Options of the conditional vault mutations (rotate, delete). */
export interface SecretWriteOptions extends IdempotencyOptions {
  /** An ETag from an earlier read: the host answers 412 `precondition_failed` when the secret changed since. */
  ifMatch?: string;
}
