/**
 * `pack-lock.json`: frozen exact versions, archive integrity and the signature each pack was
 * locked with. When a lockfile is configured every pack must be in it and match it exactly;
 * writing is deterministic (packs sorted by name then version, keys sorted, 2-space indent,
 * trailing newline).
 *
 * @see execution-semantics.md §6.3, security-contract.md §5.2 PACK-03
 */
import { PackLockfileSchema, WeftError, compileValidator, type LockedPack, type PackLockfile } from '@weft/contract';
import { PackError } from './errors.js';
import { compareVersions } from './names.js';

const validateLockfile = compileValidator<PackLockfile>(PackLockfileSchema);

/**
 * Parses a lockfile's text.
 * @throws PackError `pack_lockfile_invalid`
 */
export function parseLockfile(text: string): PackLockfile {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new PackError('pack_lockfile_invalid', 'pack-lock.json is not valid JSON.');
  }
  let lock: PackLockfile;
  try {
    lock = validateLockfile(raw, 'pack lockfile');
  } catch (e) {
    throw new PackError('pack_lockfile_invalid', 'pack-lock.json does not match the lockfile schema.', e instanceof WeftError ? e.details : undefined);
  }
  const names = new Set<string>();
  for (const p of lock.packs) {
    if (names.has(p.name)) throw new PackError('pack_lockfile_invalid', `pack-lock.json locks ${p.name} twice.`, { pack: p.name });
    names.add(p.name);
  }
  return lock;
}

const sortKeys = (o: Record<string, string> | undefined): Record<string, string> | undefined =>
  o === undefined ? undefined : Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));

/** Serialises a lockfile deterministically. */
export function serializeLockfile(lock: PackLockfile): string {
  const packs = [...lock.packs]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : compareVersions(a.version, b.version)))
    .map((p) => {
      const out: Record<string, unknown> = { name: p.name, version: p.version };
      if (p.resolved) out.resolved = p.resolved;
      out.integrity = p.integrity;
      if (p.signature) out.signature = { algorithm: 'ed25519', publicKey: p.signature.publicKey, value: p.signature.value };
      const deps = sortKeys(p.dependencies);
      if (deps) out.dependencies = deps;
      const peers = sortKeys(p.peerDependencies);
      if (peers) out.peerDependencies = peers;
      return out as LockedPack;
    });
  const doc: Record<string, unknown> = { lockfileVersion: lock.lockfileVersion, generatedAt: lock.generatedAt };
  if (lock.registry) doc.registry = lock.registry;
  doc.packs = packs;
  if (lock.overrides) doc.overrides = sortKeys(lock.overrides);
  if (lock.fallbackRegistries) doc.fallbackRegistries = lock.fallbackRegistries;
  return `${JSON.stringify(doc, null, 2)}\n`;
}

/** The lock entry for `name`, if any. */
export function lockedPack(lock: PackLockfile, name: string): LockedPack | undefined {
  return lock.packs.find((p) => p.name === name);
}
