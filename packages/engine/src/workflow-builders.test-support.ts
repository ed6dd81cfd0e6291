/**
 * Workflow builders shared by the engine's tests (not part of the build: `*.test-support.ts` is
 * excluded like the tests themselves).
 */
import type { WorkflowDefinition } from '@weft/contract';

/** A node of `typeId` with its config (and inputs). */
export const testNode = (id: string, typeId = 'core.noop', config: Record<string, unknown> = {}, inputs: Record<string, unknown> = {}) => ({
  id,
  typeId,
  name: id,
  position: { x: 0, y: 0 },
  config,
  inputs,
});

/** A manually triggered workflow of `nodes` joined by `edges` (source, target), with `extra` top-level fields. */
export const testWorkflow = (
  id: string,
  nodes: ReturnType<typeof testNode>[],
  edges: [string, string][] = [],
  extra: Partial<WorkflowDefinition> | Record<string, unknown> = {},
): WorkflowDefinition =>
  ({
    id,
    name: id,
    version: '1',
    nodes,
    edges: edges.map(([s, t], i) => ({ id: `e${i}`, sourceNodeId: s, targetNodeId: t })),
    triggers: [{ id: 'manual', type: 'manual', enabled: true }],
    variables: [],
    metadata: {},
    settings: {},
    ...extra,
  }) as WorkflowDefinition;
