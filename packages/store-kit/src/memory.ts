/**
 * In-memory {@link KeyStore}, {@link AuditStore} and {@link SecretStore}, the references the SQL stores are
 * checked against, and {@link MemoryHostStore}: the engine's `MemoryStore` plus all three, which is
 * what `--store memory` runs on. Nothing survives the process.
 */
import { forwardMethods, SECRET_STORE_METHODS, WEBHOOK_STORE_METHODS } from './forward.js';
import { MemoryStore, type ExpiredRun } from '@weft/engine';
import {
  checkAuditWrite,
  type ApiKeyRecord,
  type ApiKeySuccessor,
  type AuditCheckpoint,
  type AuditEntry,
  type AuditStore,
  type AuditWrite,
  type AuditWriteState,
  type HostStore,
  type KeyStore,
  type RotateApiKeyResult,
  type SecretExpectation,
  type SecretRecord,
  type OutboxItem,
  type OutboxOutcome,
  type SecretStore,
  type WebhookDeliveryRecord,
  type WebhookHealth,
  type WebhookRecord,
  type WebhookState,
  type WebhookStore,
} from './ports.js';

const clone = <T>(v: T): T => structuredClone(v);
/** Byte-order string comparison (the SQL stores sort with the C collation). */
const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Managed keys in a map; every read returns a copy. */
export class MemoryKeyStore implements KeyStore {
  private readonly apiKeys = new Map<string, ApiKeyRecord>();

  async createApiKey(key: ApiKeyRecord): Promise<void> {
    if (this.apiKeys.has(key.keyId)) throw new Error(`duplicate api key ${key.keyId}`);
    for (const k of this.apiKeys.values()) if (k.hash === key.hash) throw new Error('duplicate api key hash');
    this.apiKeys.set(key.keyId, clone(key));
  }
  async getApiKey(keyId: string, tenant?: string): Promise<ApiKeyRecord | undefined> {
    const k = this.apiKeys.get(keyId);
    return k && (tenant === undefined || k.tenant === tenant) ? clone(k) : undefined;
  }
  async findApiKeyByHash(hash: string): Promise<ApiKeyRecord | undefined> {
    for (const k of this.apiKeys.values()) if (k.hash === hash) return clone(k);
    return undefined;
  }
  async listApiKeys(tenant?: string): Promise<ApiKeyRecord[]> {
    return [...this.apiKeys.values()]
      .filter((k) => tenant === undefined || k.tenant === tenant)
      .sort((a, b) => a.createdAt - b.createdAt || (a.keyId < b.keyId ? -1 : a.keyId > b.keyId ? 1 : 0))
      .map(clone);
  }
  async revokeApiKey(keyId: string, at: number, tenant?: string): Promise<ApiKeyRecord | undefined> {
    const k = this.apiKeys.get(keyId);
    if (!k || (tenant !== undefined && k.tenant !== tenant)) return undefined;
    k.revokedAt ??= at;
    return clone(k);
  }
  async rotateApiKey(keyId: string, successor: ApiKeySuccessor, graceUntil: number, now: number, tenant?: string): Promise<RotateApiKeyResult> {
    const old = this.apiKeys.get(keyId);
    if (!old || (tenant !== undefined && old.tenant !== tenant)) return { kind: 'not_found' };
    if (old.revokedAt !== null || old.graceUntil !== null || (old.expiresAt !== null && old.expiresAt <= now)) return { kind: 'conflict', old: clone(old) };
    const next: ApiKeyRecord = {
      ...successor,
      tenant: old.tenant,
      principal: old.principal,
      name: old.name,
      scopes: [...old.scopes],
      revokedAt: null,
      rotatedFrom: old.keyId,
      graceUntil: null,
      lastUsedAt: null,
    };
    // Synchronous from check to write, so concurrent rotations cannot interleave.
    for (const k of this.apiKeys.values()) if (k.keyId === next.keyId || k.hash === next.hash) throw new Error(`duplicate api key ${next.keyId}`);
    this.apiKeys.set(next.keyId, clone(next));
    old.graceUntil = graceUntil;
    return { kind: 'rotated', old: clone(old), next: clone(next) };
  }
  async touchApiKey(keyId: string, at: number): Promise<void> {
    const k = this.apiKeys.get(keyId);
    if (k) k.lastUsedAt = at;
  }
}

/** The audit log and its checkpoints in arrays; JavaScript's one thread is the write lock. */
export class MemoryAuditStore implements AuditStore {
  private readonly audit: AuditEntry[] = [];
  private readonly checkpoints: AuditCheckpoint[] = [];

  async appendAudit(afterSeq: number, build: (state: AuditWriteState) => AuditWrite): Promise<AuditWrite> {
    const last = this.audit.at(-1);
    const lastCheckpoint = this.checkpoints.at(-1);
    const write = build({
      tip: last && { seq: last.seq, hash: last.hash },
      newer: this.audit.filter((e) => e.seq > afterSeq).map(clone),
      lastCheckpoint: lastCheckpoint && clone(lastCheckpoint),
    });
    checkAuditWrite(last?.seq ?? -1, lastCheckpoint?.checkpoint ?? 0, write);
    for (const e of write.entries) this.audit.push(clone(e));
    if (write.checkpoint) this.checkpoints.push(clone(write.checkpoint));
    return write;
  }
  async readAuditEntries(fromSeq: number, toSeq: number, limit: number): Promise<AuditEntry[]> {
    return this.audit
      .filter((e) => e.seq >= fromSeq && e.seq <= toSeq)
      .slice(0, Math.max(0, limit))
      .map(clone);
  }
  async listAuditCheckpoints(fromSeq: number, toSeq: number, limit: number): Promise<AuditCheckpoint[]> {
    return this.checkpoints
      .filter((c) => c.atSeq >= fromSeq && c.atSeq <= toSeq)
      .slice(0, Math.max(0, limit))
      .map(clone);
  }
  async auditCheckpointBefore(seq: number): Promise<AuditCheckpoint | undefined> {
    const c = this.checkpoints.filter((x) => x.atSeq < seq).at(-1);
    return c && clone(c);
  }
}

const byKey = (a: SecretRecord, b: SecretRecord): number =>
  a.tenant < b.tenant ? -1 : a.tenant > b.tenant ? 1 : a.secretId < b.secretId ? -1 : a.secretId > b.secretId ? 1 : 0;

/** The vault's secrets in a map keyed by (tenant, secretId); every read returns a copy. */
export class MemorySecretStore implements SecretStore {
  private readonly secrets = new Map<string, SecretRecord>();
  private static key(tenant: string, secretId: string): string {
    return `${tenant}\0${secretId}`;
  }

  async createSecret(secret: SecretRecord): Promise<boolean> {
    const k = MemorySecretStore.key(secret.tenant, secret.secretId);
    if (this.secrets.has(k)) return false;
    this.secrets.set(k, clone(secret));
    return true;
  }
  async getSecret(tenant: string, secretId: string): Promise<SecretRecord | undefined> {
    const s = this.secrets.get(MemorySecretStore.key(tenant, secretId));
    return s && clone(s);
  }
  async listSecrets(tenant: string): Promise<SecretRecord[]> {
    return [...this.secrets.values()]
      .filter((s) => s.tenant === tenant)
      .sort(byKey)
      .map(clone);
  }
  async replaceSecret(tenant: string, secretId: string, expected: SecretExpectation, next: SecretRecord): Promise<boolean> {
    const k = MemorySecretStore.key(tenant, secretId);
    const cur = this.secrets.get(k);
    if (!cur || cur.version !== expected.version || cur.masterKeyId !== expected.masterKeyId) return false;
    this.secrets.set(k, { ...clone(next), tenant, secretId });
    return true;
  }
  async deleteSecret(tenant: string, secretId: string, version?: number): Promise<boolean> {
    const k = MemorySecretStore.key(tenant, secretId);
    const cur = this.secrets.get(k);
    if (!cur || (version !== undefined && cur.version !== version)) return false;
    return this.secrets.delete(k);
  }
  async listSecretsNotWrappedBy(masterKeyId: string, limit: number): Promise<SecretRecord[]> {
    return [...this.secrets.values()]
      .filter((s) => s.masterKeyId !== masterKeyId)
      .sort(byKey)
      .slice(0, Math.max(0, limit))
      .map(clone);
  }
}

/** Webhook subscriptions and delivery records in maps; every read returns a copy. */
export class MemoryWebhookStore implements WebhookStore {
  protected readonly hooks = new Map<string, WebhookRecord>();
  private readonly deliveries = new Map<string, WebhookDeliveryRecord>();
  private static key(tenant: string, id: string): string {
    return `${tenant}\u0000${id}`;
  }
  async createWebhook(rec: WebhookRecord): Promise<boolean> {
    const k = MemoryWebhookStore.key(rec.tenant, rec.webhookId);
    if (this.hooks.has(k)) return false;
    this.hooks.set(k, clone(rec));
    return true;
  }
  async getWebhook(tenant: string, webhookId: string): Promise<WebhookRecord | undefined> {
    const w = this.hooks.get(MemoryWebhookStore.key(tenant, webhookId));
    return w && clone(w);
  }
  async listWebhooks(tenant: string): Promise<WebhookRecord[]> {
    return [...this.hooks.values()]
      .filter((w) => w.tenant === tenant && w.runId === undefined)
      .sort((a, b) => a.createdAt - b.createdAt || cmp(a.webhookId, b.webhookId))
      .map(clone);
  }
  async listActiveWebhooks(): Promise<WebhookRecord[]> {
    return [...this.hooks.values()]
      .filter((w) => w.state !== 'failed' && w.runId === undefined)
      .sort((a, b) => cmp(a.tenant, b.tenant) || a.createdAt - b.createdAt || cmp(a.webhookId, b.webhookId))
      .map(clone);
  }
  async deleteWebhook(tenant: string, webhookId: string): Promise<boolean> {
    for (const [k, d] of this.deliveries) if (d.tenant === tenant && d.webhookId === webhookId) this.deliveries.delete(k);
    return this.hooks.delete(MemoryWebhookStore.key(tenant, webhookId));
  }
  async updateWebhookHealth(tenant: string, webhookId: string, health: WebhookHealth): Promise<boolean> {
    const w = this.hooks.get(MemoryWebhookStore.key(tenant, webhookId));
    if (!w) return false;
    // The dispatcher moves a subscription only out of `active`: a concurrent pause is never undone.
    Object.assign(w, { ...health, state: w.state === 'active' ? health.state : w.state });
    return true;
  }
  async transitionWebhook(tenant: string, webhookId: string, from: WebhookState, to: WebhookState, now: number): Promise<boolean> {
    const w = this.hooks.get(MemoryWebhookStore.key(tenant, webhookId));
    if (w?.state !== from) return false;
    Object.assign(w, { state: to, updatedAt: now });
    return true;
  }
  /** Ids of the callback subscriptions of a run. */
  callbacksOf(tenant: string, runId: string): string[] {
    return [...this.hooks.values()].filter((w) => w.tenant === tenant && w.runId === runId).map((w) => w.webhookId);
  }
  /** True when the subscription exists and is `paused` (its outbox rows are held). */
  isPaused(tenant: string, webhookId: string): boolean {
    return this.hooks.get(MemoryWebhookStore.key(tenant, webhookId))?.state === 'paused';
  }
  async putWebhookDelivery(d: WebhookDeliveryRecord): Promise<void> {
    const k = `${MemoryWebhookStore.key(d.tenant, d.webhookId)}\u0000${d.deliveryId}`;
    const prev = this.deliveries.get(k);
    this.deliveries.set(
      k,
      prev ? { ...prev, status: d.status, attempts: d.attempts, responseStatus: d.responseStatus, error: d.error, updatedAt: d.updatedAt } : clone(d),
    );
  }
  async listWebhookDeliveries(tenant: string, webhookId: string, limit: number): Promise<WebhookDeliveryRecord[]> {
    return [...this.deliveries.values()]
      .filter((d) => d.tenant === tenant && d.webhookId === webhookId)
      .sort((a, b) => b.updatedAt - a.updatedAt || cmp(b.deliveryId, a.deliveryId))
      .slice(0, Math.max(0, limit))
      .map(clone);
  }
  async countWebhookFailures(tenant: string, webhookId: string, since: number): Promise<number> {
    let n = 0;
    for (const d of this.deliveries.values()) if (d.tenant === tenant && d.webhookId === webhookId && d.status === 'failed' && d.updatedAt >= since) n++;
    return n;
  }
}

/** The ports whose methods MemoryHostStore forwards to its parts (installed by `forwardMethods` below). */
export interface MemoryHostStore extends SecretStore, WebhookStore {}

/**
 * The engine's {@link MemoryStore} (runs, workflows, idempotency) with a
 * {@link MemoryKeyStore} and a {@link MemoryAuditStore} and a {@link MemorySecretStore}: a whole {@link HostStore} in memory.
 */
// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: the forwarded methods are installed on the prototype right after the class.
export class MemoryHostStore extends MemoryStore implements HostStore {
  private readonly keys = new MemoryKeyStore();
  private readonly auditLog = new MemoryAuditStore();
  protected readonly vault = new MemorySecretStore();
  protected readonly hooks = new MemoryWebhookStore();

  deleteWebhook(tenant: string, webhookId: string): Promise<boolean> {
    for (const [k, r] of this.outboxRows) if (r.tenant === tenant && r.webhookId === webhookId) this.outboxRows.delete(k);
    return this.hooks.deleteWebhook(tenant, webhookId);
  }
  /** Retention also deletes a swept run's callback subscription (its records and outbox rows). */
  override async expireRuns(endedBefore: number, limit: number, now: number): Promise<ExpiredRun[]> {
    const out = await super.expireRuns(endedBefore, limit, now);
    for (const r of out) for (const id of this.hooks.callbacksOf(r.tenant, r.runId)) await this.deleteWebhook(r.tenant, id);
    return out;
  }
  async claimOutbox(owner: string, now: number, leaseMs: number, limit: number): Promise<OutboxItem[]> {
    const due = [...this.outboxRows.values()]
      .filter(
        (r) => r.state === 'pending' && r.availableAt <= now && (r.leaseUntil === null || r.leaseUntil < now) && !this.hooks.isPaused(r.tenant, r.webhookId),
      )
      .sort((a, b) => a.availableAt - b.availableAt || a.createdAt - b.createdAt)
      .slice(0, Math.max(0, limit));
    for (const r of due) {
      r.leaseOwner = owner;
      r.leaseUntil = now + leaseMs;
    }
    return due.map((r) => ({
      tenant: r.tenant,
      webhookId: r.webhookId,
      deliveryId: r.deliveryId,
      runId: r.runId,
      sequence: r.sequence,
      eventType: r.eventType,
      attempts: r.attempts,
      createdAt: r.createdAt,
    }));
  }
  async finishOutbox(tenant: string, webhookId: string, deliveryId: string, owner: string, outcome: OutboxOutcome): Promise<boolean> {
    const k = `${tenant}\u0000${webhookId}\u0000${deliveryId}`;
    const r = this.outboxRows.get(k);
    if (!r || r.leaseOwner !== owner) return false;
    if (outcome.kind === 'delivered') return this.outboxRows.delete(k);
    Object.assign(r, {
      state: outcome.kind === 'dead' ? 'dead' : 'pending',
      attempts: outcome.attempts,
      availableAt: outcome.kind === 'retry' ? outcome.availableAt : 0,
      lastError: outcome.error,
      leaseOwner: null,
      leaseUntil: null,
    });
    return true;
  }
  async requeueOutbox(tenant: string, webhookId: string, deliveryId: string, now: number): Promise<boolean> {
    const r = this.outboxRows.get(`${tenant}\u0000${webhookId}\u0000${deliveryId}`);
    if (r?.state !== 'dead') return false;
    Object.assign(r, { state: 'pending', attempts: 0, availableAt: now, lastError: null, leaseOwner: null, leaseUntil: null });
    return true;
  }
  async countOutbox(tenant?: string, webhookId?: string): Promise<{ pending: number; dead: number }> {
    let pending = 0;
    let dead = 0;
    for (const r of this.outboxRows.values()) {
      if ((tenant !== undefined && r.tenant !== tenant) || (webhookId !== undefined && r.webhookId !== webhookId)) continue;
      if (r.state === 'pending') pending++;
      else dead++;
    }
    return { pending, dead };
  }

  createApiKey(key: ApiKeyRecord): Promise<void> {
    return this.keys.createApiKey(key);
  }
  getApiKey(keyId: string, tenant?: string): Promise<ApiKeyRecord | undefined> {
    return this.keys.getApiKey(keyId, tenant);
  }
  findApiKeyByHash(hash: string): Promise<ApiKeyRecord | undefined> {
    return this.keys.findApiKeyByHash(hash);
  }
  listApiKeys(tenant?: string): Promise<ApiKeyRecord[]> {
    return this.keys.listApiKeys(tenant);
  }
  revokeApiKey(keyId: string, at: number, tenant?: string): Promise<ApiKeyRecord | undefined> {
    return this.keys.revokeApiKey(keyId, at, tenant);
  }
  rotateApiKey(keyId: string, successor: ApiKeySuccessor, graceUntil: number, now: number, tenant?: string): Promise<RotateApiKeyResult> {
    return this.keys.rotateApiKey(keyId, successor, graceUntil, now, tenant);
  }
  touchApiKey(keyId: string, at: number): Promise<void> {
    return this.keys.touchApiKey(keyId, at);
  }
  appendAudit(afterSeq: number, build: (state: AuditWriteState) => AuditWrite): Promise<AuditWrite> {
    return this.auditLog.appendAudit(afterSeq, build);
  }
  readAuditEntries(fromSeq: number, toSeq: number, limit: number): Promise<AuditEntry[]> {
    return this.auditLog.readAuditEntries(fromSeq, toSeq, limit);
  }
  listAuditCheckpoints(fromSeq: number, toSeq: number, limit: number): Promise<AuditCheckpoint[]> {
    return this.auditLog.listAuditCheckpoints(fromSeq, toSeq, limit);
  }
  auditCheckpointBefore(seq: number): Promise<AuditCheckpoint | undefined> {
    return this.auditLog.auditCheckpointBefore(seq);
  }
}

forwardMethods(MemoryHostStore, 'vault', SECRET_STORE_METHODS);
forwardMethods(MemoryHostStore, 'hooks', WEBHOOK_STORE_METHODS);
