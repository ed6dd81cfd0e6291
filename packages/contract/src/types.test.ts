import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runtimeDependencies } from './module-graph.js';
import * as types from './types.js';

const here = (p: string): string => fileURLToPath(new URL(p, import.meta.url));

describe('@weft/contract/types', () => {
  it('loads no package and no builtin at run time (types and plain constants only)', () => {
    expect([...runtimeDependencies(here('./types.ts'))]).toEqual([]);
  });

  it('the import graph check sees runtime dependencies (the full entry loads TypeBox and Ajv)', () => {
    const deps = runtimeDependencies(here('./index.ts'));
    expect(deps.has('typebox')).toBe(true);
    expect(deps.has('ajv/dist/2020.js') || [...deps].some((d) => d.startsWith('ajv'))).toBe(true);
  });

  it('exports the one terminal-status set and its guard', () => {
    expect([...types.TERMINAL_STATUSES].sort()).toEqual(['cancelled', 'completed', 'failed']);
    for (const s of types.RUN_STATUSES) expect(types.isTerminalStatus(s)).toBe(types.TERMINAL_STATUSES.has(s));
    expect(types.isTerminalStatus('cancelling')).toBe(false);
    expect(types.isTerminalStatus(undefined)).toBe(false);
  });
});
