-- 0005_invocation_log: Layer-2 effects. One row per external effect of a node, keyed by its
-- logicalInvocationId (no attempt in it), claimed before the effect is made and holding its
-- outcome after. `outcome` is JSON: the result (done) or the error envelope (failed). Times are
-- epoch milliseconds.

CREATE TABLE invocation_log (
  id           TEXT PRIMARY KEY,
  tenant       TEXT NOT NULL,
  run_id       TEXT NOT NULL,
  node_id      TEXT NOT NULL,
  ordinal      INTEGER NOT NULL,
  provider_key TEXT NOT NULL,
  attempt      INTEGER NOT NULL,
  state        TEXT NOT NULL CHECK (state IN ('pending', 'done', 'failed')),
  outcome      TEXT,
  calls        INTEGER NOT NULL,
  created_at   INTEGER NOT NULL,
  updated_at   INTEGER NOT NULL,
  expires_at   INTEGER NOT NULL
) STRICT;
CREATE INDEX invocation_log_run ON invocation_log (run_id, node_id, ordinal);
CREATE INDEX invocation_log_expiry ON invocation_log (expires_at);
