/**
 * Managed API keys (`openwop-auth-api-key-rotation`): created, listed, rotated and revoked
 * through the admin API or `weft keys`, stored only as a SHA-256 hash.
 *
 * A secret is `weft_<keyId>_<43 base64url chars>` (256 random bits), shown once at creation or
 * rotation and never stored or logged. The key id inside it is not secret; it makes a lookup
 * by hash cheap to cross-check. Rotation issues a successor for the same tenant, principal and
 * scopes and keeps the old key valid for a grace window (at least the configured minimum,
 * 24 h by default); both authenticate as the same principal (`key_<original key id>`).
 * Afterwards the old key answers 401 `key_expired`; a revoked key 401 `key_revoked`.
 *
 * @see security-contract.md §1.1 (AUTH-05), §1.4 (AUTH-30..35)
 */
import type { ApiKeyStatus, ApiKeyView } from '@weft/contract/types';
import { createHash, randomBytes } from 'node:crypto';
import { SCOPES, WeftError } from '@weft/contract';
import type { ApiKeyRecord, KeyStore } from '@weft/store-kit';
import type { AuditLog } from './audit-log.js';
import type { AuthAdvertisement } from './auth-discovery.js';
import type { ManagedPrincipal } from './auth.js';

/** The scope that may manage keys of every tenant; only the operator credential (WEFT_OPERATOR_KEY) holds it. */
export const KEYS_ADMIN_SCOPE = 'keys:admin';

/** Scopes a managed key may hold: every scope but `keys:admin`. */
export const GRANTABLE_SCOPES: readonly string[] = SCOPES.filter((s) => s !== KEYS_ADMIN_SCOPE);

/** `weft_<18 hex key id>_<43 base64url>`. */
const TOKEN_RE = /^weft_([0-9a-f]{18})_[A-Za-z0-9_-]{43}$/;
const TENANT_RE = /^[A-Za-z0-9._-]{1,128}$/;

/** Longest grace window or key lifetime accepted (10 years). */
export const MAX_KEY_SECONDS = 10 * 365 * 86_400;

/** How often a key's lastUsedAt is written at most (per process). */
const TOUCH_INTERVAL_MS = 60_000;

const sha256Hex = (s: string): string => createHash('sha256').update(s, 'utf8').digest('hex');

/** Who performs a key operation (recorded in the audit log). */
export interface KeyActor {
  /** Absent for an operator working on the data directory directly. */
  tenant?: string;
  principal: string;
  /** The operator credential (`WEFT_OPERATOR_KEY`) acting over the API. */
  operator?: true;
}

/** A key and its secret, returned exactly once. */
export interface IssuedKey {
  key: ApiKeyRecord;
  secret: string;
}

export interface ManagedKeyOptions {
  /** Grace window of a rotation unless a longer one is asked for; also the minimum. */
  minGraceSeconds: number;
  /** Records key.created / key.rotated / key.revoked when present. */
  audit?: AuditLog;
  /** Wall clock (ms). */
  now?: () => number;
}

/** The state a key is in at `now`. */
export type KeyStatus = ApiKeyStatus;

/** The wire view of a key: never the secret or its hash. */
export type KeyView = ApiKeyView;

const iso = (ms: number): string => new Date(ms).toISOString();

/** Expands `all` and checks every scope is grantable. @throws WeftError validation_error */
export function parseScopes(requested: readonly string[]): string[] {
  const out = new Set<string>();
  for (const [i, s] of requested.entries()) {
    if (s === 'all') for (const g of GRANTABLE_SCOPES) out.add(g);
    else if (s === KEYS_ADMIN_SCOPE)
      throw new WeftError('validation_error', 'keys:admin is reserved for the operator credential (WEFT_OPERATOR_KEY).', {
        errors: [{ path: '/scopes', message: 'keys:admin is not grantable' }],
      });
    else if ((GRANTABLE_SCOPES as readonly string[]).includes(s)) out.add(s);
    // The caller's value is never echoed: the index names it.
    else
      throw new WeftError('validation_error', `Unknown scope at /scopes/${i}.`, {
        errors: [{ path: `/scopes/${i}`, message: `must be one of all, ${GRANTABLE_SCOPES.join(', ')}` }],
      });
  }
  if (out.size === 0) throw new WeftError('validation_error', 'A key needs at least one scope.', { errors: [{ path: '/scopes', message: 'empty' }] });
  return GRANTABLE_SCOPES.filter((g) => out.has(g));
}

export class ManagedKeyService {
  private readonly now: () => number;
  private readonly touched = new Map<string, number>();

  constructor(
    private readonly store: KeyStore,
    private readonly opts: ManagedKeyOptions,
  ) {
    if (!Number.isInteger(opts.minGraceSeconds) || opts.minGraceSeconds < 0) throw new Error('minGraceSeconds must be a non-negative integer');
    this.now = opts.now ?? Date.now;
  }

  get minGraceSeconds(): number {
    return this.opts.minGraceSeconds;
  }

  /**
   * Verifies a bearer token. `undefined` when it is not a managed key (the auth chain then
   * answers `unauthenticated`); `revoked` / `expired` for keys that exist but no longer work.
   * The lookup is by the token's SHA-256, so the database never compares secrets.
   */
  async verify(token: string): Promise<ManagedPrincipal | 'revoked' | 'expired' | undefined> {
    const m = TOKEN_RE.exec(token);
    if (!m) return undefined;
    const k = await this.store.findApiKeyByHash(sha256Hex(token));
    if (!k || k.keyId !== m[1]) return undefined;
    const now = this.now();
    const status = statusOf(k, now);
    if (status === 'revoked' || status === 'expired') return status;
    this.touch(k.keyId, now);
    const p = { tenant: k.tenant, principal: k.principal, scopes: new Set(k.scopes) as ReadonlySet<string>, kind: 'api-key' as const };
    return p;
  }

  private touch(keyId: string, now: number): void {
    const last = this.touched.get(keyId);
    if (last !== undefined && now - last < TOUCH_INTERVAL_MS) return;
    this.touched.set(keyId, now);
    // Best effort: a failed write must not fail the request it rides on.
    this.store.touchApiKey(keyId, now).catch(() => undefined);
  }

  /** Creates a key; the secret is in the result and nowhere else. */
  async create(req: { tenant: string; name?: string; scopes: readonly string[]; expiresInSeconds?: number }, actor: KeyActor): Promise<IssuedKey> {
    if (!TENANT_RE.test(req.tenant))
      throw new WeftError('validation_error', 'tenant must match [A-Za-z0-9._-]{1,128}.', { errors: [{ path: '/tenant', message: 'invalid' }] });
    const scopes = parseScopes(req.scopes);
    const now = this.now();
    const { keyId, secret, hash } = mintSecret();
    const key: ApiKeyRecord = {
      keyId,
      tenant: req.tenant,
      principal: `key_${keyId}`,
      name: req.name ?? '',
      scopes,
      hash,
      createdAt: now,
      expiresAt: req.expiresInSeconds === undefined ? null : now + checkSeconds(req.expiresInSeconds, 'expiresInSeconds', 1) * 1000,
      revokedAt: null,
      rotatedFrom: null,
      graceUntil: null,
      lastUsedAt: null,
    };
    await this.store.createApiKey(key);
    await this.opts.audit?.append({
      tenant: key.tenant,
      principal: actor.principal,
      action: 'key.created',
      target: keyId,
      details: actorDetails(actor, key.tenant),
    });
    return { key, secret };
  }

  /** Keys of `tenant`, or of every tenant. */
  list(tenant?: string): Promise<ApiKeyRecord[]> {
    return this.store.listApiKeys(tenant);
  }

  /** A key, bound to `tenant` when given (a foreign key is `undefined`). */
  get(keyId: string, tenant?: string): Promise<ApiKeyRecord | undefined> {
    return this.store.getApiKey(keyId, tenant);
  }

  /**
   * Rotates a live key. The successor keeps tenant, principal, name and scopes; its lifetime
   * is `expiresInSeconds`, else the old key's lifetime, else unlimited.
   * @throws WeftError not_found, key_state_conflict, validation_error
   */
  async rotate(
    keyId: string,
    req: { graceSeconds?: number; expiresInSeconds?: number },
    actor: KeyActor,
    tenant?: string,
  ): Promise<IssuedKey & { old: ApiKeyRecord }> {
    const grace = checkSeconds(req.graceSeconds ?? this.opts.minGraceSeconds, 'graceSeconds', this.opts.minGraceSeconds);
    const current = await this.store.getApiKey(keyId, tenant);
    if (!current) throw keyNotFound();
    const now = this.now();
    let expiresAt: number | null = null;
    if (req.expiresInSeconds !== undefined) expiresAt = now + checkSeconds(req.expiresInSeconds, 'expiresInSeconds', 1) * 1000;
    else if (current.expiresAt !== null) expiresAt = now + Math.max(1000, current.expiresAt - current.createdAt);
    const { keyId: nextId, secret, hash } = mintSecret();
    const r = await this.store.rotateApiKey(keyId, { keyId: nextId, hash, createdAt: now, expiresAt }, now + grace * 1000, now, tenant);
    if (r.kind === 'not_found') throw keyNotFound();
    if (r.kind === 'conflict') {
      throw new WeftError('key_state_conflict', `The key is ${statusOf(r.old, now)} and cannot be rotated.`, { keyId });
    }
    await this.opts.audit?.append({
      tenant: r.old.tenant,
      principal: actor.principal,
      action: 'key.rotated',
      target: keyId,
      details: { newKeyId: nextId, graceSeconds: grace, ...actorDetails(actor, r.old.tenant) },
    });
    return { key: r.next, secret, old: r.old };
  }

  /** Revokes a key at once (idempotent: the first revocation time is kept). */
  async revoke(keyId: string, actor: KeyActor, tenant?: string): Promise<ApiKeyRecord> {
    const before = await this.store.getApiKey(keyId, tenant);
    if (!before) throw keyNotFound();
    const k = await this.store.revokeApiKey(keyId, this.now(), tenant);
    if (!k) throw keyNotFound();
    if (before.revokedAt === null) {
      await this.opts.audit?.append({
        tenant: k.tenant,
        principal: actor.principal,
        action: 'key.revoked',
        target: keyId,
        details: actorDetails(actor, k.tenant),
      });
    }
    return k;
  }

  /** The wire view of a key at the current time. */
  view(k: ApiKeyRecord): KeyView {
    const v: KeyView = {
      keyId: k.keyId,
      tenant: k.tenant,
      principal: k.principal,
      name: k.name,
      scopes: [...k.scopes],
      status: statusOf(k, this.now()),
      createdAt: iso(k.createdAt),
    };
    if (k.expiresAt !== null) v.expiresAt = iso(k.expiresAt);
    if (k.revokedAt !== null) v.revokedAt = iso(k.revokedAt);
    if (k.rotatedFrom !== null) v.rotatedFrom = k.rotatedFrom;
    if (k.graceUntil !== null) v.graceUntil = iso(k.graceUntil);
    if (k.lastUsedAt !== null) v.lastUsedAt = iso(k.lastUsedAt);
    return v;
  }

  /** The `auth` discovery contribution. */
  advertisement(): AuthAdvertisement {
    return { profiles: ['openwop-auth-api-key-rotation'], blocks: { rotation: { supported: true, minGraceSeconds: this.opts.minGraceSeconds } } };
  }
}

/** The state of a key at `now`: revocation wins over expiry. */
export function statusOf(k: ApiKeyRecord, now: number): KeyStatus {
  if (k.revokedAt !== null && k.revokedAt <= now) return 'revoked';
  if (k.expiresAt !== null && k.expiresAt <= now) return 'expired';
  if (k.graceUntil !== null) return k.graceUntil <= now ? 'expired' : 'rotating';
  return 'active';
}

function mintSecret(): { keyId: string; secret: string; hash: string } {
  const keyId = randomBytes(9).toString('hex');
  const secret = `weft_${keyId}_${randomBytes(32).toString('base64url')}`;
  return { keyId, secret, hash: sha256Hex(secret) };
}

function checkSeconds(v: number, name: string, min: number): number {
  if (!Number.isInteger(v) || v < min || v > MAX_KEY_SECONDS) {
    throw new WeftError('validation_error', `${name} must be an integer between ${min} and ${MAX_KEY_SECONDS}.`, {
      errors: [{ path: `/${name}`, message: `must be ${min}..${MAX_KEY_SECONDS}` }],
      min,
      max: MAX_KEY_SECONDS,
    });
  }
  return v;
}

const keyNotFound = (): WeftError => new WeftError('not_found', 'Key not found.');

const actorDetails = (actor: KeyActor, keyTenant: string): Record<string, string | boolean> => {
  if (actor.operator) return { operator: true };
  return actor.tenant === undefined || actor.tenant === keyTenant ? {} : { actorTenant: actor.tenant };
};
