import type { RunSnapshot } from '@weft/contract/types';
import { describe, expect, it } from 'vitest';
import { matchesLocal, type RunFilters } from './run-filters.ts';

const none: RunFilters = { status: '', workflow: '', tag: '', from: '', to: '', q: '' };
const run = (runId: string, createdAt: string, tags?: string[]): RunSnapshot => ({
  runId,
  workflowId: 'w',
  status: 'completed',
  createdAt,
  ...(tags ? { tags } : {}),
});

describe('runs-list filters in the browser', () => {
  const a = run('run_AbC123', '2026-03-01T10:00:00.000Z', ['nightly', 'eu']);
  const b = run('run_def456', '2026-03-02T10:00:00.000Z');

  it('matches every run without filters', () => {
    expect([a, b].filter((r) => matchesLocal(r, none))).toEqual([a, b]);
  });

  it('filters by tag (substring, any case) and by id text', () => {
    expect([a, b].filter((r) => matchesLocal(r, { ...none, tag: 'NIGHT' }))).toEqual([a]);
    expect([a, b].filter((r) => matchesLocal(r, { ...none, q: ' abc ' }))).toEqual([a]);
    expect([a, b].filter((r) => matchesLocal(r, { ...none, q: 'zzz' }))).toEqual([]);
  });

  it('filters by creation time, both ends inclusive; a run without createdAt never matches a range', () => {
    expect([a, b].filter((r) => matchesLocal(r, { ...none, from: '2026-03-02T00:00:00Z' }))).toEqual([b]);
    expect([a, b].filter((r) => matchesLocal(r, { ...none, to: '2026-03-01T10:00:00.000Z' }))).toEqual([a]);
    expect(matchesLocal({ runId: 'r', workflowId: 'w', status: 'running' }, { ...none, from: '2026-01-01T00:00:00Z' })).toBe(false);
  });
});
