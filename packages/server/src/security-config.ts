/**
 * Configuration of authentication modes, TLS/mTLS, rate limits and backpressure. Part of
 * {@link HostConfig}; every field has a `WEFT_*` variable documented in docs/operations.md and
 * docs/security/README.md.
 */
import { existsSync, readFileSync } from 'node:fs';
import {
  SUBJECT_MAPPINGS,
  normalizeFingerprint,
  parseJwtIssuers,
  parseRateLimit,
  parseSubjectRules,
  type JwtIssuerConfig,
  type MtlsSubjectRule,
  type SubjectMapping,
} from '@weft/security';

/** Authentication, TLS, rate-limit and backpressure settings (part of `HostConfig`). */
export interface SecurityConfig {
  /**
   * The operator credential (`WEFT_OPERATOR_KEY`, ≥ 32 characters): the only credential that
   * administers keys of every tenant. Hashed at load; absent = no host-wide administration.
   */
  operatorKey?: string;
  /** Most requests served at once (SSE streams excluded); 503 beyond. */
  maxInFlight: number;
  /** Most open SSE streams; 503 beyond. */
  maxSseStreams: number;
  /** Per-principal token bucket; off when undefined. */
  rateLimit?: { limit: number; windowSec: number };
  /** Trusted JWT issuers (OAuth2 client credentials / OIDC user bearer). */
  oidcIssuers: JwtIssuerConfig[];
  /** PEM file of the server certificate (chain); with `tlsKey` the host serves HTTPS. */
  tlsCert?: string;
  /** PEM file of the server key. */
  tlsKey?: string;
  /** PEM file of the CA(s) client certificates must chain to; enables mTLS. */
  tlsClientCa?: string;
  /** Refuse every request without a valid, mapped client certificate. */
  mtlsRequired: boolean;
  mtlsSubjectMapping: SubjectMapping;
  mtlsSubjects: MtlsSubjectRule[];
  /** SHA-256 fingerprints of revoked client certificates. */
  mtlsRevoked: string[];
}

const int = (v: string | undefined, name: string, def: number, min: number, max: number): number => {
  if (v === undefined || v === '') return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${name} must be an integer between ${min} and ${max}`);
  return n;
};

/** A value that is either inline JSON or the path of a file holding it. */
function jsonOrFile(raw: string, name: string): string {
  const t = raw.trim();
  if (t.startsWith('[') || t.startsWith('{')) return t;
  if (!existsSync(t)) throw new Error(`${name} must be inline JSON or the path of a JSON file`);
  return readFileSync(t, 'utf8');
}

/** Reads the security settings from the environment. */
export function loadSecurityConfig(env: NodeJS.ProcessEnv): SecurityConfig {
  const cfg: SecurityConfig = {
    maxInFlight: int(env.WEFT_MAX_IN_FLIGHT, 'WEFT_MAX_IN_FLIGHT', 2048, 1, 1_000_000),
    maxSseStreams: int(env.WEFT_MAX_SSE_STREAMS, 'WEFT_MAX_SSE_STREAMS', 10_000, 1, 1_000_000),
    oidcIssuers: env.WEFT_OIDC_ISSUERS ? parseJwtIssuers(jsonOrFile(env.WEFT_OIDC_ISSUERS, 'WEFT_OIDC_ISSUERS')) : [],
    mtlsRequired: false,
    mtlsSubjectMapping: 'cn',
    mtlsSubjects: [],
    mtlsRevoked: [],
  };
  const rl = parseRateLimit(env.WEFT_RATE_LIMIT);
  if (rl) cfg.rateLimit = rl;
  if (env.WEFT_OPERATOR_KEY) {
    const key = env.WEFT_OPERATOR_KEY.trim();
    if (key.length < 32) throw new Error('WEFT_OPERATOR_KEY must be at least 32 characters');
    cfg.operatorKey = key;
  }
  if (env.WEFT_TLS_CERT) cfg.tlsCert = env.WEFT_TLS_CERT;
  if (env.WEFT_TLS_KEY) cfg.tlsKey = env.WEFT_TLS_KEY;
  if (env.WEFT_TLS_CLIENT_CA) cfg.tlsClientCa = env.WEFT_TLS_CLIENT_CA;
  if (env.WEFT_MTLS_REQUIRED !== undefined && env.WEFT_MTLS_REQUIRED !== '') {
    if (!['true', 'false', '1', '0'].includes(env.WEFT_MTLS_REQUIRED)) throw new Error('WEFT_MTLS_REQUIRED must be true or false');
    cfg.mtlsRequired = env.WEFT_MTLS_REQUIRED === 'true' || env.WEFT_MTLS_REQUIRED === '1';
  }
  if (env.WEFT_MTLS_SUBJECT_MAPPING) {
    if (!(SUBJECT_MAPPINGS as readonly string[]).includes(env.WEFT_MTLS_SUBJECT_MAPPING))
      throw new Error('WEFT_MTLS_SUBJECT_MAPPING must be cn, san-dns or san-uri');
    cfg.mtlsSubjectMapping = env.WEFT_MTLS_SUBJECT_MAPPING as SubjectMapping;
  }
  if (env.WEFT_MTLS_SUBJECTS) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(jsonOrFile(env.WEFT_MTLS_SUBJECTS, 'WEFT_MTLS_SUBJECTS'));
    } catch (e) {
      throw e instanceof SyntaxError ? new Error('WEFT_MTLS_SUBJECTS is not valid JSON') : e;
    }
    cfg.mtlsSubjects = parseSubjectRules(parsed);
  }
  if (env.WEFT_MTLS_REVOKED) {
    const raw = env.WEFT_MTLS_REVOKED.includes('/') ? readFileSync(env.WEFT_MTLS_REVOKED.trim(), 'utf8') : env.WEFT_MTLS_REVOKED;
    cfg.mtlsRevoked = raw
      .replace(/#.*$/gm, '')
      .split(/[\s,]+/)
      .filter(Boolean)
      .map(normalizeFingerprint);
  }
  return cfg;
}

/**
 * Cross-field checks, run after overrides are merged.
 * @throws Error describing the inconsistency.
 */
export function checkSecurityConfig(cfg: SecurityConfig): void {
  if (Boolean(cfg.tlsCert) !== Boolean(cfg.tlsKey)) throw new Error('WEFT_TLS_CERT and WEFT_TLS_KEY must be set together');
  if (cfg.tlsClientCa && !cfg.tlsCert) throw new Error('WEFT_TLS_CLIENT_CA needs WEFT_TLS_CERT and WEFT_TLS_KEY (mTLS runs over HTTPS)');
  if (cfg.mtlsRequired && !cfg.tlsClientCa) throw new Error('WEFT_MTLS_REQUIRED needs WEFT_TLS_CLIENT_CA');
  if (cfg.tlsClientCa && cfg.mtlsSubjects.length === 0)
    throw new Error('WEFT_TLS_CLIENT_CA needs WEFT_MTLS_SUBJECTS (which certificate subject belongs to which tenant)');
}

/** True when client certificates are verified. */
export const mtlsEnabled = (cfg: SecurityConfig): boolean => Boolean(cfg.tlsClientCa);
