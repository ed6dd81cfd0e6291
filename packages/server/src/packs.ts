/**
 * Node packs at boot: the configured sources (directories, tarballs, registry names) are
 * loaded and verified under the configured trust mode before the store is opened; any
 * failure stops the start with one line naming the source, the code and the reason. The
 * verified packs' node types are registered so workflow registration accepts them; running
 * them needs a pack runtime (see `@weft/packs` `packNodeTypes`).
 *
 * @see ../../../docs/packs.md
 */
import { readFile } from 'node:fs/promises';
import {
  Keychain,
  PackError,
  RegistryClient,
  TRUST_MODES,
  loadPacks,
  parseKeyPins,
  parseKeychainFile,
  parseLockfile,
  parsePackSource,
  type LoadedPack,
  type PackSource,
  type TrustMode,
  type TrustPolicy,
} from '@weft/packs';
import type { Logger } from 'pino';

/** Pack settings (part of `HostConfig`); each has a `WEFT_PACKS*` variable. */
export interface PacksConfig {
  /** Pack sources: directory paths, `.tgz` paths, `name[@version]` from the registry. */
  packs: string[];
  /** Registry base URL for `name[@version]` sources (its keychain is trusted too). */
  packsRegistry?: string;
  packsTrust: TrustMode;
  /** Local keychain file (`{signingKeys:[…]}` with inline public keys). */
  packsKeychain?: string;
  /** `namespace=keyId[|keyId]` pins, comma-separated. */
  packsPinnedKeys?: string;
  /** Approved `name` or `name@version` (allowlist mode). */
  packsAllow: string[];
  /** `pack-lock.json` every pack must match. */
  packsLock?: string;
}

const list = (raw: string | undefined): string[] =>
  (raw ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

/** Reads the pack settings from the environment. */
export function loadPacksConfig(env: NodeJS.ProcessEnv): PacksConfig {
  const trust = (env.WEFT_PACKS_TRUST || 'verified') as TrustMode;
  if (!(TRUST_MODES as readonly string[]).includes(trust)) throw new Error(`WEFT_PACKS_TRUST must be one of ${TRUST_MODES.join(', ')}`);
  const cfg: PacksConfig = { packs: list(env.WEFT_PACKS), packsTrust: trust, packsAllow: list(env.WEFT_PACKS_ALLOW) };
  if (env.WEFT_PACKS_REGISTRY) cfg.packsRegistry = env.WEFT_PACKS_REGISTRY;
  if (env.WEFT_PACKS_KEYCHAIN) cfg.packsKeychain = env.WEFT_PACKS_KEYCHAIN;
  if (env.WEFT_PACKS_PINNED_KEYS) cfg.packsPinnedKeys = env.WEFT_PACKS_PINNED_KEYS;
  if (env.WEFT_PACKS_LOCK) cfg.packsLock = env.WEFT_PACKS_LOCK;
  return cfg;
}

/** Checks the pack settings that can be checked without I/O. */
export function checkPacksConfig(cfg: PacksConfig): void {
  try {
    parseKeyPins(cfg.packsPinnedKeys);
    for (const s of cfg.packs) parsePackSource(s);
  } catch (e) {
    throw new Error(`pack configuration: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (cfg.packsTrust === 'pinned' && !cfg.packsLock) throw new Error('WEFT_PACKS_TRUST=pinned needs WEFT_PACKS_LOCK');
  if (cfg.packsTrust === 'allowlist' && cfg.packsAllow.length === 0 && cfg.packs.length > 0) throw new Error('WEFT_PACKS_TRUST=allowlist needs WEFT_PACKS_ALLOW');
}

/** What the operator configured, resolved to a policy (reading the keychain, the lockfile and the registry's keys). */
export async function packPolicy(cfg: PacksConfig, sources: readonly PackSource[]): Promise<{ policy: TrustPolicy; registry?: RegistryClient }> {
  const registry = cfg.packsRegistry ? new RegistryClient(cfg.packsRegistry) : undefined;
  let keychain = new Keychain([], parseKeyPins(cfg.packsPinnedKeys));
  if (cfg.packsKeychain) {
    let text: string;
    try {
      text = await readFile(cfg.packsKeychain, 'utf8');
    } catch (e) {
      throw new PackError('pack_source_invalid', `Cannot read the keychain ${cfg.packsKeychain}: ${(e as NodeJS.ErrnoException).code ?? 'error'}.`);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new PackError('registry_invalid', `The keychain ${cfg.packsKeychain} is not JSON.`);
    }
    keychain = keychain.with(parseKeychainFile(json, cfg.packsKeychain));
  }
  if (registry && cfg.packsTrust !== 'pinned' && sources.length > 0) keychain = keychain.with(await registry.keys());
  const policy: TrustPolicy = { mode: cfg.packsTrust, keychain, allow: cfg.packsAllow };
  if (cfg.packsLock) {
    let text: string;
    try {
      text = await readFile(cfg.packsLock, 'utf8');
    } catch (e) {
      throw new PackError('pack_lockfile_invalid', `Cannot read the lockfile ${cfg.packsLock}: ${(e as NodeJS.ErrnoException).code ?? 'error'}.`);
    }
    policy.lock = parseLockfile(text);
  }
  return registry ? { policy, registry } : { policy };
}

/**
 * Loads and verifies the configured packs, logging each one (and, in open mode, a warning
 * per pack and on stderr when `announce`).
 * @throws Error `pack verification failed: <code>: <message>` — the host must not start
 */
export async function loadConfiguredPacks(cfg: PacksConfig, logger: Logger, announce: boolean): Promise<LoadedPack[]> {
  if (cfg.packs.length === 0) return [];
  const log = logger.child({ component: 'packs' });
  try {
    const sources = cfg.packs.map((s) => parsePackSource(s));
    const { policy, registry } = await packPolicy(cfg, sources);
    if (policy.mode === 'open') {
      const line = 'WEFT_PACKS_TRUST=open: packs load WITHOUT signature, allowlist or lock requirements. Development only — never run this in production.';
      log.warn(line);
      if (announce) process.stderr.write(`WARNING: ${line}\n`);
    }
    const packs = await loadPacks(sources, policy, registry ? { registry } : {});
    for (const p of packs) {
      log.info({ pack: p.name, version: p.version, integrity: p.integrity, trust: p.trust, source: p.source, nodeTypes: (p.manifest.nodes ?? []).map((n) => n.typeId) }, 'pack loaded');
      for (const w of p.warnings) log.warn({ pack: p.name }, w);
    }
    return packs;
  } catch (e) {
    if (e instanceof PackError) throw new Error(`pack verification failed: ${e.code}: ${e.message}`, { cause: e });
    throw e;
  }
}
