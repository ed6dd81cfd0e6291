/**
 * Pack archives: a gzip'd USTAR tarball read entirely in memory under limits, and the one
 * deterministic archive builder (`weft packs pack` and directory sources share it, so a
 * directory and the tarball built from it have the same integrity).
 *
 * Reading never touches the file system and never follows anything: only regular files and
 * directories are accepted; symlinks, hard links, devices and PAX/GNU long-name headers are
 * refused, as are absolute paths, `..` segments, backslashes, duplicate names and names over
 * 100 bytes. The gzip stream is inflated with a hard output cap, so a small archive that
 * expands to gigabytes fails at the cap instead of filling memory.
 *
 * @see execution-semantics.md §6.3, security-contract.md §5.2 PACK-06
 */
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { lstat, readdir, readFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { Header, Parser, type ReadEntry } from 'tar';
import { PackError } from './errors.js';

/** Size limits applied to every archive and directory. */
export interface ArchiveLimits {
  /** Largest compressed archive (the registry's cap: 50 MB). */
  maxArchiveBytes: number;
  /** Largest total of the inflated tar stream (zip-bomb guard). */
  maxExpandedBytes: number;
  /** Largest single file (the registry's cap: 5 MB). */
  maxEntryBytes: number;
  /** Largest `pack.json` (the registry's cap: 256 KB). */
  maxManifestBytes: number;
  /** Most entries. */
  maxEntries: number;
}

/** The defaults: the reference registry's publish caps, and 200 MB / 10 000 entries expanded. */
export const DEFAULT_LIMITS: ArchiveLimits = {
  maxArchiveBytes: 50 * 1024 * 1024,
  maxExpandedBytes: 200 * 1024 * 1024,
  maxEntryBytes: 5 * 1024 * 1024,
  maxManifestBytes: 256 * 1024,
  maxEntries: 10_000,
};

/** The files of a pack, by archive path (`pack.json`, `dist/index.js`, …), sorted by path. */
export type PackFiles = ReadonlyMap<string, Buffer>;

/** Entry names longer than this need a PAX header, which the reference registry refuses. */
const MAX_NAME_BYTES = 100;

/** Names skipped when a directory is read (never part of a pack). */
const IGNORED = new Set(['.git', 'node_modules', '.DS_Store']);

/**
 * Checks an archive path and returns it without a leading `./`.
 * @throws PackError `tarball_path_traversal`
 */
export function checkEntryPath(raw: string): string {
  const path = raw.startsWith('./') ? raw.slice(2) : raw;
  // One trailing slash marks a directory; any other empty segment (`a//b`) is refused, so no two
  // spellings of one path can both be present.
  const segments = (path.endsWith('/') ? path.slice(0, -1) : path).split('/');
  const bad =
    path.length === 0 ||
    path.startsWith('/') ||
    /^[A-Za-z]:/.test(path) ||
    path.includes('\\') ||
    path.includes('\0') ||
    segments.some((seg) => seg === '..' || seg === '.' || seg === '');
  if (bad) throw new PackError('tarball_path_traversal', 'The archive holds an absolute path or a path that leaves the pack.', { path: raw.slice(0, 200) });
  return path;
}

/** `sha256-<base64>` (or `sha512-`) of `bytes`, the SRI form the registry and lockfile use. */
export function integrityOf(bytes: Uint8Array, algorithm: 'sha256' | 'sha512' = 'sha256'): string {
  return `${algorithm}-${createHash(algorithm).update(bytes).digest('base64')}`;
}

/**
 * Checks `bytes` against an SRI string (`sha256-…` or `sha512-…`; several space-separated
 * hashes pass when the strongest one matches).
 * @throws PackError `pack_integrity_mismatch` (also for an unparseable integrity string)
 */
export function checkIntegrity(bytes: Uint8Array, sri: string): void {
  const parts = sri
    .trim()
    .split(/\s+/)
    .map((p) => /^(sha256|sha512)-([A-Za-z0-9+/]+={0,2})$/.exec(p))
    .filter((m): m is RegExpExecArray => m !== null);
  if (parts.length === 0) throw new PackError('pack_integrity_mismatch', 'The expected integrity is not a sha256- or sha512- SRI string.');
  const strongest = parts.some((m) => m[1] === 'sha512') ? 'sha512' : 'sha256';
  const actual = integrityOf(bytes, strongest);
  if (!parts.some((m) => m[1] === strongest && `${m[1]}-${m[2]}` === actual)) {
    throw new PackError('pack_integrity_mismatch', 'The archive does not match its expected integrity.', { expected: sri.slice(0, 200), actual });
  }
}

const ACCEPTED_TYPES = new Set(['File', 'OldFile', 'ContiguousFile', 'Directory']);

/**
 * Reads a gzip'd tarball into memory.
 * @throws PackError `tarball_*` codes
 */
export async function readArchive(tgz: Uint8Array, limits: ArchiveLimits = DEFAULT_LIMITS): Promise<PackFiles> {
  if (tgz.byteLength > limits.maxArchiveBytes) {
    throw new PackError('tarball_too_large', `The archive exceeds ${limits.maxArchiveBytes} bytes.`, { limitBytes: limits.maxArchiveBytes });
  }
  let tar: Buffer;
  try {
    tar = gunzipSync(tgz, { maxOutputLength: limits.maxExpandedBytes });
  } catch (e) {
    if (e instanceof RangeError || (e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new PackError('tarball_too_large', `The archive expands past ${limits.maxExpandedBytes} bytes.`, { limitBytes: limits.maxExpandedBytes });
    }
    throw new PackError('tarball_gunzip_failed', 'The archive is not valid gzip.');
  }
  const files = new Map<string, Buffer>();
  const dirs = new Set<string>();
  let failure: PackError | undefined;
  const fail = (e: PackError): void => {
    failure ??= e;
  };
  let entries = 0;
  await new Promise<void>((resolve) => {
    const parser = new Parser({
      strict: true,
      maxMetaEntrySize: 0,
      onReadEntry: (entry: ReadEntry) => {
        entry.resume();
        if (failure) return;
        if (++entries > limits.maxEntries) return fail(new PackError('tarball_too_many_entries', `The archive holds more than ${limits.maxEntries} entries.`));
        if (entry.extended || entry.globalExtended)
          return fail(new PackError('tarball_entry_unsupported', 'The archive uses PAX extended headers; entry names must fit 100 bytes.'));
        if (entry.type === 'SymbolicLink' || entry.type === 'Link')
          return fail(new PackError('tarball_symlink', 'The archive holds a symbolic or hard link.', { path: entry.path.slice(0, 200) }));
        if (!ACCEPTED_TYPES.has(entry.type))
          return fail(new PackError('tarball_entry_unsupported', `The archive holds an entry of type ${entry.type}.`, { path: entry.path.slice(0, 200) }));
        let path: string;
        try {
          path = checkEntryPath(entry.path);
        } catch (e) {
          return fail(e as PackError);
        }
        if (Buffer.byteLength(entry.path) > MAX_NAME_BYTES)
          return fail(new PackError('tarball_entry_unsupported', 'An entry name exceeds 100 bytes.', { path: entry.path.slice(0, 200) }));
        if (entry.type === 'Directory') {
          dirs.add(path.replace(/\/+$/, ''));
          return;
        }
        if (files.has(path) || dirs.has(path)) return fail(new PackError('tarball_duplicate_entry', 'The archive holds the same path twice.', { path }));
        const cap = path === 'pack.json' ? limits.maxManifestBytes : limits.maxEntryBytes;
        if (entry.size > cap) {
          const code = path === 'pack.json' ? 'tarball_manifest_too_large' : 'tarball_entry_too_large';
          return fail(new PackError(code, `${path} exceeds ${cap} bytes.`, { path, limitBytes: cap }));
        }
        const chunks: Buffer[] = [];
        entry.on('data', (c: Buffer) => chunks.push(c));
        entry.on('end', () => {
          if (!failure) files.set(path, Buffer.concat(chunks));
        });
      },
    });
    parser.on('error', (e: Error) => fail(new PackError('tarball_tar_parse_failed', 'The archive is not a valid tar stream.', undefined, { cause: e })));
    parser.on('end', () => resolve());
    parser.on('close', () => resolve());
    parser.end(tar);
  });
  if (failure) throw failure;
  if (entries === 0) throw new PackError('tarball_tar_parse_failed', 'The archive holds no entries.');
  for (const path of files.keys()) {
    if (dirs.has(path)) throw new PackError('tarball_duplicate_entry', 'The archive holds the same path twice.', { path });
  }
  if (!files.has('pack.json')) throw new PackError('tarball_manifest_missing', 'The archive has no pack.json at its root.');
  return new Map([...files.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/**
 * Reads a pack directory: every regular file below it (skipping `.git`, `node_modules`),
 * under the same limits as an archive. A symbolic link anywhere is refused.
 * @throws PackError `tarball_symlink` | `tarball_entry_too_large` | … | `pack_source_invalid`
 */
export async function readPackDirectory(dir: string, limits: ArchiveLimits = DEFAULT_LIMITS): Promise<PackFiles> {
  const files = new Map<string, Buffer>();
  let total = 0;
  const walk = async (abs: string): Promise<void> => {
    let names: string[];
    try {
      names = (await readdir(abs)).sort();
    } catch (e) {
      throw new PackError('pack_source_invalid', `Cannot read pack directory ${abs}: ${(e as NodeJS.ErrnoException).code ?? 'error'}.`);
    }
    for (const name of names) {
      if (IGNORED.has(name)) continue;
      const p = join(abs, name);
      const path = relative(dir, p).split(sep).join('/');
      const st = await lstat(p);
      if (st.isSymbolicLink()) throw new PackError('tarball_symlink', 'The pack directory holds a symbolic link.', { path });
      if (st.isDirectory()) {
        await walk(p);
        continue;
      }
      if (!st.isFile()) throw new PackError('tarball_entry_unsupported', 'The pack directory holds something other than files and directories.', { path });
      checkEntryPath(path);
      if (Buffer.byteLength(path) > MAX_NAME_BYTES) throw new PackError('tarball_entry_unsupported', 'A file path exceeds 100 bytes.', { path });
      if (files.size + 1 > limits.maxEntries) throw new PackError('tarball_too_many_entries', `The pack holds more than ${limits.maxEntries} files.`);
      const cap = path === 'pack.json' ? limits.maxManifestBytes : limits.maxEntryBytes;
      if (st.size > cap) {
        throw new PackError(path === 'pack.json' ? 'tarball_manifest_too_large' : 'tarball_entry_too_large', `${path} exceeds ${cap} bytes.`, {
          path,
          limitBytes: cap,
        });
      }
      total += st.size;
      if (total > limits.maxExpandedBytes) throw new PackError('tarball_too_large', `The pack exceeds ${limits.maxExpandedBytes} bytes.`);
      // O_NOFOLLOW: a file swapped for a link after the lstat above is refused, not followed.
      files.set(path, await readFile(p, { flag: constants.O_RDONLY | constants.O_NOFOLLOW }));
    }
  };
  await walk(dir);
  if (!files.has('pack.json')) throw new PackError('tarball_manifest_missing', `${dir} has no pack.json.`);
  return new Map([...files.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/**
 * Builds the deterministic archive of `files`: entries sorted by path, regular files only,
 * mode 0644, owner 0:0, mtime 0, USTAR headers (names ≤ 100 bytes), gzip level 9 without a
 * file name or time. The same files always give the same bytes, hence the same integrity.
 * @throws PackError `tarball_entry_unsupported` for a name that would need a PAX header
 */
export function buildArchive(files: PackFiles): Buffer {
  const blocks: Buffer[] = [];
  const paths = [...files.keys()].sort();
  for (const path of paths) {
    checkEntryPath(path);
    const body = files.get(path) as Buffer;
    const header = new Header({ path, mode: 0o644, uid: 0, gid: 0, size: body.length, mtime: new Date(0), type: 'File', uname: '', gname: '' });
    const block = Buffer.alloc(512);
    header.encode(block, 0);
    if (header.needPax || Buffer.byteLength(path) > MAX_NAME_BYTES)
      throw new PackError('tarball_entry_unsupported', 'A file path exceeds 100 bytes.', { path });
    blocks.push(block, body);
    const pad = (512 - (body.length % 512)) % 512;
    if (pad > 0) blocks.push(Buffer.alloc(pad));
  }
  blocks.push(Buffer.alloc(1024));
  return gzipSync(Buffer.concat(blocks), { level: 9 });
}
