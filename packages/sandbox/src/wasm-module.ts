/**
 * Reading a WASM pack module before anything of it runs: its imports with their result types
 * (so the host's import functions return the right kind of value), and its memory, whose maximum
 * is rewritten to the host's cap so `memory.grow` past it fails inside the module. A module that
 * imports anything outside the `openwop` namespace of the ABI, imports or shares memory, uses
 * 64-bit memory, or lacks a required export is refused.
 *
 * @see execution-semantics.md §6.6 (RFC 0008 ABI v1)
 */

import { Wasm } from './webassembly.js';

/** Imports a pack module may declare (namespace `openwop`). */
export const WASM_ALLOWED_IMPORTS: readonly string[] = [
  'openwop_channel_read',
  'openwop_channel_write',
  'openwop_variable_get',
  'openwop_variable_set',
  'openwop_interrupt',
  'openwop_log',
  'openwop_now_ms',
  'openwop_random',
];

/** Exports ABI v1 requires. */
export const WASM_REQUIRED_EXPORTS: readonly string[] = [
  'memory',
  'openwop_abi_version',
  'openwop_node_count',
  'openwop_node_id_at',
  'openwop_alloc',
  'openwop_node_invoke',
];

/** ABI versions this host loads. */
export const WASM_ABI_VERSIONS: readonly number[] = [1];

/** Why a module was refused. */
export class WasmModuleError extends Error {
  constructor(
    readonly code: 'sandbox_capability_denied' | 'wasm_module_invalid',
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}

/** One imported function and its first result type (`i32`, `i64`, `f32`, `f64`, or none). */
export interface WasmImport {
  module: string;
  name: string;
  result?: 'i32' | 'i64' | 'f32' | 'f64';
}

const PAGE = 65536;
// Value type bytes: 0x7f i32, 0x7e i64, 0x7d f32, 0x7c f64.
const VALTYPES: Record<number, WasmImport['result']> = { 127: 'i32', 126: 'i64', 125: 'f32', 124: 'f64' };

class Reader {
  constructor(
    readonly b: Uint8Array,
    public p = 0,
  ) {}
  byte(): number {
    if (this.p >= this.b.length) throw new WasmModuleError('wasm_module_invalid', 'The WASM module is truncated.');
    return this.b[this.p++] as number;
  }
  u32(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      const x = this.byte();
      result += (x & 0x7f) * 2 ** shift;
      if ((x & 0x80) === 0) return result;
      shift += 7;
      if (shift > 35) throw new WasmModuleError('wasm_module_invalid', 'A LEB128 number in the WASM module is too long.');
    }
  }
  name(): string {
    const n = this.u32();
    const s = new TextDecoder().decode(this.b.subarray(this.p, this.p + n));
    this.p += n;
    return s;
  }
}

const leb = (n: number): number[] => {
  const out: number[] = [];
  let v = n;
  do {
    let byte = v & 0x7f;
    v = Math.floor(v / 128);
    if (v !== 0) byte |= 0x80;
    out.push(byte);
  } while (v !== 0);
  return out;
};

/**
 * Checks a module and caps its memory.
 * @returns the patched bytes (memory maximum ≤ `maxMemoryBytes`) and the imported functions
 * @throws WasmModuleError
 */
export function inspectWasm(bytes: Uint8Array, maxMemoryBytes: number): { bytes: Uint8Array; imports: WasmImport[] } {
  const r = new Reader(bytes);
  const head = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  if (bytes.length < 8 || head.some((x, i) => bytes[i] !== x)) throw new WasmModuleError('wasm_module_invalid', 'Not a WebAssembly 1.0 module.');
  r.p = 8;
  const maxPages = Math.floor(maxMemoryBytes / PAGE);
  const types: Array<WasmImport['result']> = [];
  const imports: WasmImport[] = [];
  const out: number[] = [...head];
  let memories = 0;
  while (r.p < bytes.length) {
    const sectionStart = r.p;
    const id = r.byte();
    const size = r.u32();
    const start = r.p;
    const end = start + size;
    if (end > bytes.length) throw new WasmModuleError('wasm_module_invalid', 'A WASM section runs past the end of the module.');
    const body = new Reader(bytes.subarray(0, end), start);
    let content: number[] | undefined;
    if (id === 1) {
      for (let n = body.u32(); n > 0; n--) {
        if (body.byte() !== 0x60) throw new WasmModuleError('wasm_module_invalid', 'Unknown WASM type form.');
        for (let k = body.u32(); k > 0; k--) body.byte();
        const results = body.u32();
        types.push(results > 0 ? VALTYPES[body.byte()] : undefined);
        for (let k = results - 1; k > 0; k--) body.byte();
      }
    } else if (id === 2) {
      for (let n = body.u32(); n > 0; n--) {
        const module = body.name();
        const name = body.name();
        const kind = body.byte();
        if (kind !== 0) {
          throw new WasmModuleError(
            'sandbox_capability_denied',
            `The module imports ${module}.${name} (a ${['function', 'table', 'memory', 'global'][kind] ?? 'thing'}); WASM packs may import functions of the openwop namespace only.`,
            {
              requestedCapability: `${module}.${name}`,
            },
          );
        }
        const type = body.u32();
        if (module !== 'openwop' || !WASM_ALLOWED_IMPORTS.includes(name)) {
          throw new WasmModuleError('sandbox_capability_denied', `The module imports ${module}.${name}, which the sandbox does not grant.`, {
            requestedCapability: `${module}.${name}`.slice(0, 128),
          });
        }
        const result = types[type];
        imports.push(result ? { module, name, result } : { module, name });
      }
    } else if (id === 5) {
      content = [];
      const n = body.u32();
      content.push(...leb(n));
      for (let k = 0; k < n; k++) {
        memories++;
        const flags = body.byte();
        if (flags !== 0 && flags !== 1) throw new WasmModuleError('wasm_module_invalid', 'Shared or 64-bit memories are not supported.');
        const min = body.u32();
        const max = flags === 1 ? body.u32() : undefined;
        if (min > maxPages)
          throw new WasmModuleError('wasm_module_invalid', `The module needs ${min * PAGE} bytes of memory, over the ${maxMemoryBytes}-byte cap.`, {
            limitBytes: maxMemoryBytes,
          });
        content.push(0x01, ...leb(min), ...leb(Math.min(max ?? maxPages, maxPages)));
      }
    }
    r.p = end;
    if (content) out.push(id, ...leb(content.length), ...content);
    else for (let i = sectionStart; i < end; i++) out.push(bytes[i] as number);
  }
  if (memories !== 1) throw new WasmModuleError('wasm_module_invalid', 'A WASM pack must define exactly one memory and export it.');
  const patched = Uint8Array.from(out);
  const mod = new Wasm.Module(patched);
  const exports = new Set(Wasm.Module.exports(mod).map((e) => e.name));
  const missing = WASM_REQUIRED_EXPORTS.filter((e) => !exports.has(e));
  if (missing.length > 0) throw new WasmModuleError('wasm_module_invalid', `The module lacks the ABI exports ${missing.join(', ')}.`, { missing });
  return { bytes: patched, imports };
}
