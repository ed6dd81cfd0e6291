/**
 * Client-certificate identity for the `openwop-auth-mtls` profile: a certificate the TLS layer
 * verified against the configured CA is checked again here (validity window, revocation list
 * by SHA-256 fingerprint), its subject (CN, a DNS SAN or a URI SAN) is looked up in a
 * configured table, and it becomes a transport principal bound to a tenant. Only the
 * fingerprint is recorded — never the certificate body or subject.
 *
 * @see security-contract.md §1.7 (AUTH-60–64)
 */
import { createHash } from 'node:crypto';
import { SCOPES, WeftError } from '@weft/contract';
import { TENANT_RE } from './principal.js';

/** Which certificate field names the client. */
export type SubjectMapping = 'cn' | 'san-dns' | 'san-uri';
/** Every subject mapping, as configuration accepts them. */
export const SUBJECT_MAPPINGS: readonly SubjectMapping[] = ['cn', 'san-dns', 'san-uri'];

/** One row of the subject table: certificates whose subject field equals `match` belong to `tenant`. */
export interface MtlsSubjectRule {
  match: string;
  tenant: string;
  /** When set, requests over this certificate hold at most these scopes (bearer ∩ rule). */
  scopes?: string[];
}

/** The fields of Node's `tls.PeerCertificate` this module reads. */
export interface PeerCertificateLike {
  subject?: Record<string, string | string[] | undefined> | null;
  subjectaltname?: string;
  valid_from?: string;
  valid_to?: string;
  fingerprint256?: string;
}

/** What the TLS layer reports about the peer. */
export interface PeerInfo {
  /** `TLSSocket#authorized`: the chain verified against the configured CA. */
  authorized: boolean;
  /** `TLSSocket#getPeerCertificate()`; an empty object when the client sent none. */
  cert: PeerCertificateLike | undefined;
  /** `TLSSocket#authorizationError` code when not authorized (e.g. `CERT_HAS_EXPIRED`). */
  authorizationError?: string;
}

/** A verified client certificate mapped to a tenant. */
export interface MtlsIdentity {
  kind: 'mtls';
  tenant: string;
  /** `mtls:<16 hex>`, derived from the mapped subject, so a renewed certificate keeps it. */
  principal: string;
  /** Lower-case hex SHA-256 fingerprint (the only certificate detail ever recorded). */
  fingerprint: string;
  /** Scope ceiling from the subject rule, when it has one. */
  scopes?: ReadonlySet<string>;
}

/** Why a certificate was refused (internal). */
export type MtlsRejectReason = 'no_certificate' | 'untrusted' | 'expired' | 'not_yet_valid' | 'revoked' | 'unmapped_subject' | 'ambiguous_subject';

/** Configuration of an {@link MtlsMapper}. */
export interface MtlsMapperOptions {
  subjectMapping: SubjectMapping;
  subjects: readonly MtlsSubjectRule[];
  /** SHA-256 fingerprints of revoked certificates (hex, colons and case ignored). */
  revokedFingerprints?: Iterable<string>;
  onReject?: (reason: MtlsRejectReason, fingerprint: string | undefined) => void;
  now?: () => number;
}

/** Normalizes a SHA-256 fingerprint to 64 lower-case hex characters. */
export function normalizeFingerprint(fp: string): string {
  const hex = fp.replace(/[:\s]/g, '').toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new Error('a certificate fingerprint must be 32 bytes of hex (SHA-256), colons allowed');
  return hex;
}

/**
 * Splits Node's `subjectaltname` string (`DNS:a, URI:spiffe://x, IP Address:…`) into entries.
 * Node quotes values holding separators as JSON strings (`DNS:"a, b"`), which are decoded.
 */
export function parseSubjectAltNames(san: string | undefined): { type: string; value: string }[] {
  const out: { type: string; value: string }[] = [];
  if (!san) return out;
  let i = 0;
  while (i < san.length) {
    const colon = san.indexOf(':', i);
    if (colon < 0) break;
    const type = san.slice(i, colon).trim();
    let j = colon + 1;
    let value: string;
    if (san[j] === '"') {
      let k = j + 1;
      while (k < san.length && san[k] !== '"') k += san[k] === '\\' ? 2 : 1;
      try {
        value = JSON.parse(san.slice(j, k + 1)) as string;
      } catch {
        value = '';
      }
      j = k + 1;
      const comma = san.indexOf(',', j);
      i = comma < 0 ? san.length : comma + 1;
    } else {
      const comma = san.indexOf(', ', j);
      value = san.slice(j, comma < 0 ? san.length : comma);
      i = comma < 0 ? san.length : comma + 2;
    }
    out.push({ type, value });
  }
  return out;
}

const SCOPE_SET: ReadonlySet<string> = new Set(SCOPES);

/**
 * Validates the subject table (from `WEFT_MTLS_SUBJECTS`).
 * @throws Error naming the entry.
 */
export function parseSubjectRules(raw: unknown): MtlsSubjectRule[] {
  if (!Array.isArray(raw)) throw new Error('WEFT_MTLS_SUBJECTS must be a JSON array of {match, tenant, scopes?}');
  return raw.map((r: unknown, i) => {
    const where = `WEFT_MTLS_SUBJECTS[${i}]`;
    if (!r || typeof r !== 'object') throw new Error(`${where} must be an object`);
    const o = r as Record<string, unknown>;
    for (const k of Object.keys(o)) if (!['match', 'tenant', 'scopes'].includes(k)) throw new Error(`${where} has an unknown field ${k}`);
    if (typeof o.match !== 'string' || o.match.length === 0) throw new Error(`${where}.match must be a non-empty string`);
    if (typeof o.tenant !== 'string' || !TENANT_RE.test(o.tenant)) throw new Error(`${where}.tenant must match [A-Za-z0-9._-]{1,128}`);
    const rule: MtlsSubjectRule = { match: o.match, tenant: o.tenant };
    if (o.scopes !== undefined) {
      if (!Array.isArray(o.scopes) || !o.scopes.every((s) => typeof s === 'string' && SCOPE_SET.has(s)))
        throw new Error(`${where}.scopes must list Weft scopes`);
      rule.scopes = o.scopes as string[];
    }
    return rule;
  });
}

const unauthenticated = (): WeftError => new WeftError('unauthenticated', 'A valid client certificate is required.');

/** Maps verified peer certificates to tenants. */
export class MtlsMapper {
  readonly subjectMapping: SubjectMapping;
  private readonly rules: ReadonlyMap<string, MtlsSubjectRule>;
  private readonly revoked: ReadonlySet<string>;
  private readonly onReject: MtlsMapperOptions['onReject'];
  private readonly now: () => number;

  constructor(opts: MtlsMapperOptions) {
    if (!SUBJECT_MAPPINGS.includes(opts.subjectMapping)) throw new Error('subjectMapping must be cn, san-dns or san-uri');
    this.subjectMapping = opts.subjectMapping;
    const rules = new Map<string, MtlsSubjectRule>();
    for (const r of opts.subjects) {
      const k = this.key(r.match);
      if (rules.has(k)) throw new Error(`the mTLS subject ${r.match} is listed twice`);
      rules.set(k, r);
    }
    this.rules = rules;
    this.revoked = new Set([...(opts.revokedFingerprints ?? [])].map(normalizeFingerprint));
    this.onReject = opts.onReject;
    this.now = opts.now ?? Date.now;
  }

  /** DNS names compare case-insensitively; CN and URIs exactly. */
  private key(v: string): string {
    return this.subjectMapping === 'san-dns' ? v.toLowerCase() : v;
  }

  private fail(reason: MtlsRejectReason, fp?: string): WeftError {
    this.onReject?.(reason, fp);
    return unauthenticated();
  }

  /** The subject values the configured mapping reads from `cert`. */
  private subjectValues(cert: PeerCertificateLike): string[] {
    if (this.subjectMapping === 'cn') {
      const cn = cert.subject?.CN;
      return cn === undefined ? [] : Array.isArray(cn) ? cn : [cn];
    }
    const want = this.subjectMapping === 'san-dns' ? 'DNS' : 'URI';
    return parseSubjectAltNames(cert.subjectaltname)
      .filter((e) => e.type === want)
      .map((e) => e.value);
  }

  /** True when the client presented a certificate at all. */
  static presented(peer: PeerInfo): boolean {
    return typeof peer.cert?.fingerprint256 === 'string' && peer.cert.fingerprint256.length > 0;
  }

  /**
   * Identifies the peer.
   * @throws WeftError `unauthenticated` when no certificate was sent or it is untrusted,
   *   outside its validity window, revoked, or its subject maps to no (or more than one) tenant.
   */
  identify(peer: PeerInfo): MtlsIdentity {
    const cert = peer.cert;
    if (!cert || !MtlsMapper.presented(peer)) throw this.fail('no_certificate');
    const fingerprint = normalizeFingerprint(cert.fingerprint256 as string);
    if (!peer.authorized) {
      const code = peer.authorizationError;
      throw this.fail(code === 'CERT_HAS_EXPIRED' ? 'expired' : code === 'CERT_NOT_YET_VALID' ? 'not_yet_valid' : 'untrusted', fingerprint);
    }
    const now = this.now();
    const from = Date.parse(cert.valid_from ?? '');
    const to = Date.parse(cert.valid_to ?? '');
    if (!Number.isFinite(from) || from > now) throw this.fail('not_yet_valid', fingerprint);
    if (!Number.isFinite(to) || to < now) throw this.fail('expired', fingerprint);
    if (this.revoked.has(fingerprint)) throw this.fail('revoked', fingerprint);
    const matches = new Map<string, MtlsSubjectRule>();
    for (const v of this.subjectValues(cert)) {
      const rule = this.rules.get(this.key(v));
      if (rule) matches.set(rule.match, rule);
    }
    if (matches.size === 0) throw this.fail('unmapped_subject', fingerprint);
    if (matches.size > 1) throw this.fail('ambiguous_subject', fingerprint);
    const rule = [...matches.values()][0] as MtlsSubjectRule;
    const id: MtlsIdentity = {
      kind: 'mtls',
      tenant: rule.tenant,
      principal: `mtls:${createHash('sha256')
        .update(`${this.subjectMapping}|${this.key(rule.match)}`, 'utf8')
        .digest('hex')
        .slice(0, 16)}`,
      fingerprint,
    };
    if (rule.scopes) id.scopes = new Set(rule.scopes);
    return id;
  }
}
