/**
 * Authentication: a chain over the bearer credential.
 *
 * 1. A bearer shaped like a JWT (three base64url segments, a JSON header with `alg`) goes to
 *    the {@link JwtVerifier} when issuers are configured — and only there.
 * 2. Otherwise configured API keys and the operator key: hashed (SHA-256) at load, the
 *    plaintext dropped; a presented key is hashed and compared against every stored hash with
 *    a constant-time comparison and no early exit, so neither the match nor its position is
 *    timing-visible. A configured tenant key administers its own tenant only; the operator key
 *    (`WEFT_OPERATOR_KEY`) is the one credential holding `keys:admin` (see {@link OPERATOR_SCOPES}).
 * 3. Then managed keys, when that service is present (revoked → `key_revoked`, expired →
 *    `key_expired`).
 *
 * Every refusal is a fixed message that never echoes the credential.
 *
 * @see security-contract.md §1.1 (AUTH-02/03/05/10/11), §1.4–1.6
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { SCOPES, WeftError, type Scope } from '@weft/contract';
import { MAX_JWT_LENGTH, OPERATOR_TENANT, looksLikeJwt, type JwtVerifier, type Principal } from '@weft/security';
import type { ApiKeyConfig } from './config.js';

export type { Principal, PrincipalKind } from '@weft/security';

interface StoredKey {
  hash: Buffer;
  tenant: string;
  principal: string;
  scopes: ReadonlySet<string>;
  operator: boolean;
}

/** The host-wide scope: held by the operator credential and by nothing else. */
const ADMIN_SCOPE = 'keys:admin';

/** What a configured tenant key may hold: every scope but the operator's `keys:admin`. */
export const TENANT_KEY_SCOPES: readonly Scope[] = SCOPES.filter((s) => s !== ADMIN_SCOPE);

/**
 * The operator credential's scopes: key administration of every tenant and audit
 * verification — no run, workflow or approval access (it belongs to no tenant).
 */
export const OPERATOR_SCOPES: readonly Scope[] = ['keys:manage', 'keys:admin', 'audit:read'];

/** Shortest operator key accepted. */
export const MIN_OPERATOR_KEY_LENGTH = 32;

const sha256 = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/** Longest bearer value examined; longer ones are rejected without hashing. */
const MAX_TOKEN_LENGTH = MAX_JWT_LENGTH;

/**
 * Extracts the bearer credential from an `Authorization` header value.
 * @throws WeftError `unauthenticated` when absent, not `Bearer`, empty, several tokens or oversized.
 */
export function parseBearer(header: string | undefined): string {
  if (!header) throw new WeftError('unauthenticated', 'Authentication required: send Authorization: Bearer <key>.');
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  const token = m?.[1];
  if (!token || token.length > MAX_TOKEN_LENGTH) throw new WeftError('unauthenticated', 'The Authorization header must be a Bearer token.');
  return token;
}

/** Statically configured API keys (`WEFT_API_KEYS`). */
export class ApiKeyAuthenticator {
  private readonly keys: StoredKey[];

  /**
   * @param keys configured tenant keys; `keys:admin` is dropped from their scopes.
   * @param operatorKey the operator credential, when configured.
   * @throws Error when the operator key is short or equals a tenant key (never echoing either).
   */
  constructor(keys: readonly ApiKeyConfig[], operatorKey?: string) {
    this.keys = keys.map((k) => ({
      hash: sha256(k.key),
      tenant: k.tenant,
      principal: `key_${createHash('sha256').update(`weft-principal:${k.key}`).digest('hex').slice(0, 16)}`,
      scopes: new Set((k.scopes ?? TENANT_KEY_SCOPES).filter((s) => s !== ADMIN_SCOPE)),
      operator: false,
    }));
    if (operatorKey !== undefined) {
      if (operatorKey.length < MIN_OPERATOR_KEY_LENGTH) throw new Error(`WEFT_OPERATOR_KEY must be at least ${MIN_OPERATOR_KEY_LENGTH} characters`);
      const hash = sha256(operatorKey);
      if (this.keys.some((k) => k.hash.equals(hash))) throw new Error('WEFT_OPERATOR_KEY must differ from every WEFT_API_KEYS key');
      this.keys.push({
        hash,
        tenant: OPERATOR_TENANT,
        principal: `operator:${createHash('sha256').update(`weft-operator:${operatorKey}`).digest('hex').slice(0, 16)}`,
        scopes: new Set(OPERATOR_SCOPES),
        operator: true,
      });
    }
  }

  get size(): number {
    return this.keys.length;
  }

  /** The principal of `token`, or undefined when no configured key matches (constant time). */
  verify(token: string): Principal | undefined {
    const presented = sha256(token);
    let found: StoredKey | undefined;
    for (const k of this.keys) {
      // Evaluate every key: no early exit.
      if (timingSafeEqual(presented, k.hash) && !found) found = k;
    }
    if (!found) return undefined;
    const p: Principal = { tenant: found.tenant, principal: found.principal, scopes: found.scopes, kind: 'api-key' };
    if (found.operator) p.operator = true;
    return p;
  }

  /**
   * Authenticates an `Authorization` header value against the configured keys only.
   * @throws WeftError `unauthenticated` — the message never echoes the credential.
   */
  authenticate(header: string | undefined): Principal {
    const p = this.verify(parseBearer(header));
    if (!p) throw new WeftError('unauthenticated', 'The credential is not valid.');
    return p;
  }
}

/** A principal as a managed-key service may return it (kind defaults to `api-key`). */
export type ManagedPrincipal = Omit<Principal, 'kind'> & { kind?: Principal['kind'] };

/** The managed-key service, as the auth chain sees it. */
export interface ManagedKeyVerifier {
  verify(token: string): Promise<ManagedPrincipal | 'revoked' | 'expired' | undefined>;
}

/** The verifiers an {@link Authenticator} chains. */
export interface AuthChainOptions {
  apiKeys: ApiKeyAuthenticator;
  /** Present when JWT issuers are configured. */
  jwt?: JwtVerifier;
  /** Looked up per request, so a service attached after start is used. */
  managedKeys?: () => ManagedKeyVerifier | undefined;
}

/** The full credential chain (see the module comment). */
export class Authenticator {
  constructor(private readonly opts: AuthChainOptions) {}

  /**
   * Authenticates an `Authorization` header value.
   * @throws WeftError `unauthenticated`, `key_revoked`, `key_expired` (401), or
   *   `service_unavailable` (503) when an issuer's keys cannot be fetched.
   */
  async authenticate(header: string | undefined): Promise<Principal> {
    const token = parseBearer(header);
    if (this.opts.jwt && looksLikeJwt(token)) return this.opts.jwt.verify(token);
    const configured = this.opts.apiKeys.verify(token);
    if (configured) return configured;
    const managed = this.opts.managedKeys?.();
    if (managed) {
      const r = await managed.verify(token);
      if (r === 'revoked') throw new WeftError('key_revoked', 'The credential has been revoked.');
      if (r === 'expired') throw new WeftError('key_expired', 'The credential has expired.');
      // A managed key is never the operator, whatever its record says.
      if (r) return { tenant: r.tenant, principal: r.principal, scopes: r.scopes, kind: r.kind ?? 'api-key' };
    }
    throw new WeftError('unauthenticated', 'The credential is not valid.');
  }
}

/**
 * Requires `scope`.
 * @throws WeftError `forbidden` with `details.scopeRequired`.
 */
export function requireScope(p: Principal, scope: Scope): void {
  if (!p.scopes.has(scope)) throw new WeftError('forbidden', `This credential lacks the ${scope} scope.`, { scopeRequired: scope });
}
