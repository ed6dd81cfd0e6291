/**
 * The sandbox worker: runs one JavaScript pack invocation at a time in a fresh QuickJS runtime
 * (compiled to WebAssembly, loaded once per worker so calls are warm). Pack code sees the
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
import { newQuickJSWASMModule, type QuickJSContext, type QuickJSDeferredPromise, type QuickJSHandle, type QuickJSWASMModule } from 'quickjs-emscripten';
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
 */
const PRELUDE = `
(() => {
  'use strict';
  const raw = globalThis.__weftRaw;
  delete globalThis.__weftRaw;
  const deny = raw.deny;
  const denier = (cap) => {
    const f = function () { return deny(cap); };
    Object.defineProperty(f, 'prototype', { value: Function.prototype });
    return Object.freeze(f);
  };
  const lock = (o, k, v) => Object.defineProperty(o, k, { value: v, writable: false, configurable: false, enumerable: false });
  const ctors = [function () {}, async function () {}, function* () {}, async function* () {}].map((f) => Object.getPrototypeOf(f).constructor);
  const evalDenier = denier('eval');
  for (const C of ctors) lock(C.prototype, 'constructor', evalDenier);
  lock(globalThis, 'Function', evalDenier);
  lock(globalThis, 'eval', evalDenier);
  for (const name of ['require', 'fetch', 'setTimeout', 'setInterval', 'setImmediate', 'queueMicrotask', 'XMLHttpRequest', 'WebSocket', 'importScripts', 'Worker', 'WebAssembly'])
    lock(globalThis, name, denier(name));
  const blocked = (cap) => new Proxy(Object.freeze({}), {
    get: () => deny(cap), set: () => deny(cap), has: () => deny(cap), ownKeys: () => deny(cap),
    getOwnPropertyDescriptor: () => deny(cap), defineProperty: () => deny(cap), deleteProperty: () => deny(cap),
    getPrototypeOf: () => null, apply: () => deny(cap), construct: () => deny(cap),
  });
  for (const name of ['process', 'Deno', 'Bun', 'module', 'exports', '__dirname', '__filename'])
    lock(globalThis, name, blocked(name));
  lock(globalThis, '__weftBridge', Object.freeze({ input: raw.input, done: raw.done, fail: raw.fail, http: raw.http }));
})();
`;

/** The module that calls the pack function; `ENTRY` is replaced with the entry's module name. */
const RUNNER = `
import * as pack from ENTRY;
const B = globalThis.__weftBridge;
const cut = (v, n) => (typeof v === 'string' ? v.slice(0, n) : undefined);
const describe = (e) => {
  try {
    if (e !== null && (typeof e === 'object' || typeof e === 'function')) {
      const code = e.code, message = e.message, name = e.name, retryable = e.retryable;
      return JSON.stringify({ thrown: 'object', code: cut(code, 128), message: cut(message, 2048), name: cut(name, 64), retryable: retryable === true });
    }
    return JSON.stringify({ thrown: typeof e, message: String(e).slice(0, 2048) });
  } catch {
    return JSON.stringify({ thrown: 'unknown' });
  }
};
const input = JSON.parse(B.input());
try {
  const nodes = pack.default !== undefined ? pack.default : pack;
  const fn = nodes == null ? undefined : nodes[input.typeId];
  if (typeof fn !== 'function') {
    B.fail(JSON.stringify({ thrown: 'host', code: 'pack_node_missing', message: 'The pack entry exports no function for ' + input.typeId + '.' }));
  } else {
    const http = input.http
      ? Object.freeze({
          request: async (req) => {
            const r = JSON.parse(await B.http(JSON.stringify(req === undefined ? {} : req)));
            if (r.ok) return r.response;
            const e = new Error(r.error.message);
            e.code = r.error.code;
            if (r.error.details) e.details = r.error.details;
            throw e;
          },
        })
      : undefined;
    const ctx = Object.freeze({
      typeId: input.typeId, runId: input.runId, nodeId: input.nodeId, tenantId: input.tenantId, attempt: input.attempt,
      inputs: input.inputs, config: input.config, configurable: {},
      ...(http ? { http } : {}),
      now: () => Date.now(),
    });
    const result = await fn(ctx);
    let text;
    try {
      text = JSON.stringify(result === undefined ? null : result);
    } catch (e) {
      B.fail(JSON.stringify({ thrown: 'host', code: 'sandbox_output_invalid', message: 'The node outcome is not JSON-serialisable: ' + String(cut(e && e.message, 512)) }));
    }
    if (typeof text === 'string') B.done(text);
    else if (text === undefined) B.fail(JSON.stringify({ thrown: 'host', code: 'sandbox_output_invalid', message: 'The node outcome is not JSON-serialisable.' }));
  }
} catch (e) {
  B.fail(describe(e));
}
`;

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
  if (name === 'InternalError' && message === 'interrupted') return TIMEOUT(limits, 'deadline');
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

/** One invocation in a fresh runtime; resolves with the message to post. */
async function invoke(Q: QuickJSWASMModule, msg: Extract<ToWorker, { t: 'run' }>, pack: PackSources): Promise<FromWorker> {
  const { limits, input } = msg;
  const started = Date.now();
  const deadline = started + limits.timeoutMs;
  const denied: string[] = [];
  let outcome: string | undefined;
  let report: Record<string, unknown> | undefined;
  let httpCalls = 0;
  const inv: Invocation = { id: msg.id, pending: new Map(), settled: [], results: [] };
  current = inv;
  const rt = Q.newRuntime();
  rt.setMemoryLimit(limits.memoryBytes);
  rt.setMaxStackSize(limits.stackBytes);
  rt.setInterruptHandler(() => Date.now() > deadline);
  rt.setModuleLoader(
    (name) => {
      const path = name.startsWith('pack:') ? name.slice(5) : undefined;
      const src = path === undefined ? undefined : pack.modules[path];
      if (src === undefined) {
        denied.push(`import:${name.slice(0, 128)}`);
        return { error: new Error(`Module ${name.slice(0, 128)} is not part of the pack.`) };
      }
      return src;
    },
    (base, requested) => {
      const resolved = resolveSpecifier(base, requested);
      if (resolved === undefined) {
        denied.push(`import:${requested.slice(0, 128)}`);
        return { error: new Error(`Import of ${requested.slice(0, 128)} is denied: pack code may import only its own files.`) };
      }
      return resolved;
    },
  );
  const vm = rt.newContext();
  let recycle = false;
  try {
    const raw = vm.newObject();
    const fn = (name: string, impl: (...args: QuickJSHandle[]) => QuickJSHandle | undefined): void => {
      const h = vm.newFunction(name, impl);
      vm.setProp(raw, name, h);
      h.dispose();
    };
    fn('deny', (cap) => {
      const what = vm.typeof(cap) === 'string' ? vm.getString(cap).slice(0, 64) : 'unknown';
      denied.push(what);
      const err = vm.newError({ name: 'SandboxCapabilityDenied', message: `${what} is not available in the pack sandbox.` });
      const code = vm.newString('sandbox_capability_denied');
      vm.setProp(err, 'code', code);
      code.dispose();
      throw err;
    });
    fn('input', () => vm.newString(JSON.stringify({ ...input, http: msg.http })));
    const take = (h: QuickJSHandle | undefined): string | undefined => {
      if (!h || vm.typeof(h) !== 'string') return undefined;
      const len = vm.getProp(h, 'length');
      const n = vm.getNumber(len);
      len.dispose();
      if (n > limits.maxOutputBytes) {
        report = {
          thrown: 'host',
          code: 'sandbox_output_too_large',
          message: `The node outcome is ${n} characters, over the ${limits.maxOutputBytes} limit.`,
        };
        return undefined;
      }
      return vm.getString(h);
    };
    fn('done', (s) => {
      if (outcome === undefined && report === undefined) outcome = take(s);
      return undefined;
    });
    fn('fail', (s) => {
      if (outcome === undefined && report === undefined) {
        const text = take(s);
        try {
          report = text === undefined ? { thrown: 'unknown' } : (JSON.parse(text) as Record<string, unknown>);
        } catch {
          report = { thrown: 'unknown' };
        }
      }
      return undefined;
    });
    fn('http', (reqHandle) => {
      const deferred = vm.newPromise();
      const reply = (body: unknown): void => {
        const h = vm.newString(JSON.stringify(body));
        deferred.resolve(h);
        h.dispose();
        inv.settled.push(deferred);
      };
      const call = ++httpCalls;
      let parsed: unknown;
      try {
        parsed = JSON.parse(vm.typeof(reqHandle) === 'string' ? vm.getString(reqHandle) : 'null');
      } catch {
        parsed = null;
      }
      const req = checkHttpRequest(parsed);
      if (!msg.http) {
        denied.push('host.fetch');
        reply({ ok: false, error: { code: 'sandbox_capability_denied', message: 'Outbound HTTP is not granted to this pack.' } });
      } else if (call > limits.maxHttpCalls) {
        reply({ ok: false, error: { code: 'sandbox_capability_denied', message: `At most ${limits.maxHttpCalls} HTTP calls per invocation.` } });
      } else if (typeof req === 'string') {
        reply({ ok: false, error: { code: 'validation_error', message: `ctx.http.request: ${req}` } });
      } else {
        inv.pending.set(call, deferred);
        post({ t: 'http', id: msg.id, call, request: req });
      }
      return deferred.handle;
    });
    vm.setProp(vm.global, '__weftRaw', raw);
    raw.dispose();

    const pre = vm.evalCode(PRELUDE, 'weft:prelude.js');
    if (pre.error) {
      pre.error.dispose();
      throw new Stop({ code: 'sandbox_failed', message: 'The sandbox prelude failed.' });
    }
    pre.value.dispose();
    const entry = `pack:${pack.entry.replace(/^\.\//, '')}`;
    const result = vm.evalCode(RUNNER.replace('ENTRY', JSON.stringify(entry)), 'weft:runner.js', { type: 'module' });
    if (result.error) {
      if (report === undefined && outcome === undefined) report = reportOf(vm, result.error);
      result.error.dispose();
    } else {
      const promise = result.value;
      try {
        for (;;) {
          const jobs = rt.executePendingJobs(-1);
          if (jobs.error) {
            if (report === undefined && outcome === undefined) report = reportOf(vm, jobs.error);
            jobs.error.dispose();
            break;
          }
          if (outcome !== undefined || report !== undefined) break;
          const state = vm.getPromiseState(promise);
          if (state.type === 'rejected') {
            report = reportOf(vm, state.error);
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
    if (outcome !== undefined) return { t: 'done', id: msg.id, ok: true, outcome };
    // Whatever the VM said, a failure past the deadline is the deadline's.
    if (Date.now() > deadline) throw new Stop(TIMEOUT(limits, 'deadline'));
    const failure = failureOf(
      report ?? { thrown: 'host', code: 'sandbox_output_invalid', message: 'The pack node finished without an outcome.' },
      denied,
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
    for (const d of [...inv.pending.values(), ...inv.settled]) if (d.alive) d.dispose();
    if (!recycle) {
      // A runtime that breached a limit may hold objects QuickJS cannot free cleanly; the
      // worker is thrown away instead (the host starts a new one).
      try {
        vm.dispose();
        rt.dispose();
      } catch {
        // The host recycles a worker whose runtime could not be disposed (it reports below).
        disposeFailed = true;
      }
    }
  }
}

let disposeFailed = false;

/** A trivial invocation at start, so the first real call finds the interpreter warm. */
async function warmUp(Q: QuickJSWASMModule): Promise<void> {
  const limits: InvocationLimits = { memoryBytes: 8 << 20, stackBytes: 256 << 10, timeoutMs: 1000, maxOutputBytes: 1024, maxHttpCalls: 0 };
  const input: InvocationInput = { typeId: 'warm', runId: 'warm', nodeId: 'warm', tenantId: 'warm', attempt: 1, inputs: {}, config: {} };
  const pack: PackSources = {
    key: 'weft:warm-up',
    entry: 'index.js',
    modules: { 'index.js': 'export default { warm: async (ctx) => ({ outputs: { ok: ctx.attempt } }) };' },
  };
  for (let i = 0; i < 3; i++) await invoke(Q, { t: 'run', id: -1, pack: { key: pack.key }, input, limits, http: false }, pack);
}

async function main(): Promise<void> {
  const Q = await newQuickJSWASMModule();
  await warmUp(Q);
  const queue: Extract<ToWorker, { t: 'run' }>[] = [];
  let busy = false;
  const drain = async (): Promise<void> => {
    if (busy) return;
    busy = true;
    try {
      for (let msg = queue.shift(); msg; msg = queue.shift()) {
        if (msg.pack.sources) {
          sources.set(msg.pack.key, msg.pack.sources);
          if (sources.size > SOURCE_CACHE_MAX) sources.delete(sources.keys().next().value as string);
        }
        const pack = sources.get(msg.pack.key);
        const reply: FromWorker = pack
          ? await invoke(Q, msg, pack)
          : { t: 'done', id: msg.id, ok: false, error: { code: 'sandbox_failed', message: 'The sandbox lost the pack sources.' }, recycle: true };
        if (disposeFailed && reply.t === 'done') reply.recycle = true;
        post(reply);
      }
    } finally {
      busy = false;
    }
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
  post({ t: 'ready' });
}

void main();
