import type { DiscoveryDocument } from '@weft/contract/types';
import { describe, expect, it } from 'vitest';
import { advertisesPause, advertisesReplay } from './capabilities.ts';

const doc = (extra: Record<string, unknown>): DiscoveryDocument => ({
  protocolVersion: '1.1',
  supportedEnvelopes: [],
  schemaVersions: {},
  limits: {},
  ...extra,
});

describe('discovery gates', () => {
  it('shows fork only when replay is advertised', () => {
    expect(advertisesReplay(doc({ runs: { pauseResume: { supported: true } } }))).toBe(false);
    expect(advertisesReplay(doc({ replay: { supported: false } }))).toBe(false);
    expect(advertisesReplay(doc({ replay: { supported: true } }))).toBe(true);
    expect(advertisesReplay(doc({ runs: { fork: true } }))).toBe(true);
  });

  it('shows pause/resume only when runs.pauseResume is supported', () => {
    expect(advertisesPause(doc({ runs: { pauseResume: { supported: true } } }))).toBe(true);
    expect(advertisesPause(doc({ runs: { pauseResume: true } }))).toBe(false);
    expect(advertisesPause(doc({}))).toBe(false);
  });
});
