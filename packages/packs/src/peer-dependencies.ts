/**
 * `peerDependencies`: host capabilities a pack needs (`host.sandbox`, `host.httpClient`, …),
 * checked against what this host provides once its runtimes are known. A capability marked
 * optional in `peerDependenciesMeta` is allowed to be missing (the pack loads degraded); any
 * other missing one refuses the pack. In particular a pack declaring
 * `peerDependencies["host.sandbox"]: "required"` never loads on a host that does not sandbox it.
 *
 * @see execution-semantics.md §6.2, §6.6, §7.2
 */
import { PackError } from './errors.js';
import type { LoadedPack } from './loader.js';

/** Reserved `host.*` ids the spec names but does not define: a pack may not depend on them. */
const UNDEFINED_SURFACES = new Set(['host.media', 'host.collaboration', 'host.workspace']);

/**
 * Checks one pack's peer dependencies against `provided` (capability ids such as `host.sandbox`).
 * @returns the optional capabilities that are missing (the pack's `degraded[]`)
 * @throws PackError `pack_peer_dependency_missing` (details.missing) | `pack_peer_dependency_undefined`
 */
export function checkPeerDependencies(pack: LoadedPack, provided: ReadonlySet<string>): string[] {
  const peers = pack.manifest.peerDependencies ?? {};
  const meta = (pack.manifest as { peerDependenciesMeta?: Record<string, { optional?: unknown }> }).peerDependenciesMeta ?? {};
  const undefinedOnes = Object.keys(peers).filter((c) => UNDEFINED_SURFACES.has(c));
  if (undefinedOnes.length > 0)
    throw new PackError(
      'pack_peer_dependency_undefined',
      `Pack ${pack.name} depends on ${undefinedOnes.join(', ')}, which the protocol reserves but does not define.`,
      {
        pack: pack.name,
        undefined: undefinedOnes,
      },
    );
  const missing: string[] = [];
  const degraded: string[] = [];
  for (const cap of Object.keys(peers).sort()) {
    if (provided.has(cap)) continue;
    if (meta[cap]?.optional === true) degraded.push(cap);
    else missing.push(cap);
  }
  if (missing.length > 0)
    throw new PackError('pack_peer_dependency_missing', `Pack ${pack.name} needs host capabilities this host does not provide: ${missing.join(', ')}.`, {
      pack: pack.name,
      missing,
    });
  return degraded;
}
