/**
 * API-key authentication. Keys are hashed (SHA-256) when loaded and the plaintext is dropped;
 * a presented key is hashed and compared against every stored hash with a constant-time
 * comparison and no early exit, so neither the match nor its position is timing-visible.
 *
 * @see security-contract.md §1.1 (AUTH-05)
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { SCOPES, WeftError, type Scope } from '@weft/contract';
import type { ApiKeyConfig } from './config.js';

/** The authenticated caller. Tenant and principal come from the credential only. */
export interface Principal {
  tenant: string;
  /** Opaque, non-secret id of the credential (never the key or its hash). */
  principal: string;
  scopes: ReadonlySet<string>;
}

interface StoredKey {
  hash: Buffer;
  tenant: string;
  principal: string;
  scopes: ReadonlySet<string>;
}

const sha256 = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/** Longest bearer value examined; longer ones are rejected without hashing. */
const MAX_TOKEN_LENGTH = 4096;

export class ApiKeyAuthenticator {
  private readonly keys: StoredKey[];

  constructor(keys: readonly ApiKeyConfig[]) {
    this.keys = keys.map((k) => ({
      hash: sha256(k.key),
      tenant: k.tenant,
      principal: `key_${createHash('sha256').update(`weft-principal:${k.key}`).digest('hex').slice(0, 16)}`,
      scopes: new Set(k.scopes ?? SCOPES),
    }));
  }

  get size(): number {
    return this.keys.length;
  }

  /**
   * Authenticates an `Authorization` header value.
   * @throws WeftError `unauthenticated` — the message never echoes the credential.
   */
  authenticate(header: string | undefined): Principal {
    if (!header) throw new WeftError('unauthenticated', 'Authentication required: send Authorization: Bearer <key>.');
    const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
    const token = m?.[1];
    if (!token || token.length > MAX_TOKEN_LENGTH) throw new WeftError('unauthenticated', 'The Authorization header must be a Bearer token.');
    const presented = sha256(token);
    let found: StoredKey | undefined;
    for (const k of this.keys) {
      // Evaluate every key: no early exit.
      if (timingSafeEqual(presented, k.hash) && !found) found = k;
    }
    if (!found) throw new WeftError('unauthenticated', 'The credential is not valid.');
    return { tenant: found.tenant, principal: found.principal, scopes: found.scopes };
  }
}

/**
 * Requires `scope`.
 * @throws WeftError `forbidden` with `details.scopeRequired`.
 */
export function requireScope(p: Principal, scope: Scope): void {
  if (!p.scopes.has(scope)) throw new WeftError('forbidden', `This credential lacks the ${scope} scope.`, { scopeRequired: scope });
}
