/**
 * The `auth` and `rateLimits` discovery blocks, built from what is configured — so
 * `auth.profiles` lists exactly the profiles this host enforces (and tests), never a literal.
 *
 * @see security-contract.md §1.4–1.7 (AUTH-31, AUTH-40, AUTH-56, AUTH-61), §1.1 AUTH-13
 */
import { DEFAULT_JWT_ALGORITHMS } from '@weft/security';
import { mtlsEnabled, type SecurityConfig } from './security-config.js';

/** Profiles and blocks contributed by other subsystems (e.g. managed keys, the audit log). */
export interface AuthAdvertisement {
  profiles: string[];
  /** Extra `auth.*` blocks such as `rotation` or `auditLogIntegrity`. */
  blocks?: Record<string, unknown>;
}

/** Seconds after which a changed IdP key set is seen (the JWKS cache lifetime). */
export const DEFAULT_JWKS_CACHE_SEC = 300;

/** The `auth` block, or undefined when no profile is on. */
export function authCapabilities(cfg: SecurityConfig, extra: readonly AuthAdvertisement[] = []): Record<string, unknown> | undefined {
  const profiles: string[] = [];
  const block: Record<string, unknown> = {};
  const issuers = cfg.oidcIssuers;
  if (issuers.length > 0) {
    const first = issuers[0] as (typeof issuers)[number];
    const audience = Array.isArray(first.audience) ? (first.audience[0] as string) : first.audience;
    const algorithms = [...new Set(issuers.flatMap((i) => i.algorithms ?? DEFAULT_JWT_ALGORITHMS))];
    profiles.push('openwop-auth-oauth2-client-credentials', 'openwop-auth-oidc-user-bearer');
    block.oauth2 = { supported: true, issuer: first.issuer, audience, supportedAlgorithms: algorithms };
    block.oidc = {
      supported: true,
      issuers: issuers.map((i) => i.issuer),
      audience,
      supportedScopeMapping: 'scope-claim',
      introspectionIntervalSeconds: Math.min(...issuers.map((i) => i.jwksCacheSec ?? DEFAULT_JWKS_CACHE_SEC)),
    };
  }
  if (mtlsEnabled(cfg)) {
    profiles.push('openwop-auth-mtls');
    block.mtls = { supported: true, required: cfg.mtlsRequired, subjectMapping: cfg.mtlsSubjectMapping };
  }
  for (const e of extra) {
    profiles.push(...e.profiles);
    Object.assign(block, e.blocks);
  }
  if (profiles.length === 0) return undefined;
  return { profiles: [...new Set(profiles)], ...block };
}

/** The `rateLimits` block, present only when per-credential limits are on. */
export function rateLimitCapabilities(cfg: SecurityConfig): Record<string, unknown> | undefined {
  if (!cfg.rateLimit) return undefined;
  return { supported: true, perKey: { limit: cfg.rateLimit.limit, windowSeconds: cfg.rateLimit.windowSec }, scope: 'key' };
}
