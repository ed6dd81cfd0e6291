/**
 * Loading a pack: from a directory, a tarball or a registry, into a {@link LoadedPack} — the
 * verified manifest (and its raw bytes) plus every file of the archive in memory. Nothing is
 * written to disk and no pack code runs here; a runtime (the sandbox) receives the files.
 *
 * Order of checks, each failing closed with its {@link PackError} code:
 * 1. archive size and, for a registry, the published integrity of the `.tgz` — before it is
 *    inflated;
 * 2. archive structure (traversal, links, sizes, expansion) while reading it into memory;
 * 3. the manifest (schema, typeIds in the pack's namespace, runtime, granted primitives) and,
 *    for a registry, that it is the name and version asked for;
 * 4. the signature over the raw `pack.json` bytes, with a key from the trusted keychain that is
 *    active, permitted for the pack's namespace and pinned where a pin exists;
 * 5. the trust mode (allowlist: the name is approved; pinned: the lock entry exists);
 * 6. the lockfile, when one is configured: exact version, integrity and signature.
 *
 * @see execution-semantics.md §6.3–6.5, security-contract.md §5.2
 */
import { readFile, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { PackLockfile, PackManifest } from '@weft/contract';
import { DEFAULT_LIMITS, buildArchive, checkIntegrity, integrityOf, readArchive, readPackDirectory, type ArchiveLimits, type PackFiles } from './archive.js';
import { PackError } from './errors.js';
import type { Keychain } from './keychain.js';
import { lockedPack } from './lockfile.js';
import { DEFAULT_GRANTED_REQUIREMENTS, manifestKeyId, parseManifest, signaturePaths } from './manifest.js';
import { isExactVersion, isPackName } from './names.js';
import type { RegistryClient } from './registry.js';
import { decodeSignature, parsePublicKey, publicKeyBase64, verifyManifestSignature } from './signature.js';

/**
 * Trust modes (execution-semantics.md §6.4 "trust policy"):
 * - `verified` — every pack carries a valid Ed25519 signature by a trusted key (the default);
 * - `pinned` — every pack is in the lockfile and matches its exact version, integrity and
 *   recorded signature; no keychain needed;
 * - `allowlist` — every pack's name (or `name@version`) is on the operator's list; a signature
 *   is checked when its key is known, but not required;
 * - `open` — development only: anything structurally sound loads, with a warning per pack.
 */
export const TRUST_MODES = ['verified', 'pinned', 'allowlist', 'open'] as const;
export type TrustMode = (typeof TRUST_MODES)[number];

/** Where a pack comes from. */
export type PackSource = { kind: 'directory'; path: string } | { kind: 'tarball'; path: string } | { kind: 'registry'; name: string; version?: string };

/**
 * Parses one source: a path ending `.tgz`/`.tar.gz` is a tarball, `registry:name[@version]`
 * or a bare `name[@version]` is a registry pack, anything else a directory.
 * @throws PackError `pack_source_invalid`
 */
export function parsePackSource(raw: string, cwd = process.cwd()): PackSource {
  const s = raw.trim();
  if (!s) throw new PackError('pack_source_invalid', 'An empty pack source.');
  const reg = s.startsWith('registry:')
    ? s.slice('registry:'.length)
    : /^[a-z]+\.[a-z]/.test(s) && !s.includes('/') && !/\.(tgz|tar\.gz)$/.test(s)
      ? s
      : undefined;
  if (reg !== undefined) {
    const at = reg.lastIndexOf('@');
    const name = at > 0 ? reg.slice(0, at) : reg;
    const version = at > 0 ? reg.slice(at + 1) : undefined;
    if (!isPackName(name)) throw new PackError('pack_source_invalid', `${name.slice(0, 214)} is not a pack name.`);
    if (version !== undefined && !isExactVersion(version)) throw new PackError('pack_source_invalid', `${version.slice(0, 64)} is not an exact version.`);
    return version === undefined ? { kind: 'registry', name } : { kind: 'registry', name, version };
  }
  const path = resolve(cwd, s);
  return /\.(tgz|tar\.gz)$/.test(s) ? { kind: 'tarball', path } : { kind: 'directory', path };
}

/** How packs are judged. */
export interface TrustPolicy {
  mode: TrustMode;
  keychain: Keychain;
  /** Approved names or `name@version` (allowlist mode). */
  allow?: readonly string[];
  /** The lockfile every pack must match (required in pinned mode). */
  lock?: PackLockfile;
  /** Runtime primitives (`runtime.requires`) the host grants. */
  granted?: readonly string[];
  now?: () => number;
}

/** A verified pack in memory. */
export interface LoadedPack {
  name: string;
  version: string;
  manifest: PackManifest;
  /** `pack.json` exactly as in the archive (what the signature covers). */
  manifestBytes: Buffer;
  /** Every file of the archive, by path. */
  files: PackFiles;
  /** SRI of the archive (for a directory, of its deterministic archive). */
  integrity: string;
  /** The signature it carried and the key that verified it. */
  signature?: { keyId?: string; publicKey?: string; value: string };
  /** Human description of the source (`directory:/…`, `tarball:/…`, `registry:https://…`). */
  source: string;
  /** Archive URL for registry packs (`resolved` in the lockfile). */
  resolved?: string;
  /** The trust mode it was admitted under and the key that verified it, if any. */
  trust: { mode: TrustMode; verifiedBy?: string };
  /** Things an operator should know (open mode, unchecked signature). */
  warnings: string[];
}

/** Options of {@link loadPack}. */
export interface LoadOptions {
  /** Needed for registry sources. */
  registry?: RegistryClient;
  limits?: ArchiveLimits;
}

/** The raw material of a pack before verification. */
interface Candidate {
  files: PackFiles;
  archive: Buffer;
  source: string;
  resolved?: string;
  expect?: { name: string; version: string };
  signature?: Buffer;
  keyId?: string;
}

async function candidateOf(src: PackSource, opts: LoadOptions, lock: PackLockfile | undefined): Promise<Candidate> {
  const limits = opts.limits ?? DEFAULT_LIMITS;
  switch (src.kind) {
    case 'directory': {
      const files = await readPackDirectory(src.path, limits);
      return { files, archive: buildArchive(files), source: `directory:${src.path}` };
    }
    case 'tarball': {
      let size: number;
      try {
        size = (await stat(src.path)).size;
      } catch (e) {
        throw new PackError('pack_source_invalid', `Cannot read ${src.path}: ${(e as NodeJS.ErrnoException).code ?? 'error'}.`);
      }
      if (size > limits.maxArchiveBytes)
        throw new PackError('tarball_too_large', `The archive exceeds ${limits.maxArchiveBytes} bytes.`, { limitBytes: limits.maxArchiveBytes });
      const archive = await readFile(src.path);
      return { files: await readArchive(archive, limits), archive, source: `tarball:${src.path}` };
    }
    case 'registry': {
      if (!opts.registry) throw new PackError('pack_source_invalid', `Pack ${src.name} comes from a registry, but no registry is configured.`);
      // A lock freezes the version: a source without one takes the locked version, not the latest.
      const locked = lock ? lockedPack(lock, src.name) : undefined;
      const f = await opts.registry.fetchPack(src.name, src.version ?? locked?.version);
      // Integrity (the registry's and the lock's) before the archive is inflated or parsed.
      if (f.integrity) checkIntegrity(f.tgz, f.integrity);
      if (locked && locked.version === f.version) checkIntegrity(f.tgz, locked.integrity);
      const c: Candidate = {
        files: await readArchive(f.tgz, limits),
        archive: f.tgz,
        source: `registry:${opts.registry.base.origin}`,
        resolved: f.resolved,
        expect: { name: f.name, version: f.version },
      };
      if (f.signature) c.signature = f.signature;
      if (f.keyId) c.keyId = f.keyId;
      return c;
    }
  }
}

function signatureIn(files: PackFiles, m: PackManifest): Buffer | undefined {
  for (const p of signaturePaths(m)) {
    const sig = files.get(p);
    if (sig) return sig;
  }
  return undefined;
}

/**
 * Verifies a candidate under `policy`.
 * @throws PackError
 */
function verify(c: Candidate, policy: TrustPolicy): LoadedPack {
  const manifestBytes = c.files.get('pack.json') as Buffer;
  const manifest = parseManifest(manifestBytes, policy.granted ?? DEFAULT_GRANTED_REQUIREMENTS);
  if (c.expect && (manifest.name !== c.expect.name || manifest.version !== c.expect.version)) {
    throw new PackError('pack_version_mismatch', `The registry served ${manifest.name}@${manifest.version} for ${c.expect.name}@${c.expect.version}.`, {
      expected: `${c.expect.name}@${c.expect.version}`,
      actual: `${manifest.name}@${manifest.version}`,
    });
  }
  const now = (policy.now ?? Date.now)();
  const pack: LoadedPack = {
    name: manifest.name,
    version: manifest.version,
    manifest,
    manifestBytes,
    files: c.files,
    integrity: integrityOf(c.archive),
    source: c.source,
    trust: { mode: policy.mode },
    warnings: [],
  };
  if (c.resolved) pack.resolved = c.resolved;

  const sig = c.signature ?? signatureIn(c.files, manifest);
  const keyId = c.keyId ?? manifestKeyId(manifest);
  if (sig) {
    if (sig.byteLength !== 64) throw new PackError('pack_signature_unverifiable', `The signature is ${sig.byteLength} bytes, not 64.`);
    pack.signature = { value: sig.toString('base64'), ...(keyId ? { keyId } : {}) };
  }
  if (policy.mode === 'verified') {
    if (!sig) throw new PackError('pack_signature_missing', `Pack ${manifest.name} is not signed.`, { pack: manifest.name });
    if (!keyId) throw new PackError('pack_signature_unverifiable', `Pack ${manifest.name} does not name its signing key (signing.publicKeyRef).`);
  }
  if (sig && keyId && (policy.mode === 'verified' || policy.keychain.has(keyId))) {
    const key = policy.keychain.resolve(keyId, manifest.name, now);
    verifyManifestSignature(manifestBytes, sig, key.key);
    pack.trust.verifiedBy = keyId;
    (pack.signature as { publicKey?: string }).publicKey = publicKeyBase64(key.key);
  } else if (sig && policy.mode !== 'pinned') {
    pack.warnings.push(`signature of ${manifest.name}@${manifest.version} not checked: ${keyId ? `key ${keyId} is not in the keychain` : 'no key named'}`);
  }

  if (policy.mode === 'allowlist') {
    const allow = policy.allow ?? [];
    if (!allow.includes(manifest.name) && !allow.includes(`${manifest.name}@${manifest.version}`)) {
      throw new PackError('pack_not_approved', `Pack ${manifest.name}@${manifest.version} is not on the allowlist.`, {
        pack: manifest.name,
        version: manifest.version,
      });
    }
  }
  if (policy.mode === 'pinned' && !policy.lock) throw new PackError('pack_lockfile_incomplete', 'Trust mode pinned needs a lockfile.');
  if (policy.lock) checkLock(pack, policy.lock, sig, c.archive);
  if (policy.mode === 'open')
    pack.warnings.push(`trust mode open: ${manifest.name}@${manifest.version} loaded without required verification (development only)`);
  return pack;
}

/**
 * Refuses a pack that differs from its lock entry.
 * @throws PackError `pack_lockfile_incomplete` | `pack_version_mismatch` | `pack_integrity_mismatch` | `pack_lock_mismatch` | `pack_signature_invalid`
 */
function checkLock(pack: LoadedPack, lock: PackLockfile, sig: Buffer | undefined, archive: Buffer): void {
  const entry = lockedPack(lock, pack.name);
  if (!entry) throw new PackError('pack_lockfile_incomplete', `Pack ${pack.name} is not in the lockfile.`, { pack: pack.name });
  if (entry.version !== pack.version) {
    throw new PackError('pack_version_mismatch', `The lockfile pins ${pack.name}@${entry.version}, the source holds ${pack.version}.`, {
      pack: pack.name,
      locked: entry.version,
      actual: pack.version,
    });
  }
  checkIntegrity(archive, entry.integrity);
  if (entry.signature) {
    if (!sig) throw new PackError('pack_lock_mismatch', `The lockfile records a signature for ${pack.name}, the source carries none.`, { pack: pack.name });
    const locked = decodeSignature(entry.signature.value);
    if (!locked.equals(sig))
      throw new PackError('pack_lock_mismatch', `The signature of ${pack.name} differs from the one in the lockfile.`, { pack: pack.name });
    const key = parsePublicKey(entry.signature.publicKey);
    if (pack.signature?.publicKey && pack.signature.publicKey !== publicKeyBase64(key)) {
      throw new PackError('pack_lock_mismatch', `${pack.name} is signed by a different key than the lockfile records.`, { pack: pack.name });
    }
    verifyManifestSignature(pack.manifestBytes, sig, key);
    pack.signature = { ...(pack.signature as { value: string }), publicKey: publicKeyBase64(key) };
  }
}

/**
 * Loads and verifies one pack.
 * @throws PackError
 */
export async function loadPack(src: PackSource, policy: TrustPolicy, opts: LoadOptions = {}): Promise<LoadedPack> {
  return verify(await candidateOf(src, opts, policy.lock), policy);
}

/**
 * Loads every source; refuses two packs with the same name or two packs declaring the same typeId.
 * @throws PackError (the first failure, with the source in `details.source`)
 */
export async function loadPacks(sources: readonly PackSource[], policy: TrustPolicy, opts: LoadOptions = {}): Promise<LoadedPack[]> {
  const out: LoadedPack[] = [];
  const byType = new Map<string, string>();
  for (const src of sources) {
    let pack: LoadedPack;
    try {
      pack = await loadPack(src, policy, opts);
    } catch (e) {
      if (e instanceof PackError)
        throw new PackError(e.code, `${describeSource(src)}: ${e.message}`, { ...e.details, source: describeSource(src) }, { cause: e });
      throw e;
    }
    if (out.some((p) => p.name === pack.name)) throw new PackError('pack_duplicate', `Pack ${pack.name} is configured twice.`, { pack: pack.name });
    for (const n of pack.manifest.nodes ?? []) {
      const other = byType.get(n.typeId);
      if (other) throw new PackError('pack_typeid_conflict', `Node type ${n.typeId} is declared by both ${other} and ${pack.name}.`, { typeId: n.typeId });
      byType.set(n.typeId, pack.name);
    }
    out.push(pack);
  }
  return out;
}

/** A short description of a source for messages. */
export function describeSource(src: PackSource): string {
  return src.kind === 'registry' ? `${src.name}${src.version ? `@${src.version}` : ''}` : src.path;
}
