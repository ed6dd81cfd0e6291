-- 0002_keys_audit: managed API keys and the tamper-evident audit log.
-- Key times are epoch milliseconds (BIGINT). The secret is never stored: `hash` is the
-- SHA-256 (hex) of the whole token, unique so a presented token finds its row by index.

CREATE TABLE api_keys (
  key_id       TEXT COLLATE "C" PRIMARY KEY,
  tenant       TEXT COLLATE "C" NOT NULL,
  -- Opaque principal the key authenticates as; a rotation successor inherits it.
  principal    TEXT NOT NULL,
  name         TEXT NOT NULL,
  scopes_json  TEXT NOT NULL,
  hash         TEXT COLLATE "C" NOT NULL,
  created_at   BIGINT NOT NULL,
  expires_at   BIGINT,
  revoked_at   BIGINT,
  rotated_from TEXT,
  -- Set when the key was rotated: it stays valid until then.
  grace_until  BIGINT,
  last_used_at BIGINT
);
CREATE UNIQUE INDEX api_keys_hash ON api_keys (hash);
CREATE INDEX api_keys_tenant ON api_keys (tenant, created_at, key_id);

-- Append-only, hash-chained. hash = sha256(JCS of the entry without hash); prev_hash = the
-- previous entry's hash (NULL for seq 0). details_json is content-free by construction and
-- TEXT so it comes back exactly as written.
CREATE TABLE audit_log (
  seq          BIGINT PRIMARY KEY,
  ts           TEXT NOT NULL,
  tenant       TEXT NOT NULL,
  principal    TEXT NOT NULL,
  action       TEXT NOT NULL,
  target       TEXT NOT NULL,
  details_json TEXT NOT NULL,
  prev_hash    TEXT,
  hash         TEXT NOT NULL
);

-- Signed checkpoints: Ed25519 over the Merkle root of entries 0..at_seq. frontier_json holds
-- the roots of the perfect subtrees at at_seq so the next checkpoint extends the tree.
CREATE TABLE audit_checkpoints (
  checkpoint    BIGINT PRIMARY KEY,
  at_seq        BIGINT NOT NULL UNIQUE,
  merkle_root   TEXT NOT NULL,
  signature     TEXT NOT NULL,
  key_id        TEXT NOT NULL,
  ts            TEXT NOT NULL,
  frontier_json TEXT NOT NULL
);

-- Append-only in the database too: the host never updates, deletes or truncates these rows.
-- (A superuser can disable the triggers; the hash chain and the signed checkpoints are what
-- detect that.)
CREATE FUNCTION weft_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END
$$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION weft_audit_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION weft_audit_append_only();
CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE ON audit_checkpoints
  FOR EACH ROW EXECUTE FUNCTION weft_audit_append_only();
CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit_checkpoints
  FOR EACH STATEMENT EXECUTE FUNCTION weft_audit_append_only();
