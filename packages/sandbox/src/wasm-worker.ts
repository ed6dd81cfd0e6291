/**
 * The WASM sandbox worker: one invocation at a time, each in a fresh instance of the pack's
 * module (compiled and checked by the host thread: imports limited to the `openwop` ABI
 * namespace, memory maximum capped). The module sees only the ABI imports: `now_ms` is the
 * node's recorded start and `random` a generator seeded by (runId, nodeId, attempt), so a
 * replay sees the same values; channel, variable and interrupt imports answer -1 (not offered
 * yet) and `log` is discarded. A WASM busy loop cannot be interrupted from inside: the host
 * thread terminates this worker at the deadline.
 *
 * @see execution-semantics.md §6.6
 */
import { Wasm, type WasmMemory } from './webassembly.js';
import { createHash } from 'node:crypto';
import { parentPort } from 'node:worker_threads';
import { PROBE, type FromWorker, type PackSources, type SandboxFailure, type ToWorker } from './protocol.js';

if (!parentPort) throw new Error('wasm-worker runs in a worker thread');
const port = parentPort;
const sources = new Map<string, PackSources>();

type Exports = Record<string, unknown> & { memory: WasmMemory };

function seeded(runId: string, nodeId: string, attempt: number): () => bigint {
  const h = createHash('sha256').update(`${runId}\u0000${nodeId}\u0000${attempt}`).digest();
  let s = h.readBigUInt64LE(0) || 1n;
  return () => {
    s ^= (s << 13n) & 0xffffffffffffffffn;
    s ^= s >> 7n;
    s ^= (s << 17n) & 0xffffffffffffffffn;
    return s;
  };
}

function typed(result: string | undefined, v: number | bigint): number | bigint | undefined {
  if (result === undefined) return undefined;
  if (result === 'i64') return typeof v === 'bigint' ? BigInt.asIntN(64, v) : BigInt(Math.trunc(v));
  if (result === 'i32') return Number(typeof v === 'bigint' ? BigInt.asIntN(32, v) : v) | 0;
  return typeof v === 'bigint' ? Number(v & 0xfffffffffffffn) / 2 ** 52 : v;
}

/** Reads a (ptr, len) the module returned: a packed i64 (ptr << 32 | len) or two values. */
function slice(mem: WasmMemory, v: unknown, max: number): string {
  let ptr: number;
  let len: number;
  if (typeof v === 'bigint') {
    ptr = Number(BigInt.asUintN(64, v) >> 32n);
    len = Number(BigInt.asUintN(64, v) & 0xffffffffn);
  } else if (Array.isArray(v) && v.length === 2) {
    ptr = Number(v[0]) >>> 0;
    len = Number(v[1]) >>> 0;
  } else throw new Abi('The module returned something other than a (ptr, len) pair.');
  if (len > max) throw new Abi(`The module returned ${len} bytes, over the ${max}-byte limit.`, 'sandbox_output_too_large');
  if (ptr + len > mem.buffer.byteLength) throw new Abi('The module returned a range outside its memory.');
  return new TextDecoder('utf-8', { fatal: true }).decode(new Uint8Array(mem.buffer, ptr, len));
}

class Abi extends Error {
  constructor(
    message: string,
    readonly code = 'sandbox_output_invalid',
  ) {
    super(message);
  }
}

function invoke(msg: Extract<ToWorker, { t: 'run' }>, pack: PackSources): FromWorker {
  const wasm = pack.wasm;
  if (!wasm) return { t: 'done', id: msg.id, ok: false, error: { code: 'sandbox_failed', message: 'Not a WASM pack.' }, recycle: true };
  const { input, limits } = msg;
  const random = seeded(input.runId, input.nodeId, input.attempt);
  const fns: Record<string, (...args: unknown[]) => unknown> = {};
  for (const imp of wasm.imports) {
    fns[imp.name] =
      imp.name === 'openwop_now_ms'
        ? () => typed(imp.result, input.startedAt ?? 0)
        : imp.name === 'openwop_random'
          ? () => typed(imp.result, random())
          : imp.name === 'openwop_log'
            ? () => typed(imp.result, 0)
            : () => typed(imp.result, -1);
  }
  let mem: WasmMemory | undefined;
  try {
    const instance = new Wasm.Instance(wasm.module, { openwop: fns });
    const e = instance.exports as Exports;
    mem = e.memory;
    const call = (name: string, ...args: unknown[]): unknown => (e[name] as (...a: unknown[]) => unknown)(...args);
    const abi = Number(call('openwop_abi_version'));
    const ids: string[] = [];
    for (let i = 0, n = Number(call('openwop_node_count')); i < n && i < 500; i++) ids.push(slice(mem, call('openwop_node_id_at', i), 256));
    if (input.typeId === PROBE) return { t: 'done', id: msg.id, ok: true, outcome: JSON.stringify({ abiVersion: abi, nodeIds: ids }) };
    const index = ids.indexOf(input.typeId);
    if (index < 0)
      return {
        t: 'done',
        id: msg.id,
        ok: false,
        error: { code: 'pack_node_missing', message: `The module provides no node ${input.typeId}.` },
        recycle: false,
      };
    const req = new TextEncoder().encode(
      JSON.stringify({
        abiVersion: abi,
        nodeContext: { runId: input.runId, nodeId: input.nodeId, tenantId: input.tenantId, attempt: input.attempt, configurable: {}, config: input.config },
        inputs: input.inputs,
      }),
    );
    const ptr = Number(call('openwop_alloc', req.length)) >>> 0;
    if (ptr + req.length > mem.buffer.byteLength) throw new Abi('openwop_alloc returned a range outside memory.');
    new Uint8Array(mem.buffer, ptr, req.length).set(req);
    const text = slice(mem, call('openwop_node_invoke', index, ptr, req.length), limits.maxOutputBytes);
    return { t: 'done', id: msg.id, ok: true, outcome: text };
  } catch (err) {
    let failure: SandboxFailure;
    if (err instanceof Abi) failure = { code: err.code, message: err.message };
    else if (err instanceof Wasm.RuntimeError || err instanceof RangeError) {
      const message = String(err.message);
      const observed = mem?.buffer.byteLength ?? 0;
      failure =
        // memory.grow cannot be observed from JS: a trap with more than half the cap in use (or a
        // memory error) is counted as the cap, since a refused grow is what most allocators trap on.
        observed * 2 > wasm.maxMemoryBytes || /memory/i.test(message)
          ? {
              code: 'sandbox_memory_exceeded',
              message: `The WASM pack node trapped at its ${wasm.maxMemoryBytes}-byte memory cap.`,
              details: { kind: 'wasm-memory', limitBytes: wasm.maxMemoryBytes, observedBytes: observed },
            }
          : { code: 'pack_node_failed', message: `The WASM pack node trapped: ${message.slice(0, 256)}`, details: { thrown: 'trap' } };
    } else failure = { code: 'pack_node_failed', message: 'The WASM pack node failed.', details: { thrown: 'error' } };
    return { t: 'done', id: msg.id, ok: false, error: failure, recycle: failure.code === 'sandbox_memory_exceeded' };
  }
}

port.on('message', (m: ToWorker) => {
  if (m.t !== 'run') return;
  if (m.pack.sources) {
    sources.set(m.pack.key, m.pack.sources);
    if (sources.size > 32) sources.delete(sources.keys().next().value as string);
  }
  const pack = sources.get(m.pack.key);
  port.postMessage(
    pack
      ? invoke(m, pack)
      : ({ t: 'done', id: m.id, ok: false, error: { code: 'sandbox_failed', message: 'The sandbox lost the pack.' }, recycle: true } satisfies FromWorker),
  );
});
port.postMessage({ t: 'ready' } satisfies FromWorker);
