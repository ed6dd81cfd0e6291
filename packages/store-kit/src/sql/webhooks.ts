/**
 * The `webhooks` and `webhook_deliveries` tables both SQL stores share (migration 0006): row
 * types, mappers and every statement — dialect-neutral, so both stores run the same text. A
 * subscription row holds its signing secret sealed (ciphertext, wrapped data key, master key
 * id) and its fingerprint; never the secret.
 *
 * @see ../ports.ts WebhookStore
 */
import {
  WEBHOOK_STATES,
  type OutboxItem,
  type OutboxOutcome,
  type WebhookDeliveryRecord,
  type WebhookHealth,
  type WebhookRecord,
  type WebhookState,
} from '../ports.js';
import type { SqlDialect } from './dialect.js';
import type { Int } from './rows.js';

/** Column list of `webhooks`, in {@link webhookValues} order. */
export const WEBHOOK_COLUMNS =
  'tenant, webhook_id, url, events, tags, delivery, secret_fingerprint, master_key_id, wrapped_key, ciphertext, state, consecutive_failures, circuit_open_until, created_at, updated_at, run_id';

/** Column list of `webhook_deliveries`, in {@link webhookDeliveryValues} order. */
export const WEBHOOK_DELIVERY_COLUMNS =
  'tenant, webhook_id, delivery_id, run_id, sequence, event_type, status, attempts, response_status, error, created_at, updated_at';

/** A `webhooks` row. */
export interface WebhookRow<I extends Int = Int> {
  tenant: string;
  webhook_id: string;
  url: string;
  events: string;
  tags: string;
  delivery: string;
  secret_fingerprint: string;
  master_key_id: string;
  wrapped_key: string;
  ciphertext: string;
  state: string;
  consecutive_failures: I;
  circuit_open_until: I | null;
  created_at: I;
  updated_at: I;
  /** The run a callback subscription belongs to (migration 0009); null for a registered subscription. */
  run_id: string | null;
}

/** A `webhook_deliveries` row. */
export interface WebhookDeliveryRow<I extends Int = Int> {
  tenant: string;
  webhook_id: string;
  delivery_id: string;
  run_id: string;
  sequence: I;
  event_type: string;
  status: string;
  attempts: I;
  response_status: I | null;
  error: string | null;
  created_at: I;
  updated_at: I;
}

/** The values of a `webhooks` row, in {@link WEBHOOK_COLUMNS} order. */
export function webhookValues(w: WebhookRecord): unknown[] {
  return [
    w.tenant,
    w.webhookId,
    w.url,
    JSON.stringify(w.events),
    JSON.stringify(w.tags),
    w.delivery,
    w.secretFingerprint,
    w.masterKeyId,
    w.wrappedKey,
    w.ciphertext,
    w.state,
    w.consecutiveFailures,
    w.circuitOpenUntil,
    w.createdAt,
    w.updatedAt,
    w.runId ?? null,
  ];
}

/** A row as a port record. */
export function toWebhook(r: WebhookRow): WebhookRecord {
  return {
    tenant: r.tenant,
    webhookId: r.webhook_id,
    url: r.url,
    events: JSON.parse(r.events) as string[],
    tags: JSON.parse(r.tags) as string[],
    delivery: r.delivery === 'durable' ? 'durable' : 'best-effort',
    secretFingerprint: r.secret_fingerprint,
    masterKeyId: r.master_key_id,
    wrappedKey: r.wrapped_key,
    ciphertext: r.ciphertext,
    state: (WEBHOOK_STATES as readonly string[]).includes(r.state) ? (r.state as WebhookState) : 'active',
    consecutiveFailures: Number(r.consecutive_failures),
    circuitOpenUntil: r.circuit_open_until === null ? null : Number(r.circuit_open_until),
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
    ...(r.run_id === null || r.run_id === undefined ? {} : { runId: r.run_id }),
  };
}

/** The values of a `webhook_deliveries` row, in {@link WEBHOOK_DELIVERY_COLUMNS} order. */
export function webhookDeliveryValues(d: WebhookDeliveryRecord): unknown[] {
  return [d.tenant, d.webhookId, d.deliveryId, d.runId, d.sequence, d.eventType, d.status, d.attempts, d.responseStatus, d.error, d.createdAt, d.updatedAt];
}

/** A delivery row as a port record. */
export function toWebhookDelivery(r: WebhookDeliveryRow): WebhookDeliveryRecord {
  return {
    tenant: r.tenant,
    webhookId: r.webhook_id,
    deliveryId: r.delivery_id,
    runId: r.run_id,
    sequence: Number(r.sequence),
    eventType: r.event_type,
    status: r.status as WebhookDeliveryRecord['status'],
    attempts: Number(r.attempts),
    responseStatus: r.response_status === null ? null : Number(r.response_status),
    error: r.error,
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
  };
}

/** The values of {@link webhookStatements}' `health`, in order. */
export function webhookHealthValues(tenant: string, webhookId: string, h: WebhookHealth): unknown[] {
  return [h.state, h.consecutiveFailures, h.circuitOpenUntil, h.updatedAt, tenant, webhookId];
}

/** The webhook statements, spelled for one dialect (each parameter once, in order). */
export function webhookStatements(d: SqlDialect) {
  const $ = d.param;
  const params = (n: number): string => Array.from({ length: n }, (_, i) => $(i + 1)).join(', ');
  return {
    /** {@link webhookValues}; a duplicate id does nothing (0 rows). */
    insert: `INSERT INTO webhooks (${WEBHOOK_COLUMNS}) VALUES (${params(16)}) ON CONFLICT (tenant, webhook_id) DO NOTHING`,
    /** (tenant, webhookId) */
    get: `SELECT ${WEBHOOK_COLUMNS} FROM webhooks WHERE tenant = ${$(1)} AND webhook_id = ${$(2)}`,
    /** (tenant) */
    /** (tenant) — registered subscriptions only (a run's callback is not listed) */
    list: `SELECT ${WEBHOOK_COLUMNS} FROM webhooks WHERE tenant = ${$(1)} AND run_id IS NULL ORDER BY created_at, webhook_id`,
    /** () — the registered subscriptions events are still matched against (callbacks are matched through their run) */
    listActive: `SELECT ${WEBHOOK_COLUMNS} FROM webhooks WHERE state IN ('active', 'paused', 'dead-lettered') AND run_id IS NULL ORDER BY tenant, created_at, webhook_id`,
    /** (to, updatedAt, tenant, webhookId, from) — a state change that holds only from `from` */
    transition: `UPDATE webhooks SET state = ${$(1)}, updated_at = ${$(2)} WHERE tenant = ${$(3)} AND webhook_id = ${$(4)} AND state = ${$(5)}`,
    /** (tenant, webhookId) */
    delete: `DELETE FROM webhooks WHERE tenant = ${$(1)} AND webhook_id = ${$(2)}`,
    /** (tenant, webhookId) */
    deleteOutbox: `DELETE FROM webhook_outbox WHERE tenant = ${$(1)} AND webhook_id = ${$(2)}`,
    /** (tenant, webhookId, deliveryId, owner) — the row is done */
    outboxDone: `DELETE FROM webhook_outbox WHERE tenant = ${$(1)} AND webhook_id = ${$(2)} AND delivery_id = ${$(3)} AND lease_owner = ${$(4)}`,
    /** (state, attempts, availableAt, lastError, tenant, webhookId, deliveryId, owner) */
    outboxUpdate: `UPDATE webhook_outbox SET state = ${$(1)}, attempts = ${$(2)}, available_at = ${$(3)}, last_error = ${$(4)}, lease_owner = NULL, lease_until = NULL WHERE tenant = ${$(5)} AND webhook_id = ${$(6)} AND delivery_id = ${$(7)} AND lease_owner = ${$(8)}`,
    /** (now, tenant, webhookId, deliveryId) */
    outboxRequeue: `UPDATE webhook_outbox SET state = 'pending', attempts = 0, available_at = ${$(1)}, last_error = NULL, lease_owner = NULL, lease_until = NULL WHERE tenant = ${$(2)} AND webhook_id = ${$(3)} AND delivery_id = ${$(4)} AND state = 'dead'`,
    /** (tenant, webhookId) — either may be NULL for all */
    outboxCount: `SELECT COALESCE(SUM(CASE WHEN state = 'pending' THEN 1 ELSE 0 END), 0) AS pending, COALESCE(SUM(CASE WHEN state = 'dead' THEN 1 ELSE 0 END), 0) AS dead FROM webhook_outbox WHERE (CAST(${$(1)} AS TEXT) IS NULL OR tenant = ${$(2)}) AND (CAST(${$(3)} AS TEXT) IS NULL OR webhook_id = ${$(4)})`,
    /** (tenant, webhookId) */
    deleteDeliveries: `DELETE FROM webhook_deliveries WHERE tenant = ${$(1)} AND webhook_id = ${$(2)}`,
    /** {@link webhookHealthValues} */
    // The dispatcher moves a subscription only out of `active`: a concurrent pause is never undone.
    health: `UPDATE webhooks SET state = CASE WHEN state = 'active' THEN ${$(1)} ELSE state END, consecutive_failures = ${$(2)}, circuit_open_until = ${$(3)}, updated_at = ${$(4)} WHERE tenant = ${$(5)} AND webhook_id = ${$(6)}`,
    /** {@link webhookDeliveryValues} */
    putDelivery: `INSERT INTO webhook_deliveries (${WEBHOOK_DELIVERY_COLUMNS}) VALUES (${params(12)}) ${d.upsert(
      ['tenant', 'webhook_id', 'delivery_id'],
      ['status', 'attempts', 'response_status', 'error', 'updated_at'],
    )}`,
    /** (tenant, webhookId, limit) */
    listDeliveries: `SELECT ${WEBHOOK_DELIVERY_COLUMNS} FROM webhook_deliveries WHERE tenant = ${$(1)} AND webhook_id = ${$(2)} ORDER BY updated_at DESC, delivery_id DESC LIMIT ${$(3)}`,
    /** (tenant, webhookId, since) */
    countFailures: `SELECT COUNT(*) AS n FROM webhook_deliveries WHERE tenant = ${$(1)} AND webhook_id = ${$(2)} AND status = 'failed' AND updated_at >= ${$(3)}`,
  } as const;
}

/** Column list of `webhook_outbox`. */
export const OUTBOX_COLUMNS = 'tenant, webhook_id, delivery_id, run_id, sequence, event_type, attempts, created_at';

/** A claimed `webhook_outbox` row. */
export interface OutboxRowSql<I extends Int = Int> {
  tenant: string;
  webhook_id: string;
  delivery_id: string;
  run_id: string;
  sequence: I;
  event_type: string;
  attempts: I;
  created_at: I;
}

/** A claimed row as a port record. */
export function toOutboxItem(r: OutboxRowSql): OutboxItem {
  return {
    tenant: r.tenant,
    webhookId: r.webhook_id,
    deliveryId: r.delivery_id,
    runId: r.run_id,
    sequence: Number(r.sequence),
    eventType: r.event_type,
    attempts: Number(r.attempts),
    createdAt: Number(r.created_at),
  };
}

/** The values of `outboxUpdate` for a retry or a dead letter, in order. */
export function outboxUpdateValues(
  tenant: string,
  webhookId: string,
  deliveryId: string,
  owner: string,
  o: Exclude<OutboxOutcome, { kind: 'delivered' }>,
): unknown[] {
  return [o.kind === 'dead' ? 'dead' : 'pending', o.attempts, o.kind === 'retry' ? o.availableAt : 0, o.error, tenant, webhookId, deliveryId, owner];
}
