-- 0001_init: workflows, runs (projection + lease), the event log, timers, idempotency.
-- Landed migrations are never edited; change the schema with a new numbered file.
-- Times: run/workflow created_at are ISO-8601 strings as the engine gives them (they sort
-- lexicographically); lease, timer and idempotency times are epoch milliseconds.

-- Immutable definitions, addressed by the hash of their canonical JSON.
CREATE TABLE workflows (
  hash            TEXT PRIMARY KEY,
  id              TEXT NOT NULL,
  definition_json TEXT NOT NULL,
  source          TEXT NOT NULL,
  created_at      TEXT NOT NULL
) STRICT;

-- The mutable id -> hash mapping; deleting a workflow only drops this row so runs pinned
-- to the hash can still read their definition.
CREATE TABLE workflow_ids (
  id   TEXT PRIMARY KEY,
  hash TEXT NOT NULL REFERENCES workflows (hash)
) STRICT;

CREATE TABLE runs (
  run_id            TEXT PRIMARY KEY,
  tenant            TEXT NOT NULL,
  principal         TEXT NOT NULL,
  workflow_id       TEXT NOT NULL,
  workflow_hash     TEXT NOT NULL,
  created_at        TEXT NOT NULL,
  -- Mirrors projection_json.status so list and recovery queries filter in SQL.
  status            TEXT NOT NULL,
  variables_json    TEXT NOT NULL,
  configurable_json TEXT NOT NULL,
  tags_json         TEXT NOT NULL,
  metadata_json     TEXT NOT NULL,
  cancel_json       TEXT,
  projection_json   TEXT NOT NULL,
  -- Sequence of the last appended event (-1: empty log); appends must continue it exactly.
  last_sequence     INTEGER NOT NULL DEFAULT -1,
  lease_owner       TEXT,
  lease_epoch       INTEGER NOT NULL DEFAULT 0,
  lease_expires_at  INTEGER
) STRICT;

-- GET /runs: tenant-scoped keyset pagination, newest first.
CREATE INDEX runs_tenant_created ON runs (tenant, created_at DESC, run_id DESC);
-- Recovery scans only live runs; most rows are terminal, so the partial index stays small.
-- The predicate text must match the queries in sqlite-store.ts for SQLite to use it.
CREATE INDEX runs_recoverable ON runs (created_at, run_id)
  WHERE status NOT IN ('completed', 'failed', 'cancelled');
-- Lease renewal by owner.
CREATE INDEX runs_lease_owner ON runs (lease_owner) WHERE lease_owner IS NOT NULL;

-- The append-only log. json is kept byte-for-byte as written so streams send it as is.
CREATE TABLE run_events (
  run_id   TEXT NOT NULL,
  sequence INTEGER NOT NULL,
  type     TEXT NOT NULL,
  node_id  TEXT,
  json     TEXT NOT NULL,
  PRIMARY KEY (run_id, sequence)
) STRICT;

CREATE TABLE timers (
  run_id  TEXT NOT NULL,
  key     TEXT NOT NULL,
  fire_at INTEGER NOT NULL,
  PRIMARY KEY (run_id, key)
) STRICT;
CREATE INDEX timers_fire_at ON timers (fire_at);

-- Layer-1 Idempotency-Key records. state: 'pending' (claimed, in flight) or 'done'
-- (status/body hold the response to replay).
CREATE TABLE idempotency (
  tenant       TEXT NOT NULL,
  route        TEXT NOT NULL,
  key          TEXT NOT NULL,
  request_hash TEXT NOT NULL,
  state        TEXT NOT NULL CHECK (state IN ('pending', 'done')),
  owner        TEXT NOT NULL,
  created_at   INTEGER NOT NULL,
  expires_at   INTEGER NOT NULL,
  status       INTEGER,
  body         TEXT,
  PRIMARY KEY (tenant, route, key)
) STRICT;
CREATE INDEX idempotency_expires_at ON idempotency (expires_at);
