/**
 * The retention sweeper: every `retentionSweepMs` it deletes terminal runs that ended more than
 * `runRetentionMs` ago (in batches, through `RetentionStore.expireRuns`, each leaving a tombstone
 * so the run answers 410), and purges expired idempotency and invocation records. One sweep at a
 * time; a failed sweep is logged and retried at the next tick.
 *
 * @see ../../../docs/operations.md §Retention
 */
import type { Store } from '@weft/engine';
import type { Logger } from 'pino';

/** Runs deleted per store transaction. */
export const RETENTION_BATCH = 500;
/** Batches per tick at most, so one tick never holds the store for long. */
const MAX_BATCHES = 20;

/** What one sweep removed. */
export interface SweepResult {
  runs: number;
  idempotency: number;
  invocations: number;
}

/** One sweep at `now`: expired runs in batches, then expired idempotency and invocation records. */
export async function sweepOnce(store: Store, retentionMs: number, now: number): Promise<SweepResult> {
  let runs = 0;
  for (let i = 0; i < MAX_BATCHES; i++) {
    const gone = await store.expireRuns(now - retentionMs, RETENTION_BATCH, now);
    runs += gone.length;
    if (gone.length < RETENTION_BATCH) break;
  }
  const idempotency = await store.purgeExpiredIdempotency(now);
  const invocations = await store.purgeExpiredInvocations(now);
  return { runs, idempotency, invocations };
}

/** Starts the periodic sweeper; the returned function stops it and waits for a sweep in progress. */
export function startRetentionSweeper(store: Store, opts: { retentionMs: number; intervalMs: number; logger: Logger }): () => Promise<void> {
  let running: Promise<void> | undefined;
  const tick = (): void => {
    if (running) return;
    running = sweepOnce(store, opts.retentionMs, Date.now())
      .then((r) => {
        if (r.runs > 0) opts.logger.info({ expiredRuns: r.runs, idempotency: r.idempotency, invocations: r.invocations }, 'retention sweep');
      })
      .catch((e: unknown) => opts.logger.warn({ err: String(e) }, 'retention sweep failed'))
      .finally(() => {
        running = undefined;
      });
  };
  const timer = setInterval(tick, opts.intervalMs);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await running;
  };
}
