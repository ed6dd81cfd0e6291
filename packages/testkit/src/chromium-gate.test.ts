import { describe, expect, it } from 'vitest';
import { DEFAULT_CHROMIUM_PATH, chromiumGate } from './chromium-gate.js';

describe('chromium gate', () => {
  it('runs the e2e tests when the binary exists', () => {
    expect(chromiumGate({}, (p) => p === DEFAULT_CHROMIUM_PATH)).toEqual({ path: DEFAULT_CHROMIUM_PATH, present: true, skip: false });
  });

  it('skips without chromium outside CI, and says how to install it', () => {
    const g = chromiumGate({}, () => false);
    expect(g.skip).toBe(true);
    expect(g.reason).toContain('ensure-chromium.sh');
  });

  it('never skips under CI: the tests run and fail with the reason', () => {
    const g = chromiumGate({ CI: 'true' }, () => false);
    expect(g).toMatchObject({ present: false, skip: false });
    expect(g.reason).toContain('/usr/bin/chromium');
  });

  it('honours WEFT_CHROMIUM_PATH', () => {
    expect(chromiumGate({ WEFT_CHROMIUM_PATH: '/opt/c' }, (p) => p === '/opt/c').path).toBe('/opt/c');
  });
});
