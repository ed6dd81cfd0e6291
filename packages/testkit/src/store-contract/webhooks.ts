/**
 * The webhook-store contract: tenant binding, create-once, health updates, the cross-tenant
 * active listing the dispatcher matches against, delivery records upserted by their stable
 * dedupe key, and the 7-day failure count.
 */
import { describe, expect, it } from 'vitest';
import type { HostStore, WebhookDeliveryRecord, WebhookRecord, WebhookStore } from '@weft/store-kit';
import { T0, TTL, event, freshStorePerTest, projection, runRecord, type PortFactory } from './fixtures.js';

/** A subscription record with placeholder ciphertext. */
export function webhookRecord(webhookId: string, over: Partial<WebhookRecord> = {}): WebhookRecord {
  return {
    tenant: 't1',
    webhookId,
    url: `https://hooks.example.com/${webhookId}`,
    events: ['run.completed'],
    tags: [],
    delivery: 'best-effort',
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

    it('moves states only from the expected one; the breaker never moves a subscription that is not active; callbacks are never listed', async () => {
      await store.createWebhook(webhookRecord('wh_1'));
      await store.createWebhook(webhookRecord('wh_2', { delivery: 'durable', createdAt: T0 + 1 }));
      const cb = webhookRecord('cb_1', { delivery: 'durable', runId: 'run_9', createdAt: T0 + 2 });
      await store.createWebhook(cb);
      expect(await store.getWebhook('t1', 'cb_1')).toEqual(cb);
      expect((await store.listWebhooks('t1')).map((w) => w.webhookId)).toEqual(['wh_1', 'wh_2']);
      expect(await store.transitionWebhook('t1', 'wh_1', 'paused', 'active', T0 + 5)).toBe(false);
      expect(await store.transitionWebhook('t2', 'wh_1', 'active', 'paused', T0 + 5)).toBe(false);
      expect(await store.transitionWebhook('t1', 'wh_1', 'active', 'paused', T0 + 5)).toBe(true);
      expect(await store.getWebhook('t1', 'wh_1')).toMatchObject({ state: 'paused', updatedAt: T0 + 5 });
      // A delivery's breaker write racing the pause keeps the pause (its counters still land).
      expect(await store.updateWebhookHealth('t1', 'wh_1', { state: 'active', consecutiveFailures: 1, circuitOpenUntil: null, updatedAt: T0 + 6 })).toBe(true);
      expect(await store.getWebhook('t1', 'wh_1')).toMatchObject({ state: 'paused', consecutiveFailures: 1 });
      expect(
        await store.updateWebhookHealth('t1', 'wh_2', { state: 'dead-lettered', consecutiveFailures: 10, circuitOpenUntil: null, updatedAt: T0 + 7 }),
      ).toBe(true);
      expect((await store.getWebhook('t1', 'wh_2'))?.state).toBe('dead-lettered');
      // Paused and dead-lettered subscriptions are still matched (to record or dead-letter); callbacks never are.
      expect((await store.listActiveWebhooks()).map((w) => `${w.webhookId}:${w.state}`)).toEqual(['wh_1:paused', 'wh_2:dead-lettered']);
      expect(await store.transitionWebhook('t1', 'wh_1', 'paused', 'active', T0 + 8)).toBe(true);
      expect((await store.getWebhook('t1', 'wh_1'))?.state).toBe('active');
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

/**
 * The outbox contract (durable webhooks): rows commit with the append that carries them (and
 * not at all when the append is fenced out), are claimed under a lease by one claimer at a
 * time, are finished only by the lease holder, come back once a lease expires, dead-letter and
 * requeue, and go with their subscription.
 */
export function defineWebhookOutboxContract(name: string, factory: PortFactory<HostStore>): void {
  describe(`WebhookOutboxStore contract: ${name}`, () => {
    let store: HostStore;
    freshStorePerTest(factory, (s) => {
      store = s;
    });

    async function leased(runId: string): Promise<number> {
      await store.createRun(runRecord(runId));
      const epoch = await store.claimRun(runId, 'worker-1', TTL, T0);
      if (epoch === null) throw new Error(`could not lease ${runId}`);
      return epoch;
    }
    const row = (webhookId: string, runId: string, sequence: number, eventType = 'run.completed') => ({ tenant: 't1', webhookId, runId, sequence, eventType });

    it('writes outbox rows in the append that carries them, never in one that is fenced out', async () => {
      await store.createWebhook(webhookRecord('wh_1', { delivery: 'durable' }));
      const epoch = await leased('r1');
      await store.appendEvents('r1', epoch, [event(0, 'run.started'), event(1, 'run.completed')], projection('completed', 1), undefined, undefined, {
        rows: [row('wh_1', 'r1', 0, 'run.started'), row('wh_1', 'r1', 1)],
        now: T0,
      });
      expect(await store.countOutbox('t1', 'wh_1')).toEqual({ pending: 2, dead: 0 });
      await store.createRun(runRecord('r2'));
      await expect(
        store.appendEvents('r2', 99, [event(0, 'run.started')], projection('running', 0), undefined, undefined, { rows: [row('wh_1', 'r2', 0)], now: T0 }),
      ).rejects.toThrow();
      expect(await store.countOutbox()).toEqual({ pending: 2, dead: 0 });
      expect(await store.countOutbox('t2')).toEqual({ pending: 0, dead: 0 });
    });

    it('leases each row to one claimer until it expires; only the holder finishes it', async () => {
      await store.createWebhook(webhookRecord('wh_1', { delivery: 'durable' }));
      const epoch = await leased('r1');
      await store.appendEvents(
        'r1',
        epoch,
        [event(0, 'run.started'), event(1, 'node.started'), event(2, 'run.completed')],
        projection('completed', 2),
        undefined,
        undefined,
        {
          rows: [row('wh_1', 'r1', 0), row('wh_1', 'r1', 1), row('wh_1', 'r1', 2)],
          now: T0,
        },
      );
      const a = await store.claimOutbox('proc-a', T0, 1000, 2);
      const b = await store.claimOutbox('proc-b', T0, 1000, 10);
      expect(a.map((i) => i.deliveryId)).toHaveLength(2);
      expect(b.map((i) => i.deliveryId)).toHaveLength(1);
      expect(new Set([...a, ...b].map((i) => i.deliveryId))).toEqual(new Set(['r1.0', 'r1.1', 'r1.2']));
      expect(b[0]).toMatchObject({ tenant: 't1', webhookId: 'wh_1', runId: 'r1', attempts: 0, createdAt: T0 });
      // Nothing is free while the leases hold; a non-holder cannot finish.
      expect(await store.claimOutbox('proc-c', T0 + 999, 1000, 10)).toEqual([]);
      const bi = b[0] as NonNullable<(typeof b)[0]>;
      expect(await store.finishOutbox('t1', 'wh_1', bi.deliveryId, 'proc-a', { kind: 'delivered' })).toBe(false);
      expect(await store.finishOutbox('t1', 'wh_1', bi.deliveryId, 'proc-b', { kind: 'delivered' })).toBe(true);
      // proc-a died: its rows are claimable once the lease expired, and its late finish is refused.
      const again = await store.claimOutbox('proc-c', T0 + 1001, 1000, 10);
      expect(again.map((i) => i.deliveryId).sort()).toEqual(a.map((i) => i.deliveryId).sort());
      const ai = a[0] as NonNullable<(typeof a)[0]>;
      expect(await store.finishOutbox('t1', 'wh_1', ai.deliveryId, 'proc-a', { kind: 'delivered' })).toBe(false);
      expect(await store.countOutbox('t1', 'wh_1')).toEqual({ pending: 2, dead: 0 });
    });

    it("holds a paused subscription's rows: not claimed until it is active again", async () => {
      await store.createWebhook(webhookRecord('wh_1', { delivery: 'durable' }));
      await store.createWebhook(webhookRecord('wh_2', { delivery: 'durable' }));
      const epoch = await leased('r1');
      await store.appendEvents('r1', epoch, [event(0, 'run.completed')], projection('completed', 0), undefined, undefined, {
        rows: [row('wh_1', 'r1', 0), row('wh_2', 'r1', 0)],
        now: T0,
      });
      expect(await store.transitionWebhook('t1', 'wh_1', 'active', 'paused', T0)).toBe(true);
      const claimed = await store.claimOutbox('p', T0, 1000, 10);
      expect(claimed.map((i) => i.webhookId)).toEqual(['wh_2']);
      expect(await store.finishOutbox('t1', 'wh_2', 'r1.0', 'p', { kind: 'delivered' })).toBe(true);
      expect(await store.countOutbox('t1', 'wh_1')).toEqual({ pending: 1, dead: 0 });
      expect(await store.claimOutbox('p', T0 + 5000, 1000, 10)).toEqual([]);
      expect(await store.transitionWebhook('t1', 'wh_1', 'paused', 'active', T0 + 5000)).toBe(true);
      expect((await store.claimOutbox('p', T0 + 5000, 1000, 10)).map((i) => `${i.webhookId}/${i.deliveryId}`)).toEqual(['wh_1/r1.0']);
    });

    it("sweeps a run's callback subscription, its records and its outbox rows with the run", async () => {
      await store.createWebhook(webhookRecord('cb_old', { delivery: 'durable', runId: 'r_old' }));
      await store.createWebhook(webhookRecord('wh_keep', { delivery: 'durable' }));
      await store.createRun({ ...runRecord('r_old', { createdAt: new Date(T0).toISOString() }), callback: { webhookId: 'cb_old', token: false } });
      const epoch = (await store.claimRun('r_old', 'worker-1', TTL, T0)) as number;
      await store.appendEvents(
        'r_old',
        epoch,
        [event(0, 'run.started'), event(1, 'run.completed')],
        projection('completed', 1, { endedAt: new Date(T0 + 10).toISOString() }),
        undefined,
        undefined,
        { rows: [row('cb_old', 'r_old', 1), row('wh_keep', 'r_old', 1)], now: T0 },
      );
      await store.putWebhookDelivery(delivery('cb_old', 1, { runId: 'r_old', deliveryId: 'r_old.1' }));
      expect((await store.expireRuns(T0 + 86_400_000, 10, T0 + 86_400_000)).map((r) => r.runId)).toEqual(['r_old']);
      expect(await store.getWebhook('t1', 'cb_old')).toBeUndefined();
      expect(await store.listWebhookDeliveries('t1', 'cb_old', 10)).toEqual([]);
      expect(await store.countOutbox('t1', 'cb_old')).toEqual({ pending: 0, dead: 0 });
      // A registered subscription's rows about the run stay (they are its own records).
      expect(await store.getWebhook('t1', 'wh_keep')).toBeDefined();
      expect(await store.countOutbox('t1', 'wh_keep')).toEqual({ pending: 1, dead: 0 });
    });

    it("keeps a run's callback link", async () => {
      await store.createRun({ ...runRecord('r_cb'), callback: { webhookId: 'cb_1', token: true } });
      expect((await store.getRun('t1', 'r_cb'))?.callback).toEqual({ webhookId: 'cb_1', token: true });
      await store.createRun(runRecord('r_plain'));
      expect((await store.getRun('t1', 'r_plain'))?.callback).toBeUndefined();
    });

    it('retries at the scheduled time, dead-letters, requeues, and drops rows with their subscription', async () => {
      await store.createWebhook(webhookRecord('wh_1', { delivery: 'durable' }));
      const epoch = await leased('r1');
      await store.appendEvents('r1', epoch, [event(0, 'run.completed')], projection('completed', 0), undefined, undefined, {
        rows: [row('wh_1', 'r1', 0)],
        now: T0,
      });
      const [first] = await store.claimOutbox('p', T0, 1000, 10);
      expect(await store.finishOutbox('t1', 'wh_1', 'r1.0', 'p', { kind: 'retry', attempts: 1, availableAt: T0 + 500, error: 'status_500' })).toBe(true);
      expect(first?.attempts).toBe(0);
      expect(await store.claimOutbox('p', T0 + 499, 1000, 10)).toEqual([]);
      const [second] = await store.claimOutbox('p', T0 + 500, 1000, 10);
      expect(second?.attempts).toBe(1);
      expect(await store.finishOutbox('t1', 'wh_1', 'r1.0', 'p', { kind: 'dead', attempts: 5, error: 'timeout' })).toBe(true);
      expect(await store.countOutbox('t1', 'wh_1')).toEqual({ pending: 0, dead: 1 });
      expect(await store.claimOutbox('p', T0 + 10_000_000, 1000, 10)).toEqual([]);
      expect(await store.requeueOutbox('t2', 'wh_1', 'r1.0', T0)).toBe(false);
      expect(await store.requeueOutbox('t1', 'wh_1', 'r1.0', T0 + 600)).toBe(true);
      expect(await store.requeueOutbox('t1', 'wh_1', 'r1.0', T0 + 600)).toBe(false);
      const [third] = await store.claimOutbox('p', T0 + 600, 1000, 10);
      expect(third?.attempts).toBe(0);
      expect(await store.deleteWebhook('t1', 'wh_1')).toBe(true);
      expect(await store.countOutbox()).toEqual({ pending: 0, dead: 0 });
    });
  });
}
