/**
 * The `callbackUrl` of `POST /v1/runs` (wire-contract §1.3 "signed-token HITL callback";
 * decision 0025): the URL passes the webhook SSRF guard when the run is created (400
 * `webhook_url_rejected`, nothing created); the run's `interrupt.requested` and terminal event
 * are POSTed there through the durable outbox, signed `v1` with a per-run secret returned once
 * in the 201 answer, and the `interrupt.requested` delivery carries the signed interrupt token
 * and its `/v1/interrupts/{token}` URL — only when the creator could answer the interrupt
 * itself. Redirects are failed attempts, retried, then dead-lettered; a fork never calls its
 * source's callback. Deliveries go to the suite's loopback receiver, reached only through the
 * host's explicit webhook allowlist.
 *
 * @see docs/decisions/0025-run-callbacks-and-subscription-states.md, docs/webhooks.md#run-callbacks
 */
import { randomBytes } from 'node:crypto';
import { verifyWebhook } from '@weft/sdk';
import { describe, expect, it } from 'vitest';
import { checkContract } from '../contract-check.js';
import { call, freshKey, lacks, notInProcess, target, waitForEvent, waitForTerminal } from '../harness.js';

interface Created {
  runId: string;
  status: string;
  callbackId?: string;
  callbackSecret?: string;
  callbackSecretFingerprint?: string;
}

interface Received {
  headers: Record<string, string>;
  body: string;
  at: number;
}

interface Delivery {
  deliveryId: string;
  status: string;
  attempts: number;
  eventType: string;
  error?: string;
  responseStatus?: number;
}

interface CallbackBody {
  runId: string;
  workspaceId: string;
  event: { type: string; sequence: number; runId: string };
  interrupt?: { interruptId: string; nodeId: string; kind: string; interruptToken?: string; tokenExpiresAt?: string; callbackUrl?: string };
}

const receiver = target.webhookTarget;
const box = (p: string): string => `${p}-${randomBytes(6).toString('hex')}`;

async function received(name: string, count: number, timeoutMs = 10_000): Promise<Received[]> {
  const res = await fetch(`${receiver}/_received/${name}?count=${count}&timeout=${timeoutMs}`);
  return (await res.json()) as Received[];
}

async function deliveriesUntil(webhookId: string, ok: (d: Delivery[]) => boolean, deadlineMs = 10_000): Promise<Delivery[]> {
  const end = Date.now() + deadlineMs;
  let last: Delivery[] = [];
  while (Date.now() < end) {
    const r = await call<{ deliveries: Delivery[] }>('GET', `/v1/webhooks/${webhookId}/deliveries`);
    expect(r.status).toBe(200);
    last = r.body.deliveries;
    if (ok(last)) return last;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`delivery records of ${webhookId} never matched: ${JSON.stringify(last)}`);
}

const review = (callbackUrl: string, opts: { key?: string; headers?: Record<string, string> } = {}) =>
  call<Created>('POST', '/v1/runs', { body: { workflowId: 'weft-review', callbackUrl }, ...opts });

describe.skipIf(await lacks('the run callback scenarios', { workflows: ['weft-review', 'weft-hello'] }))('run callbacks (callbackUrl)', () => {
  it('invariant: callback-ssrf-accept — a callbackUrl the webhook guard refuses is 400 webhook_url_rejected and creates no run', async () => {
    const port = receiver ? new URL(receiver).port : '8080';
    const before = await call<{ runs: { runId: string }[] }>('GET', '/v1/runs?limit=200');
    for (const url of [
      'http://hooks.example.com/cb',
      'https://10.0.0.1/cb',
      'https://127.0.0.1/cb',
      'https://[::ffff:127.0.0.1]/cb',
      'https://169.254.169.254/latest/meta-data',
      'https://2130706433/cb',
      'https://0x7f000001/cb',
      'https://localhost/cb',
      'https://metadata.google.internal/cb',
      'https://user:pw@hooks.example.com/cb',
      `http://127.0.0.1:${Number(port) + 1}/cb`,
    ]) {
      const r = await review(url);
      expect(r.status, url).toBe(400);
      expect(r.body, url).toMatchObject({ error: 'webhook_url_rejected' });
      expect(r.text).not.toContain('runId');
    }
    const after = await call<{ runs: { runId: string }[] }>('GET', '/v1/runs?limit=200');
    expect(after.body.runs.map((r) => r.runId)).toEqual(before.body.runs.map((r) => r.runId));
  });

  describe.skipIf(!receiver)('deliveries to the allowlisted loopback receiver', () => {
    it('invariant: callback-signed-delivery — the interrupt and the end of the run are POSTed signed with the per-run secret; the token in the delivery answers the interrupt', async () => {
      const name = box('cb');
      const created = await review(`${receiver}/hooks/ok/${name}`);
      expect(created.status, created.text).toBe(201);
      expect(created.headers.get('cache-control')).toBe('no-store');
      const { runId, callbackId, callbackSecret } = created.body;
      expect(callbackId).toMatch(/^cb_/);
      expect(callbackSecret).toMatch(/^[0-9a-f]{64}$/);
      // The secret is shown once: the run and the callback subscription read back without it.
      const snap = await call('GET', `/v1/runs/${runId}`);
      expect(snap.text).not.toContain(callbackSecret as string);
      const sub = await call<{ runId: string; delivery: string; state: string; events: string[]; secretFingerprint: string }>(
        'GET',
        `/v1/webhooks/${callbackId}`,
      );
      expect(sub.status).toBe(200);
      expect(sub.text).not.toContain(callbackSecret as string);
      expect(sub.body).toMatchObject({
        runId,
        delivery: 'durable',
        state: 'active',
        events: ['interrupt.requested', 'run.completed', 'run.failed', 'run.cancelled'],
        secretFingerprint: created.body.callbackSecretFingerprint,
      });
      // A callback is not a registered subscription: the list does not show it.
      const list = await call<{ webhooks: { webhookId: string }[] }>('GET', '/v1/webhooks');
      expect(list.body.webhooks.map((w) => w.webhookId)).not.toContain(callbackId);

      await waitForEvent(runId, 'interrupt.requested');
      const [first] = await received(name, 1);
      expect(first).toBeDefined();
      const h = (first as Received).headers;
      expect(h['x-openwop-webhook-id']).toBe(callbackId);
      expect(h['x-openwop-event-type']).toBe('interrupt.requested');
      expect(h['x-openwop-signature-algorithm']).toBe('v1');
      const v = await verifyWebhook((first as Received).body, h, callbackSecret as string);
      expect(v.ok).toBe(true);
      expect((await verifyWebhook((first as Received).body, h, 'e'.repeat(64))).ok).toBe(false);
      const body = JSON.parse((first as Received).body) as CallbackBody;
      expect(body.runId).toBe(runId);
      expect(body.workspaceId).toBe('tenant-a');
      checkContract('run-event', body.event);
      expect(body.event.type).toBe('interrupt.requested');
      expect(body.interrupt).toMatchObject({ nodeId: 'review', kind: 'approval' });
      const token = body.interrupt?.interruptToken as string;
      expect(body.interrupt?.callbackUrl).toBe(`/v1/interrupts/${token}`);
      // The resolve URL of the delivery is the signed-token pair of execution-semantics §2.5.
      const inspect = await call<{ nodeId: string; status: string }>('GET', body.interrupt?.callbackUrl as string, { key: null });
      expect(inspect.status).toBe(200);
      expect(inspect.body).toMatchObject({ nodeId: 'review', status: 'pending' });
      const answer = await call('POST', body.interrupt?.callbackUrl as string, { key: null, body: { resumeValue: { action: 'accept' } } });
      expect(answer.status, answer.text).toBe(200);
      const log = await waitForTerminal(runId);
      expect(log.at(-1)?.type).toBe('run.completed');
      const both = await received(name, 2);
      expect(both).toHaveLength(2);
      const end = JSON.parse((both[1] as Received).body) as CallbackBody;
      expect(end.event.type).toBe('run.completed');
      expect(end.event).toEqual(log.at(-1));
      expect(end.interrupt).toBeUndefined();
      expect((await verifyWebhook((both[1] as Received).body, (both[1] as Received).headers, callbackSecret as string)).ok).toBe(true);
      // Only the callback's events, each once.
      expect(await received(name, 3, 300)).toHaveLength(2);
      const records = await deliveriesUntil(callbackId as string, (d) => d.length === 2 && d.every((x) => x.status === 'delivered'));
      expect(records.map((d) => d.eventType).sort()).toEqual(['interrupt.requested', 'run.completed']);
    });

    it.skipIf(notInProcess('the callback token-scope scenario', 'it mints a key on the suite host'))(
      'invariant: callback-token-scope — a creator without approvals:respond gets the interrupt announced but no token',
      async () => {
        const k = await call<{ secret: string }>('POST', '/v1/host/weft/keys', { body: { scopes: ['runs:create', 'runs:read'] } });
        expect(k.status, k.text).toBe(201);
        const name = box('cb-scope');
        const created = await review(`${receiver}/hooks/ok/${name}`, { key: k.body.secret });
        expect(created.status, created.text).toBe(201);
        await waitForEvent(created.body.runId, 'interrupt.requested');
        const [got] = await received(name, 1);
        const body = JSON.parse((got as Received).body) as CallbackBody;
        expect(body.event.type).toBe('interrupt.requested');
        expect(body.interrupt).toMatchObject({ nodeId: 'review', kind: 'approval' });
        expect(body.interrupt?.interruptToken).toBeUndefined();
        expect(body.interrupt?.callbackUrl).toBeUndefined();
        expect((got as Received).body).not.toMatch(/\/v1\/interrupts\//);
        await call('POST', `/v1/runs/${created.body.runId}/cancel`, { body: {} });
        const [, end] = await received(name, 2);
        expect((JSON.parse((end as Received).body) as CallbackBody).event.type).toBe('run.cancelled');
      },
    );

    it('honours Idempotency-Key: a retry answers the same run, callback and secret, and the callback is registered once', async () => {
      const name = box('cb-idem');
      const key = freshKey();
      const url = `${receiver}/hooks/ok/${name}`;
      const a = await review(url, { headers: { 'idempotency-key': key } });
      expect(a.status, a.text).toBe(201);
      const b = await review(url, { headers: { 'idempotency-key': key } });
      expect(b.status).toBe(201);
      expect(b.headers.get('openwop-idempotent-replay')).toBe('true');
      expect(b.headers.get('cache-control')).toBe('no-store');
      expect(b.body).toEqual(a.body);
      await waitForEvent(a.body.runId, 'interrupt.requested');
      expect(await received(name, 2, 500)).toHaveLength(1);
      await call('POST', `/v1/runs/${a.body.runId}/cancel`, { body: {} });
    });

    it('invariant: callback-delivery-egress — a redirecting callback receiver is never followed: each attempt fails, is retried with backoff, then dead-lettered', async () => {
      const name = box('cb-redir');
      const created = await call<Created>('POST', '/v1/runs', {
        body: { workflowId: 'weft-hello', inputs: { greeting: 'hi' }, callbackUrl: `${receiver}/hooks/redirect/${name}` },
      });
      expect(created.status, created.text).toBe(201);
      await waitForTerminal(created.body.runId);
      const [dead] = await deliveriesUntil(created.body.callbackId as string, (d) => d.length === 1 && d[0]?.status === 'dead-lettered');
      expect(dead).toMatchObject({ eventType: 'run.completed', attempts: 5, responseStatus: 302, error: 'redirect' });
      expect(await received(name, 5)).toHaveLength(5);
      expect(await received(`${name}-redirected`, 1, 300)).toHaveLength(0);
    });

    it('invariant: secret-leakage-eventlog-payload — a callback carries the event as the log holds it, secret-shaped inputs redacted', async () => {
      const name = box('cb-redact');
      const canary = 'CANARY-openwop-CALLBACK-NEVER-SECRET';
      const secret = ['sk-', 'proj-', canary, '-0123456789abcdef'].join('');
      const created = await call<Created>('POST', '/v1/runs', {
        body: { workflowId: 'weft-hello', inputs: { greeting: `hi ${secret}` }, callbackUrl: `${receiver}/hooks/ok/${name}` },
      });
      expect(created.status).toBe(201);
      const log = await waitForTerminal(created.body.runId);
      const [got] = await received(name, 1);
      expect((got as Received).body).not.toContain(canary);
      expect((JSON.parse((got as Received).body) as CallbackBody).event).toEqual(log.at(-1));
    });

    it('invariant: replay-side-effect-suppression — a fork of a run with a callback never calls it (neither its replayed prefix nor its own end)', async () => {
      const name = box('cb-fork');
      const created = await call<Created>('POST', '/v1/runs', {
        body: { workflowId: 'weft-hello', inputs: { greeting: 'hi' }, callbackUrl: `${receiver}/hooks/ok/${name}` },
      });
      expect(created.status).toBe(201);
      await waitForTerminal(created.body.runId);
      expect(await received(name, 1)).toHaveLength(1);
      for (const body of [
        { mode: 'replay', fromSeq: 0 },
        { mode: 'branch', fromSeq: 2 },
      ]) {
        const fork = await call<{ runId: string }>('POST', `/v1/runs/${created.body.runId}:fork`, { body });
        expect(fork.status, fork.text).toBe(201);
        expect((await waitForTerminal(fork.body.runId)).at(-1)?.type).toBe('run.completed');
      }
      const records = await deliveriesUntil(created.body.callbackId as string, (d) => d.length >= 1);
      expect(records.map((d) => d.deliveryId)).toEqual([expect.stringMatching(new RegExp(`^${created.body.runId}\\.`))]);
      expect(await received(name, 2, 500)).toHaveLength(1);
    });
  });

  it.skipIf(!target.keyB || !receiver)("a callback's records are tenant-bound: another tenant reads it as missing", async () => {
    const created = await call<Created>('POST', '/v1/runs', {
      body: { workflowId: 'weft-hello', inputs: { greeting: 'hi' }, callbackUrl: `${receiver}/hooks/ok/${box('cb-iso')}` },
    });
    expect(created.status).toBe(201);
    const id = created.body.callbackId as string;
    for (const path of [`/v1/webhooks/${id}`, `/v1/webhooks/${id}/deliveries`])
      expect((await call('GET', path, { key: target.keyB as string })).status).toBe(404);
    expect((await call('POST', `/v1/webhooks/${id}:pause`, { key: target.keyB as string, body: {} })).status).toBe(404);
    await waitForTerminal(created.body.runId);
  });
});
