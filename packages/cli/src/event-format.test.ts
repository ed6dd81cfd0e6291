import pc from 'picocolors';
import { describe, expect, it } from 'vitest';
import type { RunEventDoc } from '@weft/contract';
import { SUMMARY_MAX, formatEventLine, summarizePayload, truncate } from './event-format.js';

const plain = pc.createColors(false);
const ev = (sequence: number, type: string, payload: unknown, nodeId?: string): RunEventDoc => ({
  eventId: `r-${sequence}`,
  runId: 'r',
  type,
  payload,
  timestamp: '2026-01-01T00:00:00.000Z',
  sequence,
  ...(nodeId ? { nodeId } : {}),
});

describe('formatEventLine', () => {
  it('shows sequence, type, node id and a payload summary on one line', () => {
    expect(formatEventLine(ev(0, 'run.started', { workflowId: 'conformance-noop', inputs: { n: 1 } }), plain)).toBe(
      '   0  run.started       workflowId=conformance-noop inputs={"n":1}',
    );
    expect(formatEventLine(ev(1, 'node.started', { nodeId: 'a', typeId: 'core.noop', attempt: 0 }, 'a'), plain)).toBe(
      '   1  node.started      [a]  typeId=core.noop attempt=0',
    );
    expect(formatEventLine(ev(3, 'run.completed', {}), plain)).toBe('   3  run.completed');
  });

  it('renders error objects as code: message', () => {
    const line = formatEventLine(ev(2, 'node.failed', { nodeId: 'f', error: { code: 'deterministic_fail', message: 'boom' } }, 'f'), plain);
    expect(line).toBe('   2  node.failed       [f]  error="deterministic_fail: boom"');
  });

  it('takes the node id from the payload when the envelope has none', () => {
    expect(formatEventLine(ev(4, 'node.skipped', { nodeId: 'b', reason: 'condition false' }), plain)).toBe(
      '   4  node.skipped      [b]  reason="condition false"',
    );
  });

  it('stays on one line for multi-line strings', () => {
    const line = formatEventLine(ev(5, 'log.appended', { level: 'info', message: 'line one\nline two' }), plain);
    expect(line).not.toContain('\n');
    expect(line).toContain('message="line one\\nline two"');
  });

  it('colours by type when colours are on', () => {
    const colors = pc.createColors(true);
    const failed = formatEventLine(ev(2, 'run.failed', { error: { code: 'x', message: 'y' } }), colors);
    expect(failed).toContain('\u001b[31m'); // red
    expect(formatEventLine(ev(3, 'run.completed', {}), colors)).toContain('\u001b[32m'); // green
    expect(failed.replace(/\u001b\[[0-9;]*m/g, '')).toBe(formatEventLine(ev(2, 'run.failed', { error: { code: 'x', message: 'y' } }), plain));
  });
});

describe('summarizePayload', () => {
  it('is empty for null, undefined and empty objects', () => {
    expect(summarizePayload(null)).toBe('');
    expect(summarizePayload(undefined)).toBe('');
    expect(summarizePayload({})).toBe('');
  });

  it('renders non-object payloads whole', () => {
    expect(summarizePayload('text')).toBe('text');
    expect(summarizePayload([1, 2])).toBe('[1,2]');
    expect(summarizePayload(7)).toBe('7');
  });

  it('cuts long summaries with an ellipsis', () => {
    const summary = summarizePayload({ outputs: { text: 'x'.repeat(500) } });
    expect(summary).toHaveLength(SUMMARY_MAX);
    expect(summary.endsWith('…')).toBe(true);
    expect(truncate('abcdef', 4)).toBe('abc…');
    expect(truncate('abc', 4)).toBe('abc');
  });
});
