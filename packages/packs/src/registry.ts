/**
 * A client for the static registry layout: `/.well-known/openwop-registry` (keychain and
 * endpoint templates), `/v1/index.json`, the per-pack index, the version manifest, the
 * tarball, the detached `.sig` and `/keys/{keyId}.pub`. Paths come from the registry's
 * `endpoints` templates (the spec's defaults otherwise), always resolved against the
 * registry's own origin; URLs inside index documents are not followed. Every response is
 * read under a size cap and a timeout. Plain `http:` is refused except on loopback.
 *
 * @see execution-semantics.md §6.4, §6.5
 */
import { isIP } from 'node:net';
import {
  RegistryPackIndexSchema,
  RegistryVersionManifestSchema,
  RegistryWellKnownSchema,
  WeftError,
  compileValidator,
  type RegistryPackIndex,
  type RegistryVersionManifest,
  type RegistryWellKnown,
} from '@weft/contract';
import { DEFAULT_LIMITS, type ArchiveLimits } from './archive.js';
import { PackError } from './errors.js';
import { trustedKey, type TrustedKey } from './keychain.js';
import { compareVersions, isExactVersion, isPackName } from './names.js';

/** The spec's endpoint templates, used when the registry does not list its own. */
export const DEFAULT_ENDPOINTS = {
  registryIndex: '/v1/index.json',
  packMetadata: '/v1/packs/{name}/index.json',
  versionManifest: '/v1/packs/{name}/-/{version}.json',
  versionTarball: '/v1/packs/{name}/-/{version}.tgz',
  versionSignature: '/v1/packs/{name}/-/{version}.sig',
  publicKey: '/keys/{keyId}.pub',
} as const;

type EndpointName = keyof typeof DEFAULT_ENDPOINTS;

/** Options of {@link RegistryClient}. */
export interface RegistryClientOptions {
  fetch?: typeof fetch;
  /** Per-request timeout (default 15 s). */
  timeoutMs?: number;
  /** Allow `http:` to a non-loopback host (never by default). */
  allowInsecureHttp?: boolean;
  limits?: ArchiveLimits;
}

/** What the registry serves for one version, before verification. */
export interface FetchedPack {
  name: string;
  version: string;
  tgz: Buffer;
  /** The detached signature (64 raw bytes), unless the registry has none (404 `signature_not_available`). */
  signature?: Buffer;
  /** The key the registry says signed it. */
  keyId?: string;
  /** The integrity the registry publishes for the archive. */
  integrity?: string;
  /** The archive URL (recorded as `resolved` in a lockfile). */
  resolved: string;
}

const validateWellKnown = compileValidator<RegistryWellKnown>(RegistryWellKnownSchema);
const validatePackIndex = compileValidator<RegistryPackIndex>(RegistryPackIndexSchema);
const validateVersionManifest = compileValidator<RegistryVersionManifest>(RegistryVersionManifestSchema);

/** Largest JSON document or key accepted from a registry. */
const MAX_JSON_BYTES = 4 * 1024 * 1024;

function isLoopback(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '');
  if (h === 'localhost') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  return h === '::1';
}

/** A registry, addressed by its base URL. */
export class RegistryClient {
  readonly base: URL;
  private readonly doFetch: typeof fetch;
  private readonly timeoutMs: number;
  private readonly limits: ArchiveLimits;
  private wellKnownDoc: Promise<RegistryWellKnown> | undefined;

  constructor(baseUrl: string, opts: RegistryClientOptions = {}) {
    let base: URL;
    try {
      base = new URL(baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`);
    } catch {
      throw new PackError('pack_source_invalid', 'The registry URL is not a URL.');
    }
    if (base.protocol !== 'https:' && base.protocol !== 'http:') throw new PackError('pack_source_invalid', 'The registry URL must be http(s).');
    if (base.protocol === 'http:' && !isLoopback(base.hostname) && !opts.allowInsecureHttp) {
      throw new PackError('pack_source_invalid', 'The registry URL must use https (plain http is allowed on loopback only).');
    }
    if (base.username || base.password) throw new PackError('pack_source_invalid', 'The registry URL must not carry credentials.');
    this.base = base;
    this.doFetch = opts.fetch ?? fetch;
    this.timeoutMs = opts.timeoutMs ?? 15_000;
    this.limits = opts.limits ?? DEFAULT_LIMITS;
  }

  /** The URL of an endpoint with its `{placeholders}` filled (URL-encoded), on the registry's origin. */
  async url(endpoint: EndpointName, params: Record<string, string> = {}): Promise<URL> {
    const doc = await this.wellKnown();
    const template = doc.endpoints?.[endpoint] ?? DEFAULT_ENDPOINTS[endpoint];
    const path = template.replace(/\{(\w+)\}/g, (_, k: string) => encodeURIComponent(params[k] ?? ''));
    return this.resolve(path);
  }

  private resolve(path: string): URL {
    const u = new URL(path.startsWith('/') ? `.${path}` : path, this.base);
    if (u.origin !== this.base.origin) throw new PackError('registry_invalid', 'The registry points outside its own origin.');
    return u;
  }

  /**
   * GETs `url` and returns the body, or `undefined` on 404.
   * @throws PackError `pack_fetch_failed`
   */
  private async get(url: URL, maxBytes: number): Promise<Buffer | undefined> {
    let res: Response;
    try {
      res = await this.doFetch(url, { signal: AbortSignal.timeout(this.timeoutMs), headers: { accept: '*/*' }, redirect: 'follow' });
    } catch (e) {
      throw new PackError('pack_fetch_failed', `Cannot fetch ${url.pathname} from the registry.`, { url: url.href }, { cause: e });
    }
    if (res.status === 404) {
      await res.body?.cancel().catch(() => undefined);
      return undefined;
    }
    if (!res.ok) {
      await res.body?.cancel().catch(() => undefined);
      throw new PackError('pack_fetch_failed', `The registry answered ${res.status} for ${url.pathname}.`, { url: url.href, status: res.status });
    }
    const declared = Number(res.headers.get('content-length') ?? 'NaN');
    if (Number.isFinite(declared) && declared > maxBytes) {
      await res.body?.cancel().catch(() => undefined);
      throw new PackError('tarball_too_large', `${url.pathname} exceeds ${maxBytes} bytes.`, { limitBytes: maxBytes });
    }
    const chunks: Uint8Array[] = [];
    let total = 0;
    const reader = res.body?.getReader();
    if (!reader) return Buffer.alloc(0);
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        total += value.byteLength;
        if (total > maxBytes) {
          await reader.cancel().catch(() => undefined);
          throw new PackError('tarball_too_large', `${url.pathname} exceeds ${maxBytes} bytes.`, { limitBytes: maxBytes });
        }
        chunks.push(value);
      }
    } catch (e) {
      if (e instanceof PackError) throw e;
      throw new PackError('pack_fetch_failed', `Reading ${url.pathname} from the registry failed.`, { url: url.href }, { cause: e });
    }
    return Buffer.concat(chunks);
  }

  private async getJson<T>(url: URL, validate: (v: unknown, what?: string) => T, what: string): Promise<T | undefined> {
    const body = await this.get(url, MAX_JSON_BYTES);
    if (body === undefined) return undefined;
    let raw: unknown;
    try {
      raw = JSON.parse(body.toString('utf8'));
    } catch {
      throw new PackError('registry_invalid', `The registry's ${what} is not JSON.`);
    }
    try {
      return validate(raw, what);
    } catch (e) {
      throw new PackError('registry_invalid', `The registry's ${what} does not have the expected shape.`, e instanceof WeftError ? e.details : undefined);
    }
  }

  /** `/.well-known/openwop-registry` (then `/.well-known/openwop-registry.json`), fetched once. */
  wellKnown(): Promise<RegistryWellKnown> {
    this.wellKnownDoc ??= (async () => {
      for (const p of ['/.well-known/openwop-registry', '/.well-known/openwop-registry.json']) {
        const doc = await this.getJson(this.resolve(p), validateWellKnown, 'discovery document');
        if (doc) return doc;
      }
      throw new PackError('registry_invalid', 'The registry serves no /.well-known/openwop-registry document.');
    })();
    this.wellKnownDoc.catch(() => {
      this.wellKnownDoc = undefined;
    });
    return this.wellKnownDoc;
  }

  /** The registry's signing keys with their public keys fetched (every listed key, any status). */
  async keys(): Promise<TrustedKey[]> {
    const doc = await this.wellKnown();
    const out: TrustedKey[] = [];
    for (const k of doc.signingKeys) {
      const url = k.publicKeyUrl ? this.resolve(k.publicKeyUrl) : await this.url('publicKey', { keyId: k.keyId });
      const pem = k.publicKey ?? (await this.get(url, 16 * 1024))?.toString('utf8');
      if (!pem) throw new PackError('registry_invalid', `The registry lists key ${k.keyId} but does not serve it.`, { keyId: k.keyId });
      out.push(trustedKey(k, pem, this.base.origin));
    }
    return out;
  }

  /** `/v1/index.json` as served. */
  async index(): Promise<unknown> {
    const body = await this.get(await this.url('registryIndex'), MAX_JSON_BYTES);
    if (!body) throw new PackError('pack_fetch_failed', 'The registry serves no index.');
    try {
      return JSON.parse(body.toString('utf8'));
    } catch {
      throw new PackError('registry_invalid', "The registry's index is not JSON.");
    }
  }

  /**
   * The per-pack index.
   * @throws PackError `pack_not_found`
   */
  async packIndex(name: string): Promise<RegistryPackIndex> {
    if (!isPackName(name)) throw new PackError('pack_source_invalid', `${name.slice(0, 214)} is not a pack name.`);
    const doc = await this.getJson(await this.url('packMetadata', { name }), validatePackIndex, 'pack index');
    if (!doc) throw new PackError('pack_not_found', `The registry has no pack ${name}.`, { pack: name });
    return doc;
  }

  /**
   * The version to load: `version` itself, or the index's `latest` (else the highest non-yanked
   * release). A yanked version is refused.
   * @throws PackError `pack_version_not_found` | `pack_yanked`
   */
  async resolveVersion(name: string, version?: string): Promise<{ version: string; integrity?: string; keyId?: string }> {
    const idx = await this.packIndex(name);
    let wanted = version ?? idx.latest;
    if (!wanted) {
      const live = idx.versions.filter((v) => !v.yanked && isExactVersion(v.version) && !v.version.includes('-'));
      wanted = live
        .map((v) => v.version)
        .sort(compareVersions)
        .at(-1);
    }
    const entry = idx.versions.find((v) => v.version === wanted);
    if (!wanted || !entry)
      throw new PackError('pack_version_not_found', `The registry has no version ${wanted ?? '(latest)'} of ${name}.`, { pack: name, version: wanted });
    if (entry.yanked) throw new PackError('pack_yanked', `${name}@${entry.version} was yanked.`, { pack: name, version: entry.version });
    const out: { version: string; integrity?: string; keyId?: string } = { version: entry.version };
    if (entry.integrity) out.integrity = entry.integrity;
    if (entry.signingKeyId) out.keyId = entry.signingKeyId;
    return out;
  }

  /**
   * Everything needed to verify `name@version` (or the latest version): tarball, signature,
   * the key id and integrity the registry publishes. Nothing is verified here.
   * @throws PackError `pack_version_not_found` | `pack_yanked` | `pack_fetch_failed` | `registry_invalid`
   */
  async fetchPack(name: string, version?: string): Promise<FetchedPack> {
    if (version !== undefined && !isExactVersion(version)) throw new PackError('pack_source_invalid', `${version.slice(0, 64)} is not an exact version.`);
    const resolved = await this.resolveVersion(name, version);
    const v = resolved.version;
    const manifest = await this.getJson(await this.url('versionManifest', { name, version: v }), validateVersionManifest, 'version manifest');
    if (!manifest) throw new PackError('pack_version_not_found', `The registry has no manifest for ${name}@${v}.`, { pack: name, version: v });
    if (manifest.yanked) throw new PackError('pack_yanked', `${name}@${v} was yanked.`, { pack: name, version: v });
    if ((manifest.name !== undefined && manifest.name !== name) || (manifest.version !== undefined && manifest.version !== v)) {
      throw new PackError('pack_version_mismatch', `The registry served ${manifest.name}@${manifest.version} for ${name}@${v}.`, { pack: name, version: v });
    }
    const tgzUrl = await this.url('versionTarball', { name, version: v });
    const tgz = await this.get(tgzUrl, this.limits.maxArchiveBytes);
    if (!tgz) throw new PackError('pack_version_not_found', `The registry serves no archive for ${name}@${v}.`, { pack: name, version: v });
    const signature = await this.get(await this.url('versionSignature', { name, version: v }), 1024);
    const out: FetchedPack = { name, version: v, tgz, resolved: tgzUrl.href };
    if (signature) out.signature = signature;
    const keyId = manifest.signing?.publicKeyRef ?? manifest.signing?.keyId ?? resolved.keyId;
    if (keyId) out.keyId = keyId;
    const integrity = manifest.integrity ?? resolved.integrity;
    if (integrity) out.integrity = integrity;
    return out;
  }
}
