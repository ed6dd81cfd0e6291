#!/usr/bin/env node
// Compares two host CPU profiles (from `bench/run.mjs --profile`) per function, in µs of self
// time per operation, largest growth first. Usage:
//   node bench/profile-diff.mjs BEFORE.cpuprofile OPS_BEFORE AFTER.cpuprofile OPS_AFTER [--top N]
// OPS_* = the operations completed while profiled (the bench's "ok" column).
import { readFileSync } from 'node:fs';

const [fa, na, fb, nb] = process.argv.slice(2);
const topAt = process.argv.indexOf('--top');
const top = topAt > 0 ? Number(process.argv[topAt + 1]) : 30;
if (!fa || !na || !fb || !nb) {
  console.error('usage: node bench/profile-diff.mjs BEFORE.cpuprofile OPS_BEFORE AFTER.cpuprofile OPS_AFTER [--top N]');
  process.exit(2);
}

/** Self time (µs) per function, keyed by name and file (anonymous functions by line too). */
function selfTimes(file) {
  const prof = JSON.parse(readFileSync(file, 'utf8'));
  const byNode = new Map();
  for (const [i, id] of prof.samples.entries()) byNode.set(id, (byNode.get(id) ?? 0) + (prof.timeDeltas[i] ?? 0));
  const out = new Map();
  for (const n of prof.nodes) {
    const f = n.callFrame;
    const where = f.url.replace(/.*\/(packages|node_modules)\//, '');
    const key = `${f.functionName || '(anonymous)'} ${where}${f.functionName ? '' : `:${f.lineNumber}`}`;
    out.set(key, (out.get(key) ?? 0) + (byNode.get(n.id) ?? 0));
  }
  return out;
}

const a = selfTimes(fa);
const b = selfTimes(fb);
const rows = [...new Set([...a.keys(), ...b.keys()])].map((k) => {
  const x = (a.get(k) ?? 0) / Number(na);
  const y = (b.get(k) ?? 0) / Number(nb);
  return { k, x, y, d: y - x };
});
rows.sort((p, q) => q.d - p.d);
console.log('µs/op before   after    diff  function');
for (const r of rows.slice(0, top))
  console.log(`${r.x.toFixed(1).padStart(13)} ${r.y.toFixed(1).padStart(7)} ${r.d.toFixed(1).padStart(7)}  ${r.k.slice(0, 120)}`);
