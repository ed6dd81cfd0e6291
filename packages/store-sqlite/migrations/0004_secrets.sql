-- 0004_secrets: the tenant-scoped secrets vault. Ciphertext only: `ciphertext` is the value
-- sealed with AES-256-GCM under a per-version data key, `wrapped_key` that data key wrapped by
-- the master key `master_key_id`; both bind (tenant, secret_id, version) as additional data.
-- Times are epoch milliseconds.

CREATE TABLE secrets (
  tenant        TEXT NOT NULL,
  secret_id     TEXT NOT NULL,
  version       INTEGER NOT NULL,
  description   TEXT,
  created_at    INTEGER NOT NULL,
  updated_at    INTEGER NOT NULL,
  master_key_id TEXT NOT NULL,
  wrapped_key   TEXT NOT NULL,
  ciphertext    TEXT NOT NULL,
  PRIMARY KEY (tenant, secret_id)
) STRICT;
-- Master-key rewrap finds the rows still wrapped by an old key.
CREATE INDEX secrets_master_key ON secrets (master_key_id);
