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
  type WebhookStore,
} from '@weft/store-kit';

/** Runs a named prepared statement (the store's pooled, error-classifying query). */
export type PgWebhookQuery = <R extends pg.QueryResultRow>(name: `webhook_${string}`, text: string, values: unknown[]) => Promise<pg.QueryResult<R>>;

const SQL = webhookStatements(postgresDialect);

/** The webhook statements, run through the store's query function. */
export class PgWebhooks implements WebhookStore {
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
    return ((await this.q('webhook_delete', SQL.delete, [tenant, webhookId])).rowCount ?? 0) === 1;
  }
  async updateWebhookHealth(tenant: string, webhookId: string, health: WebhookHealth): Promise<boolean> {
    return ((await this.q('webhook_health', SQL.health, webhookHealthValues(tenant, webhookId, health))).rowCount ?? 0) === 1;
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
}
