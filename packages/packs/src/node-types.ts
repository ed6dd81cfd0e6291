/**
 * A verified pack's node types, as engine {@link NodeType}s. Workflow registration accepts a
 * typeId once it is registered here. Executing one needs a runtime for the pack's language
 * (the sandbox, attached through {@link PackRuntime}); until one is attached, the node type
 * requires the runtime capability `weft.packRuntime.<language>`, which this host does not
 * provide, so a run reaching such a node fails with `capability_not_provided` (naming that
 * capability) before `node.started` — no pack code runs and nothing half-happens.
 *
 * @see execution-semantics.md §6.2 (`requires[]`), §6.6
 */
import { NodeError, type NodeContext, type NodeRegistry, type NodeResult, type NodeType } from '@weft/engine';
import { PackError } from './errors.js';
import type { LoadedPack } from './loader.js';

/** Runs a pack's node bodies (the sandbox implements this). */
export interface PackRuntime {
  /** The manifest `runtime.language` it runs. */
  readonly language: string;
  /** Executes `typeId` of `pack` with the node context. */
  execute(pack: LoadedPack, typeId: string, ctx: NodeContext): Promise<NodeResult>;
}

/** The runtime capability a pack node of `language` needs while no runtime is attached. */
export const packRuntimeCapability = (language: string): string => `weft.packRuntime.${language}`;

/** The node types `pack` provides, run by `runtime` when given. */
export function packNodeTypes(pack: LoadedPack, runtime?: PackRuntime): NodeType[] {
  const language = pack.manifest.runtime.language;
  return (pack.manifest.nodes ?? []).map((n): NodeType => {
    if (runtime && runtime.language === language) return { typeId: n.typeId, execute: (ctx) => runtime.execute(pack, n.typeId, ctx) };
    return {
      typeId: n.typeId,
      requires: [packRuntimeCapability(language)],
      execute: (ctx) => {
        throw new NodeError('pack_runtime_unavailable', `Node type ${n.typeId} comes from pack ${pack.name}, and no ${language} pack runtime is attached.`, {
          typeId: n.typeId,
          nodeId: ctx.nodeId,
          pack: pack.name,
          language,
        });
      },
    };
  });
}

/**
 * Registers every pack's node types in `registry`.
 * @throws PackError `pack_typeid_conflict` when a typeId is already registered (a built-in or another pack)
 */
export function registerPackNodes(registry: NodeRegistry, packs: readonly LoadedPack[], runtimes: readonly PackRuntime[] = []): void {
  const types = packs.flatMap((p) =>
    packNodeTypes(
      p,
      runtimes.find((r) => r.language === p.manifest.runtime.language),
    ).map((t) => ({ t, pack: p.name })),
  );
  for (const { t, pack } of types) {
    if (registry.has(t.typeId))
      throw new PackError('pack_typeid_conflict', `Pack ${pack} declares node type ${t.typeId}, which is already registered.`, { typeId: t.typeId, pack });
  }
  for (const { t } of types) registry.register(t);
}
