import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { verifyWebhook } from './webhooks.js';

const secret = 'c'.repeat(64);
const body = JSON.stringify({ runId: 'run_1', workspaceId: 'acme', event: { type: 'run.completed', runId: 'run_1', sequence: 3 } });
const now = 1_800_000_000_000;
const ts = Math.floor(now / 1000);
const sign = (t: number, b: string, s = secret): string => `sha256=${createHmac('sha256', s).update(`${t}.${b}`).digest('hex')}`;
const headers = (over: Record<string, string> = {}): Record<string, string> => ({
  'X-openwop-Timestamp': String(ts),
  'X-openwop-Signature': sign(ts, body),
  'X-openwop-Webhook-Id': 'wh_1',
  'X-openwop-Event-Type': 'run.completed',
  ...over,
});

describe('verifyWebhook', () => {
  it('accepts a v1 delivery from a record or a Headers object (algorithm absent means v1), over string or bytes', async () => {
    const ok = await verifyWebhook(body, headers(), secret, { now });
    expect(ok).toMatchObject({ ok: true, webhookId: 'wh_1', eventType: 'run.completed', timestamp: ts, body: { runId: 'run_1' } });
    expect(
      (await verifyWebhook(new TextEncoder().encode(body), new Headers({ ...headers(), 'x-openwop-signature-algorithm': 'v1' }), secret, { now })).ok,
    ).toBe(true);
  });

  it('refuses tampering, other secrets, stale or future timestamps, unknown algorithms and malformed headers', async () => {
    expect(await verifyWebhook(`${body} `, headers(), secret, { now })).toEqual({ ok: false, reason: 'bad_signature' });
    expect(await verifyWebhook(body, headers(), 'd'.repeat(64), { now })).toEqual({ ok: false, reason: 'bad_signature' });
    expect(await verifyWebhook(body, headers(), secret, { now: now + 301_000 })).toEqual({ ok: false, reason: 'timestamp_out_of_window' });
    expect(await verifyWebhook(body, headers(), secret, { now: now - 301_000 })).toEqual({ ok: false, reason: 'timestamp_out_of_window' });
    expect((await verifyWebhook(body, headers(), secret, { now: now + 299_000 })).ok).toBe(true);
    expect(await verifyWebhook(body, headers(), secret, { now: now + 11_000, toleranceSeconds: 10 })).toEqual({ ok: false, reason: 'timestamp_out_of_window' });
    expect(await verifyWebhook(body, headers({ 'X-openwop-Signature-Algorithm': 'v2' }), secret, { now })).toEqual({
      ok: false,
      reason: 'unsupported_algorithm',
    });
    expect(await verifyWebhook(body, headers({ 'X-openwop-Signature': sign(ts, body).slice(7) }), secret, { now })).toEqual({
      ok: false,
      reason: 'bad_signature',
    });
    expect(await verifyWebhook(body, headers({ 'X-openwop-Timestamp': '17e8' }), secret, { now })).toEqual({ ok: false, reason: 'bad_timestamp' });
    const { 'X-openwop-Signature': _s, ...noSig } = headers();
    expect(await verifyWebhook(body, noSig, secret, { now })).toEqual({ ok: false, reason: 'missing_signature' });
    // The timestamp is inside the signed message: moving it breaks the signature.
    expect(await verifyWebhook(body, headers({ 'X-openwop-Timestamp': String(ts + 1) }), secret, { now })).toEqual({ ok: false, reason: 'bad_signature' });
    const notJson = 'not json';
    expect(await verifyWebhook(notJson, headers({ 'X-openwop-Signature': sign(ts, notJson) }), secret, { now })).toEqual({ ok: false, reason: 'bad_body' });
  });
});
