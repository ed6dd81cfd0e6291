-- 0003_run_commands: run commands (resolve, vote, pause, resume, external events) as rows.
-- Any process writes a command; the run's lease owner applies the pending ones in order and
-- records the outcome. Times are epoch milliseconds. `seq` orders commands as written.

CREATE TABLE run_commands (
  seq        INTEGER PRIMARY KEY AUTOINCREMENT,
  id         TEXT NOT NULL UNIQUE,
  run_id     TEXT NOT NULL,
  tenant     TEXT NOT NULL,
  kind       TEXT NOT NULL,
  payload    TEXT NOT NULL,
  principal  TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  state      TEXT NOT NULL CHECK (state IN ('pending', 'done', 'failed')),
  -- JSON of the answer (done) or of the error (failed).
  result     TEXT,
  done_at    INTEGER
) STRICT;

-- The owner reads the pending commands of one run.
CREATE INDEX run_commands_pending ON run_commands (run_id, seq) WHERE state = 'pending';

-- Liveness of host processes, renewed with their run leases and deleted on clean shutdown.
-- An idempotency claim records the process that made it; a pending claim whose process is no
-- longer live is free at once instead of after the pending TTL.
CREATE TABLE host_processes (
  process    TEXT PRIMARY KEY,
  expires_at INTEGER NOT NULL
) STRICT;
ALTER TABLE idempotency ADD COLUMN process TEXT;
