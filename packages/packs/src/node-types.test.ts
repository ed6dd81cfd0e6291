import { NodeError, NodeRegistry, type NodeContext } from '@weft/engine';
import { testManifest, testPackFiles, writePackDir } from '@weft/testkit';
import { describe, expect, it } from 'vitest';
import type { PackError } from './errors.js';
import { Keychain } from './keychain.js';
import { loadPack, type LoadedPack } from './loader.js';
import { packNodeTypes, registerPackNodes, type PackRuntime } from './node-types.js';

async function pack(types: string[] = ['echo']): Promise<LoadedPack> {
  const dir = await writePackDir(testPackFiles(testManifest('vendor.acme.tools', { types })));
  return loadPack({ kind: 'directory', path: dir }, { mode: 'open', keychain: new Keychain() });
}

describe('pack node types', () => {
  it('without a runtime, each type requires the language runtime capability and its body refuses to run', async () => {
    const [t] = packNodeTypes(await pack());
    expect(t?.typeId).toBe('vendor.acme.echo');
    expect(t?.requires).toEqual(['weft.packRuntime.javascript']);
    let thrown: unknown;
    try {
      await t?.execute({ nodeId: 'n1' } as NodeContext);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(NodeError);
    expect((thrown as NodeError).code).toBe('pack_runtime_unavailable');
  });

  it('with a runtime for the pack language, bodies run through it and need no capability', async () => {
    const p = await pack();
    const calls: string[] = [];
    const runtime: PackRuntime = {
      language: 'javascript',
      execute: async (pk, typeId) => {
        calls.push(`${pk.name}:${typeId}`);
        return { outputs: { ok: true } };
      },
    };
    const [t] = packNodeTypes(p, runtime);
    expect(t?.requires).toBeUndefined();
    expect(await t?.execute({} as NodeContext)).toEqual({ outputs: { ok: true } });
    expect(calls).toEqual(['vendor.acme.tools:vendor.acme.echo']);
  });

  it('invariant: node-pack-typeid-namespace — refuses to register a typeId that is already registered, registering none of the pack', async () => {
    const registry = new NodeRegistry();
    registry.register({ typeId: 'vendor.acme.echo', execute: () => ({ outputs: {} }) });
    let e: unknown;
    try {
      registerPackNodes(registry, [await pack(['shout', 'echo'])]);
    } catch (err) {
      e = err;
    }
    expect((e as PackError).code).toBe('pack_typeid_conflict');
    expect(registry.has('vendor.acme.shout')).toBe(false);
  });
});
