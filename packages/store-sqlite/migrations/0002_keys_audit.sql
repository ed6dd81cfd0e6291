-- 0002_keys_audit: managed API keys and the tamper-evident audit log.
-- Key times are epoch milliseconds. The secret is never stored: `hash` is the SHA-256 (hex)
-- of the whole token, unique so a presented token finds its row by index.

CREATE TABLE api_keys (
  key_id       TEXT PRIMARY KEY,
  tenant       TEXT NOT NULL,
  -- Opaque principal the key authenticates as; a rotation successor inherits it.
  principal    TEXT NOT NULL,
  name         TEXT NOT NULL,
  scopes_json  TEXT NOT NULL,
  hash         TEXT NOT NULL,
  created_at   INTEGER NOT NULL,
  expires_at   INTEGER,
  revoked_at   INTEGER,
  rotated_from TEXT,
  -- Set when the key was rotated: it stays valid until then.
  grace_until  INTEGER,
  last_used_at INTEGER
) STRICT;
CREATE UNIQUE INDEX api_keys_hash ON api_keys (hash);
CREATE INDEX api_keys_tenant ON api_keys (tenant, created_at, key_id);

-- Append-only, hash-chained. hash = sha256(JCS of the entry without hash); prev_hash = the
-- previous entry's hash (NULL for seq 0). details_json is content-free by construction.
CREATE TABLE audit_log (
  seq          INTEGER PRIMARY KEY,
  ts           TEXT NOT NULL,
  tenant       TEXT NOT NULL,
  principal    TEXT NOT NULL,
  action       TEXT NOT NULL,
  target       TEXT NOT NULL,
  details_json TEXT NOT NULL,
  prev_hash    TEXT,
  hash         TEXT NOT NULL
) STRICT;

-- Signed checkpoints: Ed25519 over the Merkle root of entries 0..at_seq. frontier_json holds
-- the roots of the perfect subtrees at at_seq so the next checkpoint extends the tree.
CREATE TABLE audit_checkpoints (
  checkpoint    INTEGER PRIMARY KEY,
  at_seq        INTEGER NOT NULL UNIQUE,
  merkle_root   TEXT NOT NULL,
  signature     TEXT NOT NULL,
  key_id        TEXT NOT NULL,
  ts            TEXT NOT NULL,
  frontier_json TEXT NOT NULL
) STRICT;

-- Append-only in the database too: the host never updates or deletes these rows. (Anyone
-- with write access to the file can drop the triggers; the hash chain and the signed
-- checkpoints are what detect that.)
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints BEGIN SELECT RAISE(ABORT, 'audit_checkpoints is append-only'); END;
CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints BEGIN SELECT RAISE(ABORT, 'audit_checkpoints is append-only'); END;
