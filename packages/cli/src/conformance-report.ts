/**
 * Per-profile summary of a vitest JSON report of the conformance suite. Scenario describe
 * blocks are named `<profile>: <topic>` (`core: discovery`, `stream-sse: modes`…); the tag
 * before the colon of the outermost block is the profile a test counts for.
 *
 * @see wire-contract.md §6
 */

/** The parts of vitest's JSON reporter output this summary reads. */
export interface VitestJsonReport {
  success?: boolean;
  testResults: {
    name: string;
    status: string;
    message?: string;
    assertionResults: {
      ancestorTitles: string[];
      title: string;
      fullName?: string;
      status: string;
      failureMessages?: string[] | null;
    }[];
  }[];
}

/** Test counts of one profile. */
export interface ProfileCounts {
  profile: string;
  passed: number;
  failed: number;
  skipped: number;
}

/** One failed test, or a test file that failed to load or run outside any test. */
export interface ConformanceFailure {
  profile: string;
  name: string;
  message: string;
}

/** The summary printed by `weft conformance`. */
export interface ConformanceSummary {
  profiles: ProfileCounts[];
  total: Omit<ProfileCounts, 'profile'>;
  failures: ConformanceFailure[];
  /** No failed test, no failed file, and at least one test ran. */
  ok: boolean;
}

/** Profile of tests whose outermost block carries no `<profile>:` tag. */
export const UNTAGGED = '(untagged)';
/** Pseudo-profile of files that failed outside any test (import errors, failing hooks). */
export const FILE_ERRORS = '(file errors)';

const TAG = /^([a-z0-9][a-z0-9-]*):\s/i;

/** The profile tag of a test: from its outermost describe title (or its own title at top level). */
export function profileOf(ancestorTitles: readonly string[], title: string): string {
  const outer = ancestorTitles[0] ?? title;
  return TAG.exec(outer)?.[1]?.toLowerCase() ?? UNTAGGED;
}

const firstLine = (text: string | undefined): string =>
  (text ?? '')
    .split('\n')
    .find((l) => l.trim() !== '')
    ?.trim() ?? '';

/** Groups the report's tests by profile; pseudo-profiles sort last. */
export function summarizeReport(report: VitestJsonReport): ConformanceSummary {
  const byProfile = new Map<string, ProfileCounts>();
  const failures: ConformanceFailure[] = [];
  const counts = (profile: string): ProfileCounts => {
    let c = byProfile.get(profile);
    if (!c) {
      c = { profile, passed: 0, failed: 0, skipped: 0 };
      byProfile.set(profile, c);
    }
    return c;
  };

  for (const file of report.testResults) {
    let fileFailedTests = 0;
    for (const test of file.assertionResults) {
      const profile = profileOf(test.ancestorTitles, test.title);
      const c = counts(profile);
      if (test.status === 'passed') c.passed++;
      else if (test.status === 'failed') {
        c.failed++;
        fileFailedTests++;
        failures.push({ profile, name: [...test.ancestorTitles, test.title].join(' › '), message: firstLine(test.failureMessages?.[0]) });
      } else c.skipped++;
    }
    if (file.status === 'failed' && fileFailedTests === 0) {
      counts(FILE_ERRORS).failed++;
      failures.push({ profile: FILE_ERRORS, name: file.name, message: firstLine(file.message) || 'the file failed outside any test' });
    }
  }

  const pseudo = (p: string): boolean => p.startsWith('(');
  const profiles = [...byProfile.values()].sort((a, b) => Number(pseudo(a.profile)) - Number(pseudo(b.profile)) || a.profile.localeCompare(b.profile));
  const total = profiles.reduce((t, p) => ({ passed: t.passed + p.passed, failed: t.failed + p.failed, skipped: t.skipped + p.skipped }), {
    passed: 0,
    failed: 0,
    skipped: 0,
  });
  return { profiles, total, failures, ok: total.failed === 0 && total.passed + total.skipped > 0 };
}

/** The printed table: `profile  passed/failed/skipped` per profile, a total, then the failures. */
export function formatSummary(summary: ConformanceSummary): string {
  const rows = [
    ['profile', 'passed', 'failed', 'skipped'],
    ...summary.profiles.map((p) => [p.profile, String(p.passed), String(p.failed), String(p.skipped)]),
    ['total', String(summary.total.passed), String(summary.total.failed), String(summary.total.skipped)],
  ];
  const widths = [0, 1, 2, 3].map((i) => Math.max(...rows.map((r) => r[i]?.length ?? 0)));
  const line = (r: string[]): string => r.map((cell, i) => (i === 0 ? cell.padEnd(widths[0] ?? 0) : cell.padStart(widths[i] ?? 0))).join('  ');
  const out = rows.map(line);
  if (summary.failures.length > 0) {
    out.push('', 'failed:');
    for (const f of summary.failures) out.push(`  ${f.name}${f.message ? `\n      ${f.message}` : ''}`);
  }
  if (summary.total.passed + summary.total.failed + summary.total.skipped === 0) out.push('', 'no conformance test ran');
  return out.join('\n');
}

/** Narrows parsed JSON to the report shape (enough of it to summarize). */
export function isVitestJsonReport(value: unknown): value is VitestJsonReport {
  if (typeof value !== 'object' || value === null) return false;
  const results = (value as { testResults?: unknown }).testResults;
  return (
    Array.isArray(results) &&
    results.every((f: unknown) => typeof f === 'object' && f !== null && Array.isArray((f as { assertionResults?: unknown }).assertionResults))
  );
}
