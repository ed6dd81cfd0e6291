/**
 * Configuration of the pack sandbox (`WEFT_SANDBOX_*`, `WEFT_PACKS_GRANT_NET`). Part of
 * {@link HostConfig}; README "Configuration" and docs/packs.md#runtimes-and-limits list them.
 */
import { DEFAULT_SANDBOX_SETTINGS, JsPackRuntime, WASM_ABI_VERSIONS, WasmModuleError, WasmPackRuntime } from '@weft/sandbox';
import type { LoadedPack } from '@weft/packs';

/** Sandbox settings (part of `HostConfig`). */
export interface SandboxConfig {
  /** Warm sandbox workers (`WEFT_SANDBOX_WORKERS`; 0 turns pack execution off). */
  sandboxWorkers: number;
  /** QuickJS heap per invocation (`WEFT_SANDBOX_MEMORY_BYTES`). */
  sandboxMemoryBytes: number;
  /** Wall-clock limit per invocation (`WEFT_SANDBOX_TIMEOUT_MS`). */
  sandboxTimeoutMs: number;
  /** Largest serialised node outcome (`WEFT_SANDBOX_MAX_OUTPUT_BYTES`). */
  sandboxMaxOutputBytes: number;
}

const int = (v: string | undefined, name: string, def: number, min: number, max: number): number => {
  if (v === undefined || v === '') return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${name} must be an integer between ${min} and ${max}`);
  return n;
};

/** Reads the sandbox settings from the environment. */
export function loadSandboxConfig(env: NodeJS.ProcessEnv): SandboxConfig {
  const d = DEFAULT_SANDBOX_SETTINGS;
  return {
    sandboxWorkers: int(env.WEFT_SANDBOX_WORKERS, 'WEFT_SANDBOX_WORKERS', d.workers, 0, 64),
    sandboxMemoryBytes: int(env.WEFT_SANDBOX_MEMORY_BYTES, 'WEFT_SANDBOX_MEMORY_BYTES', d.memoryBytes, 1_048_576, 1024 * 1_048_576),
    sandboxTimeoutMs: int(env.WEFT_SANDBOX_TIMEOUT_MS, 'WEFT_SANDBOX_TIMEOUT_MS', d.timeoutMs, 100, 600_000),
    sandboxMaxOutputBytes: int(env.WEFT_SANDBOX_MAX_OUTPUT_BYTES, 'WEFT_SANDBOX_MAX_OUTPUT_BYTES', d.maxOutputBytes, 1024, 64 * 1_048_576),
  };
}

/**
 * The JavaScript runtime for the loaded packs: started (its workers warm) only when a
 * JavaScript pack is loaded and the sandbox is on; `undefined` otherwise.
 */
export async function startJsRuntime(cfg: SandboxConfig & { packsGrantNet?: boolean }, packs: readonly LoadedPack[]): Promise<JsPackRuntime | undefined> {
  if (cfg.sandboxWorkers === 0 || !packs.some((p) => p.manifest.runtime.language === 'javascript')) return undefined;
  const runtime = new JsPackRuntime({
    settings: { workers: cfg.sandboxWorkers, memoryBytes: cfg.sandboxMemoryBytes, timeoutMs: cfg.sandboxTimeoutMs, maxOutputBytes: cfg.sandboxMaxOutputBytes },
    grantHttp: cfg.packsGrantNet === true,
  });
  await runtime.pool.warm();
  return runtime;
}

/**
 * The WASM runtime for the loaded packs: started only when a WASM pack is loaded and the
 * sandbox is on; every WASM pack is checked, compiled and probed before the host starts.
 * @throws Error `pack verification failed: <code>: …` for a module that is refused
 */
export async function startWasmRuntime(cfg: SandboxConfig, packs: readonly LoadedPack[]): Promise<WasmPackRuntime | undefined> {
  const wasm = packs.filter((p) => p.manifest.runtime.language === 'wasm');
  if (cfg.sandboxWorkers === 0 || wasm.length === 0) return undefined;
  const runtime = new WasmPackRuntime({
    settings: { workers: cfg.sandboxWorkers, memoryBytes: cfg.sandboxMemoryBytes, timeoutMs: cfg.sandboxTimeoutMs, maxOutputBytes: cfg.sandboxMaxOutputBytes },
  });
  try {
    await runtime.pool.warm();
    for (const p of wasm) await runtime.prepare(p);
  } catch (e) {
    await runtime.close();
    if (e instanceof WasmModuleError) throw new Error(`pack verification failed: ${e.code}: ${e.message}`, { cause: e });
    throw e;
  }
  return runtime;
}

/** The discovery blocks for the attached runtimes (`sandbox`, `nodePackRuntimes`; capabilities.schema.json). */
export function sandboxCapabilities(
  runtime: JsPackRuntime | undefined,
  packs: readonly LoadedPack[],
  grantNet: boolean,
  wasm?: WasmPackRuntime,
): Record<string, unknown> {
  const limits = runtime?.settings ?? wasm?.settings;
  if (!limits) return {};
  const runtimes: Record<string, unknown> = {};
  if (runtime)
    runtimes.javascript = {
      supported: true,
      engine: 'quickjs',
      loadedPacks: packs.filter((p) => p.manifest.runtime.language === 'javascript').map((p) => p.name),
    };
  // maxMemoryBytes: enforced (the module's maximum is rewritten to it) and its breach emits
  // cap.breached{kind: "wasm-memory"}; the schema admits 1 MiB..8 GiB, so a cap outside is not advertised.
  if (wasm) {
    const max = wasm.settings.memoryBytes;
    runtimes.wasm = {
      supported: true,
      abiVersions: [...WASM_ABI_VERSIONS],
      ...(max >= 1024 * 1024 && max <= 8 * 1024 * 1024 * 1024 ? { maxMemoryBytes: max } : {}),
      loadedPacks: wasm.loadedPacks,
    };
  }
  return {
    sandbox: {
      supported: true,
      // QuickJS compiled to WebAssembly: pack code reaches only the imports and bridge functions the host defines.
      isolationModel: 'wasm',
      allowedHostCalls: grantNet && runtime ? ['host.fetch'] : [],
      memoryLimitBytes: limits.memoryBytes,
      wallClockLimitMs: limits.timeoutMs,
    },
    nodePackRuntimes: runtimes,
  };
}
