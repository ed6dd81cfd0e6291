/**
 * `pack.json`: parsed from its raw bytes (which stay as they are: they are what the signature
 * covers), checked against the manifest schema, and checked for what Weft relies on — node
 * typeIds inside the pack's owner namespace and unique, a runtime this host can plan for, and
 * only runtime primitives the host grants. Extension keys (`x-…`, `vendor.…`) are kept opaque:
 * nothing reads them.
 *
 * @see execution-semantics.md §6.2, security-contract.md §5.2 PACK-09
 */
import { PackManifestSchema, WeftError, compileValidator, type PackManifest } from '@weft/contract';
import { PackError } from './errors.js';
import { typeIdAllowed } from './names.js';

const validateManifest = compileValidator<PackManifest>(PackManifestSchema);

/** Pack languages Weft accepts at load (the runtimes it plans to attach: a JS and a WASM sandbox). */
export const LOADABLE_LANGUAGES: readonly string[] = ['javascript', 'wasm'];

/** Runtime primitives granted unless the operator says otherwise: neither reaches outside the sandbox. */
export const DEFAULT_GRANTED_REQUIREMENTS: readonly string[] = ['clock', 'crypto'];

/**
 * Parses and checks a manifest.
 * @throws PackError `tarball_manifest_not_json` | `pack_manifest_invalid` |
 *   `pack_typeid_out_of_namespace` | `unsupported_runtime` | `pack_runtime_requirement_unmet`
 */
export function parseManifest(bytes: Uint8Array, granted: readonly string[] = DEFAULT_GRANTED_REQUIREMENTS): PackManifest {
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    throw new PackError('tarball_manifest_not_json', 'pack.json is not valid UTF-8 JSON.');
  }
  let m: PackManifest;
  try {
    m = validateManifest(raw, 'pack manifest');
  } catch (e) {
    throw new PackError('pack_manifest_invalid', 'pack.json does not match the node-pack manifest schema.', e instanceof WeftError ? e.details : undefined);
  }
  const nodes = m.nodes ?? [];
  if (nodes.length === 0 && (m.agents ?? []).length === 0) throw new PackError('pack_manifest_invalid', 'pack.json declares no nodes and no agents.');
  const seen = new Set<string>();
  for (const n of nodes) {
    if (!typeIdAllowed(m.name, n.typeId)) {
      throw new PackError('pack_typeid_out_of_namespace', `Node type ${n.typeId} is outside the namespace of pack ${m.name}.`, {
        typeId: n.typeId,
        pack: m.name,
      });
    }
    if (seen.has(n.typeId)) throw new PackError('pack_manifest_invalid', `Node type ${n.typeId} is declared twice.`, { typeId: n.typeId });
    seen.add(n.typeId);
  }
  if (!LOADABLE_LANGUAGES.includes(m.runtime.language)) {
    throw new PackError('unsupported_runtime', `Pack runtime ${m.runtime.language} is not supported (supported: ${LOADABLE_LANGUAGES.join(', ')}).`, {
      language: m.runtime.language,
    });
  }
  const unmet = (m.runtime.requires ?? []).filter((r) => !granted.includes(r));
  if (unmet.length > 0) {
    throw new PackError('pack_runtime_requirement_unmet', `Pack ${m.name} requires runtime primitives this host does not grant: ${unmet.join(', ')}.`, {
      unmet,
    });
  }
  return m;
}

/** The key id a manifest names for its signature (`signing.publicKeyRef`, else `signing.keyId`). */
export function manifestKeyId(m: PackManifest): string | undefined {
  return m.signing?.publicKeyRef ?? m.signing?.keyId;
}

/** Where the detached signature lives in the archive: `signing.signatureRef`, else `keys/pack.json.sig`, else `pack.json.sig`. */
export function signaturePaths(m: PackManifest): string[] {
  const ref = m.signing?.signatureRef;
  return ref && !ref.includes('://') ? [ref.replace(/^\.\//, '')] : ['keys/pack.json.sig', 'pack.json.sig'];
}
