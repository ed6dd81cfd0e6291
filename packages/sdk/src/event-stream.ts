/**
 * The auto-resuming run event stream behind {@link WeftClient.streamEvents}.
 *
 * The stream reads SSE frames, expands `batch` frames, and remembers the last `id:` it saw.
 * When the connection drops before the terminal event it reconnects with `Last-Event-ID` and
 * drops anything at or below the highest sequence already yielded, so a consumer sees every
 * event exactly once and in order. A stream that ends *cleanly* without a terminal event
 * (a proxy cut it, or the stream mode filters terminal events out) is ambiguous; the run status
 * decides: a terminal run gets one last draining connection, a live one is resumed.
 *
 * @see wire-contract.md §3.5 (Resumption)
 */
import { TERMINAL_EVENT_TYPES, isTerminalStatus, type RunEventDoc } from '@weft/contract/types';
import type { StreamEventsOptions } from './options.js';
import { WeftApiError, WeftConnectionError, WeftStreamError } from './errors.js';
import { parseSseStream, type SseFrame } from './sse.js';

const MAX_RETRY_DELAY_MS = 5000;

/** The I/O the stream needs, supplied by the client. */
export interface EventStreamConnector {
  /** Opens one SSE connection; resolves with the body once the host answered 2xx, else throws. */
  open(lastEventId: string | undefined, signal: AbortSignal | undefined): Promise<ReadableStream<Uint8Array>>;
  /** Reads the run status; used only after a clean end without a terminal event. */
  isRunTerminal(signal: AbortSignal | undefined): Promise<boolean>;
}

/**
 * True for the event that ends a stream: a terminal run event, or — in `values` mode, where
 * only snapshots flow — a `state.snapshot` whose run status is terminal.
 */
export function isTerminalEvent(doc: RunEventDoc): boolean {
  if (TERMINAL_EVENT_TYPES.has(doc.type)) return true;
  if (doc.type !== 'state.snapshot' || typeof doc.payload !== 'object' || doc.payload === null) return false;
  const status = (doc.payload as { status?: unknown }).status;
  return isTerminalStatus(status);
}

const isEventDoc = (v: unknown): v is RunEventDoc =>
  typeof v === 'object' && v !== null && typeof (v as { type?: unknown }).type === 'string' && Number.isInteger((v as { sequence?: unknown }).sequence);

/**
 * Turns one frame into event docs. Malformed JSON is a protocol error (thrown); well-formed
 * frames that carry no event envelope (foreign frame types) are skipped.
 */
function eventsOf(frame: SseFrame): RunEventDoc[] {
  if (frame.data === '') return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(frame.data);
  } catch {
    throw new WeftApiError({
      status: 200,
      code: 'invalid_response',
      message: `The event stream sent a frame that is not JSON (event ${frame.event ?? 'message'}).`,
    });
  }
  if (frame.event === 'batch') {
    if (!Array.isArray(parsed)) {
      throw new WeftApiError({ status: 200, code: 'invalid_response', message: 'The event stream sent a batch frame that is not a JSON array.' });
    }
    return parsed.filter(isEventDoc);
  }
  return isEventDoc(parsed) ? [parsed] : [];
}

/** Whether a failed (re)connect is worth retrying: transport trouble, overload, server errors. */
function isRetryable(err: unknown): boolean {
  if (err instanceof WeftConnectionError) return true;
  if (err instanceof WeftApiError) return err.status === 408 || err.status === 429 || err.status >= 500;
  return false;
}

function delay(ms: number, signal: AbortSignal | undefined): Promise<void> {
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Yields the run's events once each, in sequence order, across reconnects; returns after the
 * terminal event (or after a clean end when `autoResume` is off).
 *
 * The first connection is not retried: a host that cannot be reached, or refuses the request,
 * fails fast with {@link WeftConnectionError} / {@link WeftApiError}. Later reconnects retry
 * transport errors, 408/429/5xx with backoff; when `maxRetries` consecutive attempts make no
 * progress the stream throws {@link WeftStreamError}.
 */
export async function* resumableEventStream(
  runId: string,
  connector: EventStreamConnector,
  options: StreamEventsOptions = {},
): AsyncGenerator<RunEventDoc, void, undefined> {
  const { signal } = options;
  const autoResume = options.autoResume ?? true;
  const maxRetries = options.maxRetries ?? 5;
  const retryDelayMs = options.retryDelayMs ?? 250;

  let lastId = options.lastEventId === undefined ? undefined : String(options.lastEventId);
  let lastSeq = lastId !== undefined && /^\d+$/.test(lastId) ? Number(lastId) : -1;
  let connected = false;
  let draining = false;
  let failures = 0;
  let lastError: unknown;

  /** Waits before the next attempt, or gives up. `progressed` resets the failure budget. */
  const beforeRetry = async (progressed: boolean): Promise<void> => {
    if (progressed) {
      failures = 0;
      return;
    }
    failures++;
    if (failures > maxRetries) {
      const reason = lastError instanceof Error ? lastError.message : 'the stream kept ending early';
      throw new WeftStreamError({
        runId,
        lastEventId: lastId,
        attempts: failures,
        message: `Gave up resuming the event stream of run ${runId} after ${failures} failed attempts: ${reason}`,
        cause: lastError,
      });
    }
    const hinted = lastError instanceof WeftApiError && lastError.retryAfter !== undefined ? lastError.retryAfter * 1000 : undefined;
    await delay(hinted ?? Math.min(retryDelayMs * 2 ** (failures - 1), MAX_RETRY_DELAY_MS), signal);
  };

  for (;;) {
    signal?.throwIfAborted();
    let body: ReadableStream<Uint8Array>;
    try {
      body = await connector.open(lastId, signal);
    } catch (err) {
      signal?.throwIfAborted();
      if (!connected || !autoResume || !isRetryable(err)) throw err;
      lastError = err;
      await beforeRetry(false);
      continue;
    }
    connected = true;

    let progressed = false;
    let dropped = false;
    try {
      for await (const frame of parseSseStream(body)) {
        for (const doc of eventsOf(frame)) {
          if (doc.sequence <= lastSeq) continue;
          lastSeq = doc.sequence;
          progressed = true;
          yield doc;
          if (isTerminalEvent(doc)) return;
        }
        lastId = frame.id ?? (lastSeq >= 0 ? String(lastSeq) : lastId);
      }
    } catch (err) {
      signal?.throwIfAborted();
      if (err instanceof WeftApiError) throw err;
      dropped = true;
      lastError = new WeftConnectionError(`GET /v1/runs/${runId}/events`, `The event stream dropped: ${err instanceof Error ? err.message : String(err)}`, {
        cause: err,
      });
    }

    if (!autoResume) {
      if (dropped) {
        throw new WeftStreamError({
          runId,
          lastEventId: lastId,
          attempts: 0,
          message: `The event stream of run ${runId} dropped and autoResume is off.`,
          cause: lastError,
        });
      }
      return;
    }
    if (draining) return;
    if (!dropped) {
      lastError = new Error('the stream ended before the terminal event');
      try {
        if (await connector.isRunTerminal(signal)) {
          // Read what is left of the backlog once, then stop whatever it holds.
          draining = true;
          continue;
        }
      } catch (err) {
        signal?.throwIfAborted();
        if (!isRetryable(err)) throw err;
        lastError = err;
      }
    }
    await beforeRetry(progressed);
  }
}
