/**
 * Webhooks (security-contract §3): registration shapes and errors, the secret returned once,
 * SSRF refusals at registration, tenant isolation, signed best-effort deliveries (exact
 * headers and body, `v1` signature checked with the SDK's `verifyWebhook`), filters, the
 * circuit breaker, slow / oversized / failing / redirecting receivers, delivery records and
 * redelivery. Deliveries go to the suite's loopback receiver, which the host reaches only
 * through its explicit webhook allowlist (`webhookAllow`); every other loopback destination
 * stays refused.
 *
 * @see security-contract.md §3; docs/webhooks.md
 */
import { createHash, randomBytes } from 'node:crypto';
import { verifyWebhook } from '@weft/sdk';
import { describe, expect, it } from 'vitest';
import { checkContract } from '../contract-check.js';
import { call, callAt, freshKey, lacks, startRun, target, waitForTerminal } from '../harness.js';
import { LineCapture, OWN_HOSTS } from '../own-host.js';

interface Hook {
  webhookId: string;
  tenantId: string;
  url: string;
  events: string[];
  tags: string[];
  secretFingerprint: string;
  signatureAlgorithm: string;
  delivery: string;
  state: string;
  consecutiveFailures: number;
  circuitOpenUntil?: string;
  createdAt: string;
  secret?: string;
}

interface Delivery {
  deliveryId: string;
  webhookId: string;
  runId: string;
  sequence: number;
  eventType: string;
  status: string;
  attempts: number;
  responseStatus?: number;
  error?: string;
}

interface Received {
  headers: Record<string, string>;
  body: string;
  at: number;
}

const name = (p = 'h'): string => `${p}-${randomBytes(6).toString('hex')}`;
const receiver = target.webhookTarget;

async function register(body: Record<string, unknown>, key?: string, headers?: Record<string, string>) {
  return call<Hook>('POST', '/v1/webhooks', { body, ...(key === undefined ? {} : { key }), ...(headers ? { headers } : {}) });
}

async function hookTo(mode: string, box: string, extra: Record<string, unknown> = {}, key?: string): Promise<Hook> {
  const r = await register(
    { url: `${receiver}/hooks/${mode}/${box}`, events: ['run.started', 'node.started', 'node.completed', 'run.completed'], ...extra },
    key,
  );
  if (r.status !== 201) throw new Error(`register → ${r.status} ${r.text}`);
  return r.body;
}

/** Long-polls the receiver until `count` requests arrived under `box` (or the deadline). */
async function received(box: string, count: number, timeoutMs = 10_000): Promise<Received[]> {
  const res = await fetch(`${receiver}/_received/${box}?count=${count}&timeout=${timeoutMs}`);
  return (await res.json()) as Received[];
}

/** Waits (deadline) until the subscription's delivery records satisfy `ok`. */
async function deliveriesUntil(webhookId: string, ok: (d: Delivery[]) => boolean, deadlineMs = 10_000, key?: string): Promise<Delivery[]> {
  const end = Date.now() + deadlineMs;
  let last: Delivery[] = [];
  while (Date.now() < end) {
    const r = await call<{ deliveries: Delivery[] }>('GET', `/v1/webhooks/${webhookId}/deliveries`, key === undefined ? {} : { key });
    expect(r.status).toBe(200);
    last = r.body.deliveries;
    if (ok(last)) return last;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`delivery records of ${webhookId} never matched: ${JSON.stringify(last)}`);
}

const hello = (extra: Record<string, unknown> = {}, key?: string) =>
  startRun('weft-hello', { inputs: { greeting: 'hi' }, ...extra }, key === undefined ? {} : { key });

describe.skipIf(await lacks('the webhook scenarios', { workflows: ['weft-hello'] }))('webhooks', () => {
  it('discovery advertises webhooks with the v1 signature and the durable mode', async () => {
    const r = await call<{ webhooks?: Record<string, unknown> }>('GET', '/.well-known/openwop', { key: null });
    checkContract('capabilities', r.body);
    expect(r.body.webhooks).toEqual({
      supported: true,
      signatureAlgorithms: ['v1'],
      signed: true,
      durable: true,
      subscriptionStates: ['active', 'paused', 'failed', 'dead-lettered'],
      runCallbacks: true,
    });
  });

  it('invariant: webhook-secret-once — the secret is returned once; later reads show only its fingerprint', async () => {
    const url = 'https://93.184.216.34/weft';
    const r = await register({ url, events: ['run.completed'], tags: ['a'] });
    expect(r.status).toBe(201);
    expect(r.headers.get('cache-control')).toBe('no-store');
    const secret = r.body.secret as string;
    expect(secret).toMatch(/^[0-9a-f]{64}$/);
    expect(r.body.secretFingerprint).toBe(createHash('sha256').update(secret).digest('hex').slice(0, 8));
    expect(r.body).toMatchObject({
      url,
      events: ['run.completed'],
      tags: ['a'],
      signatureAlgorithm: 'v1',
      delivery: 'best-effort',
      state: 'active',
      tenantId: 'tenant-a',
    });
    const one = await call<Hook>('GET', `/v1/webhooks/${r.body.webhookId}`);
    expect(one.status).toBe(200);
    expect(one.text).not.toContain(secret);
    expect(one.body.secret).toBeUndefined();
    expect(one.body.secretFingerprint).toBe(r.body.secretFingerprint);
    const list = await call<{ webhooks: Hook[] }>('GET', '/v1/webhooks');
    expect(list.text).not.toContain(secret);
    expect(list.body.webhooks.map((w) => w.webhookId)).toContain(r.body.webhookId);
    expect((await call('DELETE', `/v1/webhooks/${r.body.webhookId}`)).status).toBe(204);
    expect((await call('GET', `/v1/webhooks/${r.body.webhookId}`)).status).toBe(404);
    expect((await call('DELETE', `/v1/webhooks/${r.body.webhookId}`)).status).toBe(404);
  });

  it('invariant: webhook-registration-shape — events are required and non-empty, the body is closed, caller secrets are refused', async () => {
    const url = 'https://93.184.216.34/x';
    for (const body of [
      { url, events: ['run.completed'], delivery: 'sometimes' },
      { url },
      { url, events: [] },
      { url, events: ['run.completed'], secret: 'a'.repeat(64) },
      { url, events: ['run.completed'], extra: true },
      { url, events: ['not an event'] },
      { url, events: ['run.completed'], eventTypes: ['run.completed'] },
      { events: ['run.completed'] },
    ]) {
      const r = await register(body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body).toMatchObject({ error: 'validation_error' });
    }
    // `eventTypes` is accepted as an alias of `events`.
    const alias = await register({ url, eventTypes: ['run.failed'] });
    expect(alias.status).toBe(201);
    expect(alias.body.events).toEqual(['run.failed']);
    await call('DELETE', `/v1/webhooks/${alias.body.webhookId}`);
  });

  it('invariant: webhook-ssrf-registration — registration refuses http, every private, loopback, link-local, ULA and metadata form, internal names and credentials', async () => {
    const port = receiver ? new URL(receiver).port : '8080';
    const refused = [
      'http://hooks.example.com/x',
      'ftp://hooks.example.com/x',
      'https://10.0.0.1/x',
      'https://10.255.255.255/x',
      'https://172.16.0.1/x',
      'https://172.31.255.1/x',
      'https://192.168.1.1/x',
      'https://127.0.0.1/x',
      'https://127.8.9.10/x',
      'https://[::1]/x',
      'https://169.254.169.254/latest/meta-data',
      'https://169.254.1.1/x',
      'https://[fe80::1]/x',
      'https://[fc00::1]/x',
      'https://[fd12:3456::1]/x',
      'https://0.0.0.0/x',
      'https://[::]/x',
      'https://[::ffff:10.0.0.1]/x',
      'https://[::ffff:127.0.0.1]/x',
      'https://[::ffff:169.254.169.254]/x',
      'https://2130706433/x',
      'https://0x7f000001/x',
      'https://0177.0.0.1/x',
      'https://127.1/x',
      'https://3232235777/x',
      'https://metadata.google.internal/computeMetadata/v1/',
      'https://metadata/x',
      'https://localhost/x',
      'https://api.localhost/x',
      'https://printer.local/x',
      'https://db.internal/x',
      'https://svc.cluster/x',
      'https://user:pw@hooks.example.com/x',
      // The allowlist names exactly the receiver's port; other loopback ports stay refused.
      `http://127.0.0.1:${Number(port) + 1}/x`,
      `https://127.0.0.1:${Number(port) + 1}/x`,
      'not a url',
    ];
    for (const url of refused) {
      const r = await register({ url, events: ['run.completed'] });
      expect(r.status, url).toBe(400);
      expect(r.body, url).toMatchObject({ error: url === 'not a url' ? 'webhook_url_rejected' : 'webhook_url_rejected' });
      expect(r.text).not.toContain('webhookId');
    }
    const list = await call<{ webhooks: Hook[] }>('GET', '/v1/webhooks');
    expect(list.body.webhooks.map((w) => w.url)).not.toContain('https://10.0.0.1/x');
  });

  it('invariant: webhook-scope-before-lookup — webhook routes need webhooks:manage, and authentication comes first', async () => {
    expect((await call('POST', '/v1/webhooks', { key: null, body: {} })).status).toBe(401);
    expect((await call('GET', '/v1/webhooks', { key: null })).status).toBe(401);
    if (target.keyReadOnly) {
      const r = await register({ url: 'https://93.184.216.34/x', events: ['run.completed'] }, target.keyReadOnly);
      expect(r.status).toBe(403);
      expect(r.body).toMatchObject({ error: 'forbidden', details: { scopeRequired: 'webhooks:manage' } });
      expect((await call('GET', '/v1/webhooks', { key: target.keyReadOnly })).status).toBe(403);
      expect((await call('DELETE', '/v1/webhooks/wh_none', { key: target.keyReadOnly })).status).toBe(403);
    }
  });

  it.skipIf(!target.keyB)(
    'invariant: webhook-cross-tenant-isolation — foreign tenantId registration is 403, foreign unregister is never 204, lists are tenant-bound',
    async () => {
      const keyB = target.keyB as string;
      const foreign = await register({ url: 'https://93.184.216.34/x', events: ['run.completed'], tenantId: 'tenant-b' });
      expect(foreign.status).toBe(403);
      expect(foreign.body).toMatchObject({ error: 'tenant_membership_required' });
      const own = await register({ url: 'https://93.184.216.34/a', events: ['run.completed'], tenantId: 'tenant-a' });
      expect(own.status).toBe(201);
      const id = own.body.webhookId;
      // B cannot see, read or delete A's subscription: a foreign id answers like a missing one.
      const missing = await call('DELETE', '/v1/webhooks/wh_doesnotexist', { key: keyB });
      const del = await call('DELETE', `/v1/webhooks/${id}`, { key: keyB });
      expect(del.status).toBe(404);
      expect(del.text).toBe(missing.text);
      const viaTenant = await call('DELETE', `/v1/webhooks/${id}?tenantId=tenant-a`, { key: keyB });
      expect(viaTenant.status).toBe(403);
      expect(viaTenant.body).toMatchObject({ error: 'tenant_membership_required' });
      // 403 before the lookup: the same answer whether or not the id exists.
      const viaTenantMissing = await call('DELETE', '/v1/webhooks/wh_doesnotexist?tenantId=tenant-a', { key: keyB });
      expect(viaTenantMissing.text).toBe(viaTenant.text);
      expect((await call('GET', `/v1/webhooks/${id}`, { key: keyB })).status).toBe(404);
      expect((await call('GET', `/v1/webhooks/${id}/deliveries`, { key: keyB })).status).toBe(404);
      const listB = await call<{ webhooks: Hook[] }>('GET', '/v1/webhooks', { key: keyB });
      expect(listB.body.webhooks.map((w) => w.webhookId)).not.toContain(id);
      expect((await call('GET', `/v1/webhooks/${id}`)).status).toBe(200);
      expect((await call('DELETE', `/v1/webhooks/${id}?tenantId=tenant-a`)).status).toBe(204);
    },
  );

  describe.skipIf(!receiver)('deliveries to the allowlisted loopback receiver', () => {
    it('invariant: webhook-delivery-headers — a delivery carries exactly the spec headers; invariant: webhook-delivery-body — the body wraps the logged event verbatim; invariant: webhook-signature-v1 — the v1 signature verifies and tampering fails', async () => {
      const box = name('sig');
      const hook = await hookTo('ok', box);
      const run = await hello();
      const log = await waitForTerminal(run.runId);
      const got = await received(box, log.length);
      expect(got).toHaveLength(log.length);
      const version = (
        (await call<{ implementation: { version: string } }>('GET', '/.well-known/openwop', { key: null })).body.implementation as { version: string }
      ).version;
      const seen: number[] = [];
      for (const g of got) {
        const h = g.headers;
        expect(h['content-type']).toBe('application/json');
        expect(h['user-agent']).toBe(`openwop-webhook-dispatcher/${version}`);
        expect(h['x-openwop-webhook-id']).toBe(hook.webhookId);
        expect(h['x-openwop-signature-algorithm']).toBe('v1');
        expect(h['x-openwop-timestamp']).toMatch(/^[0-9]+$/);
        expect(Math.abs(Number(h['x-openwop-timestamp']) - Date.now() / 1000)).toBeLessThan(60);
        expect(h['x-openwop-signature']).toMatch(/^sha256=[0-9a-f]{64}$/);
        const v = await verifyWebhook(g.body, h, hook.secret as string);
        expect(v.ok).toBe(true);
        if (!v.ok) continue;
        expect(Object.keys(v.body).sort()).toEqual(['event', 'runId', 'workspaceId']);
        expect(v.body.runId).toBe(run.runId);
        expect(v.body.workspaceId).toBe('tenant-a');
        checkContract('run-event', v.body.event);
        expect(h['x-openwop-event-type']).toBe(v.body.event.type);
        const logged = log.find((e) => e.sequence === v.body.event.sequence);
        expect(v.body.event).toEqual(logged);
        seen.push(v.body.event.sequence as number);
        // Tampered body, wrong secret, stale or future timestamp, unknown algorithm: refused.
        expect((await verifyWebhook(g.body.replace('tenant-a', 'tenant-b'), h, hook.secret as string)).ok).toBe(false);
        expect((await verifyWebhook(g.body, h, 'f'.repeat(64))).ok).toBe(false);
        expect(await verifyWebhook(g.body, h, hook.secret as string, { now: Date.now() + 302_000 })).toEqual({ ok: false, reason: 'timestamp_out_of_window' });
        expect(await verifyWebhook(g.body, h, hook.secret as string, { now: Date.now() - 302_000 })).toEqual({ ok: false, reason: 'timestamp_out_of_window' });
        expect(await verifyWebhook(g.body, { ...h, 'x-openwop-signature-algorithm': 'v2' }, hook.secret as string)).toEqual({
          ok: false,
          reason: 'unsupported_algorithm',
        });
      }
      expect(seen.sort((a, b) => a - b)).toEqual(log.map((e) => e.sequence));
      const records = await deliveriesUntil(hook.webhookId, (d) => d.length === log.length && d.every((x) => x.status === 'delivered'));
      expect(records.map((d) => d.deliveryId).sort()).toEqual(log.map((e) => `${run.runId}.${e.sequence}`).sort());
      expect(records.every((d) => d.attempts === 1 && d.responseStatus === 204)).toBe(true);
      await call('DELETE', `/v1/webhooks/${hook.webhookId}`);
    });

    it('invariant: replay-side-effect-suppression — a replay fork re-emits history but delivers none of it; a branch fork delivers only from fromSeq', async () => {
      const hook = await hookTo('ok', name('fork'));
      const run = await hello();
      const log = await waitForTerminal(run.runId);
      await deliveriesUntil(hook.webhookId, (d) => d.filter((x) => x.deliveryId.startsWith(`${run.runId}.`)).length === log.length);
      const replay = await call<{ runId: string }>('POST', `/v1/runs/${run.runId}:fork`, { body: { mode: 'replay', fromSeq: 0 } });
      expect(replay.status, replay.text).toBe(201);
      expect((await waitForTerminal(replay.body.runId)).at(-1)?.type).toBe('run.completed');
      const branch = await call<{ runId: string }>('POST', `/v1/runs/${run.runId}:fork`, { body: { mode: 'branch', fromSeq: 2 } });
      expect(branch.status, branch.text).toBe(201);
      const branchLog = await waitForTerminal(branch.body.runId);
      const live = branchLog.filter((e) => e.sequence >= 2).length;
      const records = await deliveriesUntil(hook.webhookId, (d) => d.filter((x) => x.deliveryId.startsWith(`${branch.body.runId}.`)).length === live);
      expect(records.filter((x) => x.deliveryId.startsWith(`${replay.body.runId}.`))).toEqual([]);
      const branchSeqs = records.filter((x) => x.deliveryId.startsWith(`${branch.body.runId}.`)).map((x) => Number(x.deliveryId.split('.').at(-1)));
      expect(Math.min(...branchSeqs)).toBe(2);
      await call('DELETE', `/v1/webhooks/${hook.webhookId}`);
    });

    it('delivers only the subscribed event types and only runs whose tags overlap', async () => {
      const box = name('filter');
      const hook = await hookTo('ok', box, { events: ['run.completed'], tags: ['blue'] });
      const red = await hello({ tags: ['red'] });
      await waitForTerminal(red.runId);
      const untagged = await hello();
      await waitForTerminal(untagged.runId);
      const blue = await hello({ tags: ['green', 'blue'] });
      await waitForTerminal(blue.runId);
      // A wrongly matched red or untagged delivery would have started before blue's (deliveries
      // start in commit order); give any such straggler a moment to land.
      await received(box, 1);
      const got = await received(box, 2, 500);
      const bodies = got.map((g) => JSON.parse(g.body) as { runId: string; event: { type: string } });
      expect(bodies.map((b) => [b.runId, b.event.type])).toEqual([[blue.runId, 'run.completed']]);
      await call('DELETE', `/v1/webhooks/${hook.webhookId}`);
    });

    it.skipIf(!target.keyB)(
      "invariant: webhook-cross-tenant-isolation — a subscription never receives another tenant's run events, whatever its filters",
      async () => {
        const keyB = target.keyB as string;
        const boxA = name('iso-a');
        const boxB = name('iso-b');
        const a = await hookTo('ok', boxA, { events: ['run.completed'] });
        const b = await hookTo('ok', boxB, { events: ['run.started', 'node.started', 'node.completed', 'run.completed'] }, keyB);
        const runB = await hello({}, keyB);
        // B's run.completed reached B's receiver, so it was committed before A's run started.
        const gotB = await received(boxB, 6);
        expect(gotB.map((g) => (JSON.parse(g.body) as { event: { type: string } }).event.type)).toContain('run.completed');
        const runA = await hello();
        await waitForTerminal(runA.runId);
        const gotA = await received(boxA, 1);
        expect(gotA.map((g) => (JSON.parse(g.body) as { runId: string }).runId)).toEqual([runA.runId]);
        expect(new Set(gotB.map((g) => (JSON.parse(g.body) as { runId: string; workspaceId: string }).runId))).toEqual(new Set([runB.runId]));
        for (const g of gotB) expect((JSON.parse(g.body) as { workspaceId: string }).workspaceId).toBe('tenant-b');
        await call('DELETE', `/v1/webhooks/${a.webhookId}`);
        await call('DELETE', `/v1/webhooks/${b.webhookId}`, { key: keyB });
      },
    );

    it('invariant: webhook-best-effort-breaker — failures are recorded once, never retried; four in a row open the circuit and later events are skipped', async () => {
      const box = name('fail');
      const hook = await hookTo('fail', box);
      const run = await hello();
      const log = await waitForTerminal(run.runId);
      expect(log.length).toBeGreaterThan(4);
      const records = await deliveriesUntil(hook.webhookId, (d) => d.length === log.length);
      const bySeq = [...records].sort((a, b) => a.sequence - b.sequence);
      // The first four fail (500, one attempt each); the circuit then skips the rest.
      expect(bySeq.slice(0, 4).every((d) => d.status === 'failed' && d.attempts === 1 && d.responseStatus === 500 && d.error === 'status_500')).toBe(true);
      expect(bySeq.slice(4).every((d) => d.status === 'skipped' && d.error === 'circuit_open' && d.attempts === 0)).toBe(true);
      const after = await call<Hook>('GET', `/v1/webhooks/${hook.webhookId}`);
      expect(after.body.consecutiveFailures).toBe(4);
      expect(Date.parse(after.body.circuitOpenUntil as string)).toBeGreaterThan(Date.now() + 3_500_000);
      const second = await hello();
      await waitForTerminal(second.runId);
      const skipped = await deliveriesUntil(hook.webhookId, (d) => d.filter((x) => x.runId === second.runId).length === log.length);
      expect(skipped.filter((d) => d.runId === second.runId).every((d) => d.status === 'skipped' && d.error === 'circuit_open' && d.attempts === 0)).toBe(true);
      // Exactly one request per event of the first run reached the receiver: no retries, none while open.
      expect(await received(box, 5, 300)).toHaveLength(4);
      await call('DELETE', `/v1/webhooks/${hook.webhookId}`);
    });

    it('invariant: webhook-delivery-egress-revalidation — a redirect is a failed delivery and is never followed; slow and oversized receivers fail the attempt without holding the run', async () => {
      const boxR = name('redir');
      const boxS = name('slow');
      const boxB = name('big');
      const events = ['run.completed'];
      const r = await hookTo('redirect', boxR, { events });
      const s = await hookTo('slow', boxS, { events });
      const b = await hookTo('big', boxB, { events });
      const started = Date.now();
      const run = await hello();
      await waitForTerminal(run.runId);
      // The run does not wait for its receivers.
      expect(Date.now() - started).toBeLessThan(5_000);
      const [dr] = await deliveriesUntil(r.webhookId, (d) => d.length === 1);
      expect(dr).toMatchObject({ status: 'failed', responseStatus: 302, error: 'redirect' });
      expect(await received(`${boxR}-redirected`, 1, 300)).toHaveLength(0);
      const [ds] = await deliveriesUntil(s.webhookId, (d) => d.length === 1);
      expect(ds).toMatchObject({ status: 'failed', error: 'timeout' });
      const [db] = await deliveriesUntil(b.webhookId, (d) => d.length === 1);
      expect(db).toMatchObject({ status: 'failed', error: 'response_too_large' });
      for (const h of [r, s, b]) await call('DELETE', `/v1/webhooks/${h.webhookId}`);
    });

    it('invariant: webhook-durable-outbox — a durable subscription gets every event once, signed, with delivery records', async () => {
      const box = name('durable');
      const hook = await hookTo('ok', box, { delivery: 'durable' });
      expect(hook.delivery).toBe('durable');
      const run = await hello();
      const log = await waitForTerminal(run.runId);
      const got = await received(box, log.length);
      expect(got).toHaveLength(log.length);
      const seqs: number[] = [];
      for (const g of got) {
        const v = await verifyWebhook(g.body, g.headers, hook.secret as string);
        expect(v.ok).toBe(true);
        if (v.ok) {
          expect(v.body.event).toEqual(log.find((e) => e.sequence === v.body.event.sequence));
          seqs.push(v.body.event.sequence as number);
        }
      }
      expect(seqs.sort((a, b) => a - b)).toEqual(log.map((e) => e.sequence));
      const records = await deliveriesUntil(hook.webhookId, (d) => d.length === log.length && d.every((x) => x.status === 'delivered'));
      expect(records.every((d) => d.attempts === 1)).toBe(true);
      expect(await received(box, log.length + 1, 300)).toHaveLength(log.length);
      await call('DELETE', `/v1/webhooks/${hook.webhookId}`);
    });

    it('invariant: webhook-durable-retry-dead-letter — a durable delivery to a failing receiver is retried with backoff, dead-lettered, and redelivered on request', async () => {
      const box = name('dfail');
      const hook = await hookTo('fail', box, { delivery: 'durable', events: ['run.completed'] });
      const run = await hello();
      const log = await waitForTerminal(run.runId);
      const seq = (log.at(-1) as { sequence: number }).sequence;
      const [dead] = await deliveriesUntil(hook.webhookId, (d) => d.length === 1 && d[0]?.status === 'dead-lettered');
      expect(dead).toMatchObject({ deliveryId: `${run.runId}.${seq}`, attempts: 5, responseStatus: 500, error: 'status_500' });
      const attempts = await received(box, 5);
      expect(attempts).toHaveLength(5);
      // Backoff: the n-th retry comes at least 20·2^(n-1) ms after the attempt before it (the
      // suite's host starts at 20 ms); load can only make the gaps longer.
      const gaps = attempts.slice(1).map((a, i) => a.at - (attempts[i] as Received).at);
      for (const [i, g] of gaps.entries()) expect(g, `gap ${i}`).toBeGreaterThanOrEqual(20 * 2 ** i - 2);
      // Every attempt carries the same event and webhook id: the receiver's dedupe key is stable.
      expect(new Set(attempts.map((a) => `${a.headers['x-openwop-webhook-id']}|${JSON.parse(a.body).runId}|${JSON.parse(a.body).event.sequence}`)).size).toBe(
        1,
      );
      const re = await call<Delivery>('POST', `/v1/webhooks/${hook.webhookId}/deliveries/${run.runId}.${seq}:redeliver`, { body: {} });
      expect(re.status).toBe(200);
      expect(re.body).toMatchObject({ status: 'retrying', attempts: 0 });
      expect(await received(box, 10)).toHaveLength(10);
      await deliveriesUntil(hook.webhookId, (d) => d[0]?.status === 'dead-lettered' && d[0]?.attempts === 5);
      await call('DELETE', `/v1/webhooks/${hook.webhookId}`);
    });

    it('invariant: webhook-subscription-states — a paused best-effort subscription records its events skipped and sends nothing; resumed, it delivers again', async () => {
      const box = name('pause');
      const hook = await hookTo('ok', box, { events: ['run.completed'] });
      const paused = await call<Hook>('POST', `/v1/webhooks/${hook.webhookId}:pause`, { body: {} });
      expect(paused.status, paused.text).toBe(200);
      expect(paused.body).toMatchObject({ webhookId: hook.webhookId, state: 'paused' });
      expect(paused.text).not.toContain(hook.secret as string);
      // Pausing again changes nothing.
      expect((await call<Hook>('POST', `/v1/webhooks/${hook.webhookId}:pause`, { body: {} })).body.state).toBe('paused');
      expect((await call<Hook>('GET', `/v1/webhooks/${hook.webhookId}`)).body.state).toBe('paused');
      const run = await hello();
      await waitForTerminal(run.runId);
      const [skipped] = await deliveriesUntil(hook.webhookId, (d) => d.length === 1);
      expect(skipped).toMatchObject({ runId: run.runId, status: 'skipped', error: 'paused', attempts: 0 });
      expect(await received(box, 1, 300)).toHaveLength(0);
      // Redelivery needs an active subscription.
      const re = await call('POST', `/v1/webhooks/${hook.webhookId}/deliveries/${skipped?.deliveryId}:redeliver`, { body: {} });
      expect(re.status).toBe(409);
      expect(re.body).toMatchObject({ error: 'webhook_state_conflict', details: { state: 'paused' } });
      const resumed = await call<Hook>('POST', `/v1/webhooks/${hook.webhookId}:resume`, { body: {} });
      expect(resumed.status).toBe(200);
      expect(resumed.body.state).toBe('active');
      const next = await hello();
      await waitForTerminal(next.runId);
      const got = await received(box, 1);
      expect(got.map((g) => (JSON.parse(g.body) as { runId: string }).runId)).toEqual([next.runId]);
      expect((await call('POST', `/v1/webhooks/${hook.webhookId}:sleep`, { body: {} })).status).toBe(404);
      expect((await call('POST', '/v1/webhooks/wh_doesnotexist:pause', { body: {} })).status).toBe(404);
      if (target.keyB) expect((await call('POST', `/v1/webhooks/${hook.webhookId}:pause`, { body: {}, key: target.keyB })).status).toBe(404);
      if (target.keyReadOnly) expect((await call('POST', `/v1/webhooks/${hook.webhookId}:pause`, { body: {}, key: target.keyReadOnly })).status).toBe(403);
      await call('DELETE', `/v1/webhooks/${hook.webhookId}`);
    });

    it('invariant: webhook-subscription-states — a paused durable subscription holds its outbox rows and delivers every one of them once resumed', async () => {
      const box = name('dpause');
      const hook = await hookTo('ok', box, { delivery: 'durable' });
      expect((await call<Hook>('POST', `/v1/webhooks/${hook.webhookId}:pause`, { body: {} })).body.state).toBe('paused');
      const run = await hello();
      const log = await waitForTerminal(run.runId);
      expect(await received(box, 1, 500)).toHaveLength(0);
      expect((await call<{ deliveries: Delivery[] }>('GET', `/v1/webhooks/${hook.webhookId}/deliveries`)).body.deliveries).toEqual([]);
      expect((await call<Hook>('POST', `/v1/webhooks/${hook.webhookId}:resume`, { body: {} })).body.state).toBe('active');
      const got = await received(box, log.length);
      expect(got).toHaveLength(log.length);
      const seqs = got.map((g) => (JSON.parse(g.body) as { event: { sequence: number } }).event.sequence).sort((a, b) => a - b);
      expect(seqs).toEqual(log.map((e) => e.sequence));
      for (const g of got) expect((await verifyWebhook(g.body, g.headers, hook.secret as string)).ok).toBe(true);
      await deliveriesUntil(hook.webhookId, (d) => d.length === log.length && d.every((x) => x.status === 'delivered' && x.attempts === 1));
      await call('DELETE', `/v1/webhooks/${hook.webhookId}`);
    });

    it('invariant: webhook-subscription-states — a durable subscription dead-lettered too often in a row becomes dead-lettered: terminal, later events go straight to dead letters', async () => {
      // The suite's host dead-letters a subscription after 2 dead letters in a row (WEFT_WEBHOOK_DEAD_LETTERED_AFTER).
      const box = name('dlsub');
      const hook = await hookTo('fail', box, { delivery: 'durable', events: ['run.completed'] });
      for (let i = 1; i <= 2; i++) {
        const run = await hello();
        await waitForTerminal(run.runId);
        await deliveriesUntil(hook.webhookId, (d) => d.filter((x) => x.status === 'dead-lettered').length === i);
      }
      const after = await call<Hook>('GET', `/v1/webhooks/${hook.webhookId}`);
      expect(after.body).toMatchObject({ state: 'dead-lettered', consecutiveFailures: 2 });
      expect(await received(box, 11, 300)).toHaveLength(10);
      const third = await hello();
      await waitForTerminal(third.runId);
      const records = await deliveriesUntil(hook.webhookId, (d) => d.some((x) => x.runId === third.runId));
      expect(records.find((x) => x.runId === third.runId)).toMatchObject({ status: 'dead-lettered', attempts: 0, error: 'subscription_dead_lettered' });
      // Never attempted: the receiver saw nothing more.
      expect(await received(box, 11, 300)).toHaveLength(10);
      for (const verb of ['resume', 'pause']) {
        const r = await call(`POST`, `/v1/webhooks/${hook.webhookId}:${verb}`, { body: {} });
        expect(r.status).toBe(409);
        expect(r.body).toMatchObject({ error: 'webhook_state_conflict', details: { state: 'dead-lettered' } });
      }
      expect((await call('POST', `/v1/webhooks/${hook.webhookId}/deliveries/${records[0]?.deliveryId}:redeliver`, { body: {} })).status).toBe(409);
      await call('DELETE', `/v1/webhooks/${hook.webhookId}`);
    });

    it('redelivers a recorded event once on request, freshly signed; a foreign or unknown delivery is 404', async () => {
      const box = name('re');
      const hook = await hookTo('ok', box, { events: ['run.completed'] });
      const run = await hello();
      const log = await waitForTerminal(run.runId);
      const first = await received(box, 1);
      expect(first).toHaveLength(1);
      const seq = (log.at(-1) as { sequence: number }).sequence;
      await deliveriesUntil(hook.webhookId, (d) => d.length === 1);
      const again = await call<Delivery>('POST', `/v1/webhooks/${hook.webhookId}/deliveries/${run.runId}.${seq}:redeliver`, { body: {} });
      expect(again.status).toBe(200);
      expect(again.body).toMatchObject({ deliveryId: `${run.runId}.${seq}`, status: 'delivered', attempts: 2, responseStatus: 204 });
      const both = await received(box, 2);
      expect(both).toHaveLength(2);
      expect(both[1]?.body).toBe(both[0]?.body);
      expect((await verifyWebhook(both[1]?.body as string, both[1]?.headers ?? {}, hook.secret as string)).ok).toBe(true);
      expect((await call('POST', `/v1/webhooks/${hook.webhookId}/deliveries/${run.runId}.999:redeliver`, { body: {} })).status).toBe(404);
      expect((await call('POST', `/v1/webhooks/${hook.webhookId}/deliveries/run_nope.0:redeliver`, { body: {} })).status).toBe(404);
      if (target.keyB) {
        expect((await call('POST', `/v1/webhooks/${hook.webhookId}/deliveries/${run.runId}.${seq}:redeliver`, { body: {}, key: target.keyB })).status).toBe(
          404,
        );
      }
      await call('DELETE', `/v1/webhooks/${hook.webhookId}`);
    });
  });

  it('honours Idempotency-Key on registration: a retry gets the same subscription and secret, a different body 409', async () => {
    const key = freshKey();
    const body = { url: 'https://93.184.216.34/idem', events: ['run.completed'] };
    const a = await register(body, undefined, { 'idempotency-key': key });
    expect(a.status).toBe(201);
    const b = await register(body, undefined, { 'idempotency-key': key });
    expect(b.status).toBe(201);
    expect(b.headers.get('openwop-idempotent-replay')).toBe('true');
    expect(b.body.webhookId).toBe(a.body.webhookId);
    expect(b.body.secret).toBe(a.body.secret);
    const c = await register({ ...body, events: ['run.failed'] }, undefined, { 'idempotency-key': key });
    expect(c.status).toBe(409);
    expect(c.body).toMatchObject({ error: 'idempotency_key_mismatch' });
    const list = await call<{ webhooks: Hook[] }>('GET', '/v1/webhooks');
    expect(list.body.webhooks.filter((w) => w.url === body.url)).toHaveLength(1);
    await call('DELETE', `/v1/webhooks/${a.body.webhookId}`);
  });
});

/** The test kit, for the host this block starts itself (only against the in-process host). */
const kit = target.inProcess ? await import('@weft/testkit') : undefined;

describe.skipIf(!OWN_HOSTS || !receiver)('webhooks: logs of a host at debug level', () => {
  it('invariant: webhook-secret-never-logged — registration, deliveries, failures and replays never log a secret', async () => {
    const logs = new LineCapture();
    const allow = new URL(receiver as string).host;
    const host = await (kit as NonNullable<typeof kit>).startTestHost({
      logDestination: logs,
      config: { logLevel: 'debug', webhookAllow: [allow], webhookTimeoutMs: 500 },
    });
    try {
      const at = (method: string, path: string, body?: unknown, headers?: Record<string, string>) =>
        callAt<Hook>(host.url, method, path, {
          bearer: 'test-tenant-a-key-0123456789abcdef',
          ...(body === undefined ? {} : { body }),
          ...(headers ? { headers } : {}),
        });
      const secrets: string[] = [];
      const ids: string[] = [];
      for (const mode of ['ok', 'fail', 'slow']) {
        const key = freshKey();
        const body = { url: `${receiver}/hooks/${mode}/${name('log')}`, events: ['run.completed'] };
        const r = await at('POST', '/v1/webhooks', body, { 'idempotency-key': key });
        expect(r.status).toBe(201);
        expect((await at('POST', '/v1/webhooks', body, { 'idempotency-key': key })).body.secret).toBe(r.body.secret);
        secrets.push(r.body.secret as string);
        ids.push(r.body.webhookId);
      }
      const run = await callAt<{ runId: string }>(host.url, 'POST', '/v1/runs', {
        bearer: 'test-tenant-a-key-0123456789abcdef',
        body: { workflowId: 'weft-hello', inputs: { greeting: 'hi' } },
      });
      expect(run.status).toBe(201);
      // Wait (deadline) until every subscription has its delivery record: delivered, 500, timeout.
      const end = Date.now() + 10_000;
      const recorded = async (): Promise<number> =>
        (await Promise.all(ids.map((id) => host.store.listWebhookDeliveries('tenant-a', id, 10)))).filter((d) => d.length > 0).length;
      while ((await recorded()) < ids.length && Date.now() < end) await host.webhooks?.idle();
      expect(await recorded()).toBe(ids.length);
      expect(logs.lines.length).toBeGreaterThan(0);
      for (const s of secrets) expect(logs.text).not.toContain(s);
    } finally {
      await host.stop();
    }
  });
});
