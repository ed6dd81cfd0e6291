/**
 * The WASM pack runtime with modules assembled here byte by byte (ABI v1 exports): a node that
 * answers, a memory bomb (stopped by the rewritten memory maximum), a busy loop (the worker is
 * terminated at the deadline), and modules refused before any of their code runs.
 */
import { CapBreachError, NodeError, type NodeContext } from '@weft/engine';
import type { LoadedPack } from '@weft/packs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WasmPackRuntime } from './wasm-runtime.js';
import { inspectWasm } from './wasm-module.js';
import { WASM_TEST_NODES as IDS, wasmModule } from '@weft/testkit';

function packOf(bytes: Uint8Array, name = 'vendor.acme.wasm'): LoadedPack {
  return {
    name,
    version: '1.0.0',
    integrity: `sha256-${name}-${bytes.length}-${Buffer.from(bytes).toString('base64').slice(-12)}`,
    manifest: {
      name,
      version: '1.0.0',
      engines: { openwop: '>=1.0' },
      runtime: { language: 'wasm', entry: 'dist/pack.wasm' },
      nodes: IDS.map((typeId) => ({ typeId })),
    },
    manifestBytes: Buffer.from('{}'),
    files: new Map([['dist/pack.wasm', Buffer.from(bytes)]]),
    source: 'test',
    trust: { mode: 'open' },
    warnings: [],
  } as LoadedPack;
}

const ctxOf = (): NodeContext =>
  ({
    runId: 'run_w',
    nodeId: 'n1',
    typeId: 'x',
    tenant: 't',
    attempt: 1,
    config: {},
    inputs: { a: 1 },
    startedAt: 1_700_000_000_000,
    signal: new AbortController().signal,
  }) as unknown as NodeContext;

let runtime: WasmPackRuntime;
beforeAll(async () => {
  runtime = new WasmPackRuntime({ settings: { workers: 1, memoryBytes: 2 * 1024 * 1024, timeoutMs: 500 } });
  await runtime.pool.warm();
});
afterAll(() => runtime.close());

async function failure(p: Promise<unknown>): Promise<NodeError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof NodeError) return e;
    throw e;
  }
  throw new Error('expected a failure');
}

describe('WASM pack runtime (ABI v1)', () => {
  it('probes and runs a node in a fresh instance with the ABI request, and validates the response', async () => {
    const pack = packOf(wasmModule());
    await runtime.prepare(pack);
    expect(runtime.loadedPacks).toContain('vendor.acme.wasm');
    expect(await runtime.execute(pack, 'vendor.acme.ok', ctxOf())).toEqual({ outputs: { hello: 'wasm' } });
    const failing = packOf(
      wasmModule({ response: JSON.stringify({ outcome: 'failed', error: { code: 'acme_wasm_no', message: 'no' } }) }),
      'vendor.acme.fails',
    );
    await runtime.prepare(failing);
    expect((await failure(runtime.execute(failing, 'vendor.acme.ok', ctxOf()))).code).toBe('acme_wasm_no');
  });

  it('invariant: node-pack-sandbox-memory-cap — the memory maximum is rewritten to the cap, so a memory bomb traps with sandbox_memory_exceeded (wasm-memory)', async () => {
    const pack = packOf(wasmModule(), 'vendor.acme.bomb');
    await runtime.prepare(pack);
    const e = await failure(runtime.execute(pack, 'vendor.acme.grow', ctxOf()));
    expect(e.code).toBe('sandbox_memory_exceeded');
    expect(e.details).toMatchObject({ kind: 'wasm-memory', limitBytes: 2 * 1024 * 1024 });
    // The breach is carried for cap.breached: the cap, and the least a refused grow asked for (one page more).
    expect(e).toBeInstanceOf(CapBreachError);
    expect((e as CapBreachError).breach).toEqual({ kind: 'wasm-memory', limit: 2 * 1024 * 1024, observed: 2 * 1024 * 1024 + 65536 });
    expect(Number(e.details?.observedBytes)).toBeLessThanOrEqual(2 * 1024 * 1024);
    // A declared maximum above the cap is lowered too.
    const { bytes } = inspectWasm(wasmModule({ maxPages: 65536 }), 2 * 1024 * 1024);
    expect(Buffer.from(bytes).includes(Buffer.from([0x05, 0x04, 0x01, 0x01, 0x01, 0x20]))).toBe(true);
    expect(await runtime.execute(pack, 'vendor.acme.ok', ctxOf())).toEqual({ outputs: { hello: 'wasm' } });
  });

  it('a module reporting cap-breached with a registered WASM kind carries the breach; anything else only fails the node', async () => {
    const fuel = packOf(
      wasmModule({ response: JSON.stringify({ outcome: 'cap-breached', kind: 'wasm-fuel', limit: 1000, observed: 1001 }) }),
      'vendor.acme.fuel',
    );
    await runtime.prepare(fuel);
    const e = await failure(runtime.execute(fuel, 'vendor.acme.ok', ctxOf()));
    expect(e).toBeInstanceOf(CapBreachError);
    expect((e as CapBreachError).breach).toEqual({ kind: 'wasm-fuel', limit: 1000, observed: 1001 });
    for (const [i, bad] of [
      { kind: 'node-executions', limit: 1, observed: 2 },
      { kind: 'wasm-fuel', limit: 5, observed: 5 },
      { kind: 'wasm-fuel', limit: -1, observed: 'x' },
    ].entries()) {
      const p = packOf(wasmModule({ response: JSON.stringify({ outcome: 'cap-breached', ...bad }) }), `vendor.acme.fuel${i}`);
      await runtime.prepare(p);
      const f = await failure(runtime.execute(p, 'vendor.acme.ok', ctxOf()));
      expect(f.code).toBe('sandbox_memory_exceeded');
      expect(f).not.toBeInstanceOf(CapBreachError);
    }
  });

  it('invariant: node-pack-sandbox-timeout — a WASM busy loop is terminated at the deadline with sandbox_timeout, and the next call runs', async () => {
    const pack = packOf(wasmModule(), 'vendor.acme.spin');
    await runtime.prepare(pack);
    const t0 = Date.now();
    const e = await failure(runtime.execute(pack, 'vendor.acme.spin', ctxOf()));
    expect(e.code).toBe('sandbox_timeout');
    expect(Date.now() - t0).toBeLessThan(2000);
    // The WASM wall-clock cap: carried for cap.breached{kind: "wasm-execution-time"}, observed past the limit.
    expect(e).toBeInstanceOf(CapBreachError);
    const breach = (e as CapBreachError).breach;
    expect(breach.kind).toBe('wasm-execution-time');
    expect(breach.limit).toBe(runtime.settings.timeoutMs);
    expect(breach.observed).toBeGreaterThan(breach.limit);
    expect(await runtime.execute(pack, 'vendor.acme.ok', ctxOf())).toEqual({ outputs: { hello: 'wasm' } });
  });

  it('invariant: node-pack-sandbox-no-process — imports are inspected before instantiation: anything outside the openwop ABI is refused', async () => {
    for (const imp of [
      ['env', 'system'],
      ['wasi_snapshot_preview1', 'fd_write'],
      ['openwop', 'openwop_spawn'],
    ] as Array<[string, string]>) {
      const err = await runtime.prepare(packOf(wasmModule({ imports: [imp] }), 'vendor.acme.bad')).then(
        () => undefined,
        (e: unknown) => e as { code: string; details?: Record<string, unknown> },
      );
      expect(err?.code, imp.join('.')).toBe('sandbox_capability_denied');
      expect(err?.details?.requestedCapability).toBe(imp.join('.'));
    }
  });

  it('refuses a module speaking another ABI version, leaving it out of the loaded packs', async () => {
    await expect(runtime.prepare(packOf(wasmModule({ abi: 2 }), 'vendor.acme.abi2'))).rejects.toMatchObject({ code: 'wasm_module_invalid' });
    expect(runtime.loadedPacks).not.toContain('vendor.acme.abi2');
  });
});
