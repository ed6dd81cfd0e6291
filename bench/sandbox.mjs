#!/usr/bin/env node
// Per-call overhead of a trivial JavaScript pack node in the sandbox (warm pool), against the
// same body called in-process. Build first (npx tsc -b). Usage:
//   node bench/sandbox.mjs [--calls 5000] [--workers 2] [--concurrency 8]
import { JsPackRuntime } from '../packages/sandbox/dist/index.js';

const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const calls = arg('calls', 5000);
const workers = arg('workers', 2);
const concurrency = arg('concurrency', 8);

const body = "export default { 'vendor.bench.echo': async (ctx) => ({ status: 'success', outputs: { v: ctx.inputs.v } }) };\n";
const pack = {
  name: 'vendor.bench.tools',
  version: '1.0.0',
  integrity: 'sha256-bench',
  manifest: {
    name: 'vendor.bench.tools',
    version: '1.0.0',
    runtime: { language: 'javascript', entry: 'dist/index.js' },
    nodes: [{ typeId: 'vendor.bench.echo' }],
  },
  files: new Map([['dist/index.js', Buffer.from(body)]]),
};
const ctx = (v) => ({
  runId: 'run_b',
  nodeId: 'n',
  typeId: 'vendor.bench.echo',
  tenant: 't',
  attempt: 1,
  config: {},
  inputs: { v },
  signal: new AbortController().signal,
});

const runtime = new JsPackRuntime({ settings: { workers } });
await runtime.pool.warm();
for (let i = 0; i < 500; i++) await runtime.execute(pack, 'vendor.bench.echo', ctx(i));

const pct = (xs, p) => xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];
const lat = [];
for (let i = 0; i < calls; i++) {
  const t = performance.now();
  await runtime.execute(pack, 'vendor.bench.echo', ctx(i));
  lat.push(performance.now() - t);
}
lat.sort((a, b) => a - b);

const mod = await import(`data:text/javascript,${encodeURIComponent(body)}`);
const base = [];
for (let i = 0; i < calls; i++) {
  const t = performance.now();
  await mod.default['vendor.bench.echo'](ctx(i));
  base.push(performance.now() - t);
}
base.sort((a, b) => a - b);

let next = 0;
// CPU of the whole process (host thread and workers): what a saturated box runs out of.
const cpu0 = process.cpuUsage();
const t0 = performance.now();
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (next < calls) {
      next++;
      await runtime.execute(pack, 'vendor.bench.echo', ctx(next));
    }
  }),
);
const perSec = calls / ((performance.now() - t0) / 1000);
const cpu = process.cpuUsage(cpu0);
const cpuMsPerCall = (cpu.user + cpu.system) / 1000 / calls;
await runtime.close();

const f = (x) => x.toFixed(3);
console.log(
  JSON.stringify({
    calls,
    workers,
    concurrency,
    sandboxMs: { p50: f(pct(lat, 50)), p90: f(pct(lat, 90)), p99: f(pct(lat, 99)) },
    inProcessMs: { p50: f(pct(base, 50)), p99: f(pct(base, 99)) },
    concurrentCallsPerSec: Math.round(perSec),
    concurrentCpuMsPerCall: f(cpuMsPerCall),
    loadAverage1m: (await import('node:os')).loadavg()[0].toFixed(2),
  }),
);
