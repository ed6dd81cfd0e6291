/**
 * The store ports beside the engine's: managed API keys and the audit log. The engine never
 * touches either, so their types live here rather than in `@weft/engine` (decision 0013).
 *
 * Glossary
 * - managed key: an API key created through the admin API or CLI; only its hash is stored.
 * - audit entry: one hash-chained row of the append-only audit log; checkpoints sign its Merkle root.
 * - secret: one tenant's vault entry, stored as ciphertext only (a data key wrapped by a master key).
 */
import type { CreateRunRider, OutboxRow, RunRecord, Store } from '@weft/engine';

/**
 * A managed API key as stored. The secret is never stored: only the SHA-256 (hex) of the whole
 * presented token. Times are epoch milliseconds.
 *
 * @see security-contract.md §1.1 (AUTH-05), §1.4 (AUTH-30..35)
 */
export interface ApiKeyRecord {
  keyId: string;
  tenant: string;
  /** Principal the key authenticates as; a rotation successor inherits it from its predecessor. */
  principal: string;
  name: string;
  scopes: string[];
  /** SHA-256 hex of the secret (unique). */
  hash: string;
  createdAt: number;
  expiresAt: number | null;
  revokedAt: number | null;
  /** The key this one replaced by rotation. */
  rotatedFrom: string | null;
  /** Set on a key that was rotated: it stays valid until then. */
  graceUntil: number | null;
  /** Coarse (throttled) time of last successful use. */
  lastUsedAt: number | null;
}

/** What the caller chooses for a rotation successor; tenant, principal, name and scopes are copied from the old key. */
export type ApiKeySuccessor = Pick<ApiKeyRecord, 'keyId' | 'hash' | 'createdAt' | 'expiresAt'>;

/** Outcome of {@link KeyStore.rotateApiKey}. */
export type RotateApiKeyResult =
  | { kind: 'rotated'; old: ApiKeyRecord; next: ApiKeyRecord }
  | { kind: 'not_found' }
  /** The old key is revoked, expired or already rotated; nothing was written. */
  | { kind: 'conflict'; old: ApiKeyRecord };

/**
 * One audit-log entry. `hash` = SHA-256 of the RFC 8785 canonical JSON of every other field;
 * `prevHash` is the previous entry's `hash` (null for seq 0). Details are content-free.
 *
 * @see security-contract.md §1.10
 */
export interface AuditEntry {
  seq: number;
  /** ISO-8601 time of the append. */
  ts: string;
  tenant: string;
  principal: string;
  action: string;
  target: string;
  details: Record<string, unknown>;
  prevHash: string | null;
  hash: string;
}

/** A signed audit checkpoint over entries 0..atSeq. */
export interface AuditCheckpoint {
  /** 1, 2, 3… */
  checkpoint: number;
  atSeq: number;
  /** Hex Merkle root (RFC 6962 tree hash) over the entry hashes 0..atSeq. */
  merkleRoot: string;
  /** Base64 Ed25519 signature. */
  signature: string;
  /** Fingerprint of the signing key. */
  keyId: string;
  ts: string;
  /** Hex roots of the perfect subtrees at atSeq (lets the next checkpoint extend the tree). */
  frontier: string[];
}

/** What {@link AuditStore.appendAudit} reads under the audit write lock and hands the builder. */
export interface AuditWriteState {
  /** The last entry, if any. */
  tip: { seq: number; hash: string } | undefined;
  /** Entries with seq > the caller's afterSeq (written by another process), ascending. */
  newer: AuditEntry[];
  lastCheckpoint: AuditCheckpoint | undefined;
}

/** What the builder of {@link AuditStore.appendAudit} decides to write. */
export interface AuditWrite {
  entries: AuditEntry[];
  checkpoint?: AuditCheckpoint;
}

/**
 * The audit entry of a run's creation, written in the run's own creation transaction
 * ({@link CreateRunRider} of the engine): a store that takes it runs `build` under its audit
 * write lock inside that transaction, exactly as {@link AuditStore.appendAudit} would, and
 * sets `taken`. A store that cannot (Postgres keeps its audit appends batched under one
 * advisory lock) leaves it, and the host appends the entry after the creation instead.
 */
export interface AuditRider extends CreateRunRider {
  readonly kind: 'audit';
  /**
   * The caller's last known entry (as `appendAudit`'s `afterSeq`), read inside the transaction;
   * it may count entries staged but not yet committed, so when `build` refuses the state it got
   * the store retries once with `committedSeq`, the last entry known committed.
   */
  readonly afterSeq: number;
  readonly committedSeq: number;
  /** Builds the write once the run is known; called synchronously inside the transaction. */
  build(state: AuditWriteState, run: RunRecord): AuditWrite;
  /** What the store wrote (set with `taken`). */
  written?: AuditWrite;
}

/** True when `r` is an {@link AuditRider} (the stores' check before taking it). */
export function isAuditRider(r: CreateRunRider | undefined): r is AuditRider {
  return r?.kind === 'audit';
}

/**
 * Managed API keys. Tenant-bound reads and writes bind the tenant in the same query.
 *
 * @see security-contract.md §1.4
 */
export interface KeyStore {
  /** Inserts a key; a duplicate keyId or hash is an error. */
  createApiKey(key: ApiKeyRecord): Promise<void>;
  /** Reads a key; with `tenant`, bound to that tenant in the same query. */
  getApiKey(keyId: string, tenant?: string): Promise<ApiKeyRecord | undefined>;
  findApiKeyByHash(hash: string): Promise<ApiKeyRecord | undefined>;
  /** Keys of one tenant (or all), oldest first (createdAt, keyId). */
  listApiKeys(tenant?: string): Promise<ApiKeyRecord[]>;
  /** Sets revokedAt (an earlier revocation is kept). Tenant-bound with `tenant`. */
  revokeApiKey(keyId: string, at: number, tenant?: string): Promise<ApiKeyRecord | undefined>;
  /**
   * Atomically marks a live key as rotated (graceUntil) and inserts its successor, which
   * inherits tenant, principal, name and scopes. A revoked, expired (at `now`) or already
   * rotated key is a conflict and nothing is written.
   */
  rotateApiKey(keyId: string, successor: ApiKeySuccessor, graceUntil: number, now: number, tenant?: string): Promise<RotateApiKeyResult>;
  /** Records a use (callers throttle it). */
  touchApiKey(keyId: string, at: number): Promise<void>;
}

/**
 * The append-only, hash-chained audit log and its signed checkpoints.
 *
 * @see security-contract.md §1.10
 */
export interface AuditStore {
  /**
   * Appends to the audit log under a store-wide write lock (one writer at a time, across
   * processes): reads the tip, entries after `afterSeq` and the last checkpoint, calls `build`
   * (synchronously, inside the lock) and writes what it returns in the same transaction.
   * Entries must continue the tip exactly; a checkpoint must be the next number.
   */
  appendAudit(afterSeq: number, build: (state: AuditWriteState) => AuditWrite): Promise<AuditWrite>;
  /** Entries with fromSeq <= seq <= toSeq, ascending, at most `limit`. */
  readAuditEntries(fromSeq: number, toSeq: number, limit: number): Promise<AuditEntry[]>;
  /** Checkpoints with fromSeq <= atSeq <= toSeq, ascending, at most `limit`. */
  listAuditCheckpoints(fromSeq: number, toSeq: number, limit: number): Promise<AuditCheckpoint[]>;
  /** The checkpoint with the greatest atSeq < `seq`. */
  auditCheckpointBefore(seq: number): Promise<AuditCheckpoint | undefined>;
}

/**
 * One secret of the vault as stored: ciphertext only. `ciphertext` is the value sealed with
 * AES-256-GCM under a per-version data key; `wrappedKey` is that data key wrapped by the master
 * key `masterKeyId`. Both layers bind (tenant, secretId, version) as additional data, so a row
 * copied elsewhere does not decrypt. Times are epoch milliseconds.
 *
 * @see security-contract.md §4.1
 */
export interface SecretRecord {
  tenant: string;
  /** The caller-chosen id, unique per tenant; it is the reference nodes resolve. */
  secretId: string;
  /** 1 at creation, +1 per rotation. */
  version: number;
  description: string | null;
  createdAt: number;
  updatedAt: number;
  masterKeyId: string;
  wrappedKey: string;
  ciphertext: string;
}

/** What a compare-and-set on a secret expects the row to hold. */
export interface SecretExpectation {
  version: number;
  masterKeyId: string;
}

/**
 * The vault's secrets. Every read and write is bound to the tenant in the same query (a foreign
 * secret is simply absent), except {@link SecretStore.listSecretsNotWrappedBy}, which serves the
 * operator's master-key rewrap across tenants.
 *
 * @see security-contract.md §4.1 (SEC-05)
 */
export interface SecretStore {
  /** Inserts a secret; false (and nothing written) when the tenant already has this secretId. */
  createSecret(secret: SecretRecord): Promise<boolean>;
  /** The tenant's secret, if any. */
  getSecret(tenant: string, secretId: string): Promise<SecretRecord | undefined>;
  /** The tenant's secrets ordered by secretId. */
  listSecrets(tenant: string): Promise<SecretRecord[]>;
  /**
   * Replaces the row (rotation: a new version; rewrap: the same version under another master
   * key) only while it still holds `expected` — atomic compare-and-set. False when the row is
   * gone or changed meanwhile; nothing is written then. Tenant and secretId never change.
   */
  replaceSecret(tenant: string, secretId: string, expected: SecretExpectation, next: SecretRecord): Promise<boolean>;
  /** Deletes the secret (only at `version` when given); false when there was no such row. */
  deleteSecret(tenant: string, secretId: string, version?: number): Promise<boolean>;
  /** Up to `limit` secrets of any tenant whose data key is not wrapped by `masterKeyId`, by (tenant, secretId). */
  listSecretsNotWrappedBy(masterKeyId: string, limit: number): Promise<SecretRecord[]>;
}

/** How a subscription's deliveries are made (security-contract §3.2 WH-16, WH-17). */
export type WebhookDeliveryMode = 'best-effort' | 'durable';

/**
 * The states of a subscription (security-contract §3.2 WH-16/WH-17; trigger-subscription.schema.json):
 * `active` delivers; `paused` is held by an operator (best-effort events are recorded `skipped`,
 * durable rows wait in the outbox until resumed); `failed` — a best-effort subscription with 100
 * failures in 7 days, terminal (re-register); `dead-lettered` — a durable subscription whose
 * deliveries were dead-lettered too many times in a row, terminal: new events go straight to the
 * dead-letter records.
 */
export const WEBHOOK_STATES = ['active', 'paused', 'failed', 'dead-lettered'] as const;
/** One of {@link WEBHOOK_STATES}. */
export type WebhookState = (typeof WEBHOOK_STATES)[number];

/**
 * A webhook subscription. The signing secret is stored sealed with the vault's envelope scheme
 * (ciphertext, wrapped data key, master key id); only its fingerprint is ever shown again.
 *
 * @see security-contract.md §3.1
 */
export interface WebhookRecord {
  tenant: string;
  webhookId: string;
  url: string;
  /** Event types delivered (non-empty). */
  events: string[];
  /** When non-empty, only runs whose tags overlap deliver. */
  tags: string[];
  /** `best-effort` (one attempt, after commit) or `durable` (an outbox row in the append, retried). */
  delivery: WebhookDeliveryMode;
  /** First 8 hex digits of sha256(secret). */
  secretFingerprint: string;
  masterKeyId: string;
  wrappedKey: string;
  ciphertext: string;
  state: WebhookState;
  /** Consecutive failed deliveries (the circuit breaker counts these). */
  consecutiveFailures: number;
  /** Epoch ms until which the circuit is open (no attempts), or null when closed. */
  circuitOpenUntil: number | null;
  createdAt: number;
  updatedAt: number;
  /** Set on a run's callback subscription (`callbackUrl` of POST /v1/runs): the run it belongs to. */
  runId?: string;
}

/** The breaker's view of a subscription, written after each attempt. */
export interface WebhookHealth {
  state: WebhookState;
  consecutiveFailures: number;
  circuitOpenUntil: number | null;
  updatedAt: number;
}

/** One delivery attempt record (`webhook_deliveries`), keyed by its stable dedupe key. */
export interface WebhookDeliveryRecord {
  tenant: string;
  webhookId: string;
  /** `<runId>.<sequence>`: with the webhookId, the stable dedupe key of every attempt at this delivery. */
  deliveryId: string;
  runId: string;
  sequence: number;
  eventType: string;
  /** `retrying`: a durable delivery failed and waits for its next attempt; `dead-lettered`: it ran out of attempts. */
  status: 'delivered' | 'failed' | 'skipped' | 'retrying' | 'dead-lettered';
  attempts: number;
  /** HTTP status of the last attempt, when one answered. */
  responseStatus: number | null;
  /** Why the last attempt failed (a short code: `timeout`, `status_500`, `redirect`, `ssrf_blocked`, `circuit_open`, …). */
  error: string | null;
  createdAt: number;
  updatedAt: number;
}

/**
 * Webhook subscriptions and their delivery records. Every read and write is tenant-bound in
 * the same query, except {@link WebhookStore.listActiveWebhooks}, which the dispatcher uses to
 * match appended events (it then matches each run's tenant exactly).
 */
export interface WebhookStore {
  /** Inserts a subscription; false when the id exists. */
  createWebhook(rec: WebhookRecord): Promise<boolean>;
  getWebhook(tenant: string, webhookId: string): Promise<WebhookRecord | undefined>;
  /** The tenant's registered subscriptions by creation time, then id (never a run's callback). */
  listWebhooks(tenant: string): Promise<WebhookRecord[]>;
  /**
   * Every registered subscription of every tenant that events are still matched against —
   * `active`, `paused` and `dead-lettered`, not `failed`, never a run's callback (the
   * dispatcher's match cache).
   */
  listActiveWebhooks(): Promise<WebhookRecord[]>;
  /** Moves the subscription from state `from` to `to`; false when it is gone or not in `from`. */
  transitionWebhook(tenant: string, webhookId: string, from: WebhookState, to: WebhookState, now: number): Promise<boolean>;
  /** Deletes the subscription, its delivery records and its outbox rows; false when there was none. */
  deleteWebhook(tenant: string, webhookId: string): Promise<boolean>;
  /** Writes the breaker state (the state only while it is `active`); false when the subscription is gone. */
  updateWebhookHealth(tenant: string, webhookId: string, health: WebhookHealth): Promise<boolean>;
  /** Inserts or replaces the record of a delivery (by tenant, webhookId and deliveryId). */
  putWebhookDelivery(d: WebhookDeliveryRecord): Promise<void>;
  /** The subscription's most recent delivery records, newest first. */
  listWebhookDeliveries(tenant: string, webhookId: string, limit: number): Promise<WebhookDeliveryRecord[]>;
  /** Failed delivery records of the subscription updated at or after `since` (the 7-day rule). */
  countWebhookFailures(tenant: string, webhookId: string, since: number): Promise<number>;
}

/** A claimed outbox row (durable webhooks). */
export interface OutboxItem extends OutboxRow {
  /** `<runId>.<sequence>`. */
  deliveryId: string;
  /** Attempts made before this claim. */
  attempts: number;
  createdAt: number;
}

/** What the dispatcher did with a claimed outbox row. */
export type OutboxOutcome =
  | { kind: 'delivered' }
  | { kind: 'retry'; attempts: number; availableAt: number; error: string }
  | { kind: 'dead'; attempts: number; error: string };

/**
 * The durable webhooks' outbox: rows are written by {@link RunStore.appendEvents} in the
 * transaction of the events they announce; any process claims them under a lease (Postgres:
 * `FOR UPDATE SKIP LOCKED`, so two processes never hold the same row), and only the lease
 * holder finishes one. A row whose lease expired (its process died) is claimable again.
 */
export interface WebhookOutboxStore {
  /** Leases up to `limit` pending rows available at `now`, not leased by a live claim and not of a `paused` subscription, oldest first. */
  claimOutbox(owner: string, now: number, leaseMs: number, limit: number): Promise<OutboxItem[]>;
  /** Records the outcome (delivered: the row is removed; dead: kept as a dead letter); false unless `owner` still holds the lease. */
  finishOutbox(tenant: string, webhookId: string, deliveryId: string, owner: string, outcome: OutboxOutcome): Promise<boolean>;
  /** Makes a dead-lettered row pending again with a fresh attempt budget (redelivery); false when there is none. */
  requeueOutbox(tenant: string, webhookId: string, deliveryId: string, now: number): Promise<boolean>;
  /** Rows not yet delivered (pending or dead) of a subscription, or of all when omitted (operations, tests). */
  countOutbox(tenant?: string, webhookId?: string): Promise<{ pending: number; dead: number }>;
}

/**
 * Everything a host keeps in one database: the engine's {@link Store} (runs, workflows,
 * idempotency, lifecycle) plus managed keys, the audit log and the secrets vault. Each SQL store
 * implements it whole; consumers take the narrowest port they use.
 */
export interface HostStore extends Store, KeyStore, AuditStore, SecretStore, WebhookStore, WebhookOutboxStore {}

/**
 * The continuity rules every store applies to an audit write: entries continue the tip
 * exactly, and a checkpoint is the next number and covers only written entries.
 */
export function checkAuditWrite(tipSeq: number, lastCheckpoint: number, write: AuditWrite): void {
  write.entries.forEach((e, i) => {
    if (e.seq !== tipSeq + 1 + i) throw new Error(`audit sequence gap: expected ${tipSeq + 1 + i}, got ${e.seq}`);
  });
  const cp = write.checkpoint;
  if (cp) {
    if (cp.checkpoint !== lastCheckpoint + 1) throw new Error(`audit checkpoint gap: expected ${lastCheckpoint + 1}, got ${cp.checkpoint}`);
    if (cp.atSeq > tipSeq + write.entries.length || cp.atSeq < 0) throw new Error(`audit checkpoint at ${cp.atSeq} covers unwritten entries`);
  }
}
