/**
 * The sandbox worker: runs one JavaScript pack invocation at a time in a fresh QuickJS runtime
 * and context (QuickJS compiled to WebAssembly, loaded once per worker so calls are warm; the
 * next call's runtime and context are prepared while the worker is idle, and each serves exactly
 * one call). Pack code sees the
 * standard ECMAScript built-ins and a `ctx` built from plain data; it has no `require`, no
 * `process`, no `fetch`, no timers, no file system and no host object. `eval`, the `Function`
 * constructors, `require`, `process`, `fetch`, timers and imports outside the pack are replaced
 * by functions that record the attempt and throw, so the node fails with
 * `sandbox_capability_denied`. The heap and stack are capped (`sandbox_memory_exceeded`), the
 * interpreter is interrupted at the deadline (`sandbox_timeout`), and the outcome is serialised
 * inside the VM and size-checked before it leaves. The only way out is the `http` bridge, when
 * granted: a message to the host thread, which sends it through the host's guarded Outbound.
 *
 * @see ../../../docs/packs.md#runtimes-and-limits
 */
import { parentPort } from 'node:worker_threads';
import {
  newQuickJSWASMModule,
  type QuickJSContext,
  type QuickJSDeferredPromise,
  type QuickJSHandle,
  type QuickJSRuntime,
  type QuickJSWASMModule,
} from 'quickjs-emscripten';
import type { BridgeHttpRequest, FromWorker, InvocationInput, InvocationLimits, PackSources, SandboxFailure, ToWorker } from './protocol.js';

if (!parentPort) throw new Error('js-worker runs in a worker thread');
const port = parentPort;

/** Pack sources this worker has seen, by integrity (bounded; the host resends evicted ones). */
const SOURCE_CACHE_MAX = 32;
const sources = new Map<string, PackSources>();

const post = (m: FromWorker): void => port.postMessage(m);

/**
 * Runs before any pack code, in the same context: takes the bridge off the global object into
 * a frozen, non-writable `__weftBridge`, and replaces every ambient way out or code-from-string
 * door with a function that records the attempt (through the host) and throws.
 *
 * It is parsed again for every call (a fresh context cannot reuse bytecode), and QuickJS's
 * parser costs about 0.1 µs per character, so it is written tersely: `L` locks a property
 * (non-writable, non-configurable, non-enumerable), `D(cap)` is a denying function, `X(cap)` a
 * denying object. docs/performance.md has the measurements.
 */
const PRELUDE = `(() => {
'use strict';
const G = globalThis, r = G.__weftRaw, d = r.deny, P = Object.defineProperty, F = Object.freeze;
delete G.__weftRaw;
const L = (o, k, v) => P(o, k, { value: v, writable: false, configurable: false, enumerable: false });
const D = (c) => { const f = function () { return d(c); }; P(f, 'prototype', { value: Function.prototype }); return F(f); };
const E = D('eval');
for (const f of [function () {}, async function () {}, function* () {}, async function* () {}]) L(Object.getPrototypeOf(f).constructor.prototype, 'constructor', E);
L(G, 'Function', E);
L(G, 'eval', E);
for (const n of 'require fetch setTimeout setInterval setImmediate queueMicrotask XMLHttpRequest WebSocket importScripts Worker WebAssembly'.split(' ')) L(G, n, D(n));
const X = (c) => { const x = () => d(c); return new Proxy(F({}), { get: x, set: x, has: x, ownKeys: x, getOwnPropertyDescriptor: x, defineProperty: x, deleteProperty: x, getPrototypeOf: () => null, apply: x, construct: x }); };
for (const n of 'process Deno Bun module exports __dirname __filename'.split(' ')) L(G, n, X(n));
L(G, '__weftBridge', F({ input: r.input, done: r.done, fail: r.fail, missing: r.missing, invalid: r.invalid, http: r.http }));
})();`;

/**
 * The module that calls the pack function: `ENTRY` is replaced with the entry's module name,
 * the HTTP placeholder comment with {@link HTTP_CTX} when the pack may use `ctx.http` (and with
 * nothing otherwise, so most calls parse less). It is parsed again on every call, so it holds
 * only the happy path and the catch: a missing function and a non-serialisable outcome are
 * reported through `missing()` / `invalid(detail)`, whose codes and messages the host writes, and
 * a throw as JSON `{thrown, code?, message?, name?, retryable?}` through `fail`, read by
 * {@link failureOf} as the pack's own failure (never as a host code: pack code can call the
 * bridge too). A throw out of the catch itself rejects the module, and the host reads the error.
 */
const RUNNER = `import * as p from ENTRY;
const B = globalThis.__weftBridge, S = JSON.stringify, c = (v, n) => (typeof v === 'string' ? v.slice(0, n) : undefined);
const i = JSON.parse(B.input()), m = p.default !== undefined ? p.default : p, f = m == null ? undefined : m[i.typeId];
if (typeof f !== 'function') B.missing();
else try {
  const x = { typeId: i.typeId, runId: i.runId, nodeId: i.nodeId, tenantId: i.tenantId, attempt: i.attempt, inputs: i.inputs, config: i.config, configurable: {}, now: () => Date.now() };
  /*HTTP*/
  const r = await f(Object.freeze(x));
  let t;
  try { t = S(r === undefined ? null : r); } catch (e) { B.invalid(c(e && e.message, 512)); }
  typeof t === 'string' ? B.done(t) : B.invalid();
} catch (e) {
  B.fail(e !== null && (typeof e === 'object' || typeof e === 'function')
    ? S({ thrown: 'object', code: c(e.code, 128), message: c(e.message, 2048), name: c(e.name, 64), retryable: e.retryable === true })
    : S({ thrown: typeof e, message: String(e).slice(0, 2048) }));
}`;

/** `ctx.http` for a pack granted `net.outbound`: a bridged call, its failure rethrown with the host's code. */
const HTTP_CTX = `x.http = Object.freeze({ request: async (q) => {
      const r = JSON.parse(await B.http(S(q === undefined ? {} : q)));
      if (r.ok) return r.response;
      const e = new Error(r.error.message);
      e.code = r.error.code;
      if (r.error.details) e.details = r.error.details;
      throw e;
    } });`;

/** The runner source for `entry` (memoised: the same few entries come back on every call). */
const runners = new Map<string, string>();
function runnerFor(entry: string, http: boolean): string {
  const key = `${http ? 'h' : '-'}${entry}`;
  let src = runners.get(key);
  if (src === undefined) {
    // Functions as replacements: no `$` pattern in a path is interpreted, and the entry is substituted last.
    src = RUNNER.replace('/*HTTP*/', () => (http ? HTTP_CTX : '')).replace('ENTRY', () => JSON.stringify(entry));
    if (runners.size >= 64) runners.clear();
    runners.set(key, src);
  }
  return src;
}

/** The archive path a module specifier names, relative to `base` (`pack:<path>` names). */
function resolveSpecifier(base: string, spec: string): string | undefined {
  if (spec.startsWith('pack:')) return spec;
  if (!spec.startsWith('./') && !spec.startsWith('../')) return undefined;
  const from = base.startsWith('pack:') ? base.slice(5).split('/').slice(0, -1) : [];
  for (const part of spec.split('/')) {
    if (part === '.' || part === '') continue;
    if (part === '..') {
      if (from.length === 0) return undefined;
      from.pop();
    } else from.push(part);
  }
  return `pack:${from.join('/')}`;
}

/** Thrown out of the run loop when the invocation must end now. */
class Stop {
  constructor(readonly failure: SandboxFailure) {}
}

const TIMEOUT = (limits: InvocationLimits, reason: string): SandboxFailure => ({
  code: 'sandbox_timeout',
  message: `The pack node exceeded its ${limits.timeoutMs} ms limit.`,
  details: { limitMs: limits.timeoutMs, reason },
});

interface Invocation {
  id: number;
  pending: Map<number, QuickJSDeferredPromise>;
  /** Promises answered at once (denied or invalid calls), disposed with the invocation. */
  settled: QuickJSDeferredPromise[];
  results: Array<{ call: number; text: string }>;
  wake?: () => void;
}

let current: Invocation | undefined;

/** Maps a failure report from the runner (or the VM) to the node's failure. */
function failureOf(report: Record<string, unknown>, denied: string[], limits: InvocationLimits): SandboxFailure {
  const name = typeof report.name === 'string' ? report.name : '';
  const message = typeof report.message === 'string' ? report.message : '';
  if (name === 'InternalError' && message === 'out of memory')
    return {
      code: 'sandbox_memory_exceeded',
      message: `The pack node exceeded its ${limits.memoryBytes}-byte memory limit.`,
      details: { limitBytes: limits.memoryBytes, kind: 'heap' },
    };
  if (name === 'InternalError' && message === 'stack overflow')
    return {
      code: 'sandbox_memory_exceeded',
      message: `The pack node exceeded its ${limits.stackBytes}-byte stack limit.`,
      details: { limitBytes: limits.stackBytes, kind: 'stack' },
    };
  // No `interrupted` case: a real interrupt happens only past the deadline, which the caller
  // checks first, so an `InternalError('interrupted')` seen here is one pack code made.
  if (denied.length > 0)
    return {
      code: 'sandbox_capability_denied',
      message: `The pack node used ${denied[0]}, which the sandbox does not grant.`,
      details: { requestedCapability: denied[0] },
    };
  if (report.thrown === 'host' && typeof report.code === 'string') return { code: report.code, message };
  const code =
    typeof report.code === 'string' && /^[a-z][a-z0-9_.-]{0,63}$/.test(report.code) && !report.code.startsWith('sandbox_') ? report.code : 'pack_node_failed';
  const failure: SandboxFailure = {
    code,
    message: message || (report.thrown === 'object' ? 'The pack node threw.' : `The pack node threw a ${String(report.thrown)}.`),
  };
  if (code === 'pack_node_failed')
    failure.details = { thrown: String(report.thrown ?? 'unknown'), ...(typeof report.code === 'string' ? { packCode: report.code.slice(0, 64) } : {}) };
  if (report.retryable === true) failure.retryable = true;
  return failure;
}

/** Reads a failure report JSON (or a dumped VM error) into a record. */
function reportOf(vm: QuickJSContext, handle: QuickJSHandle): Record<string, unknown> {
  try {
    const d = vm.dump(handle) as unknown;
    if (d && typeof d === 'object') {
      const o = d as Record<string, unknown>;
      return { thrown: 'object', name: o.name, message: typeof o.message === 'string' ? o.message.slice(0, 2048) : undefined, code: o.code };
    }
    // A dump that could not serialise the error (out of memory, interrupted) is its `toString()`.
    const text = String(d);
    const internal = /^InternalError: (out of memory|stack overflow|interrupted)$/.exec(text);
    if (internal) return { thrown: 'object', name: 'InternalError', message: internal[1] };
    return { thrown: typeof d, message: text.slice(0, 2048) };
  } catch {
    return { thrown: 'unknown' };
  }
}

function checkHttpRequest(raw: unknown): BridgeHttpRequest | string {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return 'ctx.http.request needs {method?, url, headers?, body?, timeoutMs?}';
  const r = raw as Record<string, unknown>;
  if (typeof r.url !== 'string' || r.url.length === 0 || r.url.length > 8192) return 'url must be a string of at most 8192 characters';
  const method = r.method === undefined ? (r.body === undefined ? 'GET' : 'POST') : r.method;
  if (typeof method !== 'string') return 'method must be a string';
  const headers: Record<string, string> = {};
  if (r.headers !== undefined) {
    if (!r.headers || typeof r.headers !== 'object' || Array.isArray(r.headers)) return 'headers must be an object of strings';
    for (const [k, v] of Object.entries(r.headers as Record<string, unknown>)) {
      if (typeof v !== 'string') return `header ${k.slice(0, 64)} must be a string`;
      headers[k.toLowerCase()] = v;
    }
  }
  const req: BridgeHttpRequest = { method: method.toUpperCase(), url: r.url, headers };
  if (r.body !== undefined) {
    if (typeof r.body !== 'string') return 'body must be a string (JSON.stringify it)';
    if (r.body.length > 1_048_576) return 'body must be at most 1 MiB';
    req.body = r.body;
  }
  if (r.timeoutMs !== undefined) {
    if (typeof r.timeoutMs !== 'number' || !Number.isInteger(r.timeoutMs) || r.timeoutMs < 1) return 'timeoutMs must be a positive integer';
    req.timeoutMs = r.timeoutMs;
  }
  return req;
}

/** What one call's bridge functions, module loader and interrupt handler read while it runs. */
interface Call {
  msg: Extract<ToWorker, { t: 'run' }>;
  pack: PackSources;
  deadline: number;
  denied: string[];
  outcome?: string;
  report?: Record<string, unknown>;
  httpCalls: number;
  inv: Invocation;
}

/**
 * A QuickJS runtime and context created and preluded ahead of a call, so a call does not wait
 * for them (they are made while the worker would otherwise be idle). It has run no pack code:
 * `slot.call` is set once, for the one call that uses it, and the pair is disposed after that
 * call — never reused — so every invocation still gets a fresh runtime and context.
 */
interface Fresh {
  rt: QuickJSRuntime;
  vm: QuickJSContext;
  slot: { call?: Call; used: boolean };
}

/** A new runtime and context with the bridge installed and the prelude run (no call yet). */
function prepare(Q: QuickJSWASMModule): Fresh {
  const slot: Fresh['slot'] = { used: false };
  const rt = Q.newRuntime();
  // Before a call claims it, only the prelude (host code) runs here; then the call's deadline applies.
  rt.setInterruptHandler(() => slot.call !== undefined && Date.now() > slot.call.deadline);
  rt.setModuleLoader(
    (name) => {
      const c = slot.call;
      const path = name.startsWith('pack:') ? name.slice(5) : undefined;
      const src = path === undefined || !c ? undefined : c.pack.modules[path];
      if (src === undefined) {
        c?.denied.push(`import:${name.slice(0, 128)}`);
        return { error: new Error(`Module ${name.slice(0, 128)} is not part of the pack.`) };
      }
      return src;
    },
    (base, requested) => {
      const resolved = resolveSpecifier(base, requested);
      if (resolved === undefined) {
        slot.call?.denied.push(`import:${requested.slice(0, 128)}`);
        return { error: new Error(`Import of ${requested.slice(0, 128)} is denied: pack code may import only its own files.`) };
      }
      return resolved;
    },
  );
  const vm = rt.newContext();
  try {
    const raw = vm.newObject();
    const fn = (name: string, impl: (...args: QuickJSHandle[]) => QuickJSHandle | undefined): void => {
      const h = vm.newFunction(name, impl);
      vm.setProp(raw, name, h);
      h.dispose();
    };
    fn('deny', (cap) => {
      const what = vm.typeof(cap) === 'string' ? vm.getString(cap).slice(0, 64) : 'unknown';
      slot.call?.denied.push(what);
      const err = vm.newError({ name: 'SandboxCapabilityDenied', message: `${what} is not available in the pack sandbox.` });
      const code = vm.newString('sandbox_capability_denied');
      vm.setProp(err, 'code', code);
      code.dispose();
      throw err;
    });
    fn('input', () => (slot.call ? vm.newString(JSON.stringify(slot.call.msg.input)) : undefined));
    const take = (c: Call, h: QuickJSHandle | undefined): string | undefined => {
      if (!h || vm.typeof(h) !== 'string') return undefined;
      const len = vm.getProp(h, 'length');
      const n = vm.getNumber(len);
      len.dispose();
      const max = c.msg.limits.maxOutputBytes;
      if (n > max) {
        c.report = { thrown: 'host', code: 'sandbox_output_too_large', message: `The node outcome is ${n} characters, over the ${max} limit.` };
        return undefined;
      }
      return vm.getString(h);
    };
    fn('done', (s) => {
      const c = slot.call;
      if (c && c.outcome === undefined && c.report === undefined) c.outcome = take(c, s);
      return undefined;
    });
    fn('fail', (s) => {
      const c = slot.call;
      if (c && c.outcome === undefined && c.report === undefined) {
        const text = take(c, s);
        let r: unknown;
        try {
          r = text === undefined ? undefined : JSON.parse(text);
        } catch {
          r = undefined;
        }
        // Only the host writes host codes: a report claiming to be the host's is the pack's own.
        if (c.report !== undefined) return undefined;
        if (!r || typeof r !== 'object' || Array.isArray(r)) c.report = { thrown: 'unknown' };
        else {
          const o = r as Record<string, unknown>;
          c.report = { ...o, thrown: o.thrown === 'host' ? 'object' : o.thrown };
        }
      }
      return undefined;
    });
    // The runner's two host-worded failures (pack code may call them too: they only describe its own fault).
    fn('missing', () => {
      const c = slot.call;
      if (c && c.outcome === undefined && c.report === undefined)
        c.report = { thrown: 'host', code: 'pack_node_missing', message: `The pack entry exports no function for ${c.msg.input.typeId}.` };
      return undefined;
    });
    fn('invalid', (detail) => {
      const c = slot.call;
      if (c && c.outcome === undefined && c.report === undefined) {
        let d: string | undefined;
        if (detail && vm.typeof(detail) === 'string') {
          const len = vm.getProp(detail, 'length');
          if (vm.getNumber(len) <= 512) d = vm.getString(detail);
          len.dispose();
        }
        c.report = { thrown: 'host', code: 'sandbox_output_invalid', message: `The node outcome is not JSON-serialisable${d === undefined ? '.' : `: ${d}`}` };
      }
      return undefined;
    });
    fn('http', (reqHandle) => {
      const deferred = vm.newPromise();
      const c = slot.call;
      const reply = (body: unknown): void => {
        const h = vm.newString(JSON.stringify(body));
        deferred.resolve(h);
        h.dispose();
        c?.inv.settled.push(deferred);
      };
      if (!c) {
        // No call (cannot happen: pack code runs only within one); answered, then disposed with the runtime.
        reply({ ok: false, error: { code: 'sandbox_capability_denied', message: 'No call is running.' } });
        return deferred.handle;
      }
      const call = ++c.httpCalls;
      let parsed: unknown;
      try {
        parsed = JSON.parse(vm.typeof(reqHandle) === 'string' ? vm.getString(reqHandle) : 'null');
      } catch {
        parsed = null;
      }
      const req = checkHttpRequest(parsed);
      const { limits } = c.msg;
      if (!c.msg.http) {
        c.denied.push('host.fetch');
        reply({ ok: false, error: { code: 'sandbox_capability_denied', message: 'Outbound HTTP is not granted to this pack.' } });
      } else if (call > limits.maxHttpCalls) {
        reply({ ok: false, error: { code: 'sandbox_capability_denied', message: `At most ${limits.maxHttpCalls} HTTP calls per invocation.` } });
      } else if (typeof req === 'string') {
        reply({ ok: false, error: { code: 'validation_error', message: `ctx.http.request: ${req}` } });
      } else {
        c.inv.pending.set(call, deferred);
        post({ t: 'http', id: c.msg.id, call, request: req });
      }
      return deferred.handle;
    });
    vm.setProp(vm.global, '__weftRaw', raw);
    raw.dispose();
    const pre = vm.evalCode(PRELUDE, 'weft:prelude.js');
    if (pre.error) {
      pre.error.dispose();
      throw new Error('The sandbox prelude failed.');
    }
    pre.value.dispose();
  } catch (e) {
    vm.dispose();
    rt.dispose();
    throw e;
  }
  return { rt, vm, slot };
}

/** Disposes a used (or unused) runtime and context; false when QuickJS could not free them cleanly. */
function dispose(f: Fresh): boolean {
  try {
    f.vm.dispose();
    f.rt.dispose();
    return true;
  } catch {
    return false;
  }
}

/**
 * One invocation in `fresh` (a runtime and context no call has used); resolves with the message
 * to post. `recycle` on the reply means the runtime breached a limit or failed and must not be
 * disposed or touched again: the host replaces the whole worker.
 */
async function invoke(fresh: Fresh, msg: Extract<ToWorker, { t: 'run' }>, pack: PackSources): Promise<FromWorker> {
  const { limits } = msg;
  const { rt, vm, slot } = fresh;
  if (slot.used) throw new Error('a sandbox context is never used twice');
  slot.used = true;
  const deadline = Date.now() + limits.timeoutMs;
  const inv: Invocation = { id: msg.id, pending: new Map(), settled: [], results: [] };
  const c: Call = { msg, pack, deadline, denied: [], httpCalls: 0, inv };
  current = inv;
  rt.setMemoryLimit(limits.memoryBytes);
  rt.setMaxStackSize(limits.stackBytes);
  slot.call = c;
  let recycle = false;
  try {
    const entry = `pack:${pack.entry.replace(/^\.\//, '')}`;
    const result = vm.evalCode(runnerFor(entry, msg.http), 'weft:runner.js', { type: 'module' });
    if (result.error) {
      if (c.report === undefined && c.outcome === undefined) c.report = reportOf(vm, result.error);
      result.error.dispose();
    } else {
      const promise = result.value;
      try {
        for (;;) {
          const jobs = rt.executePendingJobs(-1);
          if (jobs.error) {
            if (c.report === undefined && c.outcome === undefined) c.report = reportOf(vm, jobs.error);
            jobs.error.dispose();
            break;
          }
          if (c.outcome !== undefined || c.report !== undefined) break;
          const state = vm.getPromiseState(promise);
          if (state.type === 'rejected') {
            c.report = reportOf(vm, state.error);
            state.error.dispose();
            break;
          }
          if (state.type === 'fulfilled') {
            if (!state.notAPromise) state.value.dispose();
            break;
          }
          if (inv.pending.size === 0) throw new Stop(TIMEOUT(limits, 'never-settles'));
          // Wait for a bridged call (or the deadline); nothing in the VM can run meanwhile.
          if (inv.results.length === 0) {
            const left = deadline - Date.now();
            if (left <= 0) throw new Stop(TIMEOUT(limits, 'deadline'));
            let timer: NodeJS.Timeout | undefined;
            await new Promise<void>((resolve) => {
              inv.wake = resolve;
              timer = setTimeout(resolve, left);
            });
            clearTimeout(timer);
            inv.wake = undefined;
          }
          if (inv.results.length === 0) throw new Stop(TIMEOUT(limits, 'deadline'));
          for (const r of inv.results.splice(0)) {
            const d = inv.pending.get(r.call);
            if (!d) continue;
            inv.pending.delete(r.call);
            const h = vm.newString(r.text);
            d.resolve(h);
            h.dispose();
            d.dispose();
          }
        }
      } finally {
        promise.dispose();
      }
    }
    if (c.outcome !== undefined) return { t: 'done', id: msg.id, ok: true, outcome: c.outcome };
    // Whatever the VM said, a failure past the deadline is the deadline's.
    if (Date.now() > deadline) throw new Stop(TIMEOUT(limits, 'deadline'));
    const failure = failureOf(
      c.report ?? { thrown: 'host', code: 'sandbox_output_invalid', message: 'The pack node finished without an outcome.' },
      c.denied,
      limits,
    );
    recycle = failure.code === 'sandbox_timeout' || failure.code === 'sandbox_memory_exceeded';
    return { t: 'done', id: msg.id, ok: false, error: failure, recycle };
  } catch (e) {
    recycle = true;
    if (e instanceof Stop) return { t: 'done', id: msg.id, ok: false, error: e.failure, recycle };
    // Native recursion inside the interpreter (JSON.stringify through toJSON, deep regexps) can
    // exhaust the worker's own stack before QuickJS's limit sees it; the interpreter is then
    // unusable, and the worker is replaced.
    if (e instanceof RangeError && /call stack/i.test(e.message))
      return {
        t: 'done',
        id: msg.id,
        ok: false,
        error: {
          code: 'sandbox_memory_exceeded',
          message: 'The pack node exhausted the sandbox stack.',
          details: { limitBytes: limits.stackBytes, kind: 'stack' },
        },
        recycle,
      };
    if (Date.now() > deadline) return { t: 'done', id: msg.id, ok: false, error: TIMEOUT(limits, 'deadline'), recycle };
    return { t: 'done', id: msg.id, ok: false, error: { code: 'sandbox_failed', message: 'The sandbox failed.' }, recycle };
  } finally {
    current = undefined;
    slot.call = undefined;
    for (const d of [...inv.pending.values(), ...inv.settled]) if (d.alive) d.dispose();
  }
}

/** A trivial invocation at start, so the first real call finds the interpreter warm. */
async function warmUp(Q: QuickJSWASMModule): Promise<void> {
  const limits: InvocationLimits = { memoryBytes: 8 << 20, stackBytes: 256 << 10, timeoutMs: 1000, maxOutputBytes: 1024, maxHttpCalls: 0 };
  const input: InvocationInput = { typeId: 'warm', runId: 'warm', nodeId: 'warm', tenantId: 'warm', attempt: 1, inputs: {}, config: {} };
  const pack: PackSources = {
    key: 'weft:warm-up',
    entry: 'index.js',
    modules: { 'index.js': 'export default { warm: async (ctx) => ({ outputs: { ok: ctx.attempt } }) };' },
  };
  for (let i = 0; i < 3; i++) {
    const f = prepare(Q);
    await invoke(f, { t: 'run', id: -1, pack: { key: pack.key }, input, limits, http: false }, pack);
    dispose(f);
  }
}

async function main(): Promise<void> {
  const Q = await newQuickJSWASMModule();
  await warmUp(Q);
  const queue: Extract<ToWorker, { t: 'run' }>[] = [];
  let busy = false;
  /** Set once this worker must serve no more calls (a breach, or QuickJS could not clean up). */
  let stopped = false;
  /** The next call's runtime and context, prepared while idle. */
  let spare: Fresh | undefined;
  const stop = (): void => {
    stopped = true;
    // The host sees the exit and starts a fresh worker in this one's place.
    setImmediate(() => process.exit(1));
  };
  const prepareSpare = (): void => {
    if (spare || busy || stopped || queue.length > 0) return;
    try {
      spare = prepare(Q);
    } catch {
      stop();
    }
  };
  const drain = async (): Promise<void> => {
    if (busy) return;
    busy = true;
    try {
      for (let msg = queue.shift(); msg; msg = queue.shift()) {
        if (stopped) {
          post({ t: 'done', id: msg.id, ok: false, error: { code: 'sandbox_failed', message: 'The sandbox worker is being replaced.' }, recycle: true });
          continue;
        }
        if (msg.pack.sources) {
          sources.set(msg.pack.key, msg.pack.sources);
          if (sources.size > SOURCE_CACHE_MAX) sources.delete(sources.keys().next().value as string);
        }
        const pack = sources.get(msg.pack.key);
        if (!pack) {
          post({ t: 'done', id: msg.id, ok: false, error: { code: 'sandbox_failed', message: 'The sandbox lost the pack sources.' }, recycle: true });
          stopped = true;
          continue;
        }
        let fresh = spare;
        spare = undefined;
        try {
          fresh ??= prepare(Q);
        } catch {
          post({ t: 'done', id: msg.id, ok: false, error: { code: 'sandbox_failed', message: 'The sandbox could not start a context.' }, recycle: true });
          stopped = true;
          continue;
        }
        const reply = await invoke(fresh, msg, pack);
        // The reply goes first; cleaning up and preparing the next context happen after it.
        post(reply);
        // A runtime that breached a limit may hold objects QuickJS cannot free cleanly; the
        // worker is thrown away instead (the host starts a new one).
        if (reply.t === 'done' && reply.recycle) stopped = true;
        else if (!dispose(fresh)) stop();
      }
    } finally {
      busy = false;
    }
    if (stopped) return;
    // Made while the worker would be idle; a call arriving first prepares its own.
    setImmediate(prepareSpare);
  };
  port.on('message', (m: ToWorker) => {
    if (m.t === 'run') {
      queue.push(m);
      void drain();
    } else if (m.t === 'http-result' && current && current.id === m.id) {
      current.results.push({ call: m.call, text: JSON.stringify(m.ok ? { ok: true, response: m.response } : { ok: false, error: m.error }) });
      current.wake?.();
    }
  });
  prepareSpare();
  post({ t: 'ready' });
}

void main();
