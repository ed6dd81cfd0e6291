/**
 * The webhook-store contract: tenant binding, create-once, health updates, the cross-tenant
 * active listing the dispatcher matches against, delivery records upserted by their stable
 * dedupe key, and the 7-day failure count.
 */
import { describe, expect, it } from 'vitest';
import type { WebhookDeliveryRecord, WebhookRecord, WebhookStore } from '@weft/store-kit';
import { T0, freshStorePerTest, type PortFactory } from './fixtures.js';

/** A subscription record with placeholder ciphertext. */
export function webhookRecord(webhookId: string, over: Partial<WebhookRecord> = {}): WebhookRecord {
  return {
    tenant: 't1',
    webhookId,
    url: `https://hooks.example.com/${webhookId}`,
    events: ['run.completed'],
    tags: [],
    secretFingerprint: '0123abcd',
    masterKeyId: 'mk1',
    wrappedKey: `wrapped-${webhookId}`,
    ciphertext: `sealed-${webhookId}`,
    state: 'active',
    consecutiveFailures: 0,
    circuitOpenUntil: null,
    createdAt: T0,
    updatedAt: T0,
    ...over,
  };
}

function delivery(webhookId: string, sequence: number, over: Partial<WebhookDeliveryRecord> = {}): WebhookDeliveryRecord {
  return {
    tenant: 't1',
    webhookId,
    deliveryId: `run_1.${sequence}`,
    runId: 'run_1',
    sequence,
    eventType: 'run.completed',
    status: 'delivered',
    attempts: 1,
    responseStatus: 200,
    error: null,
    createdAt: T0 + sequence,
    updatedAt: T0 + sequence,
    ...over,
  };
}

/** Registers the WebhookStore contract for one implementation; `factory` runs before every test. */
export function defineWebhookStoreContract(name: string, factory: PortFactory<WebhookStore>): void {
  describe(`WebhookStore contract: ${name}`, () => {
    let store: WebhookStore;
    freshStorePerTest(factory, (s) => {
      store = s;
    });

    it('creates a subscription once and reads it back exactly', async () => {
      const w = webhookRecord('wh_1', { events: ['run.completed', 'run.failed'], tags: ['a', 'b'], circuitOpenUntil: T0 + 5 });
      expect(await store.createWebhook(w)).toBe(true);
      expect(await store.getWebhook('t1', 'wh_1')).toEqual(w);
      expect(await store.createWebhook({ ...w, url: 'https://other.example.com/' })).toBe(false);
      expect((await store.getWebhook('t1', 'wh_1'))?.url).toBe(w.url);
    });

    it('invariant: webhook-cross-tenant-isolation — reads, lists, health updates and deletes never cross tenants', async () => {
      await store.createWebhook(webhookRecord('wh_a'));
      await store.createWebhook(webhookRecord('wh_b', { tenant: 't2', createdAt: T0 + 1 }));
      expect(await store.getWebhook('t2', 'wh_a')).toBeUndefined();
      expect((await store.listWebhooks('t1')).map((w) => w.webhookId)).toEqual(['wh_a']);
      expect((await store.listWebhooks('t2')).map((w) => w.webhookId)).toEqual(['wh_b']);
      expect(await store.updateWebhookHealth('t2', 'wh_a', { state: 'failed', consecutiveFailures: 9, circuitOpenUntil: null, updatedAt: T0 })).toBe(false);
      expect(await store.deleteWebhook('t2', 'wh_a')).toBe(false);
      expect((await store.getWebhook('t1', 'wh_a'))?.state).toBe('active');
      await store.putWebhookDelivery(delivery('wh_a', 1));
      expect(await store.listWebhookDeliveries('t2', 'wh_a', 10)).toEqual([]);
      expect(await store.countWebhookFailures('t2', 'wh_a', 0)).toBe(0);
    });

    it('lists active subscriptions of every tenant and drops failed ones', async () => {
      await store.createWebhook(webhookRecord('wh_1'));
      await store.createWebhook(webhookRecord('wh_2', { tenant: 't2' }));
      await store.createWebhook(webhookRecord('wh_3', { createdAt: T0 + 1 }));
      expect((await store.listActiveWebhooks()).map((w) => `${w.tenant}/${w.webhookId}`)).toEqual(['t1/wh_1', 't1/wh_3', 't2/wh_2']);
      expect(
        await store.updateWebhookHealth('t1', 'wh_1', { state: 'failed', consecutiveFailures: 4, circuitOpenUntil: T0 + 3_600_000, updatedAt: T0 + 2 }),
      ).toBe(true);
      expect((await store.listActiveWebhooks()).map((w) => w.webhookId)).toEqual(['wh_3', 'wh_2']);
      const w = await store.getWebhook('t1', 'wh_1');
      expect([w?.state, w?.consecutiveFailures, w?.circuitOpenUntil, w?.updatedAt]).toEqual(['failed', 4, T0 + 3_600_000, T0 + 2]);
    });

    it('keeps one delivery record per dedupe key, newest first, and counts recent failures', async () => {
      await store.createWebhook(webhookRecord('wh_1'));
      await store.putWebhookDelivery(delivery('wh_1', 1, { status: 'failed', responseStatus: 500, error: 'status_500' }));
      await store.putWebhookDelivery(delivery('wh_1', 2, { status: 'failed', responseStatus: null, error: 'timeout' }));
      await store.putWebhookDelivery(delivery('wh_1', 1, { status: 'delivered', attempts: 2, responseStatus: 204, updatedAt: T0 + 10 }));
      const list = await store.listWebhookDeliveries('t1', 'wh_1', 10);
      expect(list.map((d) => [d.sequence, d.status, d.attempts, d.responseStatus, d.error])).toEqual([
        [1, 'delivered', 2, 204, null],
        [2, 'failed', 1, null, 'timeout'],
      ]);
      expect(list[0]?.createdAt).toBe(T0 + 1);
      expect(await store.listWebhookDeliveries('t1', 'wh_1', 1)).toHaveLength(1);
      expect(await store.countWebhookFailures('t1', 'wh_1', T0)).toBe(1);
      expect(await store.countWebhookFailures('t1', 'wh_1', T0 + 3)).toBe(0);
      expect(await store.deleteWebhook('t1', 'wh_1')).toBe(true);
      expect(await store.getWebhook('t1', 'wh_1')).toBeUndefined();
      expect(await store.listWebhookDeliveries('t1', 'wh_1', 10)).toEqual([]);
    });
  });
}
