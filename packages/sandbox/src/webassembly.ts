/**
 * The slice of the WebAssembly JS API this package uses, typed here: Node provides it at run
 * time, but the repository's TypeScript lib (ES2023, no DOM) does not declare it (and the test
 * typecheck, which does, must not see a second declaration).
 */

/** A compiled module (structured-cloneable to a worker). */
export interface WasmModule {
  readonly __wasmModule?: never;
}
/** A linear memory. */
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
}
/** An instance's exports. */
export interface WasmInstance {
  readonly exports: Record<string, unknown>;
}

interface WasmApi {
  Module: { new (bytes: Uint8Array): WasmModule; exports(module: WasmModule): Array<{ name: string; kind: string }> };
  Instance: new (module: WasmModule, imports?: Record<string, Record<string, unknown>>) => WasmInstance;
  RuntimeError: new (...args: never[]) => Error;
}

/** `globalThis.WebAssembly`. */
export const Wasm: WasmApi = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
