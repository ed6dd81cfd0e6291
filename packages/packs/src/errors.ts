/**
 * Why a pack was refused. These codes name load-time failures (boot, `weft packs verify`);
 * they are not HTTP error codes. Where the spec names a code it is used verbatim
 * (execution-semantics.md §6.3–6.5, security-contract.md §5.2 PACK-03/05/06); the rest are
 * Weft's own and listed in docs/packs.md.
 */
export const PACK_ERROR_CODES = [
  // archive (the registry's publish codes, applied on load too)
  'tarball_gunzip_failed',
  'tarball_too_large',
  'tarball_manifest_missing',
  'tarball_manifest_too_large',
  'tarball_manifest_not_json',
  'tarball_entry_too_large',
  'tarball_path_traversal',
  'tarball_tar_parse_failed',
  'tarball_symlink',
  'tarball_entry_unsupported',
  'tarball_duplicate_entry',
  'tarball_too_many_entries',
  // manifest
  'pack_manifest_invalid',
  'pack_typeid_out_of_namespace',
  'pack_typeid_conflict',
  'unsupported_runtime',
  'pack_runtime_requirement_unmet',
  'pack_peer_dependency_missing',
  'pack_peer_dependency_undefined',
  // integrity and signature
  'pack_integrity_mismatch',
  'pack_signature_missing',
  'pack_signature_invalid',
  'pack_signature_unverifiable',
  'signature_unknown_key',
  'pack_key_namespace_denied',
  'pack_key_not_pinned',
  'pack_key_revoked',
  'pack_key_expired',
  // trust policy and lockfile
  'pack_not_approved',
  'pack_lockfile_invalid',
  'pack_lockfile_incomplete',
  'pack_version_mismatch',
  'pack_lock_mismatch',
  // registry
  'pack_fetch_failed',
  'pack_not_found',
  'pack_version_not_found',
  'pack_yanked',
  'registry_invalid',
  // sources
  'pack_source_invalid',
  'pack_duplicate',
] as const;

/** A pack refusal code. */
export type PackErrorCode = (typeof PACK_ERROR_CODES)[number];

/** A refused pack: a stable code, a message without secrets, and optional details. */
export class PackError extends Error {
  override readonly name = 'PackError';
  readonly code: PackErrorCode;
  readonly details: Record<string, unknown> | undefined;
  constructor(code: PackErrorCode, message: string, details?: Record<string, unknown>, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.details = details;
  }
}
