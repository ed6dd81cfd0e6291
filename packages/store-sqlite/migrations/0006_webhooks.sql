-- 0006_webhooks: webhook subscriptions and their delivery records. The signing secret is
-- stored sealed with the vault's envelope scheme (`ciphertext` under a data key, `wrapped_key`
-- wrapped by master key `master_key_id`) plus its fingerprint; never in clear. `events` and
-- `tags` are JSON arrays; `delivery` is best-effort or durable. Times are epoch milliseconds.

CREATE TABLE webhooks (
  tenant               TEXT NOT NULL,
  webhook_id           TEXT NOT NULL,
  url                  TEXT NOT NULL,
  events               TEXT NOT NULL,
  tags                 TEXT NOT NULL,
  delivery             TEXT NOT NULL,
  secret_fingerprint   TEXT NOT NULL,
  master_key_id        TEXT NOT NULL,
  wrapped_key          TEXT NOT NULL,
  ciphertext           TEXT NOT NULL,
  state                TEXT NOT NULL,
  consecutive_failures INTEGER NOT NULL,
  circuit_open_until   INTEGER,
  created_at           INTEGER NOT NULL,
  updated_at           INTEGER NOT NULL,
  PRIMARY KEY (tenant, webhook_id)
) STRICT;
CREATE INDEX webhooks_state ON webhooks (state);

-- One row per (subscription, run, sequence): `delivery_id` (`<runId>.<sequence>`) with the
-- subscription is the stable dedupe key.
CREATE TABLE webhook_deliveries (
  tenant          TEXT NOT NULL,
  webhook_id      TEXT NOT NULL,
  delivery_id     TEXT NOT NULL,
  run_id          TEXT NOT NULL,
  sequence        INTEGER NOT NULL,
  event_type      TEXT NOT NULL,
  status          TEXT NOT NULL,
  attempts        INTEGER NOT NULL,
  response_status INTEGER,
  error           TEXT,
  created_at      INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL,
  PRIMARY KEY (tenant, webhook_id, delivery_id)
) STRICT;
CREATE INDEX webhook_deliveries_by_hook ON webhook_deliveries (tenant, webhook_id, updated_at);

-- The durable subscriptions' outbox: one row per (subscription, run, sequence), inserted in the
-- append transaction of the event it announces. `lease_owner`/`lease_until` mark a claim (a
-- row whose lease expired is claimable again); a delivered row is deleted; `state = 'dead'`
-- keeps a row that ran out of attempts (the dead letter, redeliverable).
CREATE TABLE webhook_outbox (
  tenant       TEXT NOT NULL,
  webhook_id   TEXT NOT NULL,
  delivery_id  TEXT NOT NULL,
  run_id       TEXT NOT NULL,
  sequence     INTEGER NOT NULL,
  event_type   TEXT NOT NULL,
  state        TEXT NOT NULL,
  attempts     INTEGER NOT NULL,
  available_at INTEGER NOT NULL,
  lease_owner  TEXT,
  lease_until  INTEGER,
  last_error   TEXT,
  created_at   INTEGER NOT NULL,
  PRIMARY KEY (tenant, webhook_id, delivery_id)
) STRICT;
CREATE INDEX webhook_outbox_due ON webhook_outbox (state, available_at);
