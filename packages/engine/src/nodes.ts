/**
 * The node registry and the built-in node types.
 *
 * A node body gets a {@link NodeContext} and returns outputs, or asks to wait until a time (a
 * durable timer). After a crash a running node is executed again from its start, so bodies
 * must be safe to re-run; `ctx.startedAt` is the recorded start, so a re-run delay keeps its
 * original deadline.
 *
 * @see wire-contract.md §5.6, execution-semantics.md §6.7
 */

/** What a node body sees. */
export interface NodeContext {
  readonly runId: string;
  readonly nodeId: string;
  readonly typeId: string;
  readonly tenant: string;
  readonly attempt: number;
  readonly config: Readonly<Record<string, unknown>>;
  /** Input ports resolved from static values, variables and upstream outputs. */
  readonly inputs: Readonly<Record<string, unknown>>;
  /** Epoch ms of this node's recorded `node.started`. */
  readonly startedAt: number;
  /** Aborted on cancel and on the run deadline. */
  readonly signal: AbortSignal;
  now(): number;
}

/** A node's outcome. */
export type NodeResult = { outputs: Record<string, unknown> } | { waitUntil: number };

/** A registered node type. */
export interface NodeType {
  readonly typeId: string;
  /** Runtime capabilities the node needs; missing ones fail the run before `node.started`. */
  readonly requires?: readonly string[];
  execute(ctx: NodeContext): NodeResult | Promise<NodeResult>;
}

/** A failure a node reports on purpose, with a wire error code. */
export class NodeError extends Error {
  readonly code: string;
  readonly details: Record<string, unknown> | undefined;
  readonly retryable: boolean;
  constructor(code: string, message: string, details?: Record<string, unknown>, retryable = false) {
    super(message);
    this.name = 'NodeError';
    this.code = code;
    this.details = details;
    this.retryable = retryable;
  }
}

/**
 * Reserved typeIds that need a capability this host does not advertise; a run using one is
 * refused at creation with `capability_required`.
 */
export const GATED_TYPE_IDS: ReadonlyMap<string, string> = new Map([
  ['core.conversationGate', 'conversationPrimitive'],
  ['core.orchestrator.supervisor', 'orchestrator'],
  ['core.dispatch', 'dispatch'],
]);

/** Longest delay `core.delay` accepts (7 days): it is a durable timer, not a sleep. */
export const MAX_DELAY_MS = 7 * 24 * 3600 * 1000;

function delayOf(ctx: NodeContext): number {
  const candidates = [ctx.inputs.delayMs, ctx.config.delayMs, ctx.config.ms, ctx.config.durationMs];
  const raw = candidates.find((v) => v !== undefined);
  if (raw === undefined) return 1000;
  if (typeof raw !== 'number' || !Number.isFinite(raw) || raw < 0 || raw > MAX_DELAY_MS) {
    throw new NodeError('validation_error', `core.delay needs a delay between 0 and ${MAX_DELAY_MS} ms`, { nodeId: ctx.nodeId });
  }
  return Math.floor(raw);
}

/** The built-in node types. */
export const BUILTIN_NODES: readonly NodeType[] = [
  { typeId: 'core.noop', execute: (ctx) => ({ outputs: { ...ctx.inputs } }) },
  { typeId: 'core.identity', execute: (ctx) => ({ outputs: { ...ctx.inputs } }) },
  {
    typeId: 'core.delay',
    execute: (ctx) => {
      const until = ctx.startedAt + delayOf(ctx);
      return ctx.now() >= until ? { outputs: { delayedMs: until - ctx.startedAt } } : { waitUntil: until };
    },
  },
  {
    typeId: 'core.fail',
    execute: (ctx) => {
      const code = typeof ctx.config.code === 'string' && ctx.config.code ? ctx.config.code : 'deterministic_fail';
      const message =
        typeof ctx.config.message === 'string' && ctx.config.message ? ctx.config.message : 'core.fail always fails';
      throw new NodeError(code, message);
    },
  },
  {
    // Conformance fixture node that needs a capability no host provides.
    typeId: 'conformance.requiresMissing',
    requires: ['conformance.never-provided'],
    execute: () => ({ outputs: {} }),
  },
];

/** Node types by typeId. */
export class NodeRegistry {
  private readonly types = new Map<string, NodeType>();
  constructor(types: readonly NodeType[] = BUILTIN_NODES) {
    for (const t of types) this.register(t);
  }
  register(t: NodeType): void {
    this.types.set(t.typeId, t);
  }
  get(typeId: string): NodeType | undefined {
    return this.types.get(typeId);
  }
  has(typeId: string): boolean {
    return this.types.has(typeId);
  }
}
