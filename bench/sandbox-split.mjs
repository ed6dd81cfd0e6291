#!/usr/bin/env node
// Where a sandboxed call's worker CPU goes, step by step, measured as process CPU (robust to
// other load on a shared box, unlike wall time) around each QuickJS step of a trivial call:
// new runtime, new context, bridge functions, the sandbox prelude (the real one, read from the
// built worker), a module runner importing a one-line pack module, its jobs, and disposal.
// Two modes, alternated for --rounds rounds:
//   fresh   a new runtime and context per call (what the worker does)
//   shared  one runtime per process, a new context per call (the alternative of decision 0020)
// Build first (npx tsc -b). Usage: node bench/sandbox-split.mjs [--calls 2000] [--rounds 3]
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { newQuickJSWASMModule } from 'quickjs-emscripten';

const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const calls = arg('calls', 2000);
const rounds = arg('rounds', 3);

const worker = readFileSync(new URL('../packages/sandbox/dist/js-worker.js', import.meta.url), 'utf8');
const m = /const PRELUDE = `([\s\S]*?)`;/.exec(worker);
if (!m) throw new Error('PRELUDE not found in packages/sandbox/dist/js-worker.js (build first)');
const PRELUDE = m[1];
const PACK = "export default { e: async (ctx) => ({ status: 'success', outputs: { v: ctx.inputs.v } }) };\n";
const RUNNER =
  "import * as p from 'pack:index.js'; const B = globalThis.__weftBridge, i = JSON.parse(B.input()); B.done(JSON.stringify(await p.default[i.typeId](Object.freeze({ inputs: i.inputs }))));";

const cpu = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};
const STEPS = ['runtime', 'context', 'bridge', 'prelude', 'runner', 'jobs', 'disposeContext', 'disposeRuntime'];

const Q = await newQuickJSWASMModule();
const loaderOf = (rt) =>
  rt.setModuleLoader(
    () => PACK,
    (_base, name) => name,
  );

function call(t, shared) {
  let a = cpu();
  const step = (name) => {
    const b = cpu();
    t[name] += b - a;
    a = b;
  };
  const rt = shared ?? Q.newRuntime();
  if (!shared) loaderOf(rt);
  rt.setInterruptHandler(() => false);
  rt.setMemoryLimit(64 << 20);
  step('runtime');
  const vm = rt.newContext();
  step('context');
  let out;
  const raw = vm.newObject();
  const fns = {
    deny: () => undefined,
    input: () => vm.newString('{"typeId":"e","inputs":{"v":1}}'),
    done: (h) => {
      out = vm.getString(h);
    },
    fail: () => undefined,
    missing: () => undefined,
    invalid: () => undefined,
    http: () => undefined,
  };
  for (const [n, f] of Object.entries(fns)) {
    const h = vm.newFunction(n, f);
    vm.setProp(raw, n, h);
    h.dispose();
  }
  vm.setProp(vm.global, '__weftRaw', raw);
  raw.dispose();
  step('bridge');
  vm.unwrapResult(vm.evalCode(PRELUDE, 'weft:prelude.js')).dispose();
  step('prelude');
  const promise = vm.unwrapResult(vm.evalCode(RUNNER, 'weft:runner.js', { type: 'module' }));
  step('runner');
  vm.unwrapResult(rt.executePendingJobs(-1));
  promise.dispose();
  if (out !== '{"status":"success","outputs":{"v":1}}') throw new Error(`unexpected outcome ${out}`);
  step('jobs');
  vm.dispose();
  step('disposeContext');
  if (!shared) rt.dispose();
  step('disposeRuntime');
}

const results = { fresh: [], shared: [] };
for (let r = 0; r < rounds; r++) {
  for (const mode of ['fresh', 'shared']) {
    const shared = mode === 'shared' ? Q.newRuntime() : undefined;
    if (shared) loaderOf(shared);
    const t = Object.fromEntries(STEPS.map((s) => [s, 0]));
    for (let i = 0; i < 300; i++) call(t, shared);
    for (const s of STEPS) t[s] = 0;
    for (let i = 0; i < calls; i++) call(t, shared);
    shared?.dispose();
    const row = Object.fromEntries(STEPS.map((s) => [s, Math.round(t[s] / calls)]));
    row.total = STEPS.reduce((n, s) => n + row[s], 0);
    results[mode].push(row);
  }
}
console.log(JSON.stringify({ calls, rounds, unit: 'µs CPU per call', ...results, loadAverage1m: loadavg()[0].toFixed(2) }, null, 1));
