import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REQUIRED_CONTRACTS, contractsGate } from './contracts-gate.js';

const complete = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-contracts-'));
  for (const p of REQUIRED_CONTRACTS) {
    if (p.endsWith('.json')) {
      mkdirSync(join(dir, p, '..'), { recursive: true });
      writeFileSync(join(dir, p), '{}');
    } else mkdirSync(join(dir, p), { recursive: true });
  }
  return dir;
};

describe('contracts gate', () => {
  it('runs the contract suites when every required file is there, in CI or not', () => {
    const dir = complete();
    expect(contractsGate(dir, { CI: 'true' })).toEqual({ run: true });
    expect(contractsGate(dir, {})).toEqual({ run: true });
  });

  it('under CI refuses a missing contracts directory instead of skipping the schema check', () => {
    const dir = join(tmpdir(), 'weft-no-such-contracts-dir');
    expect(() => contractsGate(dir, { CI: 'true' })).toThrow(/required under CI=true/);
    expect(contractsGate(dir, {})).toMatchObject({ run: false, reason: expect.stringContaining('conformance-fixtures') });
  });

  it('under CI refuses a directory that lacks one official schema', () => {
    const partial = mkdtempSync(join(tmpdir(), 'weft-contracts-'));
    mkdirSync(join(partial, 'schemas'));
    mkdirSync(join(partial, 'conformance-fixtures'));
    expect(() => contractsGate(partial, { CI: '1' })).toThrow(/run-snapshot\.schema\.json/);
  });
});
