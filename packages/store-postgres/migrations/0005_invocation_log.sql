-- 0005_invocation_log: Layer-2 effects. One row per external effect of a node, keyed by its
-- logicalInvocationId (no attempt in it), claimed before the effect is made and holding its
-- outcome after. `outcome` is JSON: the result (done) or the error envelope (failed). Times are
-- epoch milliseconds (BIGINT).

CREATE TABLE invocation_log (
  id           TEXT COLLATE "C" PRIMARY KEY,
  tenant       TEXT COLLATE "C" NOT NULL,
  run_id       TEXT COLLATE "C" NOT NULL,
  node_id      TEXT COLLATE "C" NOT NULL,
  ordinal      INTEGER NOT NULL,
  provider_key TEXT NOT NULL,
  attempt      INTEGER NOT NULL,
  state        TEXT NOT NULL CHECK (state IN ('pending', 'done', 'failed')),
  outcome      TEXT,
  calls        INTEGER NOT NULL,
  created_at   BIGINT NOT NULL,
  updated_at   BIGINT NOT NULL,
  expires_at   BIGINT NOT NULL
);
CREATE INDEX invocation_log_run ON invocation_log (run_id, node_id, ordinal);
CREATE INDEX invocation_log_expiry ON invocation_log (expires_at);
