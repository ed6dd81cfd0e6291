/**
 * The messages between the host thread and a sandbox worker. Everything crosses as structured
 * clones of plain data: the worker never receives a host object, and pack code inside it sees
 * only what the runner builds from these values.
 */

import type { WasmModule } from './webassembly.js';

/** The type id of a WASM probe: the worker reports the module's ABI version and node ids instead of invoking. */
export const PROBE = '\u0000probe';

/** Per-invocation limits the worker enforces (the host thread enforces the wall clock too). */
export interface InvocationLimits {
  /** QuickJS heap limit (bytes). */
  memoryBytes: number;
  /** QuickJS stack limit (bytes). */
  stackBytes: number;
  /** Wall-clock budget (ms) from the start of the invocation; also bounds CPU. */
  timeoutMs: number;
  /** Largest serialised outcome (bytes of UTF-16 code units, ≈ JSON length). */
  maxOutputBytes: number;
  /** Most `ctx.http.request` calls per invocation. */
  maxHttpCalls: number;
}

/** What the pack function receives as `ctx` (plain data; the bridge adds functions). */
export interface InvocationInput {
  typeId: string;
  runId: string;
  nodeId: string;
  tenantId: string;
  attempt: number;
  inputs: Record<string, unknown>;
  config: Record<string, unknown>;
  /** Epoch ms of the node's recorded start (WASM `openwop_now_ms`, so replays see the same time). */
  startedAt?: number;
}

/** A pack's module sources, sent once per worker and cached there by `key` (the integrity). */
export interface PackSources {
  key: string;
  entry: string;
  /** ES module sources by archive path. */
  modules: Record<string, string>;
  /** For a WASM pack: the compiled module (memory capped) and its imports. */
  wasm?: { module: WasmModule; imports: Array<{ module: string; name: string; result?: string }>; maxMemoryBytes: number };
}

/** Host → worker. */
export type ToWorker =
  | {
      t: 'run';
      id: number;
      /** Pack identity; `sources` only when this worker has not seen `key` yet. */
      pack: { key: string; sources?: PackSources };
      input: InvocationInput;
      limits: InvocationLimits;
      /** True when the pack may call `ctx.http.request` (declared `net.outbound`, granted by the host). */
      http: boolean;
    }
  | { t: 'http-result'; id: number; call: number; ok: true; response: BridgeHttpResponse }
  | { t: 'http-result'; id: number; call: number; ok: false; error: SandboxFailure };

/** Worker → host. */
export type FromWorker =
  | { t: 'ready' }
  | { t: 'http'; id: number; call: number; request: BridgeHttpRequest }
  | { t: 'done'; id: number; ok: true; outcome: string; recycle?: boolean }
  | { t: 'done'; id: number; ok: false; error: SandboxFailure; recycle: boolean };

/** A failure as the worker reports it. */
export interface SandboxFailure {
  code: string;
  message: string;
  details?: Record<string, unknown>;
  retryable?: boolean;
}

/** The request pack code passes to `ctx.http.request`, as checked by the bridge. */
export interface BridgeHttpRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string;
  timeoutMs?: number;
}

/** What pack code gets back from `ctx.http.request`. */
export interface BridgeHttpResponse {
  status: number;
  headers: Record<string, string>;
  /** UTF-8 text, or base64 when the body is not valid UTF-8 (`bodyEncoding`). */
  body: string;
  bodyEncoding: 'text' | 'base64';
  url: string;
}
