/**
 * Named failures of the SDK. Each carries a stable `code` so callers (and the CLI) can print
 * `error: <code>: <message>` without inspecting classes. No message ever contains the API key:
 * text that comes from the network passes through {@link redactSecret} first.
 *
 * @see wire-contract.md §4.1
 */

/** Options of {@link WeftApiError}. */
export interface WeftApiErrorInit {
  status: number;
  code: string;
  message: string;
  details?: Record<string, unknown>;
  retryAfter?: number;
}

/**
 * A non-2xx answer from the host (or a 2xx answer the SDK could not read).
 *
 * @see wire-contract.md §4.1 — `code` is the envelope's `error`, `details` its `details`.
 */
export class WeftApiError extends Error {
  override readonly name = 'WeftApiError';
  /** HTTP status of the answer. */
  readonly status: number;
  /** Machine code: the envelope's `error`, or `http_<status>` when the body was no envelope. */
  readonly code: string;
  /** The envelope's `details` object, if any. */
  readonly details: Record<string, unknown> | undefined;
  /** Seconds to wait before retrying, from the `Retry-After` header. */
  readonly retryAfter: number | undefined;

  constructor(init: WeftApiErrorInit) {
    super(init.message);
    this.status = init.status;
    this.code = init.code;
    this.details = init.details;
    this.retryAfter = init.retryAfter;
  }
}

/** The host could not be reached, or the connection broke before an answer arrived. */
export class WeftConnectionError extends Error {
  override readonly name = 'WeftConnectionError';
  /** Stable code for printing. */
  readonly code = 'connection_failed';
  /** Method and path of the failed request (never a credential). */
  readonly request: string;

  constructor(request: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.request = request;
  }
}

/** An event stream dropped and could not be resumed within the retry budget. */
export class WeftStreamError extends Error {
  override readonly name = 'WeftStreamError';
  /** Stable code for printing. */
  readonly code = 'stream_resume_failed';
  readonly runId: string;
  /** The last event id seen before giving up (what a later resume would send). */
  readonly lastEventId: string | undefined;
  /** Consecutive failed reconnect attempts (the last one included). */
  readonly attempts: number;

  constructor(init: { runId: string; lastEventId: string | undefined; attempts: number; message: string; cause?: unknown }) {
    super(init.message, { cause: init.cause });
    this.runId = init.runId;
    this.lastEventId = init.lastEventId;
    this.attempts = init.attempts;
  }
}

/**
 * Replaces every occurrence of `secret` in `text`. Applied to everything that reaches an error
 * message from outside, so a host echoing the credential cannot leak it into logs.
 */
export function redactSecret(text: string, secret: string | undefined): string {
  if (!secret) return text;
  return text.split(secret).join('[redacted]');
}

/**
 * Parses `Retry-After` (delta-seconds or HTTP-date) into whole seconds, or `undefined`.
 *
 * @param now - clock for the HTTP-date form, injectable for tests.
 */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | undefined {
  if (value === null) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, Math.ceil((at - now) / 1000));
}
