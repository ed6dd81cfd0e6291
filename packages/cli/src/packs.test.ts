import { mkdtemp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { CliIo } from './cli-io.js';
import { runCli } from './program.js';

function io(env: NodeJS.ProcessEnv = {}): CliIo & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, stdout: (t) => void out.push(t), stderr: (t) => void err.push(t), env, color: false, now: () => Date.parse('2026-01-02T03:04:05Z') };
}

async function run(argv: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; out: string; err: string }> {
  const i = io(env);
  const code = await runCli(argv, i);
  return { code, out: i.out.join(''), err: i.err.join('') };
}

const manifest = {
  name: 'vendor.acme.tools',
  version: '1.2.0',
  engines: { openwop: '>=1.0 <2.0.0' },
  runtime: { language: 'javascript', entry: 'dist/index.js', format: 'esm' },
  nodes: [{ typeId: 'vendor.acme.echo', label: 'Echo', category: 'data', role: 'pure' }],
  signing: { method: 'manual', publicKeyRef: 'acme-1', signatureRef: 'keys/pack.json.sig' },
};

describe('weft packs', () => {
  it('keygen, sign, pack, verify, lock and list round-trip; a tampered pack fails verify with its code', async () => {
    const root = await mkdtemp(join(tmpdir(), 'weft-cli-packs-'));
    const dir = join(root, 'tools');
    await mkdir(join(dir, 'dist'), { recursive: true });
    await writeFile(join(dir, 'pack.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    await writeFile(join(dir, 'dist', 'index.js'), 'export default {};\n');

    const kg = await run(['--json', 'packs', 'keygen', '--key-id', 'acme-1', '--namespace', 'vendor.acme.*', '--out-dir', join(root, 'keys')]);
    expect(kg.code, kg.err).toBe(0);
    const entry = (JSON.parse(kg.out) as { keychainEntry: unknown }).keychainEntry;
    const keychain = join(root, 'keychain.json');
    await writeFile(keychain, JSON.stringify({ signingKeys: [entry] }));
    expect((await run(['packs', 'keygen', '--key-id', 'acme-1', '--namespace', 'vendor.acme.*', '--out-dir', join(root, 'keys')])).code).toBe(1);

    const signed = await run(['packs', 'sign', dir, '--key', join(root, 'keys', 'acme-1.key')]);
    expect(signed.code, signed.err).toBe(0);
    expect((await readFile(join(dir, 'keys', 'pack.json.sig'))).length).toBe(64);

    const packed = await run(['--json', 'packs', 'pack', dir, '--out', join(root, 'tools.tgz')]);
    expect(packed.code, packed.err).toBe(0);
    const { integrity } = JSON.parse(packed.out) as { integrity: string };

    const verified = await run(['packs', 'verify', dir, join(root, 'tools.tgz'), '--keychain', keychain]);
    // Both sources are the same pack: refused as a duplicate, after each verified.
    expect(verified.err).toMatch(/^error: pack_duplicate: /);
    const one = await run(['packs', 'verify', join(root, 'tools.tgz'), '--keychain', keychain]);
    expect(one.code, one.err).toBe(0);
    expect(one.out).toContain(`ok  vendor.acme.tools@1.2.0  ${integrity}  trust=verified key=acme-1  types=vendor.acme.echo`);

    const lockPath = join(root, 'pack-lock.json');
    const locked = await run(['packs', 'lock', dir, '--keychain', keychain, '--out', lockPath]);
    expect(locked.code, locked.err).toBe(0);
    const lock = JSON.parse(await readFile(lockPath, 'utf8')) as { packs: { name: string; integrity: string; signature?: { value: string } }[] };
    expect(lock.packs).toEqual([
      expect.objectContaining({ name: 'vendor.acme.tools', version: '1.2.0', integrity, signature: expect.objectContaining({ algorithm: 'ed25519' }) }),
    ]);
    const listed = await run(['packs', 'list', '--lock', lockPath]);
    expect(listed.out).toBe(`vendor.acme.tools@1.2.0  ${integrity}  signed\n`);

    const pinned = await run(['packs', 'verify', dir, '--trust', 'pinned', '--lock', lockPath]);
    expect(pinned.code, pinned.err).toBe(0);

    await writeFile(join(dir, 'dist', 'index.js'), 'export default { evil: true };\n');
    const drift = await run(['packs', 'verify', dir, '--trust', 'pinned', '--lock', lockPath]);
    expect(drift.code).toBe(1);
    expect(drift.err).toMatch(/^error: pack_integrity_mismatch: /);

    await writeFile(join(dir, 'pack.json'), `${JSON.stringify({ ...manifest, description: 'changed' }, null, 2)}\n`);
    const tampered = await run(['packs', 'verify', dir, '--keychain', keychain]);
    expect(tampered.code).toBe(1);
    expect(tampered.err).toMatch(/^error: pack_signature_invalid: /);
  });

  it('refuses to sign a pack.json that does not name its key, and a verify without sources', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'weft-cli-packs-'));
    const { signing: _s, ...unsigned } = manifest;
    await writeFile(join(dir, 'pack.json'), JSON.stringify(unsigned));
    const kg = await run(['packs', 'keygen', '--key-id', 'k', '--namespace', 'vendor.acme.*', '--out-dir', dir]);
    expect(kg.code).toBe(0);
    const r = await run(['packs', 'sign', dir, '--key', join(dir, 'k.key')]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/must name its key first/);
    const none = await run(['packs', 'verify']);
    expect(none.err).toMatch(/^error: invalid_argument: name at least one pack source/);
  });
});
