#!/usr/bin/env node
// The invariants gate: every row of docs/security/invariants.yaml must be witnessed by at least
// one test that ran and passed with `invariant: <id>` in its title; every id named by a test
// must be registered. Exit 0 pass, 1 coverage failure, 2 malformed input.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

const [reportPath = '.ci/out/vitest.json', registryPath = 'docs/security/invariants.yaml'] = process.argv.slice(2);
const fail = (code, msg) => {
  process.stderr.write(`invariants gate: ${msg}\n`);
  process.exit(code);
};

let rows;
try {
  rows = parse(readFileSync(registryPath, 'utf8'));
} catch (e) {
  fail(2, `cannot read ${registryPath}: ${e.message}`);
}
if (!Array.isArray(rows) || rows.length === 0) fail(2, 'registry must be a non-empty list');
const ids = new Set();
for (const [i, r] of rows.entries()) {
  const where = `row ${i + 1}`;
  if (!r || typeof r !== 'object') fail(2, `${where} is not a mapping`);
  if (typeof r.id !== 'string' || !/^[a-z0-9]+(-[a-z0-9]+)*$/.test(r.id)) fail(2, `${where}: id must be kebab-case`);
  if (ids.has(r.id)) fail(2, `${where}: duplicate id ${r.id}`);
  ids.add(r.id);
  if (!['protocol', 'host', 'advisory'].includes(r.tier)) fail(2, `${r.id}: tier must be protocol, host or advisory`);
  if (!['critical', 'high', 'medium', 'low'].includes(r.severity)) fail(2, `${r.id}: bad severity`);
  for (const k of ['statement', 'spec']) if (typeof r[k] !== 'string' || r[k].length < 8) fail(2, `${r.id}: ${k} is required`);
}

let report;
try {
  report = JSON.parse(readFileSync(reportPath, 'utf8'));
} catch (e) {
  fail(2, `cannot read test report ${reportPath}: ${e.message}`);
}
const witnessed = new Map();
const unknown = new Set();
for (const file of report.testResults ?? []) {
  for (const t of file.assertionResults ?? []) {
    const title = t.fullName ?? t.title ?? '';
    for (const m of title.matchAll(/invariant: ([a-z0-9-]+)/g)) {
      const id = m[1];
      if (!ids.has(id)) unknown.add(id);
      if (t.status === 'passed') witnessed.set(id, (witnessed.get(id) ?? 0) + 1);
    }
  }
}

let missing = 0;
process.stdout.write('invariant                                  tier      passed witnesses\n');
for (const r of rows) {
  const n = witnessed.get(r.id) ?? 0;
  const gated = r.tier !== 'advisory';
  if (gated && n === 0) missing++;
  process.stdout.write(`${r.id.padEnd(42)} ${r.tier.padEnd(9)} ${String(n).padStart(6)}${gated && n === 0 ? '  MISSING' : ''}\n`);
}
if (unknown.size > 0) fail(1, `tests name unregistered invariants: ${[...unknown].join(', ')}`);
if (missing > 0) fail(1, `${missing} invariant(s) have no passed witness`);
process.stdout.write(`invariants gate: ${rows.length} registered, all witnessed\n`);
