/**
 * `webhooks` and `webhook_deliveries` on Postgres: the {@link WebhookStore} port. Every
 * statement text comes from `@weft/store-kit`.
 */
import type pg from 'pg';
import {
  postgresDialect,
  toWebhook,
  toWebhookDelivery,
  webhookDeliveryValues,
  webhookHealthValues,
  webhookStatements,
  webhookValues,
  type WebhookDeliveryRecord,
  type WebhookDeliveryRow,
  type WebhookHealth,
  type WebhookRecord,
  type WebhookRow,
  type WebhookState,
  type WebhookStore,
  type OutboxItem,
  type OutboxOutcome,
  type OutboxRowSql,
  type WebhookOutboxStore,
  OUTBOX_COLUMNS,
  outboxUpdateValues,
  toOutboxItem,
} from '@weft/store-kit';

/** Runs a named prepared statement (the store's pooled, error-classifying query). */
export type PgWebhookQuery = <R extends pg.QueryResultRow>(name: `webhook_${string}`, text: string, values: unknown[]) => Promise<pg.QueryResult<R>>;

const SQL = webhookStatements(postgresDialect);

/**
 * The claim: lease due rows no live claim holds. `FOR UPDATE SKIP LOCKED` makes concurrent
 * claimers on several processes take disjoint rows (a row another claimer is leasing right now
 * is skipped, not waited for); the lease then keeps it theirs until it expires. Rows of a
 * `paused` subscription are held: not claimed until it is resumed.
 */
const CLAIM = `
  UPDATE webhook_outbox o SET lease_owner = $1, lease_until = $3
  FROM (
    SELECT tenant, webhook_id, delivery_id FROM webhook_outbox
    WHERE state = 'pending' AND available_at <= $2 AND (lease_until IS NULL OR lease_until < $2)
      AND NOT EXISTS (SELECT 1 FROM webhooks w WHERE w.tenant = webhook_outbox.tenant AND w.webhook_id = webhook_outbox.webhook_id AND w.state = 'paused')
    ORDER BY available_at, created_at
    LIMIT $4
    FOR UPDATE SKIP LOCKED
  ) c
  WHERE o.tenant = c.tenant AND o.webhook_id = c.webhook_id AND o.delivery_id = c.delivery_id
  RETURNING ${OUTBOX_COLUMNS.split(', ')
    .map((c) => `o.${c}`)
    .join(', ')}`;

/** The webhook statements, run through the store's query function. */
export class PgWebhooks implements WebhookStore, WebhookOutboxStore {
  constructor(private readonly q: PgWebhookQuery) {}

  async createWebhook(rec: WebhookRecord): Promise<boolean> {
    return ((await this.q('webhook_insert', SQL.insert, webhookValues(rec))).rowCount ?? 0) === 1;
  }
  async getWebhook(tenant: string, webhookId: string): Promise<WebhookRecord | undefined> {
    const { rows } = await this.q<WebhookRow<string>>('webhook_get', SQL.get, [tenant, webhookId]);
    return rows[0] && toWebhook(rows[0]);
  }
  async listWebhooks(tenant: string): Promise<WebhookRecord[]> {
    const { rows } = await this.q<WebhookRow<string>>('webhook_list', SQL.list, [tenant]);
    return rows.map(toWebhook);
  }
  async listActiveWebhooks(): Promise<WebhookRecord[]> {
    const { rows } = await this.q<WebhookRow<string>>('webhook_listActive', SQL.listActive, []);
    return rows.map(toWebhook);
  }
  async deleteWebhook(tenant: string, webhookId: string): Promise<boolean> {
    // Delivery records first: a concurrent delivery may write one more, which is harmless
    // (records of a deleted subscription are never listed: reads go through the subscription).
    await this.q('webhook_deleteDeliveries', SQL.deleteDeliveries, [tenant, webhookId]);
    await this.q('webhook_deleteOutbox', SQL.deleteOutbox, [tenant, webhookId]);
    return ((await this.q('webhook_delete', SQL.delete, [tenant, webhookId])).rowCount ?? 0) === 1;
  }
  async updateWebhookHealth(tenant: string, webhookId: string, health: WebhookHealth): Promise<boolean> {
    return ((await this.q('webhook_health', SQL.health, webhookHealthValues(tenant, webhookId, health))).rowCount ?? 0) === 1;
  }
  async transitionWebhook(tenant: string, webhookId: string, from: WebhookState, to: WebhookState, now: number): Promise<boolean> {
    return ((await this.q('webhook_transition', SQL.transition, [to, now, tenant, webhookId, from])).rowCount ?? 0) === 1;
  }
  async putWebhookDelivery(d: WebhookDeliveryRecord): Promise<void> {
    await this.q('webhook_putDelivery', SQL.putDelivery, webhookDeliveryValues(d));
  }
  async listWebhookDeliveries(tenant: string, webhookId: string, limit: number): Promise<WebhookDeliveryRecord[]> {
    const { rows } = await this.q<WebhookDeliveryRow<string>>('webhook_listDeliveries', SQL.listDeliveries, [
      tenant,
      webhookId,
      Math.max(0, Math.trunc(limit)),
    ]);
    return rows.map(toWebhookDelivery);
  }
  async countWebhookFailures(tenant: string, webhookId: string, since: number): Promise<number> {
    const { rows } = await this.q<{ n: string }>('webhook_countFailures', SQL.countFailures, [tenant, webhookId, since]);
    return Number(rows[0]?.n ?? 0);
  }

  async claimOutbox(owner: string, now: number, leaseMs: number, limit: number): Promise<OutboxItem[]> {
    const { rows } = await this.q<OutboxRowSql<string>>('webhook_claimOutbox', CLAIM, [owner, now, now + leaseMs, Math.max(0, Math.trunc(limit))]);
    return rows.map(toOutboxItem).sort((a, b) => a.createdAt - b.createdAt);
  }
  async finishOutbox(tenant: string, webhookId: string, deliveryId: string, owner: string, outcome: OutboxOutcome): Promise<boolean> {
    const r =
      outcome.kind === 'delivered'
        ? await this.q('webhook_outboxDone', SQL.outboxDone, [tenant, webhookId, deliveryId, owner])
        : await this.q('webhook_outboxUpdate', SQL.outboxUpdate, outboxUpdateValues(tenant, webhookId, deliveryId, owner, outcome));
    return (r.rowCount ?? 0) === 1;
  }
  async requeueOutbox(tenant: string, webhookId: string, deliveryId: string, now: number): Promise<boolean> {
    return ((await this.q('webhook_outboxRequeue', SQL.outboxRequeue, [now, tenant, webhookId, deliveryId])).rowCount ?? 0) === 1;
  }
  async countOutbox(tenant?: string, webhookId?: string): Promise<{ pending: number; dead: number }> {
    const { rows } = await this.q<{ pending: string; dead: string }>('webhook_outboxCount', SQL.outboxCount, [
      tenant ?? null,
      tenant ?? null,
      webhookId ?? null,
      webhookId ?? null,
    ]);
    return { pending: Number(rows[0]?.pending ?? 0), dead: Number(rows[0]?.dead ?? 0) };
  }
}
