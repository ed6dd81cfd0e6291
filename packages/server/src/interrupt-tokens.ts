/**
 * Signed interrupt tokens: `base64url(payload).base64url(HMAC-SHA256(key, payload))`, with a
 * key id in the payload so keys can rotate (verification accepts every configured key; the
 * first signs). A token expires no later than its interrupt's deadline. Tokens are not stored:
 * single use follows from the interrupt's state in the run log (a resolved interrupt refuses
 * every later token).
 *
 * Decoding is strict: each segment must be the canonical unpadded base64url of its bytes (only
 * `A-Z a-z 0-9 - _`, no `=`, zero padding bits — checked by re-encoding and comparing), so one
 * token has exactly one spelling. Anything else answers exactly like a random token.
 *
 * @see execution-semantics.md §2.5
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { WeftError } from '@weft/contract';

/** One signing key. */
export interface TokenKey {
  kid: string;
  secret: Buffer;
}

/** What a valid token names. */
export interface TokenClaims {
  runId: string;
  nodeId: string;
  interruptId: string;
  expiresAt: number;
}

interface Payload {
  v: 1;
  k: string;
  r: string;
  n: string;
  i: string;
  e: number;
}

/** Default token lifetime (30 min), always capped by the interrupt deadline. */
export const DEFAULT_TOKEN_TTL_MS = 30 * 60 * 1000;

const notFound = (): WeftError => new WeftError('not_found', 'Interrupt not found.');

/** Longest token examined. */
const MAX_TOKEN_LENGTH = 2048;

/** Exactly two non-empty segments of the base64url alphabet, no padding. */
const TOKEN_RE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/** Length of the HMAC-SHA256 segment (32 bytes, unpadded base64url). */
const MAC_CHARS = 43;

/**
 * The bytes of `seg` when it is their canonical unpadded base64url spelling; undefined for any
 * other spelling (Node's decoder silently skips foreign characters and ignores padding bits).
 */
export function decodeCanonicalBase64url(seg: string): Buffer | undefined {
  if (!/^[A-Za-z0-9_-]*$/.test(seg)) return undefined;
  const bytes = Buffer.from(seg, 'base64url');
  return bytes.toString('base64url') === seg ? bytes : undefined;
}

export class InterruptTokens {
  constructor(
    private readonly keys: readonly TokenKey[],
    private readonly ttlMs: number = DEFAULT_TOKEN_TTL_MS,
  ) {
    if (keys.length === 0) throw new Error('at least one interrupt token key is required');
  }

  /** Mints a token valid until min(now + ttl, deadline). */
  mint(c: Omit<TokenClaims, 'expiresAt'>, now: number, deadline?: number): { token: string; expiresAt: number } {
    const key = this.keys[0] as TokenKey;
    const expiresAt = Math.min(now + this.ttlMs, deadline ?? Number.POSITIVE_INFINITY);
    const p: Payload = { v: 1, k: key.kid, r: c.runId, n: c.nodeId, i: c.interruptId, e: expiresAt };
    const body = Buffer.from(JSON.stringify(p)).toString('base64url');
    return { token: `${body}.${createHmac('sha256', key.secret).update(body).digest('base64url')}`, expiresAt };
  }

  /**
   * Verifies a token. A malformed, forged or unknown-key token answers exactly like an unknown
   * interrupt (404); an expired one is 410 `interrupt_expired`.
   */
  verify(token: string, now: number): TokenClaims {
    if (token.length > MAX_TOKEN_LENGTH || !TOKEN_RE.test(token)) throw notFound();
    const dot = token.indexOf('.');
    const body = token.slice(0, dot);
    const macText = token.slice(dot + 1);
    if (macText.length !== MAC_CHARS) throw notFound();
    const mac = decodeCanonicalBase64url(macText);
    const payload = decodeCanonicalBase64url(body);
    if (!mac || !payload) throw notFound();
    let p: Payload;
    try {
      p = JSON.parse(payload.toString('utf8')) as Payload;
    } catch {
      throw notFound();
    }
    if (!p || p.v !== 1 || typeof p.k !== 'string' || typeof p.r !== 'string' || typeof p.n !== 'string' || typeof p.i !== 'string' || typeof p.e !== 'number')
      throw notFound();
    const key = this.keys.find((k) => k.kid === p.k);
    if (!key) throw notFound();
    const expected = createHmac('sha256', key.secret).update(body).digest();
    if (mac.length !== expected.length || !timingSafeEqual(mac, expected)) throw notFound();
    if (p.e <= now) throw new WeftError('interrupt_expired', 'The interrupt token has expired.', { interruptId: p.i });
    return { runId: p.r, nodeId: p.n, interruptId: p.i, expiresAt: p.e };
  }
}

/**
 * Parses `WEFT_INTERRUPT_TOKEN_KEYS` (`kid:secret,…`, secrets ≥ 32 characters, first signs).
 * Without it, a key is generated once and kept in `<dataDir>/interrupt-token.key` (mode 0600)
 * so tokens survive restarts of a single-node host.
 */
export function loadTokenKeys(raw: string | undefined, dataDir: string | undefined): { keys: TokenKey[]; source: 'config' | 'file' | 'ephemeral' } {
  if (raw) {
    const keys = raw.split(',').map((pair, i) => {
      const at = pair.indexOf(':');
      const kid = pair.slice(0, at).trim();
      const secret = pair.slice(at + 1).trim();
      if (at <= 0 || !/^[A-Za-z0-9._-]{1,32}$/.test(kid) || secret.length < 32) {
        throw new Error(`WEFT_INTERRUPT_TOKEN_KEYS entry #${i + 1} must be kid:secret with a secret of at least 32 characters`);
      }
      return { kid, secret: Buffer.from(secret, 'utf8') };
    });
    return { keys, source: 'config' };
  }
  if (dataDir) {
    const file = join(dataDir, 'interrupt-token.key');
    if (!existsSync(file)) writeFileSync(file, `k1:${randomBytes(32).toString('base64url')}\n`, { mode: 0o600, flag: 'wx' });
    const [kid, secret] = readFileSync(file, 'utf8').trim().split(':');
    if (kid && secret) return { keys: [{ kid, secret: Buffer.from(secret, 'utf8') }], source: 'file' };
  }
  return { keys: [{ kid: 'ephemeral', secret: randomBytes(32) }], source: 'ephemeral' };
}
