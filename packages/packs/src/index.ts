/**
 * `@weft/packs`: node packs from a directory, a tarball or a registry, verified before use —
 * archive limits, manifest checks, SRI integrity, Ed25519 signatures over the raw `pack.json`,
 * keychains with namespace permissions and pins, trust modes and the lockfile.
 *
 * @see ../../../docs/packs.md
 */
export * from './archive.js';
export * from './config.js';
export * from './errors.js';
export * from './keychain.js';
export * from './loader.js';
export * from './lockfile.js';
export * from './manifest.js';
export * from './names.js';
export * from './node-types.js';
export * from './peer-dependencies.js';
export * from './registry.js';
export * from './signature.js';
