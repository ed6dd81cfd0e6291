/**
 * Pack settings as the host and the CLI read them (`WEFT_PACKS*`), and the trust policy they
 * resolve to: the local keychain file, the registry's keychain, key pins, the allowlist and
 * the lockfile.
 *
 * @see ../../../docs/packs.md
 */
import { readFile } from 'node:fs/promises';
import { PackError } from './errors.js';
import { Keychain, parseKeyPins, parseKeychainFile } from './keychain.js';
import { TRUST_MODES, parsePackSource, type PackSource, type TrustMode, type TrustPolicy } from './loader.js';
import { parseLockfile } from './lockfile.js';
import { DEFAULT_GRANTED_REQUIREMENTS } from './manifest.js';
import { RegistryClient } from './registry.js';

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
  /**
   * Grant `net.outbound` to packs that declare it in `runtime.requires` (`WEFT_PACKS_GRANT_NET`):
   * their code may then call `ctx.http.request`, which goes through the host's SSRF-guarded
   * Outbound. Off by default: such packs are refused at load.
   */
  packsGrantNet?: boolean;
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
  const grant = (env.WEFT_PACKS_GRANT_NET ?? '').trim().toLowerCase();
  if (!['', 'on', 'off', 'true', 'false', '1', '0'].includes(grant)) throw new Error('WEFT_PACKS_GRANT_NET must be on or off');
  if (['on', 'true', '1'].includes(grant)) cfg.packsGrantNet = true;
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
  if (cfg.packsTrust === 'allowlist' && cfg.packsAllow.length === 0 && cfg.packs.length > 0)
    throw new Error('WEFT_PACKS_TRUST=allowlist needs WEFT_PACKS_ALLOW');
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
  const policy: TrustPolicy = {
    mode: cfg.packsTrust,
    keychain,
    allow: cfg.packsAllow,
    granted: cfg.packsGrantNet ? [...DEFAULT_GRANTED_REQUIREMENTS, 'net.outbound'] : DEFAULT_GRANTED_REQUIREMENTS,
  };
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
