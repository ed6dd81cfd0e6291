/**
 * `weft packs keygen|sign|pack|verify|lock|list` — offline node-pack tooling: make an Ed25519
 * signing key, sign a pack's raw `pack.json`, build its deterministic archive, verify a pack
 * exactly as the host does at boot, write `pack-lock.json`, and list a lockfile. The trust
 * settings default to the host's `WEFT_PACKS*` variables, so `verify` answers what `serve`
 * would.
 *
 * @see ../../../../docs/packs.md
 */
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { PACK_RUNTIME_REQUIREMENTS, type PackLockfile } from '@weft/contract';
import {
  PackError,
  TRUST_MODES,
  buildArchive,
  checkPacksConfig,
  generateSigningKey,
  integrityOf,
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
      if (!/^[A-Za-z0-9._-]{1,128}$/.test(opts.keyId)) throw new CliError('invalid_argument', '--key-id must be 1–128 characters of [A-Za-z0-9._-]');
      const { privateKeyPem, publicKeyPem } = generateSigningKey();
      const dir = resolve(opts.outDir);
      await mkdir(dir, { recursive: true });
      const keyFile = join(dir, `${opts.keyId}.key`);
      await writeFile(keyFile, privateKeyPem, { mode: 0o600, flag: 'wx' }).catch((e: NodeJS.ErrnoException) => {
        throw new CliError('invalid_argument', e.code === 'EEXIST' ? `${keyFile} exists; not overwriting a key` : `cannot write ${keyFile}: ${e.code}`);
      });
      await chmod(keyFile, 0o600);
      await writeFile(join(dir, `${opts.keyId}.pub`), publicKeyPem);
      const entry = {
        keyId: opts.keyId,
        algorithm: 'ed25519',
        publicKey: publicKeyPem,
        permittedNamespaces: opts.namespace
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean),
        status: 'active',
      };
      if (g().json) return print(JSON.stringify({ privateKey: keyFile, publicKey: join(dir, `${opts.keyId}.pub`), keychainEntry: entry }));
      print(`wrote ${keyFile} (keep it secret) and ${join(dir, `${opts.keyId}.pub`)}`);
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
      packs: loaded.map((p) => ({
        name: p.name,
        version: p.version,
        ...(p.resolved ? { resolved: p.resolved } : {}),
        integrity: p.integrity,
        ...(p.signature?.publicKey ? { signature: { algorithm: 'ed25519' as const, publicKey: p.signature.publicKey, value: p.signature.value } } : {}),
      })),
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
}
