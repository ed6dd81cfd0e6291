/**
 * `webhooks` and `webhook_deliveries` on SQLite: the {@link WebhookStore} port. Every statement
 * text comes from `@weft/store-kit`.
 */
import type Database from 'better-sqlite3';
import {
  sqliteDialect,
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

const SQL = webhookStatements(sqliteDialect);

/** Prepared statements for the webhooks of one database (prepare after migrating). */
export class SqliteWebhooks implements WebhookStore {
  private readonly s: { [K in keyof typeof SQL]: Database.Statement<unknown[]> };
  private readonly deleteTx: (tenant: string, webhookId: string) => boolean;

  constructor(db: Database.Database) {
    this.s = Object.fromEntries(Object.entries(SQL).map(([k, text]) => [k, db.prepare(text)])) as typeof this.s;
    this.deleteTx = db.transaction((tenant: string, webhookId: string) => {
      this.s.deleteDeliveries.run(tenant, webhookId);
      return this.s.delete.run(tenant, webhookId).changes === 1;
    });
  }

  async createWebhook(rec: WebhookRecord): Promise<boolean> {
    return this.s.insert.run(...webhookValues(rec)).changes === 1;
  }
  async getWebhook(tenant: string, webhookId: string): Promise<WebhookRecord | undefined> {
    const r = this.s.get.get(tenant, webhookId) as WebhookRow<number> | undefined;
    return r && toWebhook(r);
  }
  async listWebhooks(tenant: string): Promise<WebhookRecord[]> {
    return (this.s.list.all(tenant) as WebhookRow<number>[]).map(toWebhook);
  }
  async listActiveWebhooks(): Promise<WebhookRecord[]> {
    return (this.s.listActive.all() as WebhookRow<number>[]).map(toWebhook);
  }
  async deleteWebhook(tenant: string, webhookId: string): Promise<boolean> {
    return this.deleteTx(tenant, webhookId);
  }
  async updateWebhookHealth(tenant: string, webhookId: string, health: WebhookHealth): Promise<boolean> {
    return this.s.health.run(...webhookHealthValues(tenant, webhookId, health)).changes === 1;
  }
  async putWebhookDelivery(d: WebhookDeliveryRecord): Promise<void> {
    this.s.putDelivery.run(...webhookDeliveryValues(d));
  }
  async listWebhookDeliveries(tenant: string, webhookId: string, limit: number): Promise<WebhookDeliveryRecord[]> {
    return (this.s.listDeliveries.all(tenant, webhookId, Math.max(0, Math.trunc(limit))) as WebhookDeliveryRow<number>[]).map(toWebhookDelivery);
  }
  async countWebhookFailures(tenant: string, webhookId: string, since: number): Promise<number> {
    return Number((this.s.countFailures.get(tenant, webhookId, since) as { n: number }).n);
  }
}
