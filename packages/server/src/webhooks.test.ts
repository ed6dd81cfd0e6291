import { createHmac, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { InProcessNotifier, type RunRecord } from '@weft/engine';
import { LocalKeyManager, type ResolvedAddress } from '@weft/security';
import { MemoryHostStore } from '@weft/store-kit';
import { WebhookService, deliveryBody, secretFingerprint, signWebhook } from './webhooks.js';

const km = (): LocalKeyManager => new LocalKeyManager([{ id: 'k1', key: randomBytes(32) }]);

function run(tenant: string, runId = `run_${randomBytes(4).toString('hex')}`): RunRecord {
  return { runId, tenant, tags: [] } as unknown as RunRecord;
}

const event = (sequence: number, type = 'run.completed') => ({
  sequence,
  type,
  json: JSON.stringify({ eventId: `e${sequence}`, runId: 'r', type, payload: {}, timestamp: '2026-01-01T00:00:00.000Z', sequence }),
});

let servers: Server[] = [];
afterEach(async () => {
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
  servers = [];
});

/** A loopback server that counts every TCP connection it accepts. */
async function countingServer(): Promise<{ port: number; connections: () => number }> {
  let n = 0;
  const s = createServer((_req, res) => res.writeHead(204).end());
  s.on('connection', () => n++);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  servers.push(s);
  return { port: (s.address() as AddressInfo).port, connections: () => n };
}

describe('webhook signing', () => {
  it('signs sha256=HMAC(secret, "{ts}.{body}") over the exact body and fingerprints with sha256', () => {
    const secret = 'a'.repeat(64);
    const body = deliveryBody('run_1', 'acme', '{"type":"run.completed","sequence":3}');
    expect(body).toBe('{"runId":"run_1","workspaceId":"acme","event":{"type":"run.completed","sequence":3}}');
    expect(signWebhook(secret, 1700000000, body)).toBe(`sha256=${createHmac('sha256', secret).update(`1700000000.${body}`).digest('hex')}`);
    expect(secretFingerprint(secret)).toMatch(/^[0-9a-f]{8}$/);
  });
});

describe('WebhookService', () => {
  it('invariant: webhook-delivery-egress-revalidation — a name that resolved publicly at registration but privately at delivery is never connected to', async () => {
    const target = await countingServer();
    let answer: ResolvedAddress[] = [{ address: '93.184.216.34', family: 4 }];
    const store = new MemoryHostStore();
    await store.migrate();
    const svc = new WebhookService({
      store,
      keys: km(),
      notifier: new InProcessNotifier(),
      allow: [],
      version: 'test',
      resolver: async () => answer,
      timeoutMs: 1000,
    });
    await svc.start();
    const hook = await svc.create('acme', { url: `https://hooks.weft.test:${target.port}/x`, events: ['run.completed', 'node.completed'] });
    // DNS rebinding: the name now points at this machine's loopback receiver, then at metadata.
    answer = [{ address: '127.0.0.1', family: 4 }];
    svc.onCommitted(run('acme', 'run_a'), [event(1)]);
    await svc.idle();
    answer = [
      { address: '93.184.216.34', family: 4 },
      { address: '169.254.169.254', family: 4 },
    ];
    svc.onCommitted(run('acme', 'run_a'), [event(2, 'node.completed')]);
    await svc.idle();
    const records = await store.listWebhookDeliveries('acme', hook.webhookId, 10);
    expect(records.map((d) => [d.sequence, d.status, d.error])).toEqual([
      [2, 'failed', 'ssrf_blocked'],
      [1, 'failed', 'ssrf_blocked'],
    ]);
    expect(target.connections()).toBe(0);
    await svc.stop();
  });

  it("invariant: webhook-cross-tenant-isolation — matching is by the run's tenant first; the filters only narrow", async () => {
    const store = new MemoryHostStore();
    await store.migrate();
    const svc = new WebhookService({
      store,
      keys: km(),
      notifier: new InProcessNotifier(),
      allow: [],
      version: 'test',
      resolver: async () => [{ address: '93.184.216.34', family: 4 }],
    });
    await svc.start();
    const broad = await svc.create('tenant-a', { url: 'https://hooks.weft.test/a', events: ['run.completed', 'run.started', 'node.completed'] });
    // The store refuses nothing here, but no record must appear for another tenant's run.
    svc.onCommitted(run('tenant-b'), [event(0, 'run.started'), event(1, 'node.completed'), event(2, 'run.completed')]);
    await svc.idle();
    expect(await store.listWebhookDeliveries('tenant-a', broad.webhookId, 10)).toEqual([]);
    expect(await store.listWebhookDeliveries('tenant-b', broad.webhookId, 10)).toEqual([]);
    await svc.stop();
  });

  it('invariant: webhook-secret-sealed — stores the secret sealed: the row holds neither the secret nor its plain hash, and a replay reopens it', async () => {
    const store = new MemoryHostStore();
    await store.migrate();
    const svc = new WebhookService({
      store,
      keys: km(),
      notifier: new InProcessNotifier(),
      allow: [],
      version: 'test',
      resolver: async () => [{ address: '93.184.216.34', family: 4 }],
    });
    const created = await svc.create('acme', { url: 'https://hooks.weft.test/s', events: ['run.completed'] });
    const row = await store.getWebhook('acme', created.webhookId);
    expect(JSON.stringify(row)).not.toContain(created.secret);
    expect(row?.secretFingerprint).toBe(created.secretFingerprint);
    expect((await svc.createdAgain('acme', created.webhookId)).secret).toBe(created.secret);
    // A row copied to another tenant does not open (the tenant is bound into the envelope).
    await store.createWebhook({ ...(row as NonNullable<typeof row>), tenant: 'other' });
    await expect(svc.createdAgain('other', created.webhookId)).rejects.toThrow();
  });
});

describe('WebhookService: subscription states', () => {
  it('invariant: webhook-subscription-states — 100 failed best-effort deliveries within 7 days mark the subscription failed: terminal, neither resumable nor delivered to again', async () => {
    let hits = 0;
    const s = createServer((_req, res) => {
      hits++;
      res.writeHead(500).end();
    });
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    servers.push(s);
    const port = (s.address() as AddressInfo).port;
    let clock = Date.UTC(2026, 0, 1);
    const store = new MemoryHostStore();
    await store.migrate();
    const svc = new WebhookService({
      store,
      keys: km(),
      notifier: new InProcessNotifier(),
      allow: [`127.0.0.1:${port}`],
      version: 'test',
      timeoutMs: 1000,
      now: () => clock,
    });
    await svc.start();
    const hook = await svc.create('acme', { url: `http://127.0.0.1:${port}/x`, events: ['run.completed'] });
    const r = run('acme', 'run_f');
    // Four failures open the circuit; each later one is the half-open probe an hour on (96 h < 7 days).
    for (let i = 0; i < 100; i++) {
      if (i >= 4) clock += 3_600_001;
      svc.onCommitted(r, [event(i)]);
      await svc.idle();
    }
    expect(hits).toBe(100);
    const rec = await svc.get('acme', hook.webhookId);
    expect(svc.view(rec)).toMatchObject({ state: 'failed', consecutiveFailures: 100 });
    await expect(svc.setPaused('acme', hook.webhookId, false)).rejects.toMatchObject({ code: 'webhook_state_conflict' });
    await expect(svc.setPaused('acme', hook.webhookId, true)).rejects.toMatchObject({ code: 'webhook_state_conflict' });
    await expect(svc.redeliver('acme', hook.webhookId, 'run_f.0')).rejects.toMatchObject({ code: 'webhook_state_conflict' });
    clock += 3_600_001;
    svc.onCommitted(r, [event(100)]);
    await svc.idle();
    expect(hits).toBe(100);
    expect((await store.listWebhookDeliveries('acme', hook.webhookId, 500)).some((d) => d.sequence === 100)).toBe(false);
    await svc.stop();
  });

  it('a pause that lands while a delivery is in flight stands: the breaker never writes the subscription back to active', async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const s = createServer((_req, res) => {
      void gate.then(() => res.writeHead(204).end());
    });
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    servers.push(s);
    const port = (s.address() as AddressInfo).port;
    const store = new MemoryHostStore();
    await store.migrate();
    const svc = new WebhookService({ store, keys: km(), notifier: new InProcessNotifier(), allow: [`127.0.0.1:${port}`], version: 'test', timeoutMs: 2000 });
    await svc.start();
    const hook = await svc.create('acme', { url: `http://127.0.0.1:${port}/x`, events: ['run.completed'] });
    svc.onCommitted(run('acme', 'run_p'), [event(1)]);
    expect((await svc.setPaused('acme', hook.webhookId, true)).state).toBe('paused');
    release();
    await svc.idle();
    expect((await store.listWebhookDeliveries('acme', hook.webhookId, 10)).map((d) => d.status)).toEqual(['delivered']);
    expect((await svc.get('acme', hook.webhookId)).state).toBe('paused');
    svc.onCommitted(run('acme', 'run_p'), [event(2)]);
    await svc.idle();
    expect((await store.listWebhookDeliveries('acme', hook.webhookId, 10)).find((d) => d.sequence === 2)).toMatchObject({ status: 'skipped', error: 'paused' });
    await svc.stop();
  });
});
