import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runtimeDependencies } from '../../contract/src/module-graph.js';

const here = (p: string): string => fileURLToPath(new URL(p, import.meta.url));

describe('@weft/sdk dependencies', () => {
  it('loads only the dependency-free @weft/contract/types at run time', () => {
    expect([...runtimeDependencies(here('./index.ts'))].sort()).toEqual(['@weft/contract/types']);
  });

  it('declares no third-party runtime dependency', () => {
    const pkg = JSON.parse(readFileSync(here('../package.json'), 'utf8')) as { dependencies?: Record<string, string> };
    expect(Object.keys(pkg.dependencies ?? {})).toEqual(['@weft/contract']);
  });
});
