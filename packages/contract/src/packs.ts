/**
 * Node-pack documents: the `pack.json` manifest, the `pack-lock.json` lockfile, and the
 * documents of a static pack registry (`/.well-known/openwop-registry`, the per-pack index).
 * Written once here, with TypeBox, like every other shape Weft reads or writes. Manifests and
 * registry documents stay open (unknown keys are kept and ignored, extension keys are opaque);
 * the lockfile's entries are closed.
 *
 * @see execution-semantics.md §6.1–6.5, security-contract.md §5.2
 */
import { Type, type Static } from 'typebox';
import { literalUnion } from './schemas.js';

/** Pack names: a tier, an owner, then one or more segments (`vendor.acme.tools`). */
export const PACK_NAME_PATTERN = '^(core|vendor|community|private)\\.[a-z][a-z0-9_-]*(\\.[a-z][a-zA-Z0-9_-]*)+$';

/** SemVer 2.0.0, an exact version (no ranges). */
export const SEMVER_PATTERN =
  '^(0|[1-9]\\d*)\\.(0|[1-9]\\d*)\\.(0|[1-9]\\d*)(?:-((?:0|[1-9]\\d*|\\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\\.(?:0|[1-9]\\d*|\\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\\+([0-9a-zA-Z-]+(?:\\.[0-9a-zA-Z-]+)*))?$';

/** Node typeIds (the workflow schema's pattern). */
export const TYPE_ID_PATTERN = '^[a-z][a-zA-Z0-9._-]*$';

/** The closed set of sandbox primitives a pack runtime may require. */
export const PACK_RUNTIME_REQUIREMENTS = ['net.dns', 'net.outbound', 'crypto', 'subprocess', 'fs.read', 'fs.write', 'env.read', 'clock'] as const;

/** Pack runtime languages of the manifest. */
export const PACK_LANGUAGES = ['javascript', 'python', 'go', 'wasm', 'wasm-component', 'remote'] as const;

/** One node type a pack provides. */
export const PackNodeSchema = Type.Object(
  {
    typeId: Type.String({ minLength: 1, maxLength: 128, pattern: TYPE_ID_PATTERN }),
    version: Type.Optional(Type.String({ maxLength: 64 })),
    label: Type.Optional(Type.String({ maxLength: 256 })),
    description: Type.Optional(Type.String({ maxLength: 4096 })),
    category: Type.Optional(Type.String({ maxLength: 64 })),
    role: Type.Optional(Type.String({ maxLength: 64 })),
    capabilities: Type.Optional(Type.Array(Type.String({ maxLength: 64 }), { maxItems: 32 })),
  },
  { additionalProperties: true },
);

/** The `pack.json` manifest (the fields Weft reads; the rest is kept and ignored). */
export const PackManifestSchema = Type.Object(
  {
    name: Type.String({ minLength: 3, maxLength: 214, pattern: PACK_NAME_PATTERN }),
    version: Type.String({ maxLength: 64, pattern: SEMVER_PATTERN }),
    kind: Type.Optional(Type.Literal('node')),
    description: Type.Optional(Type.String({ maxLength: 4096 })),
    license: Type.Optional(Type.String({ maxLength: 128 })),
    engines: Type.Object({ openwop: Type.String({ minLength: 1, maxLength: 128 }) }, { additionalProperties: true }),
    runtime: Type.Object(
      {
        language: literalUnion(PACK_LANGUAGES),
        entry: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
        format: Type.Optional(Type.String({ maxLength: 32 })),
        minRuntimeVersion: Type.Optional(Type.String({ maxLength: 64 })),
        requires: Type.Optional(Type.Array(literalUnion(PACK_RUNTIME_REQUIREMENTS), { uniqueItems: true })),
      },
      { additionalProperties: true },
    ),
    nodes: Type.Optional(Type.Array(PackNodeSchema, { minItems: 1, maxItems: 500 })),
    agents: Type.Optional(Type.Array(Type.Unknown(), { maxItems: 500 })),
    dependencies: Type.Optional(Type.Record(Type.String(), Type.String())),
    peerDependencies: Type.Optional(Type.Record(Type.String(), Type.String())),
    signing: Type.Optional(
      Type.Object(
        {
          method: Type.String({ maxLength: 32 }),
          publicKeyRef: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
          keyId: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
          signatureRef: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
        },
        { additionalProperties: true },
      ),
    ),
  },
  { additionalProperties: true },
);
export type PackManifest = Static<typeof PackManifestSchema>;

const Sri = Type.String({ pattern: '^sha256-[A-Za-z0-9+/]{43}=$' });

/** One locked pack: an exact version, the archive's integrity and the signature it carried. */
export const LockedPackSchema = Type.Object(
  {
    name: Type.String({ minLength: 3, maxLength: 256, pattern: '^(core|vendor|community|private|local)\\.[a-z0-9][a-z0-9.-]*$' }),
    version: Type.String({ minLength: 1, maxLength: 64, pattern: SEMVER_PATTERN }),
    resolved: Type.Optional(Type.String({ minLength: 1, maxLength: 2048 })),
    integrity: Sri,
    signature: Type.Optional(
      Type.Object(
        {
          algorithm: Type.Literal('ed25519'),
          publicKey: Type.String({ minLength: 1, maxLength: 4096 }),
          value: Type.String({ minLength: 1, maxLength: 256 }),
        },
        { additionalProperties: false },
      ),
    ),
    dependencies: Type.Optional(Type.Record(Type.String(), Type.String({ minLength: 1, maxLength: 64 }))),
    peerDependencies: Type.Optional(Type.Record(Type.String(), Type.String({ minLength: 1, maxLength: 64 }))),
  },
  { additionalProperties: false },
);
export type LockedPack = Static<typeof LockedPackSchema>;

/** `pack-lock.json`. Unknown top-level fields are ignored. */
export const PackLockfileSchema = Type.Object(
  {
    lockfileVersion: Type.Integer({ minimum: 1 }),
    generatedAt: Type.String({ format: 'date-time' }),
    registry: Type.Optional(Type.String({ maxLength: 2048 })),
    packs: Type.Array(LockedPackSchema, { maxItems: 10_000 }),
    overrides: Type.Optional(Type.Record(Type.String(), Type.String({ minLength: 1, maxLength: 64 }))),
    fallbackRegistries: Type.Optional(Type.Array(Type.String())),
  },
  { additionalProperties: true },
);
export type PackLockfile = Static<typeof PackLockfileSchema>;

/** One signing key of a registry's keychain (or of a local keychain file of the same shape). */
export const RegistrySigningKeySchema = Type.Object(
  {
    keyId: Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9._-]+$' }),
    algorithm: Type.Literal('ed25519'),
    /** Where the SPKI PEM is served (registry); relative to the registry root. */
    publicKeyUrl: Type.Optional(Type.String({ minLength: 1, maxLength: 2048 })),
    /** The SPKI PEM (or base64 of the raw 32 bytes) inline (local keychain files). */
    publicKey: Type.Optional(Type.String({ minLength: 1, maxLength: 4096 })),
    permittedNamespaces: Type.Array(Type.String({ minLength: 1, maxLength: 214 }), { minItems: 1, maxItems: 1000 }),
    operator: Type.Optional(Type.String({ maxLength: 256 })),
    status: Type.Optional(Type.String({ maxLength: 32 })),
    /** Signatures by this key are refused after this instant. */
    expiresAt: Type.Optional(Type.String({ format: 'date-time' })),
  },
  { additionalProperties: true },
);
export type RegistrySigningKey = Static<typeof RegistrySigningKeySchema>;

/** `/.well-known/openwop-registry`. */
export const RegistryWellKnownSchema = Type.Object(
  {
    signingKeys: Type.Array(RegistrySigningKeySchema, { maxItems: 1000 }),
    endpoints: Type.Optional(Type.Record(Type.String(), Type.String({ maxLength: 2048 }))),
    supportedTrustModes: Type.Optional(Type.Array(Type.String())),
    supportedSigningMethods: Type.Optional(Type.Array(Type.String())),
  },
  { additionalProperties: true },
);
export type RegistryWellKnown = Static<typeof RegistryWellKnownSchema>;

/** One version in a per-pack index. */
export const RegistryPackVersionSchema = Type.Object(
  {
    version: Type.String({ maxLength: 64 }),
    integrity: Type.Optional(Type.String({ maxLength: 128 })),
    signingMethod: Type.Optional(Type.String({ maxLength: 32 })),
    signingKeyId: Type.Optional(Type.String({ maxLength: 128 })),
    manifestUrl: Type.Optional(Type.String({ maxLength: 2048 })),
    tarballUrl: Type.Optional(Type.String({ maxLength: 2048 })),
    signatureUrl: Type.Optional(Type.String({ maxLength: 2048 })),
    yanked: Type.Optional(Type.Boolean()),
    deprecated: Type.Optional(Type.Unknown()),
  },
  { additionalProperties: true },
);

/** `/v1/packs/{name}/index.json`. */
export const RegistryPackIndexSchema = Type.Object(
  {
    name: Type.String({ maxLength: 214 }),
    versions: Type.Array(RegistryPackVersionSchema, { maxItems: 10_000 }),
    latest: Type.Optional(Type.String({ maxLength: 64 })),
  },
  { additionalProperties: true },
);
export type RegistryPackIndex = Static<typeof RegistryPackIndexSchema>;

/** `/v1/packs/{name}/-/{version}.json` (the fields Weft reads). */
export const RegistryVersionManifestSchema = Type.Object(
  {
    name: Type.Optional(Type.String({ maxLength: 214 })),
    version: Type.Optional(Type.String({ maxLength: 64 })),
    integrity: Type.Optional(Type.String({ maxLength: 128 })),
    yanked: Type.Optional(Type.Boolean()),
    signing: Type.Optional(
      Type.Object(
        {
          method: Type.Optional(Type.String({ maxLength: 32 })),
          publicKeyRef: Type.Optional(Type.String({ maxLength: 128 })),
          keyId: Type.Optional(Type.String({ maxLength: 128 })),
          signatureRef: Type.Optional(Type.String({ maxLength: 2048 })),
        },
        { additionalProperties: true },
      ),
    ),
  },
  { additionalProperties: true },
);
export type RegistryVersionManifest = Static<typeof RegistryVersionManifestSchema>;

/** A local keychain file: the registry's `signingKeys[]` shape, with each `publicKey` inline. */
export const KeychainFileSchema = Type.Object({ signingKeys: Type.Array(RegistrySigningKeySchema, { maxItems: 1000 }) }, { additionalProperties: true });
export type KeychainFile = Static<typeof KeychainFileSchema>;

/** One loaded pack version as the host's `/v1/packs` read side shows it. */
export const PackVersionViewSchema = Type.Object(
  {
    name: Type.String(),
    version: Type.String(),
    description: Type.Optional(Type.String()),
    license: Type.Optional(Type.String()),
    integrity: Type.String(),
    typeIds: Type.Array(Type.String()),
    runtime: Type.String({ description: 'The manifest runtime.language.' }),
    signed: Type.Boolean({ description: 'True when the host verified an Ed25519 signature for it.' }),
    signingKeyId: Type.Optional(Type.String()),
    trustMode: Type.String({ description: 'The trust mode the pack was admitted under.' }),
  },
  { additionalProperties: false },
);
export type PackVersionView = Static<typeof PackVersionViewSchema>;

/** `GET /v1/packs`: the packs this host loaded. */
export const PackListResponseSchema = Type.Object({ packs: Type.Array(PackVersionViewSchema) }, { additionalProperties: false });

/** `GET /v1/packs/{name}`: a catalog entry (`versions` keyed by SemVer, `dist-tags.latest`). */
export const PackCatalogEntrySchema = Type.Object(
  {
    name: Type.String(),
    versions: Type.Record(Type.String(), PackVersionViewSchema),
    'dist-tags': Type.Object({ latest: Type.String() }, { additionalProperties: false }),
  },
  { additionalProperties: false },
);

/** `GET /v1/packs/-/search?q=`. */
export const PackSearchResponseSchema = Type.Object({ results: Type.Array(PackVersionViewSchema) }, { additionalProperties: false });
