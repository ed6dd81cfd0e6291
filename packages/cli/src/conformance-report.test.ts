import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FILE_ERRORS, UNTAGGED, formatSummary, isVitestJsonReport, profileOf, summarizeReport, type VitestJsonReport } from './conformance-report.js';
import { contractsDir, findRepoRoot, requireContracts, vitestArgs } from './commands/conformance.js';

const test = (ancestorTitles: string[], title: string, status: string, failureMessages: string[] = []) => ({
  ancestorTitles,
  title,
  fullName: [...ancestorTitles, title].join(' '),
  status,
  failureMessages,
});

/** Trimmed from a real `vitest run --reporter=json` report (vitest 4.1). */
const SAMPLE: VitestJsonReport & Record<string, unknown> = {
  numTotalTestSuites: 9,
  numFailedTests: 1,
  success: false,
  testResults: [
    {
      name: '/repo/packages/conformance/src/scenarios/discovery.test.ts',
      status: 'passed',
      message: '',
      assertionResults: [test(['core: discovery'], 'serves the document without auth', 'passed'), test(['core: discovery'], 'advertises fixtures', 'passed')],
    },
    {
      name: '/repo/packages/conformance/src/scenarios/sse.test.ts',
      status: 'failed',
      message: '',
      assertionResults: [
        test(['stream-sse: modes'], 'updates contains run.started', 'passed'),
        test(['stream-sse: modes', 'buffering'], 'bufferMs=4000 delivers the terminal event early', 'failed', [
          'AssertionError: expected 4100 to be less than 2000\n    at sse.test.ts:88:5',
        ]),
        test(['stream-sse: resume and live delivery'], 'resumes after Last-Event-ID', 'skipped'),
        test(['stream-sse: resume and live delivery'], 'later', 'todo'),
      ],
    },
    {
      name: '/repo/packages/conformance/src/scenarios/poll.test.ts',
      status: 'passed',
      message: '',
      assertionResults: [test(['stream-poll: events'], 'past-end cursor is empty', 'passed'), test([], 'top-level helper check', 'passed')],
    },
    {
      name: '/repo/packages/conformance/src/scenarios/tenancy.test.ts',
      status: 'failed',
      message: "Cannot find module './missing.js' imported from tenancy.test.ts",
      assertionResults: [],
    },
  ],
};

describe('profileOf', () => {
  it('takes the tag before the colon of the outermost describe block', () => {
    expect(profileOf(['core: discovery'], 't')).toBe('core');
    expect(profileOf(['stream-sse: modes', 'nested: thing'], 't')).toBe('stream-sse');
    expect(profileOf(['Security: tenancy'], 't')).toBe('security');
  });

  it('falls back to the title for top-level tests, then to (untagged)', () => {
    expect(profileOf([], 'core: bare test')).toBe('core');
    expect(profileOf([], 'no tag here')).toBe(UNTAGGED);
    expect(profileOf(['plain describe'], 't')).toBe(UNTAGGED);
    expect(profileOf(['core:no-space'], 't')).toBe(UNTAGGED);
  });
});

describe('summarizeReport', () => {
  it('counts passed, failed and skipped tests per profile, pseudo-profiles last', () => {
    const s = summarizeReport(SAMPLE);
    expect(s.profiles).toEqual([
      { profile: 'core', passed: 2, failed: 0, skipped: 0 },
      { profile: 'stream-poll', passed: 1, failed: 0, skipped: 0 },
      { profile: 'stream-sse', passed: 1, failed: 1, skipped: 2 },
      { profile: FILE_ERRORS, passed: 0, failed: 1, skipped: 0 },
      { profile: UNTAGGED, passed: 1, failed: 0, skipped: 0 },
    ]);
    expect(s.total).toEqual({ passed: 5, failed: 2, skipped: 2 });
    expect(s.ok).toBe(false);
  });

  it('lists failed tests with their first failure line, and files that failed outside tests', () => {
    expect(summarizeReport(SAMPLE).failures).toEqual([
      {
        profile: 'stream-sse',
        name: 'stream-sse: modes › buffering › bufferMs=4000 delivers the terminal event early',
        message: 'AssertionError: expected 4100 to be less than 2000',
      },
      {
        profile: FILE_ERRORS,
        name: '/repo/packages/conformance/src/scenarios/tenancy.test.ts',
        message: "Cannot find module './missing.js' imported from tenancy.test.ts",
      },
    ]);
  });

  it('is ok when every test passed or was skipped', () => {
    const report: VitestJsonReport = {
      testResults: [{ name: 'a.test.ts', status: 'passed', assertionResults: [test(['core: a'], 'x', 'passed'), test(['core: a'], 'y', 'skipped')] }],
    };
    expect(summarizeReport(report).ok).toBe(true);
  });

  it('is not ok when no test ran', () => {
    const s = summarizeReport({ testResults: [] });
    expect(s.ok).toBe(false);
    expect(formatSummary(s)).toContain('no conformance test ran');
  });
});

describe('formatSummary', () => {
  it('prints one aligned row per profile, a total and the failures', () => {
    expect(formatSummary(summarizeReport(SAMPLE))).toBe(
      [
        'profile        passed  failed  skipped',
        'core                2       0        0',
        'stream-poll         1       0        0',
        'stream-sse          1       1        2',
        '(file errors)       0       1        0',
        '(untagged)          1       0        0',
        'total               5       2        2',
        '',
        'failed:',
        '  stream-sse: modes › buffering › bufferMs=4000 delivers the terminal event early',
        '      AssertionError: expected 4100 to be less than 2000',
        '  /repo/packages/conformance/src/scenarios/tenancy.test.ts',
        "      Cannot find module './missing.js' imported from tenancy.test.ts",
      ].join('\n'),
    );
  });
});

describe('report plumbing', () => {
  it('recognizes the report shape', () => {
    expect(isVitestJsonReport(SAMPLE)).toBe(true);
    expect(isVitestJsonReport({ testResults: [{ name: 'x' }] })).toBe(false);
    expect(isVitestJsonReport(null)).toBe(false);
  });

  it('finds the repository root above the CLI sources and builds the vitest command', () => {
    const root = findRepoRoot(new URL('.', import.meta.url).pathname);
    expect(new URL('../../../', import.meta.url).pathname.replace(/\/$/, '')).toBe(root);
    expect(vitestArgs(root, '/tmp/r.json', 'core')).toEqual([
      `${root}/node_modules/vitest/vitest.mjs`,
      'run',
      '--project',
      'conformance-memory',
      '--reporter=json',
      '--outputFile=/tmp/r.json',
      '--testNamePattern',
      'core',
    ]);
    expect(vitestArgs(root, '/tmp/r.json')).not.toContain('--testNamePattern');
  });

  it('resolves the contracts directory from WEFT_CONTRACTS_DIR (relative to the repository root) or beside the repository', () => {
    expect(contractsDir('/repo/weft', {})).toBe('/repo/shared/contracts');
    expect(contractsDir('/repo/weft', { WEFT_CONTRACTS_DIR: '' })).toBe('/repo/shared/contracts');
    expect(contractsDir('/repo/weft', { WEFT_CONTRACTS_DIR: 'vendor/contracts' })).toBe('/repo/weft/vendor/contracts');
    expect(contractsDir('/repo/weft', { WEFT_CONTRACTS_DIR: '/opt/openwop' })).toBe('/opt/openwop');
  });

  it('refuses to run without the official contracts, naming the directory and the variable', () => {
    const dir = mkdtempSync(join(tmpdir(), 'weft-contracts-'));
    try {
      expect(() => requireContracts(join(dir, 'absent'))).toThrow(/not at .*absent \(missing schemas, conformance-fixtures\); set WEFT_CONTRACTS_DIR/);
      mkdirSync(join(dir, 'schemas'));
      expect(() => requireContracts(dir)).toThrow(/missing conformance-fixtures\)/);
      mkdirSync(join(dir, 'conformance-fixtures'));
      expect(() => requireContracts(dir)).not.toThrow();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
