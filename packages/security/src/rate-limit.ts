/**
 * Per-credential request rate limits: one token bucket per key, holding up to `limit` tokens
 * and refilling `limit` tokens per `windowSec`, so a key may burst to `limit` and then sustain
 * `limit / windowSec` requests per second. Memory is bounded: buckets live in an LRU map of at
 * most `maxKeys` entries, and a bucket that has refilled completely is dropped, because a full
 * bucket and a missing one behave the same.
 *
 * @see security-contract.md §1.1 (AUTH-13), §9 test 23
 */

/** The answer for one request. */
export interface RateDecision {
  allowed: boolean;
  /** Whole seconds until one token is available (0 when allowed). */
  retryAfterSec: number;
  /** Milliseconds until one token is available (0 when allowed). */
  retryAfterMs: number;
  limit: number;
  /** Whole tokens left after this request. */
  remaining: number;
}

/** Configuration of a {@link RateLimiter}. */
export interface RateLimiterOptions {
  /** Requests per window (bucket capacity). */
  limit: number;
  windowSec: number;
  /** Most buckets kept; the least recently used is evicted beyond it. Default 100 000. */
  maxKeys?: number;
  /** Clock (ms); tests inject one. */
  now?: () => number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * Parses `WEFT_RATE_LIMIT` (`<limit>/<windowSec>`, e.g. `600/60`); empty or `off` → undefined.
 * @throws Error when malformed.
 */
export function parseRateLimit(raw: string | undefined): { limit: number; windowSec: number } | undefined {
  if (raw === undefined || raw.trim() === '' || raw.trim().toLowerCase() === 'off') return undefined;
  const m = /^\s*(\d{1,9})\s*\/\s*(\d{1,7})\s*$/.exec(raw);
  const limit = Number(m?.[1]);
  const windowSec = Number(m?.[2]);
  if (!m || limit < 1 || windowSec < 1 || windowSec > 86_400) throw new Error('WEFT_RATE_LIMIT must be <requests>/<seconds> (e.g. 600/60) or off');
  return { limit, windowSec };
}

/** A token-bucket limiter keyed by principal id. */
export class RateLimiter {
  readonly limit: number;
  readonly windowSec: number;
  private readonly ratePerMs: number;
  private readonly maxKeys: number;
  private readonly now: () => number;
  private readonly buckets = new Map<string, Bucket>();

  constructor(opts: RateLimiterOptions) {
    if (!Number.isInteger(opts.limit) || opts.limit < 1) throw new Error('limit must be a positive integer');
    if (!(opts.windowSec > 0)) throw new Error('windowSec must be positive');
    this.limit = opts.limit;
    this.windowSec = opts.windowSec;
    this.ratePerMs = opts.limit / (opts.windowSec * 1000);
    this.maxKeys = opts.maxKeys ?? 100_000;
    this.now = opts.now ?? Date.now;
  }

  /** Buckets currently held (for tests and metrics). */
  get size(): number {
    return this.buckets.size;
  }

  /** Takes one token for `key`. */
  take(key: string): RateDecision {
    const now = this.now();
    const prev = this.buckets.get(key);
    let tokens = this.limit;
    if (prev) {
      tokens = Math.min(this.limit, prev.tokens + Math.max(0, now - prev.at) * this.ratePerMs);
      this.buckets.delete(key); // re-inserted below: Map order is the LRU order
    }
    if (tokens >= 1) {
      tokens -= 1;
      this.store(key, { tokens, at: now });
      return { allowed: true, retryAfterSec: 0, retryAfterMs: 0, limit: this.limit, remaining: Math.floor(tokens) };
    }
    this.store(key, { tokens, at: now });
    const retryAfterMs = Math.max(1, Math.ceil((1 - tokens) / this.ratePerMs));
    return { allowed: false, retryAfterSec: Math.max(1, Math.ceil(retryAfterMs / 1000)), retryAfterMs, limit: this.limit, remaining: 0 };
  }

  private store(key: string, b: Bucket): void {
    this.buckets.set(key, b);
    while (this.buckets.size > this.maxKeys) {
      const oldest = this.buckets.keys().next();
      if (oldest.done) break;
      this.buckets.delete(oldest.value);
    }
  }

  /** Drops buckets that have refilled completely (they carry no state). */
  sweep(): number {
    const now = this.now();
    let dropped = 0;
    for (const [k, b] of this.buckets) {
      if (b.tokens + (now - b.at) * this.ratePerMs >= this.limit) {
        this.buckets.delete(k);
        dropped++;
      }
    }
    return dropped;
  }
}
