/**
 * Receiver side of webhooks: {@link verifyWebhook} checks a delivery's `v1` signature
 * (`X-openwop-Signature: sha256=<hex>` = HMAC-SHA256(secret, "{X-openwop-Timestamp}.{rawBody}"))
 * and its timestamp window, with WebCrypto only (Node ≥ 20, browsers, workers) and a
 * constant-time comparison.
 *
 * @see security-contract.md §3.2 (WH-10..14)
 */
import { WEBHOOK_HEADERS, WEBHOOK_SIGNATURE_ALGORITHM, WEBHOOK_TOLERANCE_SECONDS, type WebhookDeliveryBody } from '@weft/contract/types';

/** Headers as a `Headers` object (fetch), a Node `IncomingHttpHeaders` or any record; names are case-insensitive. */
export type WebhookHeaders = Headers | Readonly<Record<string, string | readonly string[] | undefined>>;

/** Options of {@link verifyWebhook}. */
export interface VerifyWebhookOptions {
  /** Largest accepted |now − timestamp|, seconds. Default 300 (the spec's window). */
  toleranceSeconds?: number;
  /** The receiver's clock, epoch milliseconds (tests). Default `Date.now()`. */
  now?: number;
}

/** Why a delivery was refused. */
export type WebhookVerifyFailure =
  | 'missing_signature'
  | 'missing_timestamp'
  | 'bad_timestamp'
  | 'timestamp_out_of_window'
  | 'unsupported_algorithm'
  | 'bad_signature'
  | 'bad_body';

/** The outcome of {@link verifyWebhook}. */
export type WebhookVerification =
  | { ok: true; webhookId?: string; eventType?: string; timestamp: number; body: WebhookDeliveryBody }
  | { ok: false; reason: WebhookVerifyFailure };

function header(h: WebhookHeaders, name: string): string | undefined {
  if (typeof (h as Headers).get === 'function') return (h as Headers).get(name) ?? undefined;
  const rec = h as Readonly<Record<string, string | readonly string[] | undefined>>;
  for (const [k, v] of Object.entries(rec)) {
    if (k.toLowerCase() !== name) continue;
    if (v === undefined) return undefined;
    return typeof v === 'string' ? v : v.join(', ');
  }
  return undefined;
}

const encoder = new TextEncoder();

function bytesOf(raw: string | Uint8Array | ArrayBuffer): Uint8Array {
  if (typeof raw === 'string') return encoder.encode(raw);
  return raw instanceof Uint8Array ? raw : new Uint8Array(raw);
}

function fromHex(hex: string): Uint8Array | undefined {
  if (!/^[0-9a-f]{64}$/.test(hex)) return undefined;
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** Compares two equal-length byte arrays in time independent of where they differ. */
function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] as number) ^ (b[i] as number);
  return diff === 0;
}

/**
 * Verifies a webhook delivery: the algorithm header (absent means `v1`; anything else is
 * refused), the timestamp window, and the HMAC over the **exact received bytes** — pass the
 * raw body, never a re-serialized object. Resolves `{ok: true, body}` with the parsed
 * `{runId, workspaceId, event}`, or `{ok: false, reason}`; it never throws for a bad delivery.
 * Deduplicate accepted deliveries on (`webhookId`, `body.runId`, `body.event.sequence`).
 */
export async function verifyWebhook(
  rawBody: string | Uint8Array | ArrayBuffer,
  headers: WebhookHeaders,
  secret: string,
  opts: VerifyWebhookOptions = {},
): Promise<WebhookVerification> {
  const algorithm = header(headers, WEBHOOK_HEADERS.algorithm);
  if (algorithm !== undefined && algorithm.trim() !== WEBHOOK_SIGNATURE_ALGORITHM) return { ok: false, reason: 'unsupported_algorithm' };
  const sig = header(headers, WEBHOOK_HEADERS.signature)?.trim();
  if (!sig) return { ok: false, reason: 'missing_signature' };
  const tsRaw = header(headers, WEBHOOK_HEADERS.timestamp)?.trim();
  if (!tsRaw) return { ok: false, reason: 'missing_timestamp' };
  if (!/^[0-9]{1,12}$/.test(tsRaw)) return { ok: false, reason: 'bad_timestamp' };
  const timestamp = Number(tsRaw);
  const tolerance = opts.toleranceSeconds ?? WEBHOOK_TOLERANCE_SECONDS;
  const now = Math.floor((opts.now ?? Date.now()) / 1000);
  if (Math.abs(now - timestamp) > tolerance) return { ok: false, reason: 'timestamp_out_of_window' };
  const given = sig.startsWith('sha256=') ? fromHex(sig.slice(7)) : undefined;
  if (!given) return { ok: false, reason: 'bad_signature' };
  const body = bytesOf(rawBody);
  const prefix = encoder.encode(`${tsRaw}.`);
  const message = new Uint8Array(prefix.length + body.length);
  message.set(prefix, 0);
  message.set(body, prefix.length);
  const key = await crypto.subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const expected = new Uint8Array(await crypto.subtle.sign('HMAC', key, message));
  if (!constantTimeEqual(expected, given)) return { ok: false, reason: 'bad_signature' };
  let parsed: WebhookDeliveryBody;
  try {
    parsed = JSON.parse(new TextDecoder().decode(body)) as WebhookDeliveryBody;
  } catch {
    return { ok: false, reason: 'bad_body' };
  }
  if (!parsed || typeof parsed !== 'object' || typeof parsed.runId !== 'string' || typeof parsed.event !== 'object' || parsed.event === null)
    return { ok: false, reason: 'bad_body' };
  const webhookId = header(headers, WEBHOOK_HEADERS.id);
  const eventType = header(headers, WEBHOOK_HEADERS.eventType);
  return { ok: true, ...(webhookId ? { webhookId } : {}), ...(eventType ? { eventType } : {}), timestamp, body: parsed };
}
