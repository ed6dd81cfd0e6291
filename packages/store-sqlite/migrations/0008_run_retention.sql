-- 0008_run_retention: run retention and the trace context of a run. The sweeper deletes terminal runs that ended before the
-- retention cutoff (row, events, timers, commands, invocation records) and leaves a tombstone
-- here, so the run answers 410 Gone instead of 404 (production profile). expired_at is epoch
-- milliseconds.

CREATE TABLE expired_runs (
  run_id     TEXT PRIMARY KEY,
  tenant     TEXT NOT NULL,
  expired_at INTEGER NOT NULL
) STRICT;

-- The sweep scans terminal runs oldest first; a run ends after it is created, so created_at
-- before the cutoff is a necessary condition and this partial index bounds the scan.
CREATE INDEX runs_terminal_created ON runs (created_at, run_id)
  WHERE status IN ('completed', 'failed', 'cancelled');

-- The W3C trace context (JSON {traceparent, tracestate?}) of the request that created the run,
-- carried into its events and spans; NULL when it had none.
ALTER TABLE runs ADD COLUMN trace_context TEXT;
