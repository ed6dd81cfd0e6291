/**
 * The JavaScript pack sandbox, exercised through its PackRuntime with hostile pack code: every
 * ambient way out is denied with `sandbox_capability_denied`, resource breaches fail with their
 * codes and recycle the worker, outcomes are validated, and the pool keeps serving afterwards.
 */
import { NodeError, type NodeContext, type Outbound } from '@weft/engine';
import { Keychain, loadPack, type LoadedPack } from '@weft/packs';
import { testManifest, testPackFiles, writePackDir } from '@weft/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JsPackRuntime, resultOf } from './js-runtime.js';

let runtime: JsPackRuntime;

beforeAll(async () => {
  runtime = new JsPackRuntime({ settings: { workers: 2, memoryBytes: 16 * 1024 * 1024, timeoutMs: 1000, maxOutputBytes: 64 * 1024 }, grantHttp: true });
  await runtime.pool.warm();
});
afterAll(() => runtime.close());

/** A pack whose `vendor.acme.run` body is `body` (the function's source text), plus extra files. */
async function packOf(body: string, opts: { extra?: Record<string, string>; requires?: string[]; entry?: string } = {}): Promise<LoadedPack> {
  const manifest = testManifest('vendor.acme.tools', { types: ['run'] });
  if (opts.requires) (manifest.runtime as Record<string, unknown>).requires = opts.requires;
  const files = testPackFiles(manifest, undefined, {
    'dist/index.js': `${opts.entry ?? ''}\nexport default { 'vendor.acme.run': ${body} };\n`,
    ...opts.extra,
  });
  const dir = await writePackDir(files);
  return loadPack({ kind: 'directory', path: dir }, { mode: 'open', keychain: new Keychain(), granted: ['clock', 'crypto', 'net.outbound'] });
}

function ctxOf(over: Partial<NodeContext> = {}): NodeContext {
  return {
    runId: 'run_1',
    nodeId: 'n1',
    typeId: 'vendor.acme.run',
    tenant: 't1',
    attempt: 1,
    config: { greeting: 'hi' },
    inputs: { name: 'Ada' },
    startedAt: 0,
    signal: new AbortController().signal,
    now: () => Date.now(),
    interrupt: () => undefined,
    variables: {},
    children: { current: () => undefined, start: async () => 'x', get: async () => undefined },
    ...over,
  } as NodeContext;
}

async function failure(body: string, opts: Parameters<typeof packOf>[1] = {}, ctx?: Partial<NodeContext>): Promise<NodeError> {
  try {
    const r = await runtime.execute(await packOf(body, opts), 'vendor.acme.run', ctxOf(ctx));
    throw new Error(`expected a failure, got ${JSON.stringify(r)}`);
  } catch (e) {
    if (!(e instanceof NodeError)) throw e;
    return e;
  }
}

const ok = async (body: string, opts: Parameters<typeof packOf>[1] = {}, ctx?: Partial<NodeContext>) =>
  runtime.execute(await packOf(body, opts), 'vendor.acme.run', ctxOf(ctx));

describe('JavaScript pack sandbox', () => {
  it('runs a pack node with its inputs, config and attempt, and imports the pack’s own modules', async () => {
    const r = await ok(
      `async (ctx) => ({ status: 'success', outputs: { text: shout(ctx.config.greeting + ', ' + ctx.inputs.name), attempt: ctx.attempt, node: ctx.nodeId } })`,
      {
        entry: "import { shout } from './lib/util.js';",
        extra: { 'dist/lib/util.js': 'export const shout = (s) => s.toUpperCase();' },
      },
    );
    expect(r).toEqual({ outputs: { text: 'HI, ADA', attempt: 1, node: 'n1' } });
  });

  it('accepts a bare {outputs} and turns {status:"failure"} into the pack’s own code', async () => {
    expect(await ok('() => ({ outputs: { a: 1 } })')).toEqual({ outputs: { a: 1 } });
    const e = await failure(`() => ({ status: 'failure', error: { code: 'acme_bad_input', message: 'no' }, retryable: true })`);
    expect([e.code, e.message, e.retryable]).toEqual(['acme_bad_input', 'no', true]);
  });

  it('invariant: node-pack-sandbox-no-process — process, require and module are denied', async () => {
    for (const body of ['() => process.env', '() => require("child_process")', '() => module.exports', '() => { process.exit(1) }']) {
      const e = await failure(body);
      expect(e.code, body).toBe('sandbox_capability_denied');
      expect(e.details?.requestedCapability).toMatch(/^(process|require|module)$/);
    }
  });

  it('invariant: node-pack-sandbox-no-env — nothing of the host environment is visible', async () => {
    process.env.WEFT_SANDBOX_TEST_SECRET = 'leak-me-0123456789';
    const r = await ok(
      `() => ({ outputs: { keys: Object.getOwnPropertyNames(globalThis).filter((k) => !['process','module','exports','__dirname','__filename','Deno','Bun'].includes(k)).join(','), text: JSON.stringify(Object.getOwnPropertyNames(globalThis)) } })`,
    );
    expect(JSON.stringify(r)).not.toContain('leak-me');
    expect(String((r as { outputs: { keys: string } }).outputs.keys)).not.toMatch(/\b(Buffer|global|navigator|performance)\b/);
    delete process.env.WEFT_SANDBOX_TEST_SECRET;
  });

  it('invariant: node-pack-sandbox-fs-gated — imports outside the pack (node:fs, bare names, ../ escapes) are denied', async () => {
    for (const spec of ['node:fs', 'fs', 'std', 'os', '../../etc/passwd.js', 'https://example.com/x.js', '/etc/passwd']) {
      const e = await failure(`async () => { await import(${JSON.stringify(spec)}); return { outputs: {} }; }`);
      expect(e.code, spec).toBe('sandbox_capability_denied');
      expect(String(e.details?.requestedCapability)).toContain('import:');
    }
    const e = await failure('() => ({ outputs: {} })', { entry: "import fs from 'node:fs';" });
    expect(e.code).toBe('sandbox_capability_denied');
  });

  it('invariant: node-pack-sandbox-network-gated — fetch and timers are denied, and ctx.http exists only when declared and granted', async () => {
    expect((await failure('async () => fetch("http://127.0.0.1/")')).code).toBe('sandbox_capability_denied');
    expect((await failure('() => new Promise((r) => setTimeout(r, 1))')).code).toBe('sandbox_capability_denied');
    expect((await failure('() => new WebSocket("ws://x")')).code).toBe('sandbox_capability_denied');
    const r = await ok('(ctx) => ({ outputs: { http: typeof ctx.http } })');
    expect(r).toEqual({ outputs: { http: 'undefined' } });
    // Calling the bridge directly without the grant only gets refusals (and the worker stays healthy).
    const before = runtime.pool.recycled;
    const direct = await ok(
      `async () => { const out = []; for (let i = 0; i < 3; i++) out.push(JSON.parse(await globalThis.__weftBridge.http('{"url":"http://127.0.0.1/"}')).error.code); return { outputs: { out } }; }`,
    );
    expect(direct).toEqual({ outputs: { out: ['sandbox_capability_denied', 'sandbox_capability_denied', 'sandbox_capability_denied'] } });
    expect(runtime.pool.recycled).toBe(before);
  });

  it('invariant: node-pack-sandbox-no-eval — eval and every Function constructor are denied', async () => {
    for (const body of [
      '() => eval("1 + 1")',
      '() => new Function("return 1")()',
      '() => (() => {}).constructor("return 1")()',
      '() => (async function () {}).constructor("return 1")()',
      '() => (function* () {}).constructor("yield 1")().next()',
      '() => Object.getPrototypeOf(async function* () {}).constructor("yield 1")',
      '() => globalThis["ev" + "al"]("1")',
    ]) {
      const e = await failure(body);
      expect(e.code, body).toBe('sandbox_capability_denied');
      expect(e.details?.requestedCapability).toBe('eval');
    }
  });

  it('invariant: node-pack-sandbox-isolated-context — globals and prototypes a call changes are gone on the next call', async () => {
    const pollute = `() => { globalThis.leak = 'x'; Object.prototype.polluted = 'yes'; Array.prototype.push = () => 0; JSON.parse = () => ({ outputs: { hijacked: true } }); return { outputs: {} }; }`;
    await ok(pollute);
    await ok(pollute);
    const r = await ok(
      `() => { const a = []; a.push(1); return { outputs: { leak: typeof globalThis.leak, polluted: typeof ({}).polluted, len: a.length } }; }`,
    );
    expect(r).toEqual({ outputs: { leak: 'undefined', polluted: 'undefined', len: 1 } });
  });

  it('invariant: node-pack-sandbox-isolated-context — what the runner relies on (JSON, Promise, Object.freeze, Date) restored after a call replaced it, on every worker', async () => {
    const pack = await packOf(
      `() => { JSON.stringify = () => '{"outputs":{"hijacked":true}}'; JSON.parse = () => ({ typeId: 'x' }); Promise.prototype.then = function () { return this; }; Object.freeze = (o) => ({ ...o, inputs: { name: 'forged' } }); Date.now = () => 0; globalThis.y = 1; Object.prototype.x = 1; return { outputs: {} }; }`,
    );
    // Polluting calls on every worker (more calls than workers), then a clean call on each.
    for (let i = 0; i < 4; i++) await runtime.execute(pack, 'vendor.acme.run', ctxOf());
    const clean = await packOf(
      `async (ctx) => { await Promise.resolve(); return { outputs: { name: ctx.inputs.name, y: typeof globalThis.y, x: typeof ({}).x, now: Date.now() > 0, text: JSON.stringify({ a: 1 }) } }; }`,
    );
    const rs = await Promise.all(Array.from({ length: 4 }, () => runtime.execute(clean, 'vendor.acme.run', ctxOf())));
    for (const r of rs) expect(r).toEqual({ outputs: { name: 'Ada', y: 'undefined', x: 'undefined', now: true, text: '{"a":1}' } });
  });

  it('invariant: node-pack-sandbox-isolated-context — module-level variables one invocation mutates (entry and imported modules) are fresh on the next', async () => {
    const pack = await packOf(
      `() => { count++; seen.push(count); cache.set('k', (cache.get('k') ?? 0) + 1); return { outputs: { count, seen: seen.length, cached: cache.get('k') } }; }`,
      {
        entry: "import { seen, cache } from './lib/state.js';\nlet count = 0;",
        extra: { 'dist/lib/state.js': 'export const seen = [];\nexport const cache = new Map();' },
      },
    );
    // More calls than workers, so every worker serves the same pack (and its cached sources) again.
    const results = [];
    for (let i = 0; i < 6; i++) results.push(await runtime.execute(pack, 'vendor.acme.run', ctxOf()));
    for (const r of results) expect(r).toEqual({ outputs: { count: 1, seen: 1, cached: 1 } });
  });

  it('invariant: node-pack-sandbox-bridge-tamper — pack code cannot replace the bridge, nor forge a host failure code', async () => {
    const e = await failure(
      `() => { globalThis.__weftBridge = null; Object.defineProperty(globalThis, '__weftBridge', { value: 1 }); return { outputs: {} }; }`,
    );
    expect(e.code).toBe('pack_node_failed');
    const forged = await failure(`() => { const e = new Error('fake'); e.code = 'sandbox_timeout'; throw e; }`);
    expect(forged.code).toBe('pack_node_failed');
    // The bridge is reachable from pack code, but a report claiming to be the host's is still the pack's own failure.
    const claimed = await failure(
      `() => { __weftBridge.fail(JSON.stringify({ thrown: 'host', code: 'sandbox_timeout', message: 'forged' })); return { outputs: {} }; }`,
    );
    expect(claimed.code).toBe('pack_node_failed');
    const claimed2 = await failure(`() => { __weftBridge.fail(JSON.stringify({ thrown: 'host', code: 'sandbox_failed' })); throw new Error('x'); }`);
    expect(claimed2.code).toBe('pack_node_failed');
    // An interrupt is only real past the deadline: one made by pack code is its own failure.
    const interrupted = await failure(`() => { throw new InternalError('interrupted'); }`);
    expect(interrupted.code).toBe('pack_node_failed');
    // The runner's own failures are worded by the host, whoever calls them.
    const missing = await failure(`() => { __weftBridge.missing(); return { outputs: {} }; }`);
    expect(missing.code).toBe('pack_node_missing');
    expect(missing.message).toBe('The pack entry exports no function for vendor.acme.run.');
    // The outcome is serialised inside the VM, so a polluted prototype only changes the pack's own outcome, which is still checked.
    const e2 = await failure(`() => { Object.prototype.toJSON = function () { return 'forged'; }; return { outputs: { fine: 1 } }; }`);
    expect(e2.code).toBe('sandbox_output_invalid');
  });

  it('invariant: node-pack-sandbox-timeout — an infinite loop fails with sandbox_timeout at the deadline, and the pool keeps serving', async () => {
    const before = runtime.pool.recycled;
    const t0 = Date.now();
    const e = await failure('() => { for (;;) {} }');
    expect(e.code).toBe('sandbox_timeout');
    expect(Date.now() - t0).toBeLessThan(3000);
    expect((await failure('() => { try { for (;;) {} } catch { return { outputs: { escaped: true } }; } }')).code).toBe('sandbox_timeout');
    expect(runtime.pool.recycled).toBeGreaterThan(before);
    expect(await ok('() => ({ outputs: { alive: true } })')).toEqual({ outputs: { alive: true } });
  });

  it('invariant: node-pack-sandbox-timeout — an async hang that can never settle fails with sandbox_timeout', async () => {
    const e = await failure('() => new Promise(() => {})');
    expect(e.code).toBe('sandbox_timeout');
    expect(e.details?.reason).toBe('never-settles');
  });

  it('invariant: node-pack-sandbox-memory-cap — a memory bomb and deep recursion fail with sandbox_memory_exceeded', async () => {
    // A small heap and a long deadline, so the bomb meets the memory cap first.
    const small = new JsPackRuntime({ settings: { workers: 1, memoryBytes: 4 * 1024 * 1024, timeoutMs: 20_000 } });
    const failure = async (body: string): Promise<NodeError> => {
      try {
        await small.execute(await packOf(body), 'vendor.acme.run', ctxOf());
      } catch (e) {
        return e as NodeError;
      }
      throw new Error('expected a failure');
    };
    const before = small.pool.recycled;
    const bomb = await failure(`() => { const a = []; for (;;) a.push('x'.repeat(1024) + a.length); }`);
    expect([bomb.code, bomb.details?.kind]).toEqual(['sandbox_memory_exceeded', 'heap']);
    const deep = await failure('() => { const f = (n) => f(n + 1) + 1; return f(0); }');
    expect([deep.code, deep.details?.kind]).toEqual(['sandbox_memory_exceeded', 'stack']);
    // Native recursion (JSON.stringify through a polluted toJSON) that exhausts the worker's stack.
    const native = await failure(`() => { Object.prototype.toJSON = function () { return { outputs: { again: true } }; }; return { outputs: {} }; }`);
    expect(native.code).toMatch(/^sandbox_(memory_exceeded|timeout)$/);
    expect(small.pool.recycled).toBe(before + 3);
    expect(await small.execute(await packOf('() => ({ outputs: { alive: true } })'), 'vendor.acme.run', ctxOf())).toEqual({ outputs: { alive: true } });
    await small.close();
  });

  it('invariant: node-pack-output-bounded — a huge output fails with sandbox_output_too_large; non-JSON and malformed outcomes with sandbox_output_invalid', async () => {
    expect((await failure(`() => ({ outputs: { big: 'x'.repeat(200000) } })`)).code).toBe('sandbox_output_too_large');
    expect((await failure('() => ({ outputs: { n: 10n } })')).code).toBe('sandbox_output_invalid');
    expect((await failure('() => { const o = {}; o.self = o; return { outputs: o }; }')).code).toBe('sandbox_output_invalid');
    expect((await failure('() => 42')).code).toBe('sandbox_output_invalid');
    expect((await failure('() => ({ outputs: [1, 2] })')).code).toBe('sandbox_output_invalid');
    expect((await failure('() => undefined')).code).toBe('sandbox_output_invalid');
    expect((await failure(`() => { let v = 1; for (let i = 0; i < 100; i++) v = [v]; return { outputs: { v } }; }`)).code).toBe('sandbox_output_invalid');
  });

  it('a pack that throws fails with its code; non-Errors fail with pack_node_failed', async () => {
    const coded = await failure(`() => { const e = new Error('nope'); e.code = 'acme_failed'; throw e; }`);
    expect([coded.code, coded.message]).toEqual(['acme_failed', 'nope']);
    for (const thrown of ['42', 'null', 'undefined', '"a string"', 'Symbol("s")', '{ get code() { throw new Error("trap"); } }', '{ code: 7 }']) {
      const e = await failure(`() => { throw ${thrown}; }`);
      expect(e.code, thrown).toBe('pack_node_failed');
    }
    const rejected = await failure(`async () => { await null; throw Object.assign(new Error('late'), { code: 'acme_late' }); }`);
    expect(rejected.code).toBe('acme_late');
  });

  it('a missing node function or entry fails with pack_node_missing', async () => {
    const p = await packOf('() => ({ outputs: {} })');
    await expect(runtime.execute(p, 'vendor.acme.other', ctxOf())).rejects.toMatchObject({ code: 'pack_node_missing' });
  });

  it('invariant: node-pack-sandbox-network-gated — ctx.http goes through the host Outbound only for a pack that declares net.outbound', async () => {
    const seen: string[] = [];
    const http: Outbound = {
      request: async (req) => {
        seen.push(`${req.method} ${req.url}`);
        if (req.url.includes('blocked')) throw Object.assign(new Error('refused'), { code: 'ssrf_blocked', details: { reason: 'loopback' } });
        return {
          status: 200,
          headers: { 'content-type': 'application/json', 'set-cookie': 's=1' },
          body: new TextEncoder().encode('{"v":1}'),
          url: req.url,
          redirects: 0,
        };
      },
    };
    const body = `async (ctx) => {
      const r = await ctx.http.request({ url: 'https://api.example.com/x' });
      let blocked;
      try { await ctx.http.request({ url: 'http://blocked.example/' }); } catch (e) { blocked = e.code; }
      return { outputs: { status: r.status, v: JSON.parse(r.body).v, cookie: r.headers['set-cookie'] ?? null, blocked } };
    }`;
    const r = await ok(body, { requires: ['net.outbound'] }, { http });
    expect(r).toEqual({ outputs: { status: 200, v: 1, cookie: null, blocked: 'ssrf_blocked' } });
    expect(seen).toEqual(['GET https://api.example.com/x', 'GET http://blocked.example/']);
    // Without the declaration there is no ctx.http, and the host's Outbound is never called.
    const e = await failure('async (ctx) => ctx.http.request({ url: "https://api.example.com/x" })', {}, { http });
    expect(e.code).toBe('pack_node_failed');
    expect(seen).toHaveLength(2);
  });

  it('cancelling a running node terminates its worker', async () => {
    const ac = new AbortController();
    const p = ok('() => { for (;;) {} }', {}, { signal: ac.signal });
    setTimeout(() => ac.abort(), 50);
    await expect(p).rejects.toMatchObject({ code: 'sandbox_cancelled' });
    expect(await ok('() => ({ outputs: { alive: true } })')).toEqual({ outputs: { alive: true } });
  });

  it('runs concurrent invocations across the pool', async () => {
    const p = await packOf('async (ctx) => ({ outputs: { n: ctx.inputs.n * 2 } })');
    const before = runtime.pool.recycled;
    const rs = await Promise.all(Array.from({ length: 20 }, (_, n) => runtime.execute(p, 'vendor.acme.run', ctxOf({ inputs: { n } }))));
    expect(rs.map((r) => (r as { outputs: { n: number } }).outputs.n)).toEqual(Array.from({ length: 20 }, (_, n) => n * 2));
    // Healthy calls dispose their runtime cleanly: no worker is replaced.
    expect(runtime.pool.recycled).toBe(before);
  });
});

describe('resultOf', () => {
  it('refuses outcomes over the byte cap counted in UTF-8', () => {
    expect(() => resultOf(JSON.stringify({ outputs: { s: 'é'.repeat(60) } }), 100)).toThrow(/exceeds 100 bytes/);
    expect(resultOf(JSON.stringify({ outputs: { s: 'é' } }), 100)).toEqual({ outputs: { s: 'é' } });
  });
});
