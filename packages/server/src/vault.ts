/**
 * The secrets vault: tenant-scoped secrets whose values are write-only. A value is sealed under
 * a fresh data key per version (envelope encryption, `@weft/security` vault-crypto) and only
 * ciphertext reaches the {@link SecretStore}; responses carry metadata only. Every mutation and
 * every resolution is audited without the value. {@link SecretVault.resolver} is the
 * engine-facing {@link SecretResolver}: bound to the caller's tenant, it answers a missing or
 * foreign reference with `credential_not_found` (never throws for it) and registers each value
 * it returns with the redaction hook before returning it.
 *
 * @see security-contract.md §4.1 (SEC-01, SEC-05), §4.2
 */
import { createHash } from 'node:crypto';
import { WeftError } from '@weft/contract';
import type { SecretMetadata } from '@weft/contract/types';
import type { SecretResolution, SecretResolver } from '@weft/engine';
import { VaultCryptoError, openSecret, rewrapSecret, sealSecret, type KeyManager } from '@weft/security';
import type { SecretRecord, SecretStore } from '@weft/store-kit';
import type { AuditLog } from './audit-log.js';

/** Who performs a vault operation (recorded in the audit log). */
export interface VaultActor {
  principal: string;
}

/** Called with every value the resolver returns, before it returns it. */
export type ResolvedSecretHook = (resolved: { tenant: string; ref: string; value: string }) => void;

/** Options of {@link SecretVault}. */
export interface SecretVaultOptions {
  audit?: AuditLog;
  now?: () => number;
  /** The redaction hook (the host registers values with the tenant's redactor and the log redactor). */
  onResolved?: ResolvedSecretHook;
}

/** Rewrap progress. */
export interface RewrapReport {
  masterKeyId: string;
  rewrapped: number;
  remaining: number;
  unreadable: number;
}

const notFound = (): WeftError => new WeftError('not_found', 'Secret not found.');

/** How often a rotation retries when a concurrent rewrap moved the row under it. */
const CAS_ATTEMPTS = 5;

/** The vault service over a store and a key manager. */
export class SecretVault {
  private readonly now: () => number;

  constructor(
    private readonly store: SecretStore,
    private readonly keys: KeyManager,
    private readonly opts: SecretVaultOptions = {},
  ) {
    this.now = opts.now ?? Date.now;
  }

  /** The id of the master key new data keys are wrapped with. */
  get masterKeyId(): string {
    return this.keys.currentKeyId;
  }

  /** The wire view: metadata only. */
  view(s: SecretRecord): SecretMetadata {
    return {
      secretId: s.secretId,
      scope: 'tenant',
      version: s.version,
      ...(s.description === null ? {} : { description: s.description }),
      createdAt: new Date(s.createdAt).toISOString(),
      updatedAt: new Date(s.updatedAt).toISOString(),
    };
  }

  /**
   * Strong ETag of a secret's current version: changes on rotation, and a secret deleted and
   * created again never repeats one (its creation time differs). A rewrap does not change it.
   */
  etag(s: SecretRecord): string {
    const h = createHash('sha256').update(`${s.tenant}\0${s.secretId}\0${s.createdAt}\0${s.version}`).digest('base64url').slice(0, 27);
    return `"${h}"`;
  }

  /** Stores a new secret; 409 `secret_already_exists` when the tenant has one with this id. */
  async create(tenant: string, req: { secretId: string; value: string; description?: string }, actor: VaultActor): Promise<SecretRecord> {
    const now = this.now();
    const sealed = await sealSecret(this.keys, { tenant, secretId: req.secretId, version: 1 }, req.value);
    const rec: SecretRecord = { tenant, secretId: req.secretId, version: 1, description: req.description ?? null, createdAt: now, updatedAt: now, ...sealed };
    if (!(await this.store.createSecret(rec))) {
      throw new WeftError('secret_already_exists', 'A secret with this secretId already exists; rotate it instead.', { secretId: req.secretId });
    }
    await this.opts.audit?.append({ tenant, principal: actor.principal, action: 'secret.created', target: req.secretId, details: { version: 1 } });
    return rec;
  }

  /** The tenant's secrets (records: callers send {@link view}s). */
  list(tenant: string): Promise<SecretRecord[]> {
    return this.store.listSecrets(tenant);
  }

  /** The tenant's secret, or 404 (a foreign secret is the same answer). */
  async get(tenant: string, secretId: string): Promise<SecretRecord> {
    const s = await this.store.getSecret(tenant, secretId);
    if (!s) throw notFound();
    return s;
  }

  /**
   * Replaces the value: a new version under a fresh data key; the old value is gone at once.
   * `ifMatch` (an ETag) makes it conditional: 412 when the secret changed meanwhile.
   */
  async rotate(tenant: string, secretId: string, req: { value: string; description?: string }, actor: VaultActor, ifMatch?: string): Promise<SecretRecord> {
    for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
      const cur = await this.get(tenant, secretId);
      this.checkIfMatch(cur, ifMatch);
      const version = cur.version + 1;
      const sealed = await sealSecret(this.keys, { tenant, secretId, version }, req.value);
      const next: SecretRecord = {
        ...cur,
        version,
        description: req.description === undefined ? cur.description : req.description,
        updatedAt: Math.max(this.now(), cur.updatedAt),
        ...sealed,
      };
      if (await this.store.replaceSecret(tenant, secretId, { version: cur.version, masterKeyId: cur.masterKeyId }, next)) {
        await this.opts.audit?.append({ tenant, principal: actor.principal, action: 'secret.rotated', target: secretId, details: { version } });
        return next;
      }
    }
    throw new WeftError('service_unavailable', 'The secret kept changing; retry.', { retryAfter: 1 }, { 'retry-after': '1' });
  }

  /** Deletes a secret at once; `ifMatch` makes it conditional (412 when it changed). */
  async delete(tenant: string, secretId: string, actor: VaultActor, ifMatch?: string): Promise<void> {
    const cur = await this.get(tenant, secretId);
    this.checkIfMatch(cur, ifMatch);
    const deleted = await this.store.deleteSecret(tenant, secretId, ifMatch === undefined ? undefined : cur.version);
    if (!deleted) {
      // Gone meanwhile (404) or rotated meanwhile under a condition (412).
      if (ifMatch !== undefined && (await this.store.getSecret(tenant, secretId))) throw this.preconditionFailed();
      throw notFound();
    }
    await this.opts.audit?.append({ tenant, principal: actor.principal, action: 'secret.deleted', target: secretId, details: { version: cur.version } });
  }

  /**
   * Rewraps up to `limit` data keys still wrapped by an older master key under the current one
   * (every tenant; the values are untouched). Rows no configured key opens are counted and left.
   */
  async rewrap(actor: VaultActor, limit = 1000): Promise<RewrapReport> {
    const current = this.keys.currentKeyId;
    let rewrapped = 0;
    let unreadable = 0;
    const seen = new Set<string>();
    for (;;) {
      const batch = (await this.store.listSecretsNotWrappedBy(current, 100 + seen.size)).filter((s) => !seen.has(`${s.tenant}\0${s.secretId}`));
      if (batch.length === 0 || rewrapped >= limit) break;
      for (const s of batch) {
        if (rewrapped >= limit) break;
        seen.add(`${s.tenant}\0${s.secretId}`);
        try {
          const sealed = await rewrapSecret(this.keys, { tenant: s.tenant, secretId: s.secretId, version: s.version }, s);
          // A concurrent rotation already wrapped it under the current key: nothing left to do.
          if (await this.store.replaceSecret(s.tenant, s.secretId, { version: s.version, masterKeyId: s.masterKeyId }, { ...s, ...sealed })) rewrapped++;
        } catch (err) {
          if (!(err instanceof VaultCryptoError)) throw err;
          unreadable++;
        }
      }
    }
    const remaining = (await this.store.listSecretsNotWrappedBy(current, 1_000_000)).length;
    await this.opts.audit?.append({
      tenant: '',
      principal: actor.principal,
      action: 'vault.rewrapped',
      target: current,
      details: { rewrapped, remaining, unreadable },
    });
    return { masterKeyId: current, rewrapped, remaining, unreadable };
  }

  /** The engine-facing resolver (bound to the tenant it is asked for, never another). */
  resolver(): SecretResolver {
    return { resolve: (tenant, ref, purpose) => this.resolve(tenant, ref, purpose) };
  }

  private async resolve(tenant: string, ref: string, purpose: { runId?: string; nodeId?: string; redactAs?: string } = {}): Promise<SecretResolution> {
    const missing: SecretResolution = { ok: false, code: 'credential_not_found', message: 'The secret reference does not name a secret of this tenant.' };
    if (typeof ref !== 'string' || !/^[A-Za-z0-9._-]{1,128}$/.test(ref)) return missing;
    const s = await this.store.getSecret(tenant, ref);
    if (!s) return missing;
    let value: string;
    try {
      value = await openSecret(this.keys, { tenant, secretId: s.secretId, version: s.version }, s);
    } catch (err) {
      if (!(err instanceof VaultCryptoError)) throw err;
      return { ok: false, code: 'credential_unavailable', message: 'The secret cannot be decrypted with the configured master keys.' };
    }
    this.opts.onResolved?.({ tenant, ref: purpose.redactAs ?? ref, value });
    const details: Record<string, string | number> = { version: s.version };
    if (purpose.runId !== undefined) details.runId = purpose.runId;
    if (purpose.nodeId !== undefined) details.nodeId = purpose.nodeId;
    await this.opts.audit?.append({ tenant, principal: 'engine', action: 'secret.resolved', target: s.secretId, details });
    return { ok: true, value, version: s.version };
  }

  private checkIfMatch(cur: SecretRecord, ifMatch: string | undefined): void {
    if (ifMatch === undefined || ifMatch === '*') return;
    const tags = ifMatch.split(',').map((t) => t.trim());
    if (!tags.includes(this.etag(cur))) throw this.preconditionFailed();
  }

  private preconditionFailed(): WeftError {
    return new WeftError('precondition_failed', 'The secret changed since that ETag; read it again.');
  }
}
