/**
 * `@weft/sandbox`: the runtimes that execute node-pack code outside the host's own isolate —
 * JavaScript packs in QuickJS (quickjs-emscripten, WebAssembly) inside a pool of
 * `worker_threads`, with memory, time and output limits and a narrow ctx bridge over message
 * passing.
 *
 * @see ../../../docs/packs.md#runtimes-and-limits, ../../../docs/decisions/0020-pack-sandbox.md
 */
export * from './js-runtime.js';
export * from './pool.js';
export type * from './protocol.js';
export * from './wasm-module.js';
export * from './wasm-runtime.js';
