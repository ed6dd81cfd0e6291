/**
 * Bearer JWT verification for the `openwop-auth-oauth2-client-credentials` and
 * `openwop-auth-oidc-user-bearer` profiles: tokens are checked against configured issuers and
 * their JWKS (fetched, cached, refetched on an unknown `kid`), with `iss` exact, `aud`, `exp`,
 * `nbf` and `iat` required, an allowlist of asymmetric algorithms only (never `none`, never
 * HS*), and claims mapped to tenant, an opaque principal and Weft scopes by configuration.
 *
 * Every rejection is the same `unauthenticated` error with a fixed message; the reason goes
 * only to the optional `onReject` hook (for a debug log line) and never carries the token.
 * A JWKS that cannot be fetched is the host's problem, not the caller's: 503.
 *
 * @see security-contract.md §1.5 (AUTH-40–43), §1.6 (AUTH-50–56), §9 test 17
 */
import { createHash } from 'node:crypto';
import { SCOPES, WeftError } from '@weft/contract';
import {
  createRemoteJWKSet,
  customFetch,
  decodeJwt,
  decodeProtectedHeader,
  errors,
  jwtVerify,
  type FetchImplementation,
  type JWTPayload,
  type JWTVerifyGetKey,
} from 'jose';
import { TENANT_RE, type Principal } from './principal.js';

/** Asymmetric JWS algorithms a configuration may allow. HS* and `none` are never accepted. */
export const ASYMMETRIC_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'] as const;
/** An algorithm an issuer may allow. */
export type JwtAlgorithm = (typeof ASYMMETRIC_ALGORITHMS)[number];

/** Default algorithm allowlist. */
export const DEFAULT_JWT_ALGORITHMS: readonly JwtAlgorithm[] = ['RS256', 'ES256', 'EdDSA'];

/** One trusted token issuer (an entry of `WEFT_OIDC_ISSUERS`). */
export interface JwtIssuerConfig {
  /** Exact `iss` value; an absolute https URL (http only on loopback). */
  issuer: string;
  /** Required audience; a token's `aud` (string or array) must contain one of these. */
  audience: string | string[];
  /** JWKS location; default `{issuer}/.well-known/jwks.json`. */
  jwksUri?: string;
  /** Allowed algorithms (asymmetric only); default RS256, ES256, EdDSA. */
  algorithms?: JwtAlgorithm[];
  /** Fixed tenant for every token of this issuer (exclusive with `tenantClaim`). */
  tenant?: string;
  /** Claim carrying the tenant id (exclusive with `tenant`). */
  tenantClaim?: string;
  /** If set, a `tenantClaim` value must be one of these. */
  allowedTenants?: string[];
  /** Claim identifying the caller; default `sub`. Hashed, never stored raw. */
  principalClaim?: string;
  /** `scope` (space-separated string) or `scp` (array or string); default `scope`. */
  scopeClaim?: 'scope' | 'scp';
  /** IdP scope → Weft scopes. IdP scopes not listed here grant nothing. */
  scopeMap: Record<string, string[]>;
  /** Allowed clock skew for `exp`, `nbf`, `iat`; default 60 s. */
  clockToleranceSec?: number;
  /** JWKS cache lifetime; default 300 s (advertised as introspectionIntervalSeconds). */
  jwksCacheSec?: number;
  /** Minimum time between two JWKS refetches triggered by an unknown `kid`; default 30 s. */
  jwksCooldownSec?: number;
  /** JWKS fetch timeout; default 5000 ms. */
  jwksTimeoutMs?: number;
}

/** Why a token was refused (internal; never sent to the caller). */
export type JwtRejectReason =
  | 'malformed_jwt'
  | 'unsupported_algorithm'
  | 'unknown_issuer'
  | 'unknown_kid'
  | 'invalid_signature'
  | 'wrong_audience'
  | 'expired'
  | 'not_yet_valid'
  | 'missing_claim'
  | 'iat_in_future'
  | 'no_principal'
  | 'bad_tenant'
  | 'jwks_unavailable';

/** Hooks and clock of a {@link JwtVerifier}. */
export interface JwtVerifierOptions {
  /** Called with the reason of every refusal (for a debug log line). */
  onReject?: (reason: JwtRejectReason, issuer: string | undefined) => void;
  /** Clock (ms); tests inject one. */
  now?: () => number;
}

/** Longest token examined; longer ones are refused before decoding. */
export const MAX_JWT_LENGTH = 16_384;

// The same message as an unknown API key: the answer does not reveal which path refused it.
const REJECT_MESSAGE = 'The credential is not valid.';
const SCOPE_SET: ReadonlySet<string> = new Set(SCOPES);
const ALGORITHM_SET: ReadonlySet<string> = new Set(ASYMMETRIC_ALGORITHMS);
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/**
 * True when `token` is shaped like a compact JWS (three base64url segments) whose header is a
 * JSON object with an `alg`. Such a token is routed to JWT verification, anything else to
 * API keys. Unsigned (`alg: none`) tokens with an empty third segment count as JWTs so they
 * are refused by the verifier, not looked up as keys.
 */
export function looksLikeJwt(token: string): boolean {
  if (token.length > MAX_JWT_LENGTH || !JWT_SHAPE.test(token)) return false;
  try {
    const h = decodeProtectedHeader(token);
    return typeof h.alg === 'string';
  } catch {
    return false;
  }
}

const isLoopback = (host: string): boolean => host === 'localhost' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);

function checkUrl(raw: string, what: string): URL {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new Error(`${what} must be an absolute URL`);
  }
  if (u.protocol !== 'https:' && !(u.protocol === 'http:' && isLoopback(u.hostname)))
    throw new Error(`${what} must use https (http is allowed on loopback only)`);
  if (u.username || u.password) throw new Error(`${what} must not carry credentials`);
  return u;
}

/**
 * Validates one issuer entry (from JSON) and fills defaults.
 * @throws Error naming the entry and the field (never a secret: issuer configs hold none).
 */
export function normalizeIssuer(raw: unknown, index = 0): JwtIssuerConfig {
  const where = `WEFT_OIDC_ISSUERS[${index}]`;
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new Error(`${where} must be an object`);
  const r = raw as Record<string, unknown>;
  const known = new Set([
    'issuer',
    'audience',
    'jwksUri',
    'algorithms',
    'tenant',
    'tenantClaim',
    'allowedTenants',
    'principalClaim',
    'scopeClaim',
    'scopeMap',
    'clockToleranceSec',
    'jwksCacheSec',
    'jwksCooldownSec',
    'jwksTimeoutMs',
  ]);
  for (const k of Object.keys(r)) if (!known.has(k)) throw new Error(`${where} has an unknown field ${k}`);
  if (typeof r.issuer !== 'string' || !r.issuer) throw new Error(`${where}.issuer is required`);
  checkUrl(r.issuer, `${where}.issuer`);
  const audience = r.audience;
  const audOk =
    (typeof audience === 'string' && audience.length > 0) ||
    (Array.isArray(audience) && audience.length > 0 && audience.every((a) => typeof a === 'string' && a.length > 0));
  if (!audOk) throw new Error(`${where}.audience must be a non-empty string or array of strings`);
  const out: JwtIssuerConfig = { issuer: r.issuer, audience: audience as string | string[], scopeMap: {} };
  if (r.jwksUri !== undefined) {
    if (typeof r.jwksUri !== 'string') throw new Error(`${where}.jwksUri must be a string`);
    checkUrl(r.jwksUri, `${where}.jwksUri`);
    out.jwksUri = r.jwksUri;
  }
  if (r.algorithms !== undefined) {
    if (!Array.isArray(r.algorithms) || r.algorithms.length === 0 || !r.algorithms.every((a) => typeof a === 'string' && ALGORITHM_SET.has(a))) {
      throw new Error(`${where}.algorithms must be a non-empty list of ${ASYMMETRIC_ALGORITHMS.join(', ')} (symmetric algorithms and none are never accepted)`);
    }
    out.algorithms = [...new Set(r.algorithms as JwtAlgorithm[])];
  }
  if ((r.tenant === undefined) === (r.tenantClaim === undefined)) throw new Error(`${where} needs exactly one of tenant or tenantClaim`);
  if (r.tenant !== undefined) {
    if (typeof r.tenant !== 'string' || !TENANT_RE.test(r.tenant)) throw new Error(`${where}.tenant must match [A-Za-z0-9._-]{1,128}`);
    out.tenant = r.tenant;
  }
  if (r.tenantClaim !== undefined) {
    if (typeof r.tenantClaim !== 'string' || !r.tenantClaim) throw new Error(`${where}.tenantClaim must be a claim name`);
    out.tenantClaim = r.tenantClaim;
  }
  if (r.allowedTenants !== undefined) {
    if (!Array.isArray(r.allowedTenants) || !r.allowedTenants.every((t) => typeof t === 'string' && TENANT_RE.test(t)))
      throw new Error(`${where}.allowedTenants must be a list of tenant ids`);
    out.allowedTenants = r.allowedTenants as string[];
  }
  if (r.principalClaim !== undefined) {
    if (typeof r.principalClaim !== 'string' || !r.principalClaim) throw new Error(`${where}.principalClaim must be a claim name`);
    out.principalClaim = r.principalClaim;
  }
  if (r.scopeClaim !== undefined) {
    if (r.scopeClaim !== 'scope' && r.scopeClaim !== 'scp') throw new Error(`${where}.scopeClaim must be scope or scp`);
    out.scopeClaim = r.scopeClaim;
  }
  if (!r.scopeMap || typeof r.scopeMap !== 'object' || Array.isArray(r.scopeMap))
    throw new Error(`${where}.scopeMap must map IdP scopes to lists of Weft scopes`);
  for (const [idp, weft] of Object.entries(r.scopeMap as Record<string, unknown>)) {
    if (!Array.isArray(weft) || !weft.every((s) => typeof s === 'string' && SCOPE_SET.has(s)))
      throw new Error(`${where}.scopeMap[${JSON.stringify(idp)}] must list Weft scopes (${SCOPES.join(', ')})`);
    out.scopeMap[idp] = weft as string[];
  }
  const nonNeg = (k: 'clockToleranceSec' | 'jwksCacheSec' | 'jwksCooldownSec' | 'jwksTimeoutMs', max: number): void => {
    const v = r[k];
    if (v === undefined) return;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) throw new Error(`${where}.${k} must be an integer between 0 and ${max}`);
    out[k] = v;
  };
  nonNeg('clockToleranceSec', 600);
  nonNeg('jwksCacheSec', 86_400);
  nonNeg('jwksCooldownSec', 3600);
  nonNeg('jwksTimeoutMs', 60_000);
  return out;
}

/** Parses `WEFT_OIDC_ISSUERS` (a JSON array of issuer objects). */
export function parseJwtIssuers(raw: string | undefined): JwtIssuerConfig[] {
  if (raw === undefined || raw.trim() === '') return [];
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    throw new Error('WEFT_OIDC_ISSUERS must be a JSON array of issuer objects');
  }
  if (!Array.isArray(v)) throw new Error('WEFT_OIDC_ISSUERS must be a JSON array of issuer objects');
  const out = v.map((e, i) => normalizeIssuer(e, i));
  const seen = new Set<string>();
  for (const i of out) {
    if (seen.has(i.issuer)) throw new Error(`WEFT_OIDC_ISSUERS lists ${i.issuer} twice`);
    seen.add(i.issuer);
  }
  return out;
}

/** Thrown by the JWKS fetch wrapper: the key set could not be obtained. */
class JwksUnavailable extends Error {}

interface IssuerState {
  cfg: JwtIssuerConfig;
  algorithms: string[];
  audiences: string[];
  keys: JWTVerifyGetKey;
  toleranceSec: number;
}

const reject = (): WeftError => new WeftError('unauthenticated', REJECT_MESSAGE);

/** Verifies bearer JWTs against the configured issuers. */
export class JwtVerifier {
  private readonly issuers = new Map<string, IssuerState>();
  private readonly onReject: JwtVerifierOptions['onReject'];
  private readonly now: () => number;

  constructor(issuers: readonly JwtIssuerConfig[], opts: JwtVerifierOptions = {}) {
    this.onReject = opts.onReject;
    this.now = opts.now ?? Date.now;
    issuers.forEach((raw, i) => {
      const cfg = normalizeIssuer(raw, i);
      const jwksUrl = new URL(cfg.jwksUri ?? `${cfg.issuer.replace(/\/+$/, '')}/.well-known/jwks.json`);
      // Any transport failure, non-200 answer or unparsable body is "JWKS unavailable".
      const fetchJwks: FetchImplementation = async (url, init) => {
        let res: Response;
        try {
          res = await fetch(url, init);
        } catch {
          throw new JwksUnavailable('JWKS fetch failed');
        }
        if (res.status !== 200) {
          await res.body?.cancel().catch(() => undefined);
          throw new JwksUnavailable('JWKS answered a non-200 status');
        }
        return res;
      };
      const remote = createRemoteJWKSet(jwksUrl, {
        cacheMaxAge: (cfg.jwksCacheSec ?? 300) * 1000,
        cooldownDuration: (cfg.jwksCooldownSec ?? 30) * 1000,
        timeoutDuration: cfg.jwksTimeoutMs ?? 5000,
        [customFetch]: fetchJwks,
      });
      // Separate "no such key" (the token's fault → 401) from "cannot get keys" (→ 503).
      const keys: JWTVerifyGetKey = async (header, token) => {
        try {
          return await remote(header, token);
        } catch (e) {
          if (
            e instanceof errors.JWKSNoMatchingKey ||
            e instanceof errors.JWKSMultipleMatchingKeys ||
            e instanceof errors.JOSENotSupported ||
            e instanceof errors.JWKInvalid
          )
            throw e;
          // Timeouts, transport failures, non-200 answers and malformed key sets.
          throw new JwksUnavailable('JWKS unavailable');
        }
      };
      this.issuers.set(cfg.issuer, {
        cfg,
        algorithms: [...(cfg.algorithms ?? DEFAULT_JWT_ALGORITHMS)],
        audiences: Array.isArray(cfg.audience) ? cfg.audience : [cfg.audience],
        keys,
        toleranceSec: cfg.clockToleranceSec ?? 60,
      });
    });
  }

  /** Number of configured issuers. */
  get size(): number {
    return this.issuers.size;
  }

  /** The configured issuers (for discovery). */
  get configs(): JwtIssuerConfig[] {
    return [...this.issuers.values()].map((s) => s.cfg);
  }

  private fail(reason: JwtRejectReason, issuer?: string): WeftError {
    this.onReject?.(reason, issuer);
    return reject();
  }

  /**
   * Verifies `token` and maps it to a principal.
   * @throws WeftError `unauthenticated` (fixed message) for every invalid token;
   *   `service_unavailable` (503, Retry-After) when the issuer's JWKS cannot be fetched.
   */
  async verify(token: string): Promise<Principal> {
    if (token.length > MAX_JWT_LENGTH || !JWT_SHAPE.test(token)) throw this.fail('malformed_jwt');
    let header: ReturnType<typeof decodeProtectedHeader>;
    let unverified: JWTPayload;
    try {
      header = decodeProtectedHeader(token);
      unverified = decodeJwt(token);
    } catch {
      throw this.fail('malformed_jwt');
    }
    const iss = typeof unverified.iss === 'string' ? unverified.iss : undefined;
    const st = iss === undefined ? undefined : this.issuers.get(iss);
    if (!st) throw this.fail('unknown_issuer');
    const issuer = st.cfg.issuer;
    if (typeof header.alg !== 'string' || !ALGORITHM_SET.has(header.alg) || !st.algorithms.includes(header.alg))
      throw this.fail('unsupported_algorithm', issuer);
    if (typeof header.kid !== 'string' || header.kid.length === 0) throw this.fail('unknown_kid', issuer);

    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, st.keys, {
        issuer,
        audience: st.audiences,
        algorithms: st.algorithms,
        clockTolerance: st.toleranceSec,
        requiredClaims: ['iat', 'exp'],
        currentDate: new Date(this.now()),
      }));
    } catch (e) {
      if (e instanceof JwksUnavailable) {
        this.onReject?.('jwks_unavailable', issuer);
        throw new WeftError(
          'service_unavailable',
          "The identity provider's signing keys are unavailable; retry later.",
          { retryAfter: 5 },
          { 'retry-after': '5' },
        );
      }
      throw this.fail(classify(e), issuer);
    }
    const nowSec = Math.floor(this.now() / 1000);
    if (typeof payload.iat !== 'number' || payload.iat > nowSec + st.toleranceSec) throw this.fail('iat_in_future', issuer);

    const subClaim = payload[st.cfg.principalClaim ?? 'sub'];
    if (typeof subClaim !== 'string' || subClaim.length === 0 || subClaim.length > 1024) throw this.fail('no_principal', issuer);
    let tenant = st.cfg.tenant;
    if (st.cfg.tenantClaim !== undefined) {
      const t = payload[st.cfg.tenantClaim];
      tenant = typeof t === 'string' && TENANT_RE.test(t) && (!st.cfg.allowedTenants || st.cfg.allowedTenants.includes(t)) ? t : undefined;
    }
    if (!tenant) throw this.fail('bad_tenant', issuer);

    return {
      tenant,
      principal: `jwt:${createHash('sha256').update(`${issuer}|${subClaim}`, 'utf8').digest('hex').slice(0, 16)}`,
      scopes: mapScopes(payload, st.cfg),
      kind: 'jwt',
    };
  }
}

/** Weft scopes granted by the token's IdP scopes through the explicit map. */
function mapScopes(payload: JWTPayload, cfg: JwtIssuerConfig): ReadonlySet<string> {
  const raw = payload[cfg.scopeClaim ?? 'scope'];
  const idp = typeof raw === 'string' ? raw.split(/\s+/).filter(Boolean) : Array.isArray(raw) ? raw.filter((s): s is string => typeof s === 'string') : [];
  const out = new Set<string>();
  for (const s of idp) {
    if (!Object.hasOwn(cfg.scopeMap, s)) continue;
    for (const w of cfg.scopeMap[s] ?? []) out.add(w);
  }
  return out;
}

function classify(e: unknown): JwtRejectReason {
  if (e instanceof errors.JWTExpired) return 'expired';
  if (e instanceof errors.JWTClaimValidationFailed) {
    if (e.reason === 'missing') return 'missing_claim';
    switch (e.claim) {
      case 'aud':
        return 'wrong_audience';
      case 'iss':
        return 'unknown_issuer';
      case 'nbf':
        return 'not_yet_valid';
      case 'iat':
        return 'iat_in_future';
      default:
        return 'missing_claim';
    }
  }
  if (e instanceof errors.JWSSignatureVerificationFailed) return 'invalid_signature';
  if (e instanceof errors.JWKSNoMatchingKey || e instanceof errors.JWKSMultipleMatchingKeys) return 'unknown_kid';
  if (e instanceof errors.JOSEAlgNotAllowed || e instanceof errors.JOSENotSupported) return 'unsupported_algorithm';
  return 'malformed_jwt';
}
