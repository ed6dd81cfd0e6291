/**
 * The one redactor: replaces secrets in whatever the host records or emits — event payloads at
 * the engine's append boundary (so the log, projection, snapshots, polls, SSE and run lists
 * never hold them), error envelopes, and log lines.
 *
 * Two tiers, as the spec recommends:
 * 1. **Known secret values** — a registry of exact values (a run's declared-sensitive
 *    variables; the host's configured keys; later, every secret the vault resolves), replaced by
 *    `[REDACTED]` or `[REDACTED:<id>]` when registered with an id (a credentialRef).
 * 2. **Credential shapes** — pre-compiled pattern rules ({@link SECRET_RULES}), replaced by
 *    `[REDACTED]`.
 *
 * Rules are written so that a match never leaves a JSON string: no rule matches `"`, and only the
 * PEM rule matches `\` (whole escape pairs only), so {@link Redactor.redactJson} can scrub serialized JSON text in one pass
 * and the result is still valid JSON. Strings shorter than {@link MIN_REDACT_LENGTH} are skipped
 * and nothing is copied when nothing matches.
 *
 * @see security-contract.md §4.2 (where secrets must never appear), §4.3 (markers)
 */

/** The marker of shape-detected material and of known values registered without an id. */
export const REDACTED = '[REDACTED]';

/** Text shorter than this cannot hold any rule's match or a registered secret; it is skipped. */
export const MIN_REDACT_LENGTH = 8;

/** Shortest known secret value registered; shorter ones would mangle unrelated text. */
export const MIN_SECRET_LENGTH = 8;

/** One credential-shape rule. */
export interface RedactionRule {
  /** Stable id, for tests and docs. */
  id: string;
  /** The shape (no flags needed; compiled with `g`). Must not match `"`. */
  pattern: RegExp;
}

/** Characters that may precede a token rule's match: not part of a longer identifier. */
const START = '(?<![A-Za-z0-9_-])';

/**
 * Credential shapes scrubbed everywhere. Near-misses stay: short prefixes (`sk-learn`), words
 * after `Bearer` without a digit, single JWT-looking segments, hex digests (the host emits
 * SHA-256 digests itself), and credential references (`cred_…`, `secret_…`, which the spec
 * allows on the wire).
 */
export const SECRET_RULES: readonly RedactionRule[] = [
  // PEM private keys (PKCS#1/#8, EC, OpenSSH, encrypted): up to END, or to the end of the
  // string. In JSON text the body moves over escape pairs whole and stops before `\"` or `"`.
  { id: 'pem-private-key', pattern: /-----BEGIN[A-Z0-9 ]{0,40} PRIVATE KEY-----(?:[^"\\]|\\[^"])*?(?:-----END[A-Z0-9 ]{0,40} PRIVATE KEY-----|(?=\\?"|$))/ },
  // `Authorization`-style bearer credentials: a token of ≥ 16 characters with a digit in it.
  { id: 'bearer', pattern: /\bBearer[ \t]+(?=[A-Za-z0-9._~+/-]{0,200}[0-9])[A-Za-z0-9._~+/-]{16,}=*/ },
  // JSON Web Tokens (header and payload are base64url JSON objects, so both start with eyJ).
  { id: 'jwt', pattern: new RegExp(`${START}eyJ[A-Za-z0-9_-]{5,}\\.eyJ[A-Za-z0-9_-]{5,}\\.[A-Za-z0-9_-]*`) },
  // OpenAI / Anthropic (`sk-ant-…`) / DeepSeek-style provider keys.
  { id: 'provider-sk', pattern: new RegExp(`${START}sk-[A-Za-z0-9_-]{20,}`) },
  // Stripe-style secret and restricted keys.
  { id: 'stripe', pattern: new RegExp(`${START}[rs]k_(?:live|test)_[A-Za-z0-9]{16,}`) },
  // xAI keys.
  { id: 'xai', pattern: new RegExp(`${START}xai-[A-Za-z0-9]{20,}`) },
  // Google API keys.
  { id: 'google-api-key', pattern: new RegExp(`${START}AIza[A-Za-z0-9_-]{35}`) },
  // AWS access key ids (long-lived and STS).
  { id: 'aws-access-key-id', pattern: /(?<![A-Za-z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Za-z0-9])/ },
  // GitHub tokens: classic (ghp_, gho_, ghu_, ghs_, ghr_) and fine-grained.
  { id: 'github', pattern: new RegExp(`${START}(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})`) },
  // GitLab personal access tokens.
  { id: 'gitlab', pattern: new RegExp(`${START}glpat-[A-Za-z0-9_-]{20,}`) },
  // Slack tokens.
  { id: 'slack', pattern: new RegExp(`${START}xox[abposr]-[A-Za-z0-9-]{10,}`) },
  // Weft's own managed-key secrets and generated development keys.
  { id: 'weft-key', pattern: new RegExp(`${START}weft_(?:[0-9a-f]{18}_[A-Za-z0-9_-]{43}|dev_[A-Za-z0-9_-]{32})`) },
];

/**
 * One alternation of every rule, compiled once per rule list: a redactor per run (withSecrets)
 * shares its host's. Safe to share: scrubbing is synchronous and resets `lastIndex` first.
 */
const combinedCache = new WeakMap<readonly RedactionRule[], RegExp>();
function combinedOf(rules: readonly RedactionRule[]): RegExp | undefined {
  if (rules.length === 0) return undefined;
  let re = combinedCache.get(rules);
  if (!re) {
    re = new RegExp(rules.map((r) => `(?:${r.pattern.source})`).join('|'), 'g');
    combinedCache.set(rules, re);
  }
  return re;
}

/** A known secret value and the marker that replaces it. */
interface Needle {
  plain: string;
  /** Its form inside a JSON string literal. */
  json: string;
  marker: string;
}

const jsonEscaped = (s: string): string => JSON.stringify(s).slice(1, -1);

/** Registered ids appear in the marker; keep them to a harmless alphabet. */
const MARKER_ID_RE = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Scrubs secrets from text, JSON text and JSON-like values. Create one per host (configured
 * keys registered), and derive one per run with {@link withSecrets} (its sensitive values).
 */
export class Redactor {
  private readonly combined: RegExp | undefined;
  private readonly own: Needle[] = [];

  /**
   * @param rules credential shapes (default {@link SECRET_RULES}).
   * @param parent a redactor whose known values (present and future) this one also scrubs.
   */
  constructor(
    private readonly rules: readonly RedactionRule[] = SECRET_RULES,
    private readonly parent?: Redactor,
  ) {
    this.combined = combinedOf(rules);
  }

  /** The rule ids, in order. */
  get ruleIds(): string[] {
    return this.rules.map((r) => r.id);
  }

  /**
   * Registers a known secret value: every later redaction replaces it, in this redactor and in
   * all derived from it. Values shorter than {@link MIN_SECRET_LENGTH} are ignored (they are
   * masked by name where they are declared, never by value).
   * @param id shown as `[REDACTED:<id>]` (e.g. a credentialRef); must match `[A-Za-z0-9._:-]{1,128}`.
   */
  addSecret(value: string, id?: string): void {
    if (typeof value !== 'string' || value.length < MIN_SECRET_LENGTH) return;
    if (id !== undefined && !MARKER_ID_RE.test(id)) throw new Error('secret id must match [A-Za-z0-9._:-]{1,128}');
    if (this.own.some((n) => n.plain === value)) return;
    this.own.push({ plain: value, json: jsonEscaped(value), marker: id === undefined ? REDACTED : `[REDACTED:${id}]` });
    // Longest first, so a secret containing another is replaced whole.
    this.own.sort((a, b) => b.plain.length - a.plain.length);
  }

  /** A redactor with the same rules that also scrubs `values` (and everything this one scrubs). */
  withSecrets(values: Iterable<string>): Redactor {
    const r = new Redactor(this.rules, this);
    for (const v of values) r.addSecret(v);
    return r;
  }

  /** Plain text (a log message, an error message): secrets replaced; the input when none. */
  redactText(text: string): string {
    return this.scrub(text, false);
  }

  /**
   * Serialized JSON (`JSON.stringify` output): secrets inside string literals replaced, the
   * result still valid JSON; the input itself when nothing matched.
   */
  redactJson(json: string): string {
    const out = this.scrub(json, true);
    if (out === json) return out;
    // A known value can also occur outside a string literal (a number such as 12345678); the
    // marker there is never valid JSON, so a parse failure shows it: redact the parsed value.
    try {
      JSON.parse(out);
      return out;
    } catch {
      return JSON.stringify(this.redact(JSON.parse(json) as unknown));
    }
  }

  /**
   * A JSON-like value: strings (object keys included) scrubbed, copy-on-write — the very same
   * value is returned when nothing matched, and only the changed path is copied otherwise.
   */
  redact<T>(value: T): T {
    return this.walk(value) as T;
  }

  private walk(v: unknown): unknown {
    if (typeof v === 'string') return v.length < MIN_REDACT_LENGTH ? v : this.scrub(v, false);
    if (v === null || typeof v !== 'object') return v;
    if (Array.isArray(v)) {
      let out: unknown[] | undefined;
      for (let i = 0; i < v.length; i++) {
        const r = this.walk(v[i]);
        if (r !== v[i]) (out ??= v.slice())[i] = r;
      }
      return out ?? v;
    }
    let out: Record<string, unknown> | undefined;
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      const rk = k.length < MIN_REDACT_LENGTH ? k : this.scrub(k, false);
      const rx = this.walk(x);
      if (rk !== k || rx !== x) {
        out ??= { ...(v as Record<string, unknown>) };
        if (rk !== k) delete out[k];
        out[rk] = rx;
      }
    }
    return out ?? v;
  }

  private scrub(text: string, json: boolean): string {
    if (text.length < MIN_REDACT_LENGTH) return text;
    let out = text;
    for (let r: Redactor | undefined = this; r; r = r.parent) {
      for (const n of r.own) {
        const needle = json ? n.json : n.plain;
        if (out.includes(needle)) out = out.split(needle).join(n.marker);
      }
    }
    if (this.combined) {
      this.combined.lastIndex = 0;
      if (this.combined.test(out)) {
        this.combined.lastIndex = 0;
        out = out.replace(this.combined, REDACTED);
      }
    }
    return out;
  }
}
