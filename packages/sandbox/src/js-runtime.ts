/**
 * The JavaScript pack runtime: a {@link PackRuntime} that runs pack node bodies in the
 * {@link SandboxPool} and turns what comes back into engine results. The outcome is checked
 * before it becomes node outputs: valid JSON, within the size cap and a nesting depth, and one of
 * the NodeOutcome shapes (`{status:"success", outputs}` — or bare `{outputs}` — and
 * `{status:"failure", error:{code, message}, retryable?}`).
 *
 * @see execution-semantics.md §6.2 (JS module shape), §6.6; ../../../docs/packs.md#runtimes-and-limits
 */
import { NodeError, sendHttp, type NodeContext, type NodeResult } from '@weft/engine';
import type { LoadedPack, PackRuntime } from '@weft/packs';
import { SandboxPool } from './pool.js';
import type { BridgeHttpRequest, BridgeHttpResponse, InvocationLimits, PackSources, SandboxFailure } from './protocol.js';

/** Sandbox settings (README "Configuration": `WEFT_SANDBOX_*`). */
export interface SandboxSettings {
  /** Warm workers (0 disables the sandbox: pack nodes then fail with `capability_not_provided`). */
  workers: number;
  /** QuickJS heap per invocation (bytes). */
  memoryBytes: number;
  /** Wall-clock (and so CPU) limit per invocation (ms). */
  timeoutMs: number;
  /** Largest serialised outcome (bytes). */
  maxOutputBytes: number;
  /** QuickJS stack per invocation (bytes). */
  stackBytes: number;
  /** Bridged HTTP calls per invocation (packs that declare `net.outbound`, when the host grants it). */
  maxHttpCalls: number;
}

/** The defaults. */
export const DEFAULT_SANDBOX_SETTINGS: SandboxSettings = {
  workers: 2,
  memoryBytes: 64 * 1024 * 1024,
  timeoutMs: 10_000,
  maxOutputBytes: 1024 * 1024,
  stackBytes: 512 * 1024,
  maxHttpCalls: 16,
};

/** Deepest nesting accepted in an outcome (as for request bodies). */
export const MAX_OUTCOME_DEPTH = 64;

/** Codes of the failures the sandbox itself reports (all run-level; docs/errors.md). */
export const SANDBOX_CODES = [
  'sandbox_timeout',
  'sandbox_memory_exceeded',
  'sandbox_capability_denied',
  'sandbox_output_invalid',
  'sandbox_output_too_large',
  'sandbox_failed',
  'sandbox_cancelled',
  'pack_node_failed',
  'pack_node_missing',
] as const;

const RETRYABLE_SANDBOX_CODES = new Set(['sandbox_failed']);

/** The worker script next to this module (built output; tests run from the sources). */
export function defaultWorkerUrl(): URL {
  const here = import.meta.url;
  return here.endsWith('.ts') ? new URL('../dist/js-worker.js', here) : new URL('./js-worker.js', here);
}

/** The module sources of a pack: its `.js`/`.mjs` files, decoded as UTF-8. */
export function packSources(pack: LoadedPack): PackSources {
  const modules: Record<string, string> = {};
  const decoder = new TextDecoder('utf-8', { fatal: true });
  for (const [path, bytes] of pack.files) {
    if (!/\.(m?js)$/.test(path)) continue;
    try {
      modules[path] = decoder.decode(bytes);
    } catch {
      // Not UTF-8: not a module QuickJS could load; an import of it fails as a missing module.
    }
  }
  return { key: `${pack.name}@${pack.version}#${pack.integrity}`, entry: (pack.manifest.runtime.entry ?? 'dist/index.js').replace(/^\.\//, ''), modules };
}

/** The deepest nesting of a parsed JSON value (iterative: no stack to exhaust). */
export function depthOf(value: unknown, limit: number): number {
  let max = 0;
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [v, d] = stack.pop() as [unknown, number];
    if (v === null || typeof v !== 'object') continue;
    if (d > max) max = d;
    if (max > limit) return max;
    for (const child of Object.values(v as Record<string, unknown>)) stack.push([child, d + 1]);
  }
  return max;
}

export const isRecord = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);
export const PACK_CODE = /^[a-z][a-z0-9_.-]{0,63}$/;

/**
 * Turns the serialised outcome into a node result.
 * @throws NodeError `sandbox_output_invalid` | `sandbox_output_too_large` | the pack's failure code
 */
export function resultOf(text: string, maxOutputBytes: number): NodeResult {
  if (Buffer.byteLength(text, 'utf8') > maxOutputBytes)
    throw new NodeError('sandbox_output_too_large', `The node outcome exceeds ${maxOutputBytes} bytes.`, { limitBytes: maxOutputBytes });
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new NodeError('sandbox_output_invalid', 'The node outcome is not valid JSON.');
  }
  if (depthOf(v, MAX_OUTCOME_DEPTH) > MAX_OUTCOME_DEPTH)
    throw new NodeError('sandbox_output_invalid', `The node outcome nests deeper than ${MAX_OUTCOME_DEPTH} levels.`, { maxDepth: MAX_OUTCOME_DEPTH });
  if (!isRecord(v))
    throw new NodeError('sandbox_output_invalid', 'A pack node must return an object: {status:"success", outputs} or {status:"failure", error}.');
  const status = v.status;
  if (status === 'failure') {
    const err = isRecord(v.error) ? v.error : {};
    const code = typeof err.code === 'string' && PACK_CODE.test(err.code) && !err.code.startsWith('sandbox_') ? err.code : 'pack_node_failed';
    const message = typeof err.message === 'string' && err.message ? err.message.slice(0, 2048) : 'The pack node reported a failure.';
    throw new NodeError(code, message, undefined, v.retryable === true);
  }
  if (status === 'suspended')
    throw new NodeError('sandbox_capability_denied', 'Pack nodes cannot suspend in this host yet.', { requestedCapability: 'interrupt' });
  if (status !== undefined && status !== 'success') throw new NodeError('sandbox_output_invalid', 'The outcome status must be success or failure.');
  if (!isRecord(v.outputs)) throw new NodeError('sandbox_output_invalid', 'A successful pack node outcome needs an outputs object.');
  return { outputs: v.outputs };
}

const errorOf = (f: SandboxFailure): NodeError => new NodeError(f.code, f.message, f.details, f.retryable === true || RETRYABLE_SANDBOX_CODES.has(f.code));

/** What a pack node invocation is told of its node: ids, attempt, inputs and config (copies). */
export function invocationInput(ctx: NodeContext, typeId: string) {
  return {
    typeId,
    runId: ctx.runId,
    nodeId: ctx.nodeId,
    tenantId: ctx.tenant,
    attempt: ctx.attempt,
    inputs: { ...ctx.inputs },
    config: { ...ctx.config },
  };
}

/** Response body for pack code: UTF-8 text when it decodes, base64 otherwise. */
function bridgeResponse(res: Awaited<ReturnType<typeof sendHttp>>): BridgeHttpResponse {
  const headers = Object.fromEntries(Object.entries(res.headers).filter(([k]) => k !== 'set-cookie'));
  try {
    return { status: res.status, headers, body: new TextDecoder('utf-8', { fatal: true }).decode(res.body), bodyEncoding: 'text', url: res.url };
  } catch {
    return { status: res.status, headers, body: Buffer.from(res.body).toString('base64'), bodyEncoding: 'base64', url: res.url };
  }
}

/** Options of {@link JsPackRuntime}. */
export interface JsPackRuntimeOptions {
  settings?: Partial<SandboxSettings>;
  /** True when the host grants `net.outbound` to packs that declare it. */
  grantHttp?: boolean;
  /** The worker script (default: next to this module). */
  workerUrl?: URL;
}

/** Runs JavaScript pack nodes in QuickJS workers (see the module comment). */
export class JsPackRuntime implements PackRuntime {
  readonly language = 'javascript';
  readonly settings: SandboxSettings;
  readonly pool: SandboxPool;
  private readonly grantHttp: boolean;
  private readonly sources = new WeakMap<LoadedPack, PackSources>();

  constructor(opts: JsPackRuntimeOptions = {}) {
    this.settings = { ...DEFAULT_SANDBOX_SETTINGS, ...opts.settings };
    this.grantHttp = opts.grantHttp === true;
    this.pool = new SandboxPool({ size: Math.max(1, this.settings.workers), workerUrl: opts.workerUrl ?? defaultWorkerUrl() });
  }

  /** The limits each invocation gets. */
  get limits(): InvocationLimits {
    const s = this.settings;
    return { memoryBytes: s.memoryBytes, stackBytes: s.stackBytes, timeoutMs: s.timeoutMs, maxOutputBytes: s.maxOutputBytes, maxHttpCalls: s.maxHttpCalls };
  }

  /** True when `pack` may use `ctx.http`: it declares `net.outbound` and the host grants it. */
  httpAllowed(pack: LoadedPack): boolean {
    return this.grantHttp && (pack.manifest.runtime.requires ?? []).includes('net.outbound');
  }

  async execute(pack: LoadedPack, typeId: string, ctx: NodeContext): Promise<NodeResult> {
    let src = this.sources.get(pack);
    if (!src) {
      src = packSources(pack);
      this.sources.set(pack, src);
    }
    if (src.modules[src.entry] === undefined)
      throw new NodeError('pack_node_missing', `Pack ${pack.name} has no JavaScript module at its entry ${src.entry}.`, { pack: pack.name, typeId });
    return this.run(src, typeId, ctx, this.httpAllowed(pack));
  }

  /**
   * Runs node `typeId` of the module set `src` (its entry's default export maps typeIds to
   * bodies) under this runtime's limits; `http` grants `ctx.http.request` through `ctx.http`.
   */
  async run(src: PackSources, typeId: string, ctx: NodeContext, http = false): Promise<NodeResult> {
    const withHttp = http && ctx.http !== undefined;
    const onHttp = (req: BridgeHttpRequest): Promise<BridgeHttpResponse> =>
      sendHttp(ctx, {
        method: req.method,
        url: req.url,
        headers: req.headers,
        ...(req.body !== undefined ? { body: req.body } : {}),
        ...(req.timeoutMs !== undefined ? { timeoutMs: req.timeoutMs } : {}),
      }).then(bridgeResponse);
    const r = await this.pool.run({
      pack: src,
      input: invocationInput(ctx, typeId),
      limits: this.limits,
      http: withHttp,
      ...(withHttp ? { onHttp } : {}),
      signal: ctx.signal,
    });
    if (!r.ok) throw errorOf(r.error);
    return resultOf(r.outcome, this.settings.maxOutputBytes);
  }

  /** Stops the workers. */
  close(): Promise<void> {
    return this.pool.close();
  }
}
