/**
 * The WASM pack runtime (RFC 0008 ABI v1): a {@link PackRuntime} for `runtime.language:
 * "wasm"` packs. At boot ({@link WasmPackRuntime.prepare}) the module is read before any of it
 * runs — imports limited to the `openwop` namespace, memory maximum rewritten to the cap — then
 * compiled, and a probe in a worker checks its ABI version and that it provides every node type
 * the manifest declares. Each invocation gets a fresh instance in a warm worker; the host thread
 * terminates the worker at the wall-clock limit. The ABI response
 * (`completed{output}` | `failed{error}` | `suspended` | `cap-breached`) is validated like a
 * JavaScript outcome.
 *
 * @see execution-semantics.md §6.6; ../../../docs/packs.md#runtimes-and-limits
 */
import { Wasm } from './webassembly.js';
import { CapBreachError, NodeError, type CapBreach, type NodeContext, type NodeResult } from '@weft/engine';
import type { LoadedPack, PackRuntime } from '@weft/packs';
import { DEFAULT_SANDBOX_SETTINGS, MAX_OUTCOME_DEPTH, PACK_CODE, depthOf, invocationInput, isRecord, type SandboxSettings } from './js-runtime.js';
import { SandboxPool } from './pool.js';
import { PROBE, type InvocationLimits, type PackSources } from './protocol.js';
import { WASM_ABI_VERSIONS, WasmModuleError, inspectWasm } from './wasm-module.js';

/** The WASM worker script next to this module (built output; tests run from the sources). */
export function defaultWasmWorkerUrl(): URL {
  const here = import.meta.url;
  return here.endsWith('.ts') ? new URL('../dist/wasm-worker.js', here) : new URL('./wasm-worker.js', here);
}

/** The `cap.breached` kinds a WASM node may breach (wire-contract.md, run-event-payloads). */
const WASM_CAP_KINDS: ReadonlySet<string> = new Set(['wasm-memory', 'wasm-fuel', 'wasm-execution-time']);
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** WebAssembly page size: memory grows in these steps. */
const PAGE = 65536;

/**
 * The smallest memory a refused `memory.grow` can have asked for: one page past the largest
 * whole number of pages under the cap. The grow's operand is invisible outside the module, so
 * this lower bound is what `cap.breached.observed` records (always greater than the cap).
 */
export function refusedMemoryBytes(capBytes: number): number {
  return (Math.floor(capBytes / PAGE) + 1) * PAGE;
}

/**
 * Turns an ABI v1 response into a node result.
 * @throws NodeError
 */
export function wasmResultOf(text: string, maxOutputBytes: number): NodeResult {
  if (Buffer.byteLength(text, 'utf8') > maxOutputBytes)
    throw new NodeError('sandbox_output_too_large', `The node outcome exceeds ${maxOutputBytes} bytes.`, { limitBytes: maxOutputBytes });
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new NodeError('sandbox_output_invalid', 'The WASM response is not valid JSON.');
  }
  if (depthOf(v, MAX_OUTCOME_DEPTH) > MAX_OUTCOME_DEPTH)
    throw new NodeError('sandbox_output_invalid', `The WASM response nests deeper than ${MAX_OUTCOME_DEPTH} levels.`, { maxDepth: MAX_OUTCOME_DEPTH });
  if (!isRecord(v)) throw new NodeError('sandbox_output_invalid', 'The WASM response must be an object with an outcome.');
  switch (v.outcome) {
    case 'completed':
      return { outputs: isRecord(v.output) ? v.output : { output: v.output ?? null } };
    case 'failed': {
      const err = isRecord(v.error) ? v.error : {};
      const code = typeof err.code === 'string' && PACK_CODE.test(err.code) && !err.code.startsWith('sandbox_') ? err.code : 'pack_node_failed';
      throw new NodeError(code, typeof err.message === 'string' && err.message ? err.message.slice(0, 2048) : 'The WASM pack node reported a failure.');
    }
    case 'cap-breached': {
      // A module reporting its own breach: `cap.breached` too when it names a registered WASM
      // kind with numbers that make a breach; otherwise the node just fails.
      const kind = typeof v.kind === 'string' ? v.kind.slice(0, 64) : 'unknown';
      const details = { kind };
      if (WASM_CAP_KINDS.has(kind) && isCount(v.limit) && isCount(v.observed) && v.observed > v.limit)
        throw new CapBreachError(
          { kind: kind as CapBreach['kind'], limit: v.limit, observed: v.observed },
          'sandbox_memory_exceeded',
          'The WASM pack node reported a breached cap.',
          { ...details, limit: v.limit, observed: v.observed },
        );
      throw new NodeError('sandbox_memory_exceeded', 'The WASM pack node reported a breached cap.', details);
    }
    case 'suspended':
      throw new NodeError('sandbox_capability_denied', 'Pack nodes cannot suspend in this host yet.', { requestedCapability: 'interrupt' });
    default:
      throw new NodeError('sandbox_output_invalid', 'The WASM response outcome must be completed, failed, suspended or cap-breached.');
  }
}

/** Runs WASM pack nodes in warm workers, a fresh instance per call (see the module comment). */
export class WasmPackRuntime implements PackRuntime {
  readonly language = 'wasm';
  readonly settings: SandboxSettings;
  readonly pool: SandboxPool;
  private readonly prepared = new Map<LoadedPack, PackSources>();

  constructor(opts: { settings?: Partial<SandboxSettings>; workerUrl?: URL } = {}) {
    this.settings = { ...DEFAULT_SANDBOX_SETTINGS, ...opts.settings };
    // A WASM loop cannot be interrupted from inside its worker: the deadline is the host thread's.
    this.pool = new SandboxPool({ size: Math.max(1, this.settings.workers), workerUrl: opts.workerUrl ?? defaultWasmWorkerUrl(), graceMs: 0 });
  }

  get limits(): InvocationLimits {
    const s = this.settings;
    return { memoryBytes: s.memoryBytes, stackBytes: s.stackBytes, timeoutMs: s.timeoutMs, maxOutputBytes: s.maxOutputBytes, maxHttpCalls: 0 };
  }

  /** Names of the packs that passed {@link prepare}. */
  get loadedPacks(): string[] {
    return [...this.prepared.keys()].map((p) => p.name);
  }

  /**
   * Checks, compiles and probes a WASM pack before it can run.
   * @throws WasmModuleError `sandbox_capability_denied` (an import outside the ABI) | `wasm_module_invalid`
   */
  async prepare(pack: LoadedPack): Promise<void> {
    const entry = (pack.manifest.runtime.entry ?? 'dist/pack.wasm').replace(/^\.\//, '');
    const bytes = pack.files.get(entry);
    if (!bytes) throw new WasmModuleError('wasm_module_invalid', `Pack ${pack.name} has no module at its entry ${entry}.`);
    const { bytes: capped, imports } = inspectWasm(bytes, this.settings.memoryBytes);
    const src: PackSources = {
      key: `${pack.name}@${pack.version}#${pack.integrity}`,
      entry,
      modules: {},
      wasm: { module: new Wasm.Module(capped), imports, maxMemoryBytes: this.settings.memoryBytes },
    };
    const r = await this.pool.run({
      pack: src,
      input: { typeId: PROBE, runId: 'probe', nodeId: 'probe', tenantId: 'probe', attempt: 1, inputs: {}, config: {} },
      limits: this.limits,
      http: false,
    });
    if (!r.ok) throw new WasmModuleError('wasm_module_invalid', `Pack ${pack.name} failed its probe: ${r.error.code}: ${r.error.message}`);
    const probe = JSON.parse(r.outcome) as { abiVersion: number; nodeIds: string[] };
    if (!WASM_ABI_VERSIONS.includes(probe.abiVersion))
      throw new WasmModuleError(
        'wasm_module_invalid',
        `Pack ${pack.name} speaks ABI version ${probe.abiVersion}; this host loads ${WASM_ABI_VERSIONS.join(', ')}.`,
        {
          abiVersion: probe.abiVersion,
        },
      );
    const missing = (pack.manifest.nodes ?? []).map((n) => n.typeId).filter((t) => !probe.nodeIds.includes(t));
    if (missing.length > 0) throw new WasmModuleError('wasm_module_invalid', `Pack ${pack.name}'s module does not provide ${missing.join(', ')}.`, { missing });
    this.prepared.set(pack, src);
  }

  async execute(pack: LoadedPack, typeId: string, ctx: NodeContext): Promise<NodeResult> {
    const src = this.prepared.get(pack);
    if (!src) throw new NodeError('pack_node_missing', `WASM pack ${pack.name} was not prepared.`, { pack: pack.name, typeId });
    const r = await this.pool.run({
      pack: src,
      input: { ...invocationInput(ctx, typeId), startedAt: ctx.startedAt },
      limits: this.limits,
      http: false,
      signal: ctx.signal,
    });
    if (!r.ok) {
      const { code, message, details } = r.error;
      // The fixed memory refused to grow: cap.breached{kind: "wasm-memory"} precedes node.failed (§6.6).
      if (code === 'sandbox_memory_exceeded' && details?.kind === 'wasm-memory') {
        const limit = this.settings.memoryBytes;
        throw new CapBreachError({ kind: 'wasm-memory', limit, observed: refusedMemoryBytes(limit) }, code, message, details);
      }
      // A WASM loop cannot be interrupted from inside: the host thread terminated the worker at the
      // deadline, which is the WASM wall-clock cap: cap.breached{kind: "wasm-execution-time"} too.
      if (code === 'sandbox_timeout' && details?.reason === 'terminated') {
        const limit = this.settings.timeoutMs;
        const elapsed = typeof details.elapsedMs === 'number' ? Math.round(details.elapsedMs) : limit;
        // It ran at least to the deadline and would have run on: never recorded at or under the limit.
        throw new CapBreachError({ kind: 'wasm-execution-time', limit, observed: Math.max(elapsed, limit + 1) }, code, message, details);
      }
      throw new NodeError(code, message, details, code === 'sandbox_failed');
    }
    return wasmResultOf(r.outcome, this.settings.maxOutputBytes);
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}
