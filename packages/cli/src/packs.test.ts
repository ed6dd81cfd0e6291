import { mkdtemp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { NodeContext } from '@weft/engine';
import { Keychain, loadPack } from '@weft/packs';
import { JsPackRuntime } from '@weft/sandbox';
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

describe('weft packs init, add and remove', () => {
  it('init scaffolds a signed pack with a typed node and its test, and the key stays outside the pack', async () => {
    const root = await mkdtemp(join(tmpdir(), 'weft-cli-init-'));
    const dir = join(root, 'hello');
    const keyDir = join(root, 'keys');
    const r = await run(['--json', 'packs', 'init', dir, '--name', 'vendor.acme.hello', '--key-dir', keyDir]);
    expect(r.code, r.err).toBe(0);
    const out = JSON.parse(r.out) as { typeId: string; keychain: string; key: string };
    expect(out.typeId).toBe('vendor.acme.hello');
    expect(out.key.startsWith(keyDir)).toBe(true);
    const verified = await run(['packs', 'verify', dir, '--keychain', out.keychain]);
    expect(verified.code, verified.err).toBe(0);
    expect(verified.out).toContain('ok  vendor.acme.hello@0.1.0');
    const mod = (await import(join(dir, 'dist', 'index.js'))) as { default: Record<string, (ctx: unknown) => Promise<unknown>> };
    expect(await mod.default['vendor.acme.hello']?.({ inputs: { name: 'Ada' } })).toEqual({ status: 'success', outputs: { greeting: 'hello, Ada' } });
    // The scaffold runs unchanged in the sandbox.
    const pack = await loadPack({ kind: 'directory', path: dir }, { mode: 'open', keychain: new Keychain() });
    const sandbox = new JsPackRuntime({ settings: { workers: 1 } });
    try {
      const ctx = {
        runId: 'r',
        nodeId: 'n',
        tenant: 't',
        attempt: 1,
        config: {},
        inputs: { name: 'Ada' },
        signal: new AbortController().signal,
      } as unknown as NodeContext;
      expect(await sandbox.execute(pack, 'vendor.acme.hello', ctx)).toEqual({ outputs: { greeting: 'hello, Ada' } });
    } finally {
      await sandbox.close();
    }
    expect((await readFile(join(dir, 'test', 'hello.test.mjs'), 'utf8')).includes("nodes['vendor.acme.hello']")).toBe(true);
    expect((await run(['packs', 'init', dir, '--name', 'vendor.acme.hello', '--key-dir', keyDir])).err).toMatch(/is not empty/);
    expect((await run(['packs', 'init', join(root, 'other'), '--name', 'vendor.acme.other', '--key-dir', join(root, 'other', 'k')])).err).toMatch(
      /outside the pack/,
    );
  });

  it('add verifies and upserts a lock entry; remove drops it', async () => {
    const root = await mkdtemp(join(tmpdir(), 'weft-cli-add-'));
    const init = JSON.parse((await run(['--json', 'packs', 'init', join(root, 'a'), '--name', 'vendor.acme.alpha', '--key-dir', join(root, 'keys')])).out) as {
      keychain: string;
    };
    const lockPath = join(root, 'pack-lock.json');
    const added = await run(['packs', 'add', join(root, 'a'), '--keychain', init.keychain, '--lock', lockPath]);
    expect(added.code, added.err).toBe(0);
    expect(added.out).toContain('added vendor.acme.alpha@0.1.0');
    const again = await run(['packs', 'add', join(root, 'a'), '--keychain', init.keychain, '--lock', lockPath]);
    expect(again.out).toContain('replaced vendor.acme.alpha@0.1.0 with 0.1.0');
    expect((await run(['packs', 'list', '--lock', lockPath])).out).toMatch(/^vendor\.acme\.alpha@0\.1\.0 {2}sha256-\S+ {2}signed\n$/);
    const unsignedDir = join(root, 'b');
    await mkdir(unsignedDir);
    await writeFile(join(unsignedDir, 'pack.json'), JSON.stringify({ ...manifest, name: 'vendor.acme.beta', nodes: [{ typeId: 'vendor.acme.beta' }] }));
    const refused = await run(['packs', 'add', unsignedDir, '--keychain', init.keychain, '--lock', lockPath]);
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/^error: pack_signature_missing: /);
    const removed = await run(['packs', 'remove', 'vendor.acme.alpha', '--lock', lockPath]);
    expect(removed.code, removed.err).toBe(0);
    expect((await run(['packs', 'list', '--lock', lockPath])).out).toBe('no packs locked\n');
    expect((await run(['packs', 'remove', 'vendor.acme.alpha', '--lock', lockPath])).err).toMatch(/^error: pack_not_found: /);
  });
});
