import { describe, expect, it } from 'vitest';
import { RateLimiter, parseRateLimit } from './rate-limit.js';

describe('RateLimiter', () => {
  it('allows a burst of `limit`, then refuses with a whole-second Retry-After until a token refills', () => {
    let now = 1_000_000;
    const rl = new RateLimiter({ limit: 3, windowSec: 60, now: () => now });
    expect([rl.take('k'), rl.take('k'), rl.take('k')].map((d) => [d.allowed, d.remaining])).toEqual([
      [true, 2],
      [true, 1],
      [true, 0],
    ]);
    const refused = rl.take('k');
    expect(refused).toMatchObject({ allowed: false, limit: 3, remaining: 0 });
    // One token per 20 s.
    expect(refused.retryAfterMs).toBe(20_000);
    expect(refused.retryAfterSec).toBe(20);
    expect(Number.isInteger(refused.retryAfterSec)).toBe(true);
    now += 10_000;
    expect(rl.take('k').retryAfterSec).toBe(10);
    now += 10_000;
    expect(rl.take('k').allowed).toBe(true);
  });

  it('keeps one bucket per key', () => {
    const rl = new RateLimiter({ limit: 1, windowSec: 60, now: () => 0 });
    expect(rl.take('a').allowed).toBe(true);
    expect(rl.take('a').allowed).toBe(false);
    expect(rl.take('b').allowed).toBe(true);
  });

  it('bounds memory: evicts the least recently used bucket and sweeps refilled ones', () => {
    let now = 0;
    const rl = new RateLimiter({ limit: 2, windowSec: 10, maxKeys: 3, now: () => now });
    for (const k of ['a', 'b', 'c', 'd']) rl.take(k);
    expect(rl.size).toBe(3);
    now += 10_000;
    expect(rl.sweep()).toBe(3);
    expect(rl.size).toBe(0);
  });

  it('parses WEFT_RATE_LIMIT', () => {
    expect(parseRateLimit('600/60')).toEqual({ limit: 600, windowSec: 60 });
    expect(parseRateLimit(' 5 / 1 ')).toEqual({ limit: 5, windowSec: 1 });
    expect(parseRateLimit(undefined)).toBeUndefined();
    expect(parseRateLimit('off')).toBeUndefined();
    for (const bad of ['600', '0/60', '10/0', 'x/y', '10/60/1']) expect(() => parseRateLimit(bad)).toThrow(/WEFT_RATE_LIMIT/);
  });
});
