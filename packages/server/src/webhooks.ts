/**
 * Webhooks (security-contract §3): subscriptions whose signing secret is sealed with the
 * vault's envelope scheme, registration behind the SSRF guard, and the best-effort dispatcher.
 *
 * - **Registration** refuses every URL that is not `https://` (an `http://` destination only
 *   when its host, or `host:port`, is listed verbatim in `WEFT_WEBHOOK_ALLOW`), carries
 *   credentials, or names a destination the SSRF guard refuses — internal names, and hosts
 *   resolving to any loopback, private, link-local, ULA, metadata or reserved address, whatever
 *   the spelling (decimal, hex, octal, IPv4-mapped IPv6). The host generates the secret (32
 *   random bytes, hex), returns it once, and stores it sealed; reads show its fingerprint.
 * - **Matching** is tenant-first: an appended event is offered only to the active
 *   subscriptions of the run's own tenant, then filtered by event type and tags (WH-06).
 * - **Delivery** (WH-10..12, WH-16, WH-21): one attempt per (subscription, run, sequence),
 *   signed `sha256=HMAC(secret, "{ts}.{body}")`, through a dedicated `OutboundClient` that
 *   re-resolves the host, validates every address and pins the connection to it; redirects
 *   are never followed (a 3xx is a failed delivery); 5 s per attempt. Failures are recorded,
 *   never retried. Four consecutive failures open the circuit for an hour (then one probe);
 *   100 failures in seven days mark the subscription `failed`.
 * - **Which process delivers:** best-effort — the engine tells this service of the appends
 *   *this* process committed (never of relayed ones), so with several processes each event is
 *   attempted by exactly one of them. Durable — the engine writes an outbox row per matching
 *   (subscription, event) in the append itself; every process claims due rows under a lease
 *   (Postgres: `FOR UPDATE SKIP LOCKED`), delivers, and records the outcome: delivered (row
 *   removed), retry with doubling backoff, or dead-lettered after five attempts. A row whose
 *   process died is claimed again once its lease expires, so it survives kill -9 and restarts;
 *   the dedupe key (`X-openwop-Webhook-Id`, runId, sequence) stays the same.
 * - **States** (WH-16/WH-17): `active`; `paused` (operator hold: best-effort events recorded
 *   `skipped`, durable rows held by the claim until resumed); `failed` (best-effort, 100 in 7
 *   days) and `dead-lettered` (durable, too many dead letters in a row; later rows go straight
 *   to dead letters) are terminal. The breaker only ever moves a subscription out of `active`.
 * - **Run callbacks** (`callbackUrl`, decision 0025): a durable subscription bound to one run,
 *   with its own secret, told of `interrupt.requested` (with a signed interrupt token when the
 *   run's creator could answer it) and of the run's end. The run names it, so its outbox rows
 *   need no cache.
 *
 * @see security-contract.md §3, docs/webhooks.md, docs/decisions/0019-webhooks.md
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import {
  CALLBACK_EVENTS,
  WEBHOOK_HEADERS,
  WEBHOOK_SIGNATURE_ALGORITHM,
  WeftError,
  type CallbackInterrupt,
  type CreateWebhookRequest,
  type Webhook,
  type WebhookDelivery,
} from '@weft/contract';
import { deliversOutbound, interruptIdOf, type EncodedEvent, type Notifier, type OutboxRow, type RunRecord } from '@weft/engine';
import {
  DnsLookupError,
  OutboundClient,
  OutboundError,
  SsrfBlockedError,
  SsrfGuard,
  openSecret,
  sealSecret,
  type KeyManager,
  type Resolver,
} from '@weft/security';
import type { HostStore, OutboxItem, OutboxOutcome, WebhookDeliveryRecord, WebhookRecord, WebhookState } from '@weft/store-kit';

/** The spec's best-effort numbers (WH-16). */
export const WEBHOOK_LIMITS = {
  attemptTimeoutMs: 5_000,
  circuitFailures: 4,
  circuitOpenMs: 3_600_000,
  failedAfter: 100,
  failedWindowMs: 7 * 86_400_000,
  /** Receiver response bodies are not used; reading more than this fails the attempt. */
  maxResponseBytes: 65_536,
  /** Deliveries waiting per subscription; beyond it an event is recorded as failed (`queue_full`). */
  maxQueuedPerSubscription: 10_000,
  /** Most attempts in flight per healthy subscription. */
  maxInFlightPerSubscription: 32,
  /** Durable: attempts before a row is dead-lettered. */
  durableAttempts: 5,
  /** Durable: the retry delay doubles from the base up to this. */
  durableMaxBackoffMs: 300_000,
  /** Durable: a claimed row stays ours for twice the attempt timeout plus this (a dead process's rows free up after it). */
  outboxLeaseSlackMs: 2_000,
  /** Durable: rows claimed per round, and how often an idle dispatcher looks for work (rows of a dead process, retries due). */
  outboxBatch: 64,
  outboxPollMs: 500,
  /** Durable: this many dead-lettered deliveries in a row (none delivered between) make the subscription `dead-lettered`. */
  deadLetteredAfter: 10,
} as const;

/** Callback events as a set (decision 0025). */
const CALLBACK_EVENT_SET: ReadonlySet<string> = new Set(CALLBACK_EVENTS);

/** Cross-process hint that a subscription changed (payload: tenant). */
export const WEBHOOKS_CHANNEL = 'weft_webhooks';

/** A subscription's secret as AAD context: a vault secret id cannot contain `:`, so the two never collide. */
const secretContext = (tenant: string, webhookId: string) => ({ tenant, secretId: `webhook:${webhookId}`, version: 1 });

/** First 8 hex digits of sha256(secret) (WH-04). */
export const secretFingerprint = (secret: string): string => createHash('sha256').update(secret, 'utf8').digest('hex').slice(0, 8);

/** `sha256=<hex>` over `{timestamp}.{body}` (WH-12). */
export function signWebhook(secret: string, timestamp: number, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`, 'utf8').digest('hex')}`;
}

/**
 * The delivery body (WH-11): the event exactly as the log holds it, inside the wrapper; a
 * callback's `interrupt.requested` also says how to answer it (decision 0025).
 */
export function deliveryBody(runId: string, tenant: string, eventJson: string, interrupt?: CallbackInterrupt): string {
  const extra = interrupt ? `,"interrupt":${JSON.stringify(interrupt)}` : '';
  return `{"runId":${JSON.stringify(runId)},"workspaceId":${JSON.stringify(tenant)},"event":${eventJson}${extra}}`;
}

/** Mints a signed interrupt token (the host's {@link InterruptTokens}). */
export type CallbackTokenMinter = (c: { runId: string; nodeId: string; interruptId: string }, deadline?: number) => { token: string; expiresAt: number };

/** Options of {@link WebhookService}. */
export interface WebhookServiceOptions {
  store: HostStore;
  keys: KeyManager;
  notifier: Notifier;
  /** `WEFT_WEBHOOK_ALLOW` entries (the SSRF guard's allowlist syntax). */
  allow: readonly string[];
  /** Port policy (`WEFT_OUTBOUND_PORTS` syntax). */
  ports?: string;
  /** Per-attempt deadline; at most the spec's 5 s. */
  timeoutMs?: number;
  /** Durable first retry delay (doubling). Default 2 s. */
  retryBaseMs?: number;
  /** This process's id (outbox lease owner). */
  owner?: string;
  /** `openwop-webhook-dispatcher/{version}`. */
  version: string;
  /** Name resolution (tests flip a name to a private address). */
  resolver?: Resolver;
  /** Signs the interrupt token a callback's `interrupt.requested` carries; without it none is sent. */
  mintToken?: CallbackTokenMinter;
  /** Durable dead letters in a row that make a subscription `dead-lettered` (default {@link WEBHOOK_LIMITS.deadLetteredAfter}). */
  deadLetteredAfter?: number;
  now?: () => number;
  warn?: (obj: Record<string, unknown>, msg: string) => void;
}

interface CachedHook {
  rec: WebhookRecord;
  secret?: Promise<string>;
  /** Deliveries waiting for a slot, in commit order. */
  waiting: (() => void)[];
  /** Attempts in flight. */
  running: number;
  /**
   * How many attempts may run at once: 1 for a new or failing subscription (so the breaker
   * counts failures in order and opens after exactly four), +1 per success up to the cap.
   */
  window: number;
}

const iso = (ms: number): string => new Date(ms).toISOString();

/**
 * True when `url` is `http://` to a destination the operator listed verbatim (host or
 * `host:port`) in the webhook allowlist — the only way a plain-http receiver is accepted.
 */
function httpAllowed(url: URL, allow: readonly string[]): boolean {
  const host = (url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname).toLowerCase();
  const port = url.port || '80';
  const hostPort = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  return allow.some((e) => {
    const entry = e.trim().toLowerCase();
    return entry === host || entry === hostPort;
  });
}

const newHook = (rec: WebhookRecord): CachedHook => ({ rec, waiting: [], running: 0, window: 1 });

/** Webhook subscriptions and the best-effort dispatcher of one host process. */
export class WebhookService {
  private readonly store: HostStore;
  private readonly keys: KeyManager;
  private readonly notifier: Notifier;
  private readonly allow: readonly string[];
  private readonly guard: SsrfGuard;
  private readonly client: OutboundClient;
  private readonly timeoutMs: number;
  private readonly userAgent: string;
  private readonly now: () => number;
  private readonly warn: (obj: Record<string, unknown>, msg: string) => void;
  /** Active subscriptions by tenant. */
  private readonly hooks = new Map<string, Map<string, CachedHook>>();
  private readonly inflight = new Set<Promise<void>>();
  private readonly retryBaseMs: number;
  private readonly owner: string;
  private readonly mintToken: CallbackTokenMinter | undefined;
  private readonly deadLetteredAfter: number;
  private unlisten: (() => void) | undefined;
  private refresher: NodeJS.Timeout | undefined;
  private poller: NodeJS.Timeout | undefined;
  private pumping: Promise<void> | undefined;
  private kicked = false;
  private wakeAt = Number.POSITIVE_INFINITY;
  private wakeTimer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(opts: WebhookServiceOptions) {
    this.store = opts.store;
    this.keys = opts.keys;
    this.notifier = opts.notifier;
    this.allow = opts.allow;
    this.timeoutMs = Math.min(WEBHOOK_LIMITS.attemptTimeoutMs, Math.max(50, opts.timeoutMs ?? WEBHOOK_LIMITS.attemptTimeoutMs));
    this.userAgent = `openwop-webhook-dispatcher/${opts.version}`;
    const guardOpts = { allow: [...opts.allow], ...(opts.ports ? { ports: opts.ports } : {}), ...(opts.resolver ? { resolver: opts.resolver } : {}) };
    this.guard = new SsrfGuard(guardOpts);
    this.client = new OutboundClient({
      ...guardOpts,
      timeoutMs: this.timeoutMs,
      maxRedirects: 0,
      maxResponseBytes: WEBHOOK_LIMITS.maxResponseBytes,
      userAgent: this.userAgent,
    });
    this.now = opts.now ?? Date.now;
    this.warn = opts.warn ?? (() => {});
    this.retryBaseMs = Math.max(1, opts.retryBaseMs ?? 2000);
    this.owner = opts.owner ?? `weft-wh-${randomBytes(6).toString('hex')}`;
    this.mintToken = opts.mintToken;
    this.deadLetteredAfter = Math.max(1, opts.deadLetteredAfter ?? WEBHOOK_LIMITS.deadLetteredAfter);
  }

  /** Loads the active subscriptions and listens for changes made by other processes. */
  async start(): Promise<void> {
    await this.reload();
    this.unlisten = await this.notifier.listen(WEBHOOKS_CHANNEL, () => {
      this.reload().catch((e: unknown) => this.warn({ err: String(e) }, 'webhook subscriptions reload failed'));
    });
    // Notifications are hints: a periodic reload catches a missed one.
    this.refresher = setInterval(() => {
      this.reload().catch((e: unknown) => this.warn({ err: String(e) }, 'webhook subscriptions reload failed'));
    }, 30_000);
    this.refresher.unref();
    // Durable rows left by a previous process (or another one) are picked up from here on.
    this.poller = setInterval(() => this.kick(), WEBHOOK_LIMITS.outboxPollMs);
    this.poller.unref();
    this.kick();
  }

  /** Stops matching new events and waits (bounded by the attempt timeout) for attempts in flight. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.unlisten?.();
    if (this.refresher) clearInterval(this.refresher);
    if (this.poller) clearInterval(this.poller);
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    await Promise.allSettled([...this.inflight, this.pumping]);
  }

  /** Resolves once every queued delivery has been attempted (tests, benchmarks). */
  async idle(): Promise<void> {
    while (this.inflight.size > 0 || this.pumping) await Promise.allSettled([...this.inflight, this.pumping]);
  }

  private async reload(): Promise<void> {
    const all = await this.store.listActiveWebhooks();
    const seen = new Set<string>();
    for (const rec of all) {
      seen.add(`${rec.tenant}\u0000${rec.webhookId}`);
      this.cache(rec);
    }
    for (const [tenant, m] of this.hooks) {
      for (const id of m.keys()) if (!seen.has(`${tenant}\u0000${id}`)) m.delete(id);
      if (m.size === 0) this.hooks.delete(tenant);
    }
  }

  private cache(rec: WebhookRecord): void {
    let m = this.hooks.get(rec.tenant);
    if (!m) {
      m = new Map();
      this.hooks.set(rec.tenant, m);
    }
    const cur = m.get(rec.webhookId);
    if (cur) cur.rec = rec;
    else m.set(rec.webhookId, newHook(rec));
  }

  private uncache(tenant: string, webhookId: string): void {
    const m = this.hooks.get(tenant);
    m?.delete(webhookId);
    if (m?.size === 0) this.hooks.delete(tenant);
  }

  private changed(tenant: string): void {
    this.notifier.notify(WEBHOOKS_CHANNEL, tenant).catch((e: unknown) => this.warn({ err: String(e) }, 'webhook change notification failed'));
  }

  // ------------------------------------------------------------------ subscriptions

  /** The wire view of a subscription: never the secret. */
  view(r: WebhookRecord): Webhook {
    return {
      webhookId: r.webhookId,
      tenantId: r.tenant,
      url: r.url,
      events: r.events,
      tags: r.tags,
      secretFingerprint: r.secretFingerprint,
      signatureAlgorithm: WEBHOOK_SIGNATURE_ALGORITHM,
      delivery: r.delivery,
      state: r.state,
      consecutiveFailures: r.consecutiveFailures,
      ...(r.circuitOpenUntil !== null && r.circuitOpenUntil > this.now() ? { circuitOpenUntil: iso(r.circuitOpenUntil) } : {}),
      createdAt: iso(r.createdAt),
      ...(r.runId === undefined ? {} : { runId: r.runId }),
    };
  }

  /**
   * Checks a receiver URL (WH-20): https (or allowlisted http), no credentials, and a
   * destination the SSRF guard accepts now.
   * @throws WeftError `webhook_url_rejected` with `details.reason`
   */
  async checkUrl(raw: string): Promise<URL> {
    const reject = (reason: string, message: string): never => {
      throw new WeftError('webhook_url_rejected', message, { reason });
    };
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      return reject('invalid_url', 'The webhook URL is not an absolute URL.');
    }
    if (url.username || url.password) reject('credentials', 'The webhook URL must not carry credentials.');
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && httpAllowed(url, this.allow))) reject('scheme', 'The webhook URL must use https://.');
    try {
      await this.guard.check(url);
    } catch (e) {
      if (e instanceof SsrfBlockedError) reject(e.reason, `The webhook URL is refused: ${e.message}`);
      if (e instanceof DnsLookupError) reject('dns', 'The webhook host could not be resolved.');
      throw e;
    }
    return url;
  }

  /** Registers a subscription for `tenant`; returns it with its secret (shown this once). */
  async create(tenant: string, req: CreateWebhookRequest): Promise<Webhook & { secret: string }> {
    const events = req.events ?? req.eventTypes;
    if (req.events && req.eventTypes)
      throw new WeftError('validation_error', 'Send events or eventTypes, not both.', { errors: [{ path: '/eventTypes', message: 'alias of events' }] });
    if (!events)
      throw new WeftError('validation_error', 'events is required (a non-empty list of event types).', { errors: [{ path: '/events', message: 'required' }] });
    const url = await this.checkUrl(req.url);
    const { rec, secret } = await this.register(tenant, 'wh', url, {
      events: [...events],
      tags: [...(req.tags ?? [])],
      delivery: req.delivery ?? 'best-effort',
    });
    this.cache(rec);
    this.changed(tenant);
    return { ...this.view(rec), secret };
  }

  /**
   * The creation response again, secret included, for an `Idempotency-Key` replay: the
   * idempotency table stores only the webhookId, and the secret is opened from its sealed row.
   */
  async createdAgain(tenant: string, webhookId: string): Promise<Webhook & { secret: string }> {
    const rec = await this.get(tenant, webhookId);
    const secret = await openSecret(this.keys, secretContext(tenant, webhookId), {
      masterKeyId: rec.masterKeyId,
      wrappedKey: rec.wrappedKey,
      ciphertext: rec.ciphertext,
    });
    return { ...this.view(rec), secret };
  }

  /** A new subscription row with a fresh secret (sealed under the vault key), stored; the secret is returned for the one answer that shows it. */
  private async register(
    tenant: string,
    idPrefix: 'wh' | 'cb',
    url: URL,
    fields: Pick<WebhookRecord, 'events' | 'tags' | 'delivery'> & { runId?: string },
  ): Promise<{ rec: WebhookRecord; secret: string }> {
    const secret = randomBytes(32).toString('hex');
    const webhookId = `${idPrefix}_${randomBytes(12).toString('base64url')}`;
    const sealed = await sealSecret(this.keys, secretContext(tenant, webhookId), secret);
    const now = this.now();
    const rec: WebhookRecord = {
      tenant,
      webhookId,
      url: url.href,
      ...fields,
      secretFingerprint: secretFingerprint(secret),
      ...sealed,
      state: 'active',
      consecutiveFailures: 0,
      circuitOpenUntil: null,
      createdAt: now,
      updatedAt: now,
    };
    if (!(await this.store.createWebhook(rec))) throw new Error('webhook id collision');
    return { rec, secret };
  }

  /**
   * Registers the callback of a run about to be created (`callbackUrl` of `POST /v1/runs`,
   * decision 0025): a durable subscription bound to `runId`, told of {@link CALLBACK_EVENTS},
   * with its own secret (returned this once). The URL passes the same guard as a webhook's.
   * @throws WeftError `webhook_url_rejected`
   */
  async createCallback(tenant: string, runId: string, rawUrl: string): Promise<{ webhookId: string; secret: string; secretFingerprint: string }> {
    const url = await this.checkUrl(rawUrl);
    const { rec, secret } = await this.register(tenant, 'cb', url, { events: [...CALLBACK_EVENTS], tags: [], delivery: 'durable', runId });
    return { webhookId: rec.webhookId, secret, secretFingerprint: rec.secretFingerprint };
  }

  /** A callback's secret again (an `Idempotency-Key` replay of `POST /v1/runs`), opened from its sealed row. */
  async callbackSecret(tenant: string, webhookId: string): Promise<{ secret: string; secretFingerprint: string }> {
    const rec = await this.get(tenant, webhookId);
    const secret = await openSecret(this.keys, secretContext(tenant, webhookId), {
      masterKeyId: rec.masterKeyId,
      wrappedKey: rec.wrappedKey,
      ciphertext: rec.ciphertext,
    });
    return { secret, secretFingerprint: rec.secretFingerprint };
  }

  /**
   * `:pause` / `:resume` (Weft extension over the WH-17 states). Pausing an active
   * subscription holds it; resuming a paused one makes it active and releases its held outbox
   * rows. Pausing a paused one, or resuming an active one, changes nothing.
   * @throws WeftError `not_found` | `webhook_state_conflict` (a failed or dead-lettered subscription is terminal)
   */
  async setPaused(tenant: string, webhookId: string, paused: boolean): Promise<Webhook> {
    const [from, to]: [WebhookState, WebhookState] = paused ? ['active', 'paused'] : ['paused', 'active'];
    for (;;) {
      const rec = await this.get(tenant, webhookId);
      if (rec.state === to) return this.view(rec);
      if (rec.state !== from)
        throw new WeftError('webhook_state_conflict', `The subscription is ${rec.state}; it cannot be ${paused ? 'paused' : 'resumed'} (re-register it).`, {
          state: rec.state,
        });
      const now = this.now();
      if (await this.store.transitionWebhook(tenant, webhookId, from, to, now)) {
        const next = { ...rec, state: to, updatedAt: now };
        if (rec.runId === undefined) this.cache(next);
        this.changed(tenant);
        if (!paused) this.kick();
        return this.view(next);
      }
      // Another request (or the breaker) moved it meanwhile: look again.
    }
  }

  list(tenant: string): Promise<WebhookRecord[]> {
    return this.store.listWebhooks(tenant);
  }

  /** @throws WeftError `not_found` (a foreign subscription is the same answer) */
  async get(tenant: string, webhookId: string): Promise<WebhookRecord> {
    const rec = await this.store.getWebhook(tenant, webhookId);
    if (!rec) throw new WeftError('not_found', 'Webhook not found.');
    return rec;
  }

  /** Deletes at once: nothing more is delivered by this process; others drop it on the notification. */
  async delete(tenant: string, webhookId: string): Promise<void> {
    this.uncache(tenant, webhookId);
    if (!(await this.store.deleteWebhook(tenant, webhookId))) throw new WeftError('not_found', 'Webhook not found.');
    this.changed(tenant);
  }

  /** The subscription's delivery records, newest first. */
  async deliveries(tenant: string, webhookId: string, limit: number): Promise<WebhookDelivery[]> {
    await this.get(tenant, webhookId);
    return (await this.store.listWebhookDeliveries(tenant, webhookId, limit)).map(deliveryView);
  }

  /**
   * Delivers one recorded event again, once, now (bypassing an open circuit; the outcome
   * counts like any attempt). `deliveryId` is `<runId>.<sequence>`.
   * @throws WeftError `not_found` when the subscription, the run (tenant-bound) or the event does not exist
   */
  async redeliver(tenant: string, webhookId: string, deliveryId: string): Promise<WebhookDelivery> {
    const rec = await this.get(tenant, webhookId);
    if (rec.state !== 'active')
      throw new WeftError('webhook_state_conflict', `The subscription is ${rec.state}; redelivery needs an active one.`, { state: rec.state });
    const m = /^(.+)\.(0|[1-9][0-9]{0,15})$/.exec(deliveryId);
    const notFound = new WeftError('not_found', 'Delivery not found.');
    if (!m) throw notFound;
    const runId = m[1] as string;
    const sequence = Number(m[2]);
    const run = await this.store.getRun(tenant, runId);
    if (!run) throw notFound;
    const [event] = await this.store.readEvents(runId, sequence - 1, 1);
    if (!event || event.sequence !== sequence) throw notFound;
    const prior = (await this.store.listWebhookDeliveries(tenant, webhookId, 1000)).find((d) => d.deliveryId === deliveryId);
    // A durable dead letter goes back to the outbox with a fresh attempt budget.
    if (rec.delivery === 'durable' && (await this.store.requeueOutbox(tenant, webhookId, deliveryId, this.now()))) {
      const d = await this.record(rec, run, event, { status: 'retrying', attempts: 0, responseStatus: null, error: 'redelivery_requested' }, prior?.createdAt);
      this.kick();
      return deliveryView(d);
    }
    const hook = this.hooks.get(tenant)?.get(webhookId) ?? newHook(rec);
    const out = await this.attempt(hook, run, event, prior?.attempts ?? 0, true, prior?.createdAt);
    return deliveryView(out);
  }

  // ------------------------------------------------------------------ dispatch

  /** Active subscriptions of the run's own tenant whose tags admit the run (WH-06: the tenant first; filters only narrow). */
  private *candidates(run: RunRecord): Generator<CachedHook> {
    const hooks = this.hooks.get(run.tenant);
    if (!hooks) return;
    for (const hook of hooks.values()) {
      const rec = hook.rec;
      if (rec.tenant !== run.tenant || rec.state === 'failed') continue;
      if (rec.tags.length > 0 && !rec.tags.some((t) => run.tags.includes(t))) continue;
      yield hook;
    }
  }

  /** The engine's `committed` hook: match best-effort subscriptions and queue, never throw, never block the run. */
  readonly onCommitted = (run: RunRecord, all: readonly EncodedEvent[]): void => {
    if (this.stopped) return;
    // A replay fork re-emits fixed history: none of it is delivered (nor a branch fork's prefix).
    const events = run.fork ? all.filter((e) => deliversOutbound(run, e.sequence)) : all;
    if (events.length === 0) return;
    let durable = run.callback !== undefined && events.some((e) => CALLBACK_EVENT_SET.has(e.type));
    for (const hook of this.candidates(run)) {
      if (hook.rec.delivery === 'durable') {
        durable ||= events.some((e) => hook.rec.events.includes(e.type));
        continue;
      }
      for (const e of events) {
        if (!hook.rec.events.includes(e.type)) continue;
        if (hook.rec.state === 'active') this.enqueue(hook, run, e);
        // Paused: not attempted, and — best-effort — never later; the record says so.
        else if (hook.rec.state === 'paused')
          this.track(this.record(hook.rec, run, e, { status: 'skipped', attempts: 0, responseStatus: null, error: 'paused' }));
      }
    }
    // The append just wrote outbox rows: deliver them now rather than at the next poll.
    if (durable) this.kick();
  };

  /** The engine's `outbox` hook: one row per (durable subscription, matching event), written in the append. */
  readonly outboxRows = (run: RunRecord, all: readonly EncodedEvent[]): OutboxRow[] => {
    if (this.stopped) return [];
    const events = run.fork ? all.filter((e) => deliversOutbound(run, e.sequence)) : all;
    const rows: OutboxRow[] = [];
    // The run's own callback (decision 0025): its events, to the subscription the run names.
    const cb = run.callback;
    if (cb) {
      for (const e of events)
        if (CALLBACK_EVENT_SET.has(e.type))
          rows.push({ tenant: run.tenant, webhookId: cb.webhookId, runId: run.runId, sequence: e.sequence, eventType: e.type });
    }
    for (const hook of this.candidates(run)) {
      if (hook.rec.delivery !== 'durable') continue;
      for (const e of events) {
        if (hook.rec.events.includes(e.type))
          rows.push({ tenant: run.tenant, webhookId: hook.rec.webhookId, runId: run.runId, sequence: e.sequence, eventType: e.type });
      }
    }
    return rows;
  };

  // ------------------------------------------------------------------ durable dispatch

  /** Asks for an outbox round (coalesced: one runs at a time, one more follows if asked meanwhile). */
  private kick(): void {
    if (this.stopped) return;
    if (this.pumping) {
      this.kicked = true;
      return;
    }
    this.pumping = (async () => {
      try {
        do {
          this.kicked = false;
          while (!this.stopped && (await this.outboxRound()) >= WEBHOOK_LIMITS.outboxBatch);
        } while (this.kicked && !this.stopped);
      } catch (e) {
        this.warn({ err: String(e) }, 'webhook outbox round failed');
      } finally {
        this.pumping = undefined;
      }
    })();
  }

  /** Runs an outbox round at `at` (a retry this process scheduled), unless one is due sooner. */
  private wakeBy(at: number): void {
    if (at >= this.wakeAt) return;
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    this.wakeAt = at;
    this.wakeTimer = setTimeout(
      () => {
        this.wakeAt = Number.POSITIVE_INFINITY;
        this.wakeTimer = undefined;
        this.kick();
      },
      Math.max(0, at - this.now()),
    );
    this.wakeTimer.unref();
  }

  /** Claims one batch of due rows and delivers them; returns how many were claimed. */
  private async outboxRound(): Promise<number> {
    const items = await this.store.claimOutbox(this.owner, this.now(), this.timeoutMs * 2 + WEBHOOK_LIMITS.outboxLeaseSlackMs, WEBHOOK_LIMITS.outboxBatch);
    await Promise.all(
      items.map((i) => this.deliverOutbox(i).catch((e: unknown) => this.warn({ webhookId: i.webhookId, err: String(e) }, 'webhook outbox delivery failed'))),
    );
    return items.length;
  }

  private async deliverOutbox(item: OutboxItem): Promise<void> {
    const done = (o: OutboxOutcome) => this.store.finishOutbox(item.tenant, item.webhookId, item.deliveryId, this.owner, o);
    let hook = this.hooks.get(item.tenant)?.get(item.webhookId);
    if (!hook) {
      const rec = await this.store.getWebhook(item.tenant, item.webhookId);
      if (!rec) return; // deleted meanwhile: its rows went with it
      hook = newHook(rec);
    }
    const run = await this.store.getRun(item.tenant, item.runId);
    const [event] = run ? await this.store.readEvents(item.runId, item.sequence - 1, 1) : [];
    if (!run || !event || event.sequence !== item.sequence) {
      await done({ kind: 'dead', attempts: item.attempts, error: 'event_missing' });
      return;
    }
    // A dead-lettered subscription is terminal: its events go straight to the dead letters.
    if (hook.rec.state === 'dead-lettered' || hook.rec.state === 'failed') {
      if (await done({ kind: 'dead', attempts: item.attempts, error: 'subscription_dead_lettered' }))
        await this.record(
          hook.rec,
          run,
          event,
          { status: 'dead-lettered', attempts: item.attempts, responseStatus: null, error: 'subscription_dead_lettered' },
          item.createdAt,
        );
      return;
    }
    // Paused after this row was claimed: hand it back untouched (held until resumed).
    if (hook.rec.state === 'paused') {
      await done({ kind: 'retry', attempts: item.attempts, availableAt: this.now(), error: 'paused' });
      return;
    }
    const attempts = item.attempts + 1;
    const outcome = await this.send(hook, run, event);
    if (outcome.ok) {
      // The row goes first: a crash between the two leaves a record saying less, never a second delivery.
      if (await done({ kind: 'delivered' })) {
        await this.record(hook.rec, run, event, { status: 'delivered', attempts, responseStatus: outcome.responseStatus, error: null }, item.createdAt);
        if (hook.rec.consecutiveFailures !== 0) await this.durableHealth(hook, 0);
      }
      return;
    }
    const error = outcome.error ?? 'failed';
    if (attempts >= WEBHOOK_LIMITS.durableAttempts) {
      if (await done({ kind: 'dead', attempts, error })) {
        await this.record(hook.rec, run, event, { status: 'dead-lettered', attempts, responseStatus: outcome.responseStatus, error }, item.createdAt);
        await this.durableHealth(hook, hook.rec.consecutiveFailures + 1);
      }
      return;
    }
    const delay = Math.min(WEBHOOK_LIMITS.durableMaxBackoffMs, this.retryBaseMs * 2 ** (attempts - 1));
    const at = this.now() + delay;
    this.wakeBy(at);
    if (await done({ kind: 'retry', attempts, availableAt: at, error })) {
      await this.record(hook.rec, run, event, { status: 'retrying', attempts, responseStatus: outcome.responseStatus, error }, item.createdAt);
    }
  }

  /**
   * A durable subscription's count of dead letters in a row (reset by a delivery); at the
   * threshold a registered subscription becomes `dead-lettered` (WH-17; a run's callback, a
   * handful of events, is never moved).
   */
  private async durableHealth(hook: CachedHook, deadInARow: number): Promise<void> {
    const rec = hook.rec;
    const dead = rec.runId === undefined && rec.state === 'active' && deadInARow >= this.deadLetteredAfter;
    const now = this.now();
    const health = {
      state: dead ? ('dead-lettered' as const) : rec.state,
      consecutiveFailures: deadInARow,
      circuitOpenUntil: rec.circuitOpenUntil,
      updatedAt: now,
    };
    hook.rec = { ...rec, ...health };
    await this.store.updateWebhookHealth(rec.tenant, rec.webhookId, health);
    if (dead) {
      this.warn(
        { webhookId: rec.webhookId, secretFingerprint: rec.secretFingerprint },
        `webhook subscription dead-lettered: ${deadInARow} deliveries in a row ran out of attempts`,
      );
      this.changed(rec.tenant);
    }
  }

  /** Keeps a background write in {@link idle}'s view; never rejects. */
  private track(p: Promise<unknown>): void {
    const q = p.then(
      () => undefined,
      (err: unknown) => this.warn({ err: String(err) }, 'webhook delivery bookkeeping failed'),
    );
    this.inflight.add(q);
    void q.finally(() => this.inflight.delete(q));
  }

  private enqueue(hook: CachedHook, run: RunRecord, e: EncodedEvent): void {
    if (hook.waiting.length >= WEBHOOK_LIMITS.maxQueuedPerSubscription) {
      void this.record(hook.rec, run, e, { status: 'failed', attempts: 0, responseStatus: null, error: 'queue_full' }).catch(() => undefined);
      return;
    }
    const p = new Promise<void>((resolve) => {
      hook.waiting.push(() => {
        hook.running++;
        this.attempt(hook, run, e, 0, false)
          .then(
            (d) => {
              hook.window = d.status === 'delivered' ? Math.min(WEBHOOK_LIMITS.maxInFlightPerSubscription, hook.window + 1) : 1;
            },
            (err: unknown) => this.warn({ webhookId: hook.rec.webhookId, err: String(err) }, 'webhook delivery bookkeeping failed'),
          )
          .finally(() => {
            hook.running--;
            this.pump(hook);
            resolve();
          });
      });
    });
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p));
    this.pump(hook);
  }

  /** Starts waiting deliveries while the subscription's window has room. */
  private pump(hook: CachedHook): void {
    while (hook.running < hook.window && hook.waiting.length > 0) (hook.waiting.shift() as () => void)();
  }

  private secretOf(hook: CachedHook): Promise<string> {
    const r = hook.rec;
    hook.secret ??= openSecret(this.keys, secretContext(r.tenant, r.webhookId), {
      masterKeyId: r.masterKeyId,
      wrappedKey: r.wrappedKey,
      ciphertext: r.ciphertext,
    });
    hook.secret.catch(() => {
      hook.secret = undefined;
    });
    return hook.secret;
  }

  /** One signed POST to the subscription's URL (pinned, no redirects); never throws. */
  private async send(hook: CachedHook, run: RunRecord, e: EncodedEvent): Promise<{ ok: boolean; responseStatus: number | null; error: string | null }> {
    const rec = hook.rec;
    try {
      const secret = await this.secretOf(hook);
      const body = deliveryBody(
        run.runId,
        run.tenant,
        e.json,
        rec.runId !== undefined && e.type === 'interrupt.requested' ? this.callbackInterrupt(run, e) : undefined,
      );
      const ts = Math.floor(this.now() / 1000);
      const res = await this.client.request({
        method: 'POST',
        url: rec.url,
        headers: {
          'content-type': 'application/json',
          'user-agent': this.userAgent,
          'accept-encoding': 'identity',
          [WEBHOOK_HEADERS.id]: rec.webhookId,
          [WEBHOOK_HEADERS.eventType]: e.type,
          [WEBHOOK_HEADERS.timestamp]: String(ts),
          [WEBHOOK_HEADERS.signature]: signWebhook(secret, ts, body),
          [WEBHOOK_HEADERS.algorithm]: WEBHOOK_SIGNATURE_ALGORITHM,
        },
        body,
        maxRedirects: 0,
      });
      if (res.status >= 200 && res.status < 300) return { ok: true, responseStatus: res.status, error: null };
      return { ok: false, responseStatus: res.status, error: res.status >= 300 && res.status < 400 ? 'redirect' : `status_${res.status}` };
    } catch (err) {
      return { ok: false, responseStatus: null, error: failureCode(err) };
    }
  }

  /**
   * How to answer the interrupt an `interrupt.requested` announces, for a run's callback: the
   * ids and kind, plus a signed token and its URL while the interrupt is pending and the run's
   * creator could answer it (held `approvals:respond`) — never more authority than the creator had.
   */
  private callbackInterrupt(run: RunRecord, e: EncodedEvent): CallbackInterrupt | undefined {
    const nodeId = e.nodeId;
    if (nodeId === undefined) return undefined;
    let key: unknown;
    try {
      key = (JSON.parse(e.json) as { payload?: { key?: unknown } }).payload?.key;
    } catch {
      return undefined;
    }
    if (typeof key !== 'string') return undefined;
    const interruptId = interruptIdOf(run.runId, nodeId, key);
    const iv = run.projection.interrupts?.[interruptId];
    if (!iv) return undefined;
    const out: CallbackInterrupt = { interruptId, nodeId, kind: iv.kind };
    if (iv.status === 'pending' && run.callback?.token && this.mintToken) {
      const t = this.mintToken({ runId: run.runId, nodeId, interruptId }, iv.expiresAt ? Date.parse(iv.expiresAt) : undefined);
      out.interruptToken = t.token;
      out.tokenExpiresAt = iso(t.expiresAt);
      out.callbackUrl = `/v1/interrupts/${t.token}`;
    }
    return out;
  }

  /** One best-effort attempt (or a skip while the circuit is open), recorded with the breaker's new state. */
  private async attempt(
    hook: CachedHook,
    run: RunRecord,
    e: EncodedEvent,
    priorAttempts: number,
    manual: boolean,
    createdAt?: number,
  ): Promise<WebhookDeliveryRecord> {
    const rec = hook.rec;
    const start = this.now();
    if (!manual && rec.circuitOpenUntil !== null && rec.circuitOpenUntil > start) {
      return this.record(rec, run, e, { status: 'skipped', attempts: priorAttempts, responseStatus: null, error: 'circuit_open' }, createdAt);
    }
    const outcome = await this.send(hook, run, e);
    const now = this.now();
    let health: Pick<WebhookRecord, 'state' | 'consecutiveFailures' | 'circuitOpenUntil'>;
    if (outcome.ok) health = { state: 'active', consecutiveFailures: 0, circuitOpenUntil: null };
    else {
      const failures = hook.rec.consecutiveFailures + 1;
      // A failed half-open probe (failures past the threshold) reopens at once.
      const open = failures >= WEBHOOK_LIMITS.circuitFailures ? now + WEBHOOK_LIMITS.circuitOpenMs : hook.rec.circuitOpenUntil;
      health = { state: 'active', consecutiveFailures: failures, circuitOpenUntil: open };
    }
    const out = await this.record(
      rec,
      run,
      e,
      { status: outcome.ok ? 'delivered' : 'failed', attempts: priorAttempts + 1, responseStatus: outcome.responseStatus, error: outcome.error },
      createdAt,
    );
    if (!outcome.ok && (await this.store.countWebhookFailures(rec.tenant, rec.webhookId, now - WEBHOOK_LIMITS.failedWindowMs)) >= WEBHOOK_LIMITS.failedAfter) {
      health.state = 'failed';
    }
    const cur = hook.rec;
    // The breaker moves a subscription only out of `active` (a pause meanwhile stands).
    if (cur.state !== 'active') health.state = cur.state;
    const unchanged = cur.state === health.state && cur.consecutiveFailures === health.consecutiveFailures && cur.circuitOpenUntil === health.circuitOpenUntil;
    hook.rec = { ...cur, ...health, updatedAt: now };
    // A healthy subscription staying healthy writes nothing (one write per delivery, not two).
    if (!unchanged) await this.store.updateWebhookHealth(rec.tenant, rec.webhookId, { ...health, updatedAt: now });
    if (health.state === 'failed') {
      this.uncache(rec.tenant, rec.webhookId);
      this.warn({ webhookId: rec.webhookId, secretFingerprint: rec.secretFingerprint }, 'webhook subscription failed: 100 failed deliveries in 7 days');
      this.changed(rec.tenant);
    }
    return out;
  }

  private async record(
    rec: WebhookRecord,
    run: RunRecord,
    e: EncodedEvent,
    o: Pick<WebhookDeliveryRecord, 'status' | 'attempts' | 'responseStatus' | 'error'>,
    createdAt?: number,
  ): Promise<WebhookDeliveryRecord> {
    const now = this.now();
    const d: WebhookDeliveryRecord = {
      tenant: rec.tenant,
      webhookId: rec.webhookId,
      deliveryId: `${run.runId}.${e.sequence}`,
      runId: run.runId,
      sequence: e.sequence,
      eventType: e.type,
      ...o,
      createdAt: createdAt ?? now,
      updatedAt: now,
    };
    await this.store.putWebhookDelivery(d);
    return d;
  }
}

/** A short code for a failed attempt (never the receiver's body). */
function failureCode(err: unknown): string {
  if (err instanceof OutboundError) {
    if (err.code === 'fetch_timeout') return 'timeout';
    if (err.code === 'fetch_failed') return `fetch_failed${typeof err.details?.reason === 'string' ? `:${err.details.reason}` : ''}`;
    return err.code;
  }
  return 'internal';
}

function deliveryView(d: WebhookDeliveryRecord): WebhookDelivery {
  return {
    deliveryId: d.deliveryId,
    webhookId: d.webhookId,
    runId: d.runId,
    sequence: d.sequence,
    eventType: d.eventType,
    status: d.status,
    attempts: d.attempts,
    ...(d.responseStatus !== null ? { responseStatus: d.responseStatus } : {}),
    ...(d.error !== null ? { error: d.error } : {}),
    createdAt: iso(d.createdAt),
    updatedAt: iso(d.updatedAt),
  };
}
