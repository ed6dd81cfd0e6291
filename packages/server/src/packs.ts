/**
 * Node packs at boot: the configured sources (directories, tarballs, registry names) are
 * loaded and verified under the configured trust mode before the store is opened; any
 * failure stops the start with one line naming the source, the code and the reason. The
 * verified packs' node types are registered so workflow registration accepts them; running
 * them needs a pack runtime (see `@weft/packs` `packNodeTypes`).
 *
 * @see ../../../docs/packs.md
 */
export { checkPacksConfig, loadPacksConfig, type PacksConfig } from '@weft/packs';
import { PackError, loadPacks, packPolicy, parsePackSource, type LoadedPack, type PacksConfig } from '@weft/packs';
import type { Logger } from 'pino';

/**
 * Loads and verifies the configured packs, logging each one (and, in open mode, a warning
 * per pack and on stderr when `announce`).
 * @throws Error `pack verification failed: <code>: <message>` — the host must not start
 */
export async function loadConfiguredPacks(cfg: PacksConfig, logger: Logger, announce: boolean): Promise<LoadedPack[]> {
  if (cfg.packs.length === 0) return [];
  const log = logger.child({ component: 'packs' });
  try {
    const sources = cfg.packs.map((s) => parsePackSource(s));
    const { policy, registry } = await packPolicy(cfg, sources);
    if (policy.mode === 'open') {
      const line = 'WEFT_PACKS_TRUST=open: packs load WITHOUT signature, allowlist or lock requirements. Development only — never run this in production.';
      log.warn(line);
      if (announce) process.stderr.write(`WARNING: ${line}\n`);
    }
    const packs = await loadPacks(sources, policy, registry ? { registry } : {});
    for (const p of packs) {
      log.info(
        {
          pack: p.name,
          version: p.version,
          integrity: p.integrity,
          trust: p.trust,
          source: p.source,
          nodeTypes: (p.manifest.nodes ?? []).map((n) => n.typeId),
        },
        'pack loaded',
      );
      for (const w of p.warnings) log.warn({ pack: p.name }, w);
    }
    return packs;
  } catch (e) {
    if (e instanceof PackError) throw new Error(`pack verification failed: ${e.code}: ${e.message}`, { cause: e });
    throw e;
  }
}
