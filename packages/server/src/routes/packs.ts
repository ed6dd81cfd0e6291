/**
 * The read side of the pack API under `/v1/packs`, over the packs this host loaded and
 * verified at boot: list, search, a pack's catalog entry, a version's manifest and its
 * detached signature. Like the registry it mirrors, these routes are public; they serve only
 * what verification already established (names, versions, typeIds, integrity, signatures),
 * never archive files or code. Malformed names and versions are 400 `invalid_pack_name` /
 * `invalid_version`; unknown ones 404 `pack_not_found`, and a missing signature 404
 * `signature_not_available`.
 *
 * @see execution-semantics.md §6.5 (host side), conformance-notes.md §Node-pack registry
 */
import { PACK_NAME_PATTERN, ROUTE_SCHEMAS, SEMVER_PATTERN, WeftError, type PackVersionView } from '@weft/contract';
import type { LoadedPack } from '@weft/packs';
import type { WeftApp } from '../app.js';
import type { HostContext } from '../context.js';

const NAME = new RegExp(PACK_NAME_PATTERN);
const SEMVER = new RegExp(SEMVER_PATTERN);

function checkName(name: string): string {
  if (name.length > 214 || !NAME.test(name)) {
    throw new WeftError('invalid_pack_name', 'The pack name must be (core|vendor|community|private).<owner>.<name>.', { name: name.slice(0, 214) });
  }
  return name;
}

function checkVersion(version: string): string {
  if (version.length > 64 || !SEMVER.test(version))
    throw new WeftError('invalid_version', 'The version must be an exact SemVer 2.0.0 version.', { version: version.slice(0, 64) });
  return version;
}

/** What a loaded pack shows on the read side. */
export function packView(p: LoadedPack): PackVersionView {
  const v: PackVersionView = {
    name: p.name,
    version: p.version,
    integrity: p.integrity,
    typeIds: (p.manifest.nodes ?? []).map((n) => n.typeId),
    runtime: p.manifest.runtime.language,
    signed: p.trust.verifiedBy !== undefined || p.signature?.publicKey !== undefined,
    trustMode: p.trust.mode,
  };
  if (p.manifest.description) v.description = p.manifest.description;
  if (p.manifest.license) v.license = p.manifest.license;
  if (p.trust.verifiedBy) v.signingKeyId = p.trust.verifiedBy;
  return v;
}

export function registerPackRoutes(app: WeftApp, ctx: HostContext): void {
  const packs = (): readonly LoadedPack[] => ctx.packs ?? [];
  const byName = (name: string): LoadedPack => {
    const p = packs().find((x) => x.name === name);
    if (!p) throw new WeftError('pack_not_found', `No pack ${name} is loaded.`, { name });
    return p;
  };

  app.get('/v1/packs', async () => ({ packs: packs().map(packView) }));

  app.get('/v1/packs/-/search', { schema: ROUTE_SCHEMAS['GET /v1/packs/-/search'] }, async (req) => {
    const q = req.query.q ?? '';
    if (q.length > 256) throw new WeftError('validation_error', 'q is longer than 256 characters.', { errors: [{ path: '/q', message: 'too long' }] });
    const needle = q.toLowerCase();
    const hits = packs().filter(
      (p) =>
        p.name.toLowerCase().includes(needle) ||
        (p.manifest.description ?? '').toLowerCase().includes(needle) ||
        (p.manifest.nodes ?? []).some((n) => n.typeId.toLowerCase().includes(needle)),
    );
    return { results: hits.map(packView) };
  });

  app.get('/v1/packs/:name', { schema: ROUTE_SCHEMAS['GET /v1/packs/:name'] }, async (req) => {
    const p = byName(checkName(req.params.name));
    return { name: p.name, versions: { [p.version]: packView(p) }, 'dist-tags': { latest: p.version } };
  });

  app.get('/v1/packs/:name/-/:file', { schema: ROUTE_SCHEMAS['GET /v1/packs/:name/-/:file'] }, async (req, reply) => {
    const name = checkName(req.params.name);
    const m = /^(.+)\.(json|sig)$/.exec(req.params.file);
    if (!m) throw new WeftError('not_found', 'No such resource.');
    const version = checkVersion(m[1] as string);
    const p = packs().find((x) => x.name === name && x.version === version);
    if (m[2] === 'sig') {
      if (!p?.signature) throw new WeftError('signature_not_available', `No signature is available for ${name}@${version}.`, { name, version });
      return reply.type('application/octet-stream').send(Buffer.from(p.signature.value, 'base64'));
    }
    if (!p) throw new WeftError('pack_not_found', `No pack ${name}@${version} is loaded.`, { name, version });
    const signing = p.manifest.signing ?? (p.trust.verifiedBy ? { method: 'manual', publicKeyRef: p.trust.verifiedBy } : undefined);
    return { ...(p.manifest as Record<string, unknown>), integrity: p.integrity, ...(signing ? { signing } : {}) };
  });
}
