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

const SQL = webhookStatements(sqliteDialect);

/** Prepared statements for the webhooks of one database (prepare after migrating). */
export class SqliteWebhooks implements WebhookStore, WebhookOutboxStore {
  private readonly s: { [K in keyof typeof SQL]: Database.Statement<unknown[]> };
  private readonly deleteTx: (tenant: string, webhookId: string) => boolean;
  private readonly claimTx: (owner: string, now: number, leaseMs: number, limit: number) => OutboxItem[];

  constructor(db: Database.Database) {
    this.s = Object.fromEntries(Object.entries(SQL).map(([k, text]) => [k, db.prepare(text)])) as typeof this.s;
    const due = db.prepare(
      `SELECT ${OUTBOX_COLUMNS} FROM webhook_outbox WHERE state = 'pending' AND available_at <= ? AND (lease_until IS NULL OR lease_until < ?) AND NOT EXISTS (SELECT 1 FROM webhooks w WHERE w.tenant = webhook_outbox.tenant AND w.webhook_id = webhook_outbox.webhook_id AND w.state = 'paused') ORDER BY available_at, created_at LIMIT ?`,
    );
    const lease = db.prepare('UPDATE webhook_outbox SET lease_owner = ?, lease_until = ? WHERE tenant = ? AND webhook_id = ? AND delivery_id = ?');
    // One writer: selecting and leasing in one IMMEDIATE transaction is the claim.
    const claim = db.transaction((owner: string, now: number, leaseMs: number, limit: number) => {
      const rows = due.all(now, now, limit) as OutboxRowSql<number>[];
      for (const r of rows) lease.run(owner, now + leaseMs, r.tenant, r.webhook_id, r.delivery_id);
      return rows.map(toOutboxItem);
    });
    this.claimTx = (owner, now, leaseMs, limit) => claim.immediate(owner, now, leaseMs, limit);
    this.deleteTx = db.transaction((tenant: string, webhookId: string) => {
      this.s.deleteDeliveries.run(tenant, webhookId);
      this.s.deleteOutbox.run(tenant, webhookId);
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
  async transitionWebhook(tenant: string, webhookId: string, from: WebhookState, to: WebhookState, now: number): Promise<boolean> {
    return this.s.transition.run(to, now, tenant, webhookId, from).changes === 1;
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

  async claimOutbox(owner: string, now: number, leaseMs: number, limit: number): Promise<OutboxItem[]> {
    return this.claimTx(owner, now, leaseMs, Math.max(0, Math.trunc(limit)));
  }
  async finishOutbox(tenant: string, webhookId: string, deliveryId: string, owner: string, outcome: OutboxOutcome): Promise<boolean> {
    const r =
      outcome.kind === 'delivered'
        ? this.s.outboxDone.run(tenant, webhookId, deliveryId, owner)
        : this.s.outboxUpdate.run(...outboxUpdateValues(tenant, webhookId, deliveryId, owner, outcome));
    return r.changes === 1;
  }
  async requeueOutbox(tenant: string, webhookId: string, deliveryId: string, now: number): Promise<boolean> {
    return this.s.outboxRequeue.run(now, tenant, webhookId, deliveryId).changes === 1;
  }
  async countOutbox(tenant?: string, webhookId?: string): Promise<{ pending: number; dead: number }> {
    const r = this.s.outboxCount.get(tenant ?? null, tenant ?? null, webhookId ?? null, webhookId ?? null) as { pending: number; dead: number };
    return { pending: Number(r.pending), dead: Number(r.dead) };
  }
}
