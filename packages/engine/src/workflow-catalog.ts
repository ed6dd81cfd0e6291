/**
 * Workflow definitions: validated on registration, stored immutable and addressed by the
 * SHA-256 of their canonical JSON. A run pins the hash it started with, so re-registering an
 * id never changes a run in flight.
 */
import { createHash } from 'node:crypto';
import { WeftError, WorkflowDefinitionSchema, compileValidator, type WorkflowDefinition } from '@weft/contract';
import { parseDispatchConfig } from './agents/orchestration.js';
import { compileGraph, type WorkflowGraph } from './graph.js';
import { CHILD_FAILURE_POLICIES, GATED_TYPE_IDS, type NodeRegistry } from './nodes.js';
import type { Clock, StoreLifecycle, StoredWorkflow, WorkflowStore } from './ports.js';
import { canonicalJson } from './scheduler.js';

const validateDefinition = compileValidator<WorkflowDefinition>(WorkflowDefinitionSchema);

/** SHA-256 (hex) of the canonical JSON of a definition. */
export function workflowHash(def: WorkflowDefinition): string {
  return createHash('sha256').update(canonicalJson(def)).digest('hex');
}

/** Result of {@link WorkflowCatalog.register}. */
export interface RegisterResult {
  workflow: StoredWorkflow;
  created: boolean;
}

/** Why a workflow cannot run here, if it cannot. */
export interface Runnability {
  runnable: boolean;
  gated?: { typeId: string; nodeId: string; capability: string };
  unknownTypes?: string[];
}

export class WorkflowCatalog {
  private readonly graphs = new Map<string, WorkflowGraph>();
  /** id → current definition, for single-process stores (a shared store is asked each time). */
  private readonly current = new Map<string, StoredWorkflow>();
  /** hash → definition; definitions are immutable, so this never goes stale. */
  private readonly byHash = new Map<string, StoredWorkflow>();

  constructor(
    private readonly store: WorkflowStore & Pick<StoreLifecycle, 'shared'>,
    private readonly registry: NodeRegistry,
    private readonly clock: Clock,
  ) {}

  /**
   * Validates `raw` (schema, host support, then graph structure) and returns the typed
   * definition. A workflow that uses a capability-gated node type is kept without a graph
   * (its shape may need the missing capability, e.g. a supervisor loop): it is known, and runs
   * of it are refused with `capability_required`.
   * @throws WeftError `workflow_invalid` | `capability_required`
   */
  validate(raw: unknown): { definition: WorkflowDefinition; graph?: WorkflowGraph } {
    let def: WorkflowDefinition;
    try {
      def = validateDefinition(raw, 'workflow definition');
    } catch (e) {
      if (e instanceof WeftError) throw new WeftError('workflow_invalid', 'The workflow definition is invalid.', e.details);
      throw e;
    }
    this.checkSupported(def);
    const compiled = compileGraph(def);
    if ('problems' in compiled) {
      if (this.runnability(def).gated && compiled.problems.every((p) => p.message.startsWith('cycle detected'))) return { definition: def };
      throw new WeftError('workflow_invalid', 'The workflow graph is invalid.', { errors: compiled.problems });
    }
    return { definition: def, graph: compiled.graph };
  }

  /**
   * Refuses what this host cannot run: `settings.compensation` (the compensation profile is
   * not implemented, and silently ignoring a compensation policy is not allowed), node types no
   * registry entry implements, and sub-workflow configs with an unknown `onChildFailure`.
   */
  private checkSupported(def: WorkflowDefinition): void {
    const settings = def.settings as Record<string, unknown> | undefined;
    if (settings?.compensation !== undefined) {
      throw new WeftError('capability_required', 'Compensation policies need a capability this host does not provide.', { requiredCapability: 'compensation' });
    }
    const errors: { path: string; message: string }[] = [];
    const unknown = new Set<string>();
    const invalid: { path: string; message: string }[] = [];
    def.nodes.forEach((n, i) => {
      if (!this.registry.has(n.typeId) && !GATED_TYPE_IDS.has(n.typeId)) {
        unknown.add(n.typeId.slice(0, 128));
        errors.push({ path: `/nodes/${i}/typeId`, message: 'unknown node type' });
      }
      if (n.typeId === 'core.dispatch') {
        // dispatch-config.schema.json; conversation routing needs conversationPrimitive (not advertised).
        const d = parseDispatchConfig(n.config);
        if ('problems' in d) for (const p of d.problems) invalid.push({ path: `/nodes/${i}/config${p.path}`, message: p.message });
      }
      if (n.agent !== undefined && (typeof n.agent !== 'object' || n.agent === null || 'channel' in n.agent))
        // agent-ref.schema.json: a channel-bound ref needs agents.deployment, which this host does not advertise.
        invalid.push({
          path: `/nodes/${i}/agent`,
          message: 'agent must be an AgentRef; channel refs need agents.deployment, which this host does not provide',
        });
      const policy = n.typeId === 'core.subWorkflow' ? n.config.onChildFailure : undefined;
      if (policy !== undefined && !(CHILD_FAILURE_POLICIES as readonly unknown[]).includes(policy)) {
        errors.push({ path: `/nodes/${i}/config/onChildFailure`, message: `must be one of ${CHILD_FAILURE_POLICIES.join(', ')}` });
      }
    });
    if (unknown.size > 0) {
      // typeIds match ^[a-z][a-zA-Z0-9._-]*$ (schema-checked above), so naming them is safe.
      throw new WeftError('workflow_invalid', 'The workflow uses node types this host does not implement.', {
        errors: errors.slice(0, 50),
        unknownTypes: [...unknown].slice(0, 50),
      });
    }
    if (invalid.length > 0) throw new WeftError('validation_error', 'The workflow definition is invalid.', { errors: invalid.slice(0, 50) });
    if (errors.length > 0) throw new WeftError('workflow_invalid', 'The workflow definition is invalid.', { errors });
  }

  /** Validates and stores a definition; identical content is a no-op. */
  async register(raw: unknown, source: string): Promise<RegisterResult> {
    const { definition, graph } = this.validate(raw);
    const hash = workflowHash(definition);
    const current = await this.store.getWorkflow(definition.id);
    if (current?.hash === hash) return { workflow: current, created: false };
    const wf: StoredWorkflow = { id: definition.id, hash, definition, source, createdAt: new Date(this.clock.now()).toISOString() };
    await this.store.putWorkflow(wf);
    if (graph) this.graphs.set(hash, graph);
    this.current.delete(wf.id);
    return { workflow: wf, created: true };
  }

  /** The current definition registered under `id`. */
  async get(id: string): Promise<StoredWorkflow | undefined> {
    const hit = this.current.get(id);
    if (hit) return hit;
    const wf = await this.store.getWorkflow(id);
    if (wf && !this.store.shared) this.current.set(id, wf);
    return wf;
  }

  /** A definition by content hash (cached: definitions never change). */
  async byContentHash(hash: string): Promise<StoredWorkflow | undefined> {
    const hit = this.byHash.get(hash);
    if (hit) return hit;
    const wf = await this.store.getWorkflowByHash(hash);
    if (wf) this.byHash.set(hash, wf);
    return wf;
  }

  /** Unregisters an id (runs keep their pinned definitions). */
  async unregister(id: string): Promise<boolean> {
    this.current.delete(id);
    return this.store.deleteWorkflow(id);
  }

  /** The compiled graph of a stored definition (cached by hash). */
  graphOf(wf: StoredWorkflow): WorkflowGraph {
    let g = this.graphs.get(wf.hash);
    if (!g) {
      const compiled = compileGraph(wf.definition);
      if ('problems' in compiled) throw new Error(`stored workflow ${wf.id}@${wf.hash} no longer compiles`);
      g = compiled.graph;
      this.graphs.set(wf.hash, g);
    }
    return g;
  }

  /** Whether every node type resolves here and none is capability-gated. */
  runnability(def: WorkflowDefinition): Runnability {
    for (const n of def.nodes) {
      const capability = GATED_TYPE_IDS.get(n.typeId);
      if (capability) return { runnable: false, gated: { typeId: n.typeId, nodeId: n.id, capability } };
    }
    const unknownTypes = [...new Set(def.nodes.filter((n) => !this.registry.has(n.typeId)).map((n) => n.typeId))];
    return unknownTypes.length > 0 ? { runnable: false, unknownTypes } : { runnable: true };
  }
}
