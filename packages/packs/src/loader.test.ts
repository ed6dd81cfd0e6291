import { symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { PackLockfile } from '@weft/contract';
import { craftTarball, newSigner, testKeychain, testManifest, testPackFiles, testTarball, tempDir, writePackDir, type TestSigner } from '@weft/testkit';
import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS, buildArchive, readArchive } from './archive.js';
import { PackError } from './errors.js';
import { Keychain, parseKeychainFile, parseKeyPins } from './keychain.js';
import { loadPack, loadPacks, parsePackSource, type TrustPolicy } from './loader.js';
import { parseLockfile, serializeLockfile } from './lockfile.js';
import { signManifest } from './signature.js';

const NAME = 'vendor.acme.tools';
const acme = newSigner('acme-1');
const other = newSigner('other-1');

const keychainOf = (keys: Parameters<typeof testKeychain>[0], pins = ''): Keychain =>
  new Keychain(parseKeychainFile(testKeychain(keys), 'test'), parseKeyPins(pins));
const acmeKeychain = (): Keychain => keychainOf([{ signer: acme, namespaces: ['vendor.acme.*'] }]);
const verified = (over: Partial<TrustPolicy> = {}): TrustPolicy => ({ mode: 'verified', keychain: acmeKeychain(), ...over });

async function signedDir(signer: TestSigner = acme, manifest = testManifest(NAME, { keyId: signer.keyId })): Promise<string> {
  return writePackDir(testPackFiles(manifest, signer));
}

async function tgzFile(tgz: Buffer): Promise<string> {
  const p = join(await tempDir(), 'pack.tgz');
  await writeFile(p, tgz);
  return p;
}

async function refusal(p: Promise<unknown>): Promise<PackError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(PackError);
  return e as PackError;
}

describe('loading a signed pack', () => {
  it('invariant: node-pack-sig-host-verify — a directory pack signed by a keychain key loads with its manifest, files and integrity', async () => {
    const dir = await signedDir();
    const pack = await loadPack({ kind: 'directory', path: dir }, verified());
    expect(pack.name).toBe(NAME);
    expect(pack.trust).toEqual({ mode: 'verified', verifiedBy: 'acme-1' });
    expect(pack.files.get('dist/index.js')?.toString()).toContain('export default');
    expect(pack.integrity).toMatch(/^sha256-[A-Za-z0-9+/]{43}=$/);
    expect(pack.warnings).toEqual([]);
  });

  it('a tarball of the same files loads with the same integrity as the directory', async () => {
    const files = testPackFiles(testManifest(NAME, { keyId: 'acme-1' }), acme);
    const { tgz, integrity } = testTarball(files);
    const fromTgz = await loadPack({ kind: 'tarball', path: await tgzFile(tgz) }, verified());
    const fromDir = await loadPack({ kind: 'directory', path: await writePackDir(files) }, verified());
    expect(fromTgz.integrity).toBe(integrity);
    expect(fromDir.integrity).toBe(integrity);
    expect(buildArchive(files).equals(tgz)).toBe(true);
  });

  it('invariant: node-pack-sig-host-verify — a pack.json changed after signing is refused with pack_signature_invalid', async () => {
    const files = testPackFiles(testManifest(NAME, { keyId: 'acme-1' }), acme);
    const tampered = Buffer.from((files.get('pack.json') as Buffer).toString().replace('A test pack.', 'A tampered pack.'));
    files.set('pack.json', tampered);
    const e = await refusal(loadPack({ kind: 'directory', path: await writePackDir(files) }, verified()));
    expect(e.code).toBe('pack_signature_invalid');
  });

  it('invariant: node-pack-sig-host-verify — the signature covers the raw bytes: re-serialised but equal JSON fails', async () => {
    const m = testManifest(NAME, { keyId: 'acme-1' });
    const signedBytes = Buffer.from(JSON.stringify(m, null, 2));
    const files = testPackFiles(Buffer.from(JSON.stringify(m)), undefined, { 'keys/pack.json.sig': signManifest(signedBytes, acme.privateKeyPem) });
    const e = await refusal(loadPack({ kind: 'directory', path: await writePackDir(files) }, verified()));
    expect(e.code).toBe('pack_signature_invalid');
  });

  it('invariant: node-pack-sig-key-in-keychain — a pack signed by a key outside the keychain is refused with signature_unknown_key', async () => {
    const dir = await signedDir(other);
    const e = await refusal(loadPack({ kind: 'directory', path: dir }, verified()));
    expect(e.code).toBe('signature_unknown_key');
  });

  it('invariant: node-pack-sig-key-in-keychain — a signature by another key than the one the manifest names is refused', async () => {
    const files = testPackFiles(testManifest(NAME, { keyId: 'acme-1' }), other);
    const e = await refusal(loadPack({ kind: 'directory', path: await writePackDir(files) }, verified()));
    expect(e.code).toBe('pack_signature_invalid');
  });

  it('invariant: node-pack-key-ships-untrusted — a public key shipped inside the pack is never used', async () => {
    const files = testPackFiles(testManifest(NAME, { keyId: 'other-1' }), other, { 'keys/other-1.pem': other.publicKeyPem });
    const e = await refusal(loadPack({ kind: 'directory', path: await writePackDir(files) }, verified()));
    expect(e.code).toBe('signature_unknown_key');
  });

  it('invariant: node-pack-key-namespace — a key not permitted for the pack namespace is refused', async () => {
    const keychain = keychainOf([{ signer: acme, namespaces: ['vendor.other.*', 'vendor.acme'] }]);
    const e = await refusal(loadPack({ kind: 'directory', path: await signedDir() }, verified({ keychain })));
    expect(e.code).toBe('pack_key_namespace_denied');
  });

  it('invariant: node-pack-key-pinned — a keychain key that is not the one pinned for the namespace is refused', async () => {
    const keychain = keychainOf(
      [
        { signer: acme, namespaces: ['vendor.acme.*'] },
        { signer: other, namespaces: ['vendor.*'] },
      ],
      'vendor.acme.*=acme-1',
    );
    const byOther = await signedDir(other, testManifest(NAME, { keyId: 'other-1' }));
    expect((await refusal(loadPack({ kind: 'directory', path: byOther }, verified({ keychain })))).code).toBe('pack_key_not_pinned');
    const byAcme = await loadPack({ kind: 'directory', path: await signedDir() }, verified({ keychain }));
    expect(byAcme.trust.verifiedBy).toBe('acme-1');
  });

  it('invariant: node-pack-sig-revocation — a revoked or expired key signs nothing new', async () => {
    const revoked = keychainOf([{ signer: acme, namespaces: ['vendor.acme.*'], status: 'revoked' }]);
    expect((await refusal(loadPack({ kind: 'directory', path: await signedDir() }, verified({ keychain: revoked })))).code).toBe('pack_key_revoked');
    const expired = keychainOf([{ signer: acme, namespaces: ['vendor.acme.*'], expiresAt: '2020-01-01T00:00:00Z' }]);
    expect((await refusal(loadPack({ kind: 'directory', path: await signedDir() }, verified({ keychain: expired })))).code).toBe('pack_key_expired');
  });

  it('an unsigned pack is refused in verified mode; a signature of the wrong length is unverifiable', async () => {
    const unsigned = await writePackDir(testPackFiles(testManifest(NAME, { keyId: 'acme-1' })));
    expect((await refusal(loadPack({ kind: 'directory', path: unsigned }, verified()))).code).toBe('pack_signature_missing');
    const short = testPackFiles(testManifest(NAME, { keyId: 'acme-1' }), undefined, { 'keys/pack.json.sig': Buffer.alloc(63) });
    expect((await refusal(loadPack({ kind: 'directory', path: await writePackDir(short) }, verified()))).code).toBe('pack_signature_unverifiable');
  });
});

describe('the manifest', () => {
  it('invariant: node-pack-typeid-namespace — a node type outside the pack owner namespace is refused', async () => {
    const m = testManifest(NAME, { keyId: 'acme-1' });
    (m.nodes as { typeId: string }[])[0] = { typeId: 'core.noop' };
    const e = await refusal(loadPack({ kind: 'directory', path: await signedDir(acme, m) }, verified()));
    expect(e.code).toBe('pack_typeid_out_of_namespace');
  });

  it('refuses a manifest that is not JSON, misses required fields, or names an unsupported runtime or ungranted primitive', async () => {
    const notJson = await writePackDir(testPackFiles(Buffer.from('{nope'), acme));
    expect((await refusal(loadPack({ kind: 'directory', path: notJson }, verified()))).code).toBe('tarball_manifest_not_json');
    const { engines: _e, ...noEngines } = testManifest(NAME, { keyId: 'acme-1' });
    expect((await refusal(loadPack({ kind: 'directory', path: await signedDir(acme, noEngines) }, verified()))).code).toBe('pack_manifest_invalid');
    const python = testManifest(NAME, { keyId: 'acme-1', extra: { runtime: { language: 'python', entry: 'main.py' } } });
    expect((await refusal(loadPack({ kind: 'directory', path: await signedDir(acme, python) }, verified()))).code).toBe('unsupported_runtime');
    const spawn = testManifest(NAME, { keyId: 'acme-1', extra: { runtime: { language: 'javascript', entry: 'dist/index.js', requires: ['subprocess'] } } });
    expect((await refusal(loadPack({ kind: 'directory', path: await signedDir(acme, spawn) }, verified()))).code).toBe('pack_runtime_requirement_unmet');
  });
});

describe('the archive', () => {
  const manifestBytes = (): Buffer => Buffer.from(JSON.stringify(testManifest(NAME)));
  const read = (entries: Parameters<typeof craftTarball>[0]): Promise<unknown> => readArchive(craftTarball(entries));

  it('invariant: node-pack-path-traversal — entries with .. or absolute paths are refused', async () => {
    for (const path of ['../evil.js', 'dist/../../evil.js', '/etc/passwd', 'C:/x.js', 'dist\\x.js', 'dist//x.js', './../x.js']) {
      const e = await refusal(
        read([
          { path: 'pack.json', body: manifestBytes() },
          { path, body: 'x' },
        ]),
      );
      expect(e.code, path).toBe('tarball_path_traversal');
    }
  });

  it('invariant: node-pack-no-links — symbolic and hard links are refused, in archives and in directories', async () => {
    for (const type of ['SymbolicLink', 'Link'] as const) {
      const e = await refusal(
        read([
          { path: 'pack.json', body: manifestBytes() },
          { path: 'dist/x.js', type, linkpath: '/etc/passwd' },
        ]),
      );
      expect(e.code, type).toBe('tarball_symlink');
    }
    const dir = await signedDir();
    await symlink('/etc/passwd', join(dir, 'dist', 'passwd'));
    expect((await refusal(loadPack({ kind: 'directory', path: dir }, verified()))).code).toBe('tarball_symlink');
  });

  it('invariant: node-pack-entry-size-cap — an entry over the per-entry cap is refused', async () => {
    const e = await refusal(
      readArchive(
        craftTarball([
          { path: 'pack.json', body: manifestBytes() },
          { path: 'dist/big.js', body: Buffer.alloc(2048) },
        ]),
        { ...DEFAULT_LIMITS, maxEntryBytes: 1024 },
      ),
    );
    expect(e.code).toBe('tarball_entry_too_large');
  });

  it('invariant: node-pack-manifest-size-cap — a pack.json over 256 KB is refused', async () => {
    const e = await refusal(read([{ path: 'pack.json', body: Buffer.alloc(256 * 1024 + 1, 0x20) }]));
    expect(e.code).toBe('tarball_manifest_too_large');
  });

  it('invariant: node-pack-tarball-size-cap — an archive over the compressed cap is refused before it is inflated', async () => {
    const tgz = craftTarball([{ path: 'pack.json', body: manifestBytes() }]);
    const e = await refusal(readArchive(tgz, { ...DEFAULT_LIMITS, maxArchiveBytes: tgz.length - 1 }));
    expect(e.code).toBe('tarball_too_large');
    const path = await tgzFile(Buffer.alloc(DEFAULT_LIMITS.maxArchiveBytes + 1));
    expect((await refusal(loadPack({ kind: 'tarball', path }, verified()))).code).toBe('tarball_too_large');
  });

  it('invariant: node-pack-expansion-cap — an archive that inflates past the expansion cap is refused (zip bomb)', async () => {
    // 64 MB of zeros compress to ~64 KB; the cap stops inflation at 8 MB.
    const bomb = craftTarball([
      { path: 'pack.json', body: manifestBytes() },
      { path: 'dist/zeros.bin', body: Buffer.alloc(64 * 1024 * 1024) },
    ]);
    expect(bomb.length).toBeLessThan(DEFAULT_LIMITS.maxArchiveBytes);
    const e = await refusal(readArchive(bomb, { ...DEFAULT_LIMITS, maxExpandedBytes: 8 * 1024 * 1024, maxEntryBytes: 128 * 1024 * 1024 }));
    expect(e.code).toBe('tarball_too_large');
  });

  it('refuses entry names over 100 bytes (which would need PAX headers the registry refuses)', async () => {
    const long = `dist/${'a'.repeat(60)}/${'b'.repeat(60)}.js`;
    const e = await refusal(
      read([
        { path: 'pack.json', body: manifestBytes() },
        { path: long, body: 'x' },
      ]),
    );
    expect(e.code).toBe('tarball_entry_unsupported');
    expect(() =>
      buildArchive(
        new Map([
          ['pack.json', manifestBytes()],
          [long, Buffer.from('x')],
        ]),
      ),
    ).toThrow(PackError);
  });

  it('refuses duplicate paths, devices, missing pack.json, non-gzip and non-tar input', async () => {
    expect(
      (
        await refusal(
          read([
            { path: 'pack.json', body: manifestBytes() },
            { path: 'pack.json', body: '{}' },
          ]),
        )
      ).code,
    ).toBe('tarball_duplicate_entry');
    expect(
      (
        await refusal(
          read([
            { path: 'pack.json', body: manifestBytes() },
            { path: 'dist/fifo', type: 'FIFO' },
          ]),
        )
      ).code,
    ).toBe('tarball_entry_unsupported');
    expect((await refusal(read([{ path: 'README.md', body: 'hi' }]))).code).toBe('tarball_manifest_missing');
    expect((await refusal(readArchive(Buffer.from('plain text')))).code).toBe('tarball_gunzip_failed');
  });
});

describe('trust modes', () => {
  it('allowlist admits listed names without a signature and refuses others with pack_not_approved', async () => {
    const unsigned = await writePackDir(testPackFiles(testManifest(NAME)));
    const ok = await loadPack({ kind: 'directory', path: unsigned }, { mode: 'allowlist', keychain: new Keychain(), allow: [NAME] });
    expect(ok.trust.mode).toBe('allowlist');
    const e = await refusal(loadPack({ kind: 'directory', path: unsigned }, { mode: 'allowlist', keychain: new Keychain(), allow: ['vendor.acme.other'] }));
    expect(e.code).toBe('pack_not_approved');
  });

  it('invariant: node-pack-sig-host-verify — allowlist and open modes still refuse a signature that fails with a known key', async () => {
    const files = testPackFiles(testManifest(NAME, { keyId: 'acme-1' }), acme);
    files.set('pack.json', Buffer.from((files.get('pack.json') as Buffer).toString().replace('1.0.0', '1.0.1')));
    const dir = await writePackDir(files);
    for (const mode of ['allowlist', 'open'] as const) {
      const e = await refusal(loadPack({ kind: 'directory', path: dir }, { mode, keychain: acmeKeychain(), allow: [NAME] }));
      expect(e.code, mode).toBe('pack_signature_invalid');
    }
  });

  it('open mode loads an unsigned pack and says so in a warning', async () => {
    const pack = await loadPack({ kind: 'directory', path: await writePackDir(testPackFiles(testManifest(NAME))) }, { mode: 'open', keychain: new Keychain() });
    expect(pack.warnings.join(' ')).toMatch(/trust mode open/);
  });

  it('pinned mode needs a lockfile', async () => {
    const e = await refusal(loadPack({ kind: 'directory', path: await signedDir() }, { mode: 'pinned', keychain: new Keychain() }));
    expect(e.code).toBe('pack_lockfile_incomplete');
  });
});

describe('the lockfile', () => {
  const lockFor = (entries: PackLockfile['packs']): PackLockfile => ({ lockfileVersion: 1, generatedAt: '2026-01-01T00:00:00.000Z', packs: entries });

  async function lockedSetup(): Promise<{ dir: string; lock: PackLockfile }> {
    const dir = await signedDir();
    const pack = await loadPack({ kind: 'directory', path: dir }, verified());
    const sig = pack.signature as { publicKey: string; value: string };
    return {
      dir,
      lock: lockFor([
        { name: pack.name, version: pack.version, integrity: pack.integrity, signature: { algorithm: 'ed25519', publicKey: sig.publicKey, value: sig.value } },
      ]),
    };
  }

  it('invariant: node-pack-lockfile-frozen — a pack matching its lock entry loads in pinned mode without a keychain', async () => {
    const { dir, lock } = await lockedSetup();
    const pack = await loadPack({ kind: 'directory', path: dir }, { mode: 'pinned', keychain: new Keychain(), lock });
    expect(pack.name).toBe(NAME);
  });

  it('invariant: node-pack-lockfile-frozen — a pack missing from the lock, another version, other content or another signature is refused', async () => {
    const { dir, lock } = await lockedSetup();
    const policy = (l: PackLockfile): TrustPolicy => ({ mode: 'pinned', keychain: new Keychain(), lock: l });
    expect((await refusal(loadPack({ kind: 'directory', path: dir }, policy(lockFor([]))))).code).toBe('pack_lockfile_incomplete');
    const entry = lock.packs[0] as PackLockfile['packs'][number];
    expect((await refusal(loadPack({ kind: 'directory', path: dir }, policy(lockFor([{ ...entry, version: '1.0.1' }]))))).code).toBe('pack_version_mismatch');
    // Same signed manifest, one more file: the archive integrity changes.
    await writeFile(join(dir, 'dist', 'extra.js'), 'export const x = 1;\n');
    expect((await refusal(loadPack({ kind: 'directory', path: dir }, policy(lock)))).code).toBe('pack_integrity_mismatch');
    // Re-signed by another (trusted) key: the lock pins the old signature.
    const resigned = await writePackDir(testPackFiles(testManifest(NAME, { keyId: 'acme-1' }), newSigner('acme-1')));
    const e = await refusal(
      loadPack(
        { kind: 'directory', path: resigned },
        {
          mode: 'pinned',
          keychain: new Keychain(),
          lock: {
            ...lock,
            packs: [{ ...entry, integrity: (await loadPack({ kind: 'directory', path: resigned }, { mode: 'open', keychain: new Keychain() })).integrity }],
          },
        },
      ),
    );
    expect(e.code).toBe('pack_lock_mismatch');
  });

  it('a lock applies in verified mode too', async () => {
    const { dir, lock } = await lockedSetup();
    const entry = lock.packs[0] as PackLockfile['packs'][number];
    const e = await refusal(loadPack({ kind: 'directory', path: dir }, verified({ lock: lockFor([{ ...entry, integrity: `sha256-${'A'.repeat(43)}=` }]) })));
    expect(e.code).toBe('pack_integrity_mismatch');
  });

  it('is written deterministically and read back', () => {
    const lock = lockFor([
      { name: 'vendor.b.x', version: '1.0.0', integrity: `sha256-${'B'.repeat(43)}=`, dependencies: { z: '1.0.0', a: '2.0.0' } },
      { name: 'vendor.a.x', version: '1.0.0', integrity: `sha256-${'A'.repeat(43)}=` },
    ]);
    const text = serializeLockfile(lock);
    expect(text.endsWith('}\n')).toBe(true);
    expect(text.indexOf('vendor.a.x')).toBeLessThan(text.indexOf('vendor.b.x'));
    expect(text.indexOf('"a"')).toBeLessThan(text.indexOf('"z"'));
    expect(serializeLockfile(parseLockfile(text))).toBe(text);
    expect(() => parseLockfile('{"lockfileVersion":0}')).toThrow(PackError);
    try {
      parseLockfile(JSON.stringify({ ...lock, packs: [lock.packs[0], lock.packs[0]] }));
    } catch (e) {
      expect((e as PackError).code).toBe('pack_lockfile_invalid');
    }
  });
});

describe('sources and sets of packs', () => {
  it('parses directories, tarballs and registry names', () => {
    expect(parsePackSource('./packs/acme', '/srv')).toEqual({ kind: 'directory', path: '/srv/packs/acme' });
    expect(parsePackSource('/x/acme-1.0.0.tgz')).toEqual({ kind: 'tarball', path: '/x/acme-1.0.0.tgz' });
    expect(parsePackSource('vendor.acme.tools@1.2.3')).toEqual({ kind: 'registry', name: 'vendor.acme.tools', version: '1.2.3' });
    expect(parsePackSource('registry:vendor.acme.tools')).toEqual({ kind: 'registry', name: 'vendor.acme.tools' });
    expect(() => parsePackSource('vendor.acme.tools@^1.0.0')).toThrow(PackError);
  });

  it('invariant: node-pack-typeid-namespace — refuses the same pack twice and two packs declaring the same typeId', async () => {
    const a = await signedDir();
    const e = await refusal(
      loadPacks(
        [
          { kind: 'directory', path: a },
          { kind: 'directory', path: await signedDir() },
        ],
        verified(),
      ),
    );
    expect(e.code).toBe('pack_duplicate');
    const b = await signedDir(acme, { ...testManifest('vendor.acme.more', { keyId: 'acme-1' }) });
    const clash = await refusal(
      loadPacks(
        [
          { kind: 'directory', path: a },
          { kind: 'directory', path: b },
        ],
        verified(),
      ),
    );
    expect(clash.code).toBe('pack_typeid_conflict');
    expect(clash.message).toContain('vendor.acme.more');
  });
});
