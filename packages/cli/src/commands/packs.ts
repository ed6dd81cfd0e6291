/**
 * `weft packs keygen|sign|pack|verify|lock|list` — offline node-pack tooling: make an Ed25519
 * signing key, sign a pack's raw `pack.json`, build its deterministic archive, verify a pack
 * exactly as the host does at boot, write `pack-lock.json`, and list a lockfile. The trust
 * settings default to the host's `WEFT_PACKS*` variables, so `verify` answers what `serve`
 * would.
 *
 * @see ../../../../docs/packs.md
 */
import { chmod, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { PACK_RUNTIME_REQUIREMENTS, type PackLockfile } from '@weft/contract';
import {
  PackError,
  TRUST_MODES,
  buildArchive,
  checkPacksConfig,
  generateSigningKey,
  integrityOf,
  isPackName,
  loadPacks,
  loadPacksConfig,
  packPolicy,
  parseLockfile,
  parseManifest,
  parsePackSource,
  readPackDirectory,
  serializeLockfile,
  signManifest,
  signaturePaths,
  manifestKeyId,
  ownerNamespace,
  type LoadedPack,
  type PacksConfig,
} from '@weft/packs';
import type { Command } from 'commander';
import type { CliContext } from '../cli-io.js';
import type { GlobalOptions } from '../connection.js';
import { CliError } from '../errors.js';

/** Trust flags shared by `verify` and `lock` (each defaults to its `WEFT_PACKS*` variable). */
interface TrustFlags {
  trust?: string;
  keychain?: string;
  registry?: string;
  pinnedKeys?: string;
  allow?: string;
  lock?: string;
}

function withTrustFlags(cmd: Command): Command {
  return cmd
    .option('--trust <mode>', `trust mode: ${TRUST_MODES.join(', ')} (WEFT_PACKS_TRUST, default verified)`)
    .option('--keychain <file>', 'local keychain JSON {signingKeys:[…]} (WEFT_PACKS_KEYCHAIN)')
    .option('--registry <url>', 'registry base URL for name[@version] sources; its keychain is trusted (WEFT_PACKS_REGISTRY)')
    .option('--pinned-keys <pins>', 'namespace=keyId[|keyId],… (WEFT_PACKS_PINNED_KEYS)')
    .option('--allow <names>', 'approved name or name@version, comma-separated (WEFT_PACKS_ALLOW)')
    .option('--lock <file>', 'pack-lock.json the packs must match (WEFT_PACKS_LOCK)');
}

function packsConfigOf(ctx: CliContext, sources: string[], f: TrustFlags): PacksConfig {
  const env: NodeJS.ProcessEnv = { ...ctx.io.env };
  const set = (name: string, v: string | undefined): void => {
    if (v !== undefined) env[name] = v;
  };
  set('WEFT_PACKS_TRUST', f.trust);
  set('WEFT_PACKS_KEYCHAIN', f.keychain);
  set('WEFT_PACKS_REGISTRY', f.registry);
  set('WEFT_PACKS_PINNED_KEYS', f.pinnedKeys);
  set('WEFT_PACKS_ALLOW', f.allow);
  set('WEFT_PACKS_LOCK', f.lock);
  if (sources.length > 0) env.WEFT_PACKS = sources.join(',');
  try {
    const cfg = loadPacksConfig(env);
    checkPacksConfig(cfg);
    return cfg;
  } catch (e) {
    throw new CliError('invalid_argument', e instanceof Error ? e.message : String(e), { cause: e });
  }
}

async function verifyAll(cfg: PacksConfig): Promise<LoadedPack[]> {
  if (cfg.packs.length === 0)
    throw new CliError('invalid_argument', 'name at least one pack source (a directory, a .tgz, or name[@version]), or set WEFT_PACKS');
  const sources = cfg.packs.map((s) => parsePackSource(s));
  const { policy, registry } = await packPolicy(cfg, sources);
  return loadPacks(sources, policy, registry ? { registry } : {});
}

const describePack = (p: LoadedPack): string =>
  `${p.name}@${p.version}  ${p.integrity}  trust=${p.trust.mode}${p.trust.verifiedBy ? ` key=${p.trust.verifiedBy}` : ''}  types=${(p.manifest.nodes ?? []).map((n) => n.typeId).join(',')}`;

async function readText(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    throw new CliError('invalid_argument', `cannot read ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}

/** A keychain entry as `keygen` prints it. */
interface KeychainEntry {
  keyId: string;
  algorithm: 'ed25519';
  publicKey: string;
  permittedNamespaces: string[];
  status: 'active';
}

/** Writes `<keyId>.key` (0600, never overwritten) and `<keyId>.pub` below `dir`. */
async function writeKeyPair(dir: string, keyId: string, namespaces: string[]): Promise<{ keyFile: string; pubFile: string; entry: KeychainEntry }> {
  if (!/^[A-Za-z0-9._-]{1,128}$/.test(keyId)) throw new CliError('invalid_argument', '--key-id must be 1–128 characters of [A-Za-z0-9._-]');
  const { privateKeyPem, publicKeyPem } = generateSigningKey();
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const keyFile = join(dir, `${keyId}.key`);
  await writeFile(keyFile, privateKeyPem, { mode: 0o600, flag: 'wx' }).catch((e: NodeJS.ErrnoException) => {
    throw new CliError('invalid_argument', e.code === 'EEXIST' ? `${keyFile} exists; not overwriting a key` : `cannot write ${keyFile}: ${e.code}`);
  });
  await chmod(keyFile, 0o600);
  const pubFile = join(dir, `${keyId}.pub`);
  await writeFile(pubFile, publicKeyPem);
  const permittedNamespaces = namespaces.map((s) => s.trim()).filter(Boolean);
  return { keyFile, pubFile, entry: { keyId, algorithm: 'ed25519', publicKey: publicKeyPem, permittedNamespaces, status: 'active' } };
}

/** Reads a lockfile, or an empty one when `path` does not exist. */
async function readLockOrEmpty(path: string, now: number): Promise<PackLockfile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { lockfileVersion: 1, generatedAt: new Date(now).toISOString(), packs: [] };
    throw new CliError('invalid_argument', `cannot read lockfile ${path}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  try {
    return parseLockfile(text);
  } catch (e) {
    if (e instanceof PackError) throw new CliError(e.code, `${path}: ${e.message}`);
    throw e;
  }
}

/** The lock entry of a verified pack. */
function lockEntryOf(p: LoadedPack): PackLockfile['packs'][number] {
  return {
    name: p.name,
    version: p.version,
    ...(p.resolved ? { resolved: p.resolved } : {}),
    integrity: p.integrity,
    ...(p.signature?.publicKey ? { signature: { algorithm: 'ed25519' as const, publicKey: p.signature.publicKey, value: p.signature.value } } : {}),
  };
}

/** Registers `weft packs …`. */
export function registerPackCommands(program: Command, ctx: CliContext): void {
  const packs = program.command('packs').description('node packs: keys, signing, archives, verification and the lockfile (offline)');
  const print = (text: string): void => ctx.io.stdout(`${text}\n`);
  const g = (): GlobalOptions => program.opts<GlobalOptions>();

  packs
    .command('keygen')
    .description('make an Ed25519 signing key: <id>.key (private, 0600) and <id>.pub (SPKI PEM), and print its keychain entry')
    .requiredOption('--key-id <id>', 'key id ([A-Za-z0-9._-], named by pack.json signing.publicKeyRef)')
    .requiredOption('--namespace <patterns>', 'namespaces it may sign, comma-separated (vendor.acme.* or exact names)')
    .option('--out-dir <dir>', 'where to write the files', '.')
    .action(async (opts: { keyId: string; namespace: string; outDir: string }) => {
      const { keyFile, pubFile, entry } = await writeKeyPair(resolve(opts.outDir), opts.keyId, opts.namespace.split(','));
      if (g().json) return print(JSON.stringify({ privateKey: keyFile, publicKey: pubFile, keychainEntry: entry }));
      print(`wrote ${keyFile} (keep it secret) and ${pubFile}`);
      print('keychain entry (add it to the signingKeys of the keychain file the host trusts):');
      print(JSON.stringify(entry, null, 2));
    });

  packs
    .command('sign')
    .description("sign a pack directory's raw pack.json bytes (writes the 64-byte signature to signing.signatureRef, default keys/pack.json.sig)")
    .argument('<dir>', 'pack directory')
    .requiredOption('--key <file>', 'Ed25519 private key (PKCS#8 PEM, from weft packs keygen)')
    .action(async (dirArg: string, opts: { key: string }) => {
      const dir = resolve(dirArg);
      const bytes = await readFile(join(dir, 'pack.json')).catch(() => {
        throw new CliError('invalid_argument', `${dir} has no pack.json`);
      });
      const manifest = parseManifest(bytes, PACK_RUNTIME_REQUIREMENTS);
      if (!manifestKeyId(manifest)) {
        throw new CliError(
          'invalid_argument',
          'pack.json must name its key first (signing: {method: "manual", publicKeyRef: "<key id>"}): the signature covers pack.json',
        );
      }
      const sig = signManifest(bytes, await readText(resolve(opts.key), 'key'));
      const target = join(dir, signaturePaths(manifest)[0] as string);
      await mkdir(join(target, '..'), { recursive: true });
      await writeFile(target, sig);
      print(
        g().json
          ? JSON.stringify({ pack: manifest.name, version: manifest.version, signature: target })
          : `signed ${manifest.name}@${manifest.version} → ${target}`,
      );
    });

  packs
    .command('pack')
    .description('build the deterministic archive of a pack directory and print its integrity')
    .argument('<dir>', 'pack directory')
    .option('--out <file>', 'archive path (default <name>-<version>.tgz)')
    .action(async (dirArg: string, opts: { out?: string }) => {
      const files = await readPackDirectory(resolve(dirArg));
      const manifest = parseManifest(files.get('pack.json') as Buffer, PACK_RUNTIME_REQUIREMENTS);
      const tgz = buildArchive(files);
      const out = resolve(opts.out ?? `${manifest.name}-${manifest.version}.tgz`);
      await writeFile(out, tgz);
      const integrity = integrityOf(tgz);
      print(g().json ? JSON.stringify({ pack: manifest.name, version: manifest.version, archive: out, integrity, bytes: tgz.length }) : `${out}  ${integrity}`);
    });

  withTrustFlags(
    packs
      .command('verify')
      .description('verify packs exactly as the host does at boot (signature, key, namespace, pins, integrity, trust mode, lockfile)')
      .argument('[sources...]', 'directories, .tgz files or name[@version] (default WEFT_PACKS)'),
  ).action(async (sources: string[], f: TrustFlags) => {
    const loaded = await verifyAll(packsConfigOf(ctx, sources, f));
    if (g().json) {
      return print(
        JSON.stringify({
          packs: loaded.map((p) => ({ name: p.name, version: p.version, integrity: p.integrity, trust: p.trust, source: p.source, warnings: p.warnings })),
        }),
      );
    }
    for (const p of loaded) {
      print(`ok  ${describePack(p)}`);
      for (const w of p.warnings) ctx.io.stderr(`warning: ${w}\n`);
    }
  });

  withTrustFlags(
    packs
      .command('lock')
      .description('verify packs and write pack-lock.json with their exact versions, integrity and signatures')
      .argument('[sources...]', 'directories, .tgz files or name[@version] (default WEFT_PACKS)')
      .option('--out <file>', 'lockfile to write', 'pack-lock.json'),
  ).action(async (sources: string[], f: TrustFlags & { out: string }) => {
    const cfg = packsConfigOf(ctx, sources, { ...f, lock: undefined });
    if (cfg.packsTrust === 'pinned')
      throw new CliError('invalid_argument', 'lock verifies packs to pin them: use --trust verified (or allowlist/open), not pinned');
    const loaded = await verifyAll(cfg);
    const lock: PackLockfile = {
      lockfileVersion: 1,
      generatedAt: new Date((ctx.io.now ?? Date.now)()).toISOString(),
      ...(cfg.packsRegistry ? { registry: cfg.packsRegistry } : {}),
      packs: loaded.map(lockEntryOf),
    };
    const out = resolve(f.out);
    await writeFile(out, serializeLockfile(lock));
    for (const p of loaded) if (!p.signature?.publicKey) ctx.io.stderr(`warning: ${p.name}@${p.version} is locked without a verified signature\n`);
    print(
      g().json ? JSON.stringify({ lockfile: out, packs: lock.packs.length }) : `wrote ${out} (${lock.packs.length} pack${lock.packs.length === 1 ? '' : 's'})`,
    );
  });

  packs
    .command('list')
    .description('list the packs a lockfile pins')
    .option('--lock <file>', 'lockfile (WEFT_PACKS_LOCK, default ./pack-lock.json)')
    .action(async (opts: { lock?: string }) => {
      const path = resolve(opts.lock ?? ctx.io.env.WEFT_PACKS_LOCK ?? 'pack-lock.json');
      let lock: PackLockfile;
      try {
        lock = parseLockfile(await readText(path, 'lockfile'));
      } catch (e) {
        if (e instanceof PackError) throw new CliError(e.code, `${path}: ${e.message}`);
        throw e;
      }
      if (g().json) return print(JSON.stringify({ packs: lock.packs }));
      if (lock.packs.length === 0) return print('no packs locked');
      for (const p of lock.packs) print(`${p.name}@${p.version}  ${p.integrity}  ${p.signature ? 'signed' : 'unsigned'}${p.resolved ? `  ${p.resolved}` : ''}`);
    });

  withTrustFlags(
    packs
      .command('add')
      .description('verify one pack and add (or replace) its entry in the lockfile')
      .argument('<source>', 'a directory, a .tgz file or name[@version]'),
  ).action(async (source: string, f: TrustFlags) => {
    const path = resolve(f.lock ?? ctx.io.env.WEFT_PACKS_LOCK ?? 'pack-lock.json');
    const cfg = packsConfigOf(ctx, [source], { ...f, lock: undefined });
    if (cfg.packsTrust === 'pinned')
      throw new CliError('invalid_argument', 'add verifies a pack to pin it: use --trust verified (or allowlist/open), not pinned');
    const now = (ctx.io.now ?? Date.now)();
    const lock = await readLockOrEmpty(path, now);
    const [p] = await verifyAll(cfg);
    if (!p) throw new CliError('invalid_argument', 'no pack verified');
    const replaced = lock.packs.find((x) => x.name === p.name);
    const next: PackLockfile = { ...lock, generatedAt: new Date(now).toISOString(), packs: [...lock.packs.filter((x) => x.name !== p.name), lockEntryOf(p)] };
    if (cfg.packsRegistry && !next.registry) next.registry = cfg.packsRegistry;
    await writeFile(path, serializeLockfile(next));
    if (!p.signature?.publicKey) ctx.io.stderr(`warning: ${p.name}@${p.version} is locked without a verified signature\n`);
    const what = replaced ? `replaced ${p.name}@${replaced.version} with ${p.version}` : `added ${p.name}@${p.version}`;
    print(g().json ? JSON.stringify({ lockfile: path, pack: p.name, version: p.version, replaced: replaced?.version ?? null }) : `${what} in ${path}`);
  });

  packs
    .command('remove')
    .description('remove a pack from the lockfile')
    .argument('<name>', 'pack name')
    .option('--lock <file>', 'lockfile (WEFT_PACKS_LOCK, default ./pack-lock.json)')
    .action(async (name: string, opts: { lock?: string }) => {
      const path = resolve(opts.lock ?? ctx.io.env.WEFT_PACKS_LOCK ?? 'pack-lock.json');
      const now = (ctx.io.now ?? Date.now)();
      const lock = await readLockOrEmpty(path, now);
      if (!lock.packs.some((p) => p.name === name)) throw new CliError('pack_not_found', `${name.slice(0, 214)} is not in ${path}`);
      await writeFile(path, serializeLockfile({ ...lock, generatedAt: new Date(now).toISOString(), packs: lock.packs.filter((p) => p.name !== name) }));
      print(g().json ? JSON.stringify({ lockfile: path, removed: name }) : `removed ${name} from ${path}`);
    });

  packs
    .command('init')
    .description('scaffold a pack: pack.json with one typed node, its code and test, a signing key outside the pack, and the signature')
    .argument('<dir>', 'new pack directory (must not exist or be empty)')
    .requiredOption('--name <name>', 'pack name, e.g. vendor.acme.tools')
    .option('--key-id <id>', 'signing key id (default <owner>-1)')
    .option('--key-dir <dir>', 'where the private key goes — never inside the pack', '.weft-keys')
    .action(async (dirArg: string, opts: { name: string; keyId?: string; keyDir: string }) => {
      if (!isPackName(opts.name)) throw new CliError('invalid_argument', '--name must be (core|vendor|community|private).<owner>.<name>');
      const dir = resolve(dirArg);
      const keyDir = resolve(opts.keyDir);
      if (keyDir === dir || keyDir.startsWith(`${dir}/`))
        throw new CliError('invalid_argument', '--key-dir must be outside the pack directory (the key would be packed)');
      const existing = await readdir(dir).catch(() => []);
      if (existing.length > 0) throw new CliError('invalid_argument', `${dir} is not empty`);
      const owner = ownerNamespace(opts.name);
      const keyId = opts.keyId ?? `${owner.split('.')[1]}-1`;
      const typeId = `${owner}.hello`;
      const manifest = {
        name: opts.name,
        version: '0.1.0',
        description: 'Says hello.',
        license: 'Apache-2.0',
        engines: { openwop: '>=1.0 <2.0.0' },
        runtime: { language: 'javascript', entry: 'dist/index.js', format: 'esm', minRuntimeVersion: 'node>=20' },
        nodes: [
          {
            typeId,
            version: '0.1.0',
            label: 'Hello',
            description: 'Greets inputs.name.',
            category: 'data',
            role: 'pure',
            inputSchemaRef: 'schemas/hello.input.json',
            outputSchemaRef: 'schemas/hello.output.json',
          },
        ],
        signing: { method: 'manual', publicKeyRef: keyId, signatureRef: 'keys/pack.json.sig' },
      };
      const files: Record<string, string> = {
        'pack.json': `${JSON.stringify(manifest, null, 2)}\n`,
        'schemas/hello.input.json': `${JSON.stringify({ type: 'object', properties: { name: { type: 'string', maxLength: 200 } }, additionalProperties: false }, null, 2)}\n`,
        'schemas/hello.output.json': `${JSON.stringify({ type: 'object', required: ['greeting'], properties: { greeting: { type: 'string' } }, additionalProperties: false }, null, 2)}\n`,
        'dist/index.js': [
          '// Node bodies by typeId. Each gets the node context and returns a NodeOutcome.',
          '// Pack code only reaches the outside world through ctx (it runs in a sandbox).',
          `export default {`,
          `  '${typeId}': async (ctx) => {`,
          "    const name = typeof ctx.inputs?.name === 'string' ? ctx.inputs.name : 'world';",
          // biome-ignore lint/suspicious/noTemplateCurlyInString: the generated module's own template literal
          "    return { status: 'success', outputs: { greeting: `hello, ${name}` } };",
          '  },',
          '};',
          '',
        ].join('\n'),
        'test/hello.test.mjs': [
          "import assert from 'node:assert/strict';",
          "import { test } from 'node:test';",
          "import nodes from '../dist/index.js';",
          '',
          `test('${typeId} greets its input', async () => {`,
          `  const out = await nodes['${typeId}']({ inputs: { name: 'Ada' } });`,
          "  assert.deepEqual(out, { status: 'success', outputs: { greeting: 'hello, Ada' } });",
          '});',
          '',
        ].join('\n'),
        'README.md': `# ${opts.name}\n\nTest: \`node --test test/\`. Sign after every change to pack.json: \`weft packs sign . --key ${join(keyDir, `${keyId}.key`)}\`.\n`,
      };
      for (const [path, body] of Object.entries(files)) {
        await mkdir(join(dir, path, '..'), { recursive: true });
        await writeFile(join(dir, path), body);
      }
      const { keyFile, entry } = await writeKeyPair(keyDir, keyId, [`${owner}.*`]);
      await mkdir(join(dir, 'keys'), { recursive: true });
      await writeFile(join(dir, 'keys', 'pack.json.sig'), signManifest(Buffer.from(files['pack.json'] as string), await readFile(keyFile, 'utf8')));
      const keychain = join(keyDir, 'keychain.json');
      await writeFile(keychain, `${JSON.stringify({ signingKeys: [entry] }, null, 2)}\n`, { flag: 'wx' }).catch(() => undefined);
      if (g().json) return print(JSON.stringify({ pack: opts.name, dir, typeId, key: keyFile, keychain }));
      print(`created ${opts.name} in ${dir} (node type ${typeId}), signed with ${keyId}`);
      print(`  test:   (cd ${dir} && node --test test/)`);
      print(`  verify: weft packs verify ${dir} --keychain ${keychain}`);
      print(`  load:   WEFT_PACKS=${dir} WEFT_PACKS_KEYCHAIN=${keychain} weft serve`);
    });
}
