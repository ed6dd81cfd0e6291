-- 0009_webhook_states_callbacks: the `callbackUrl` of POST /v1/runs and the subscription states.
-- A run's callback is a `webhooks` row bound to that run (`run_id`; NULL for a subscription
-- made with POST /v1/webhooks), delivered durably through the same outbox. The run names it in
-- `callback_json` (`{webhookId, token}`), so the append writes its outbox rows without a lookup.
-- `webhooks.state` (TEXT, unchanged) now takes `active`, `paused`, `failed` and `dead-lettered`.

ALTER TABLE webhooks ADD COLUMN run_id TEXT;
ALTER TABLE runs ADD COLUMN callback_json TEXT;

-- The retention sweep deletes a swept run's callback (row, delivery records, outbox rows) with it.
CREATE INDEX webhooks_run ON webhooks (run_id) WHERE run_id IS NOT NULL;
