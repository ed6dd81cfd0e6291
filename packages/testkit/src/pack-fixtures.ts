/**
 * Test packs made at test time: signing keys the test generates, pack directories and
 * deterministic tarballs, hand-crafted hostile tarballs (traversal, links, oversize), and a
 * loopback static registry served by `node:http` with the registry's paths.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { buildArchive, generateSigningKey, integrityOf, signManifest } from '@weft/packs';
import { Header } from 'tar';

/** An Ed25519 signing key with its id. */
export interface TestSigner {
  keyId: string;
  privateKeyPem: string;
  publicKeyPem: string;
}

/** A fresh signing key. */
export function newSigner(keyId: string): TestSigner {
  return { keyId, ...generateSigningKey() };
}

/** A minimal valid node-pack manifest named `name` with one node type per entry of `types` (suffixes). */
export function testManifest(
  name: string,
  opts: { version?: string; types?: string[]; keyId?: string; extra?: Record<string, unknown> } = {},
): Record<string, unknown> {
  const owner = name.split('.').slice(0, 2).join('.');
  return {
    name,
    version: opts.version ?? '1.0.0',
    description: 'A test pack.',
    license: 'Apache-2.0',
    engines: { openwop: '>=1.0 <2.0.0' },
    runtime: { language: 'javascript', entry: 'dist/index.js', format: 'esm', minRuntimeVersion: 'node>=20' },
    nodes: (opts.types ?? ['echo']).map((t) => ({ typeId: `${owner}.${t}`, version: '1.0.0', label: t, category: 'data', role: 'pure' })),
    ...(opts.keyId ? { signing: { method: 'manual', publicKeyRef: opts.keyId, signatureRef: 'keys/pack.json.sig' } } : {}),
    ...opts.extra,
  };
}

/** The files of a pack: `pack.json` (the exact bytes given or pretty JSON), a JS entry, and the signature when a signer is given. */
export function testPackFiles(
  manifest: Record<string, unknown> | Buffer,
  signer?: TestSigner,
  extra: Record<string, string | Buffer> = {},
): Map<string, Buffer> {
  const bytes = Buffer.isBuffer(manifest) ? manifest : Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`);
  const files = new Map<string, Buffer>([
    ['pack.json', bytes],
    ['dist/index.js', Buffer.from('export default {};\n')],
  ]);
  if (signer) files.set('keys/pack.json.sig', signManifest(bytes, signer.privateKeyPem));
  for (const [k, v] of Object.entries(extra)) files.set(k, Buffer.isBuffer(v) ? v : Buffer.from(v));
  return files;
}

/** A new temporary directory. */
export const tempDir = (prefix = 'weft-pack-'): Promise<string> => mkdtemp(join(tmpdir(), prefix));

/** Writes `files` below a new directory (or `dir`) and returns it. */
export async function writePackDir(files: ReadonlyMap<string, Buffer>, dir?: string): Promise<string> {
  const root = dir ?? (await tempDir());
  for (const [path, body] of files) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), body);
  }
  return root;
}

/** The deterministic archive of `files` and its integrity. */
export function testTarball(files: ReadonlyMap<string, Buffer>): { tgz: Buffer; integrity: string } {
  const tgz = buildArchive(files);
  return { tgz, integrity: integrityOf(tgz) };
}

/** One raw tar entry for {@link craftTarball}. */
export interface RawEntry {
  path: string;
  type?: 'File' | 'Directory' | 'SymbolicLink' | 'Link' | 'FIFO';
  body?: Buffer | string;
  linkpath?: string;
  /** Declared size when it should differ from the body (never used to write more bytes). */
  size?: number;
}

/** A gzip'd tarball with exactly the entries given, hostile ones included. */
export function craftTarball(entries: readonly RawEntry[]): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const body = e.body === undefined ? Buffer.alloc(0) : Buffer.isBuffer(e.body) ? e.body : Buffer.from(e.body);
    const type = e.type ?? 'File';
    const h = new Header({
      path: e.path,
      mode: 0o644,
      uid: 0,
      gid: 0,
      size: type === 'File' ? (e.size ?? body.length) : 0,
      mtime: new Date(0),
      type,
      ...(e.linkpath ? { linkpath: e.linkpath } : {}),
    });
    const block = Buffer.alloc(512);
    h.encode(block, 0);
    blocks.push(block);
    if (type === 'File') {
      blocks.push(body);
      const pad = (512 - (body.length % 512)) % 512;
      if (pad) blocks.push(Buffer.alloc(pad));
    }
  }
  blocks.push(Buffer.alloc(1024));
  return gzipSync(Buffer.concat(blocks));
}

/** A keychain file granting each signer its namespaces. */
export function testKeychain(keys: readonly { signer: TestSigner; namespaces: string[]; status?: string; expiresAt?: string }[]): {
  signingKeys: Record<string, unknown>[];
} {
  return {
    signingKeys: keys.map((k) => ({
      keyId: k.signer.keyId,
      algorithm: 'ed25519',
      publicKey: k.signer.publicKeyPem,
      permittedNamespaces: k.namespaces,
      status: k.status ?? 'active',
      ...(k.expiresAt ? { expiresAt: k.expiresAt } : {}),
    })),
  };
}

/** One version a {@link startTestRegistry} serves. */
export interface RegistryVersion {
  name: string;
  version: string;
  tgz: Buffer;
  /** Raw 64-byte signature; omitted → `.sig` answers 404 `signature_not_available`. */
  signature?: Buffer;
  keyId?: string;
  yanked?: boolean;
  /** Published integrity (default: the real one). */
  integrity?: string;
  /** Serve this archive instead of `tgz` (a tampered mirror). */
  servedTgz?: Buffer;
}

/** A running loopback registry. */
export interface TestRegistry {
  url: string;
  /** Paths requested, in order. */
  requests: string[];
  close(): Promise<void>;
}

/**
 * Serves the static registry layout on 127.0.0.1: the discovery document with each signer's
 * key, `/keys/{id}.pub`, `/v1/index.json`, per-pack `index.json`, and each version's `.json`,
 * `.tgz` and `.sig`.
 */
export async function startTestRegistry(
  versions: readonly RegistryVersion[],
  keys: readonly { signer: TestSigner; namespaces: string[]; status?: string }[],
): Promise<TestRegistry> {
  const requests: string[] = [];
  const names = [...new Set(versions.map((v) => v.name))];
  const json = (res: ServerResponse, status: number, body: unknown): void => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const handler = (req: IncomingMessage, res: ServerResponse): unknown => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    requests.push(path);
    if (path === '/.well-known/openwop-registry') {
      return json(res, 200, {
        registryVersion: '1',
        supportedTrustModes: ['trusted', 'verified'],
        supportedSigningMethods: ['ed25519'],
        signingKeys: keys.map((k) => ({
          keyId: k.signer.keyId,
          algorithm: 'ed25519',
          publicKeyUrl: `/keys/${k.signer.keyId}.pub`,
          permittedNamespaces: k.namespaces,
          operator: 'test',
          status: k.status ?? 'active',
        })),
      });
    }
    const key = /^\/keys\/([^/]+)\.pub$/.exec(path);
    if (key) {
      const k = keys.find((x) => x.signer.keyId === key[1]);
      if (!k) return json(res, 404, { error: 'not_found' });
      res.writeHead(200, { 'content-type': 'application/x-pem-file' });
      return void res.end(k.signer.publicKeyPem);
    }
    if (path === '/v1/index.json') {
      return json(res, 200, { registryVersion: '1', generatedAt: new Date(0).toISOString(), packCount: names.length, packs: names.map((name) => ({ name })) });
    }
    const idx = /^\/v1\/packs\/([^/]+)\/index\.json$/.exec(path);
    if (idx) {
      const vs = versions.filter((v) => v.name === idx[1]);
      if (vs.length === 0) return json(res, 404, { error: 'pack_not_found' });
      return json(res, 200, {
        name: idx[1],
        versions: vs.map((v) => ({
          version: v.version,
          integrity: v.integrity ?? integrityOf(v.tgz),
          signingMethod: 'manual',
          ...(v.keyId ? { signingKeyId: v.keyId } : {}),
          yanked: v.yanked === true,
        })),
        latest: vs.filter((v) => !v.yanked).at(-1)?.version,
      });
    }
    const ver = /^\/v1\/packs\/([^/]+)\/-\/([^/]+)\.(json|tgz|sig)$/.exec(path);
    const v = ver && versions.find((x) => x.name === ver[1] && x.version === ver[2]);
    if (!ver || !v) return json(res, 404, { error: 'not_found' });
    if (ver[3] === 'json') {
      return json(res, 200, {
        name: v.name,
        version: v.version,
        integrity: v.integrity ?? integrityOf(v.tgz),
        yanked: v.yanked === true,
        ...(v.keyId ? { signing: { method: 'manual', publicKeyRef: v.keyId, signatureRef: `/v1/packs/${v.name}/-/${v.version}.sig` } } : {}),
      });
    }
    if (ver[3] === 'tgz') {
      res.writeHead(200, { 'content-type': 'application/tar+gzip', etag: `"${integrityOf(v.tgz)}"` });
      return void res.end(v.servedTgz ?? v.tgz);
    }
    if (!v.signature || v.yanked) return json(res, 404, { error: 'signature_not_available', message: 'No signature.' });
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    res.end(v.signature);
  };
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
