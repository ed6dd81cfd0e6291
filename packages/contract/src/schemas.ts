/**
 * Weft's own wire schemas, written once with TypeBox. They drive request validation (Ajv 2020),
 * the TypeScript types below and the served OpenAPI 3.1 document.
 *
 * @see wire-contract.md §1.3, §3, §5
 */
import { Type, type Static, type TLiteral, type TUnion } from 'typebox';
import { RUN_STATUSES, STREAM_MODES, WEBHOOK_SIGNATURE_ALGORITHM } from './wire.js';

/**
 * A union of string literals (`anyOf` of `const`s) whose static type is the union of the values.
 * `Type.Union(values.map(Type.Literal))` alone loses the element types (its `Static` is `never`),
 * so the tuple type is restored here, once.
 */
export function literalUnion<const T extends readonly string[]>(values: T): TUnion<{ -readonly [K in keyof T]: TLiteral<T[K]> }> {
  return Type.Union(values.map((v) => Type.Literal(v))) as unknown as TUnion<{ -readonly [K in keyof T]: TLiteral<T[K]> }>;
}

const Id128 = Type.String({ minLength: 1, maxLength: 128 });
const JsonObject = Type.Record(Type.String(), Type.Unknown());

// ---------------------------------------------------------------- workflow definition

export const PortValueSchema = Type.Union([
  Type.Object({ type: Type.Literal('static'), value: Type.Unknown() }, { additionalProperties: false }),
  Type.Object({ type: Type.Literal('expression'), expression: Type.String() }, { additionalProperties: false }),
  Type.Object(
    {
      type: Type.Literal('connection'),
      nodeId: Type.String({ minLength: 1 }),
      outputKey: Type.String({ minLength: 1 }),
      optional: Type.Optional(Type.Boolean()),
    },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      type: Type.Literal('variable'),
      variableName: Type.String({ minLength: 1 }),
      optional: Type.Optional(Type.Boolean()),
    },
    { additionalProperties: false },
  ),
]);

export const TRIGGER_RULES = ['all_success', 'any_success', 'all_complete', 'none_failed', 'any_failed'] as const;
export type TriggerRule = (typeof TRIGGER_RULES)[number];

/** Condition types of an edge (`EdgeCondition.type`). */
export const EDGE_CONDITION_TYPES = ['expression', 'equals', 'notEquals', 'contains', 'regex', 'truthy', 'falsy'] as const;

export const EdgeConditionSchema = Type.Object(
  {
    type: literalUnion(EDGE_CONDITION_TYPES),
    left: Type.Optional(Type.String()),
    right: Type.Optional(Type.Unknown()),
    expression: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);

export const WorkflowNodeSchema = Type.Object(
  {
    id: Type.String({ minLength: 1 }),
    typeId: Type.String({ pattern: '^[a-z][a-zA-Z0-9._-]*$' }),
    name: Type.String(),
    position: Type.Object({ x: Type.Number(), y: Type.Number() }),
    config: JsonObject,
    inputs: Type.Record(Type.String(), PortValueSchema),
    credentialsRef: Type.Optional(Type.Unknown()),
    settings: Type.Optional(JsonObject),
    outputRole: Type.Optional(Type.Union([Type.Literal('primary'), Type.Literal('secondary')])),
    disabled: Type.Optional(Type.Boolean()),
    notes: Type.Optional(Type.String()),
    groupId: Type.Optional(Type.String()),
    agent: Type.Optional(Type.Unknown()),
    envelopeContract: Type.Optional(Type.Unknown()),
    artifactType: Type.Optional(Type.String()),
    cardType: Type.Optional(Type.String()),
    outputSensitivity: Type.Optional(Type.Record(Type.String(), Type.Boolean())),
    requires: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
  },
  { additionalProperties: false },
);

export const WorkflowEdgeSchema = Type.Object(
  {
    id: Type.String({ minLength: 1 }),
    sourceNodeId: Type.String({ minLength: 1 }),
    targetNodeId: Type.String({ minLength: 1 }),
    sourceOutput: Type.Optional(Type.String()),
    targetInput: Type.Optional(Type.String()),
    label: Type.Optional(Type.String()),
    condition: Type.Optional(EdgeConditionSchema),
    triggerRule: Type.Optional(literalUnion(TRIGGER_RULES)),
  },
  { additionalProperties: false },
);

export const WorkflowVariableSchema = Type.Object(
  {
    name: Type.String({ minLength: 1 }),
    type: literalUnion(['string', 'number', 'boolean', 'object', 'array']),
    description: Type.Optional(Type.String()),
    required: Type.Optional(Type.Boolean()),
    defaultValue: Type.Optional(Type.Unknown()),
    sensitive: Type.Optional(Type.Boolean()),
    format: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);

export const WorkflowTriggerSchema = Type.Object(
  {
    id: Type.String({ minLength: 1 }),
    type: Type.String({ minLength: 1 }),
    name: Type.Optional(Type.String()),
    description: Type.Optional(Type.String()),
    config: Type.Optional(JsonObject),
    enabled: Type.Optional(Type.Boolean()),
    nodeId: Type.Optional(Type.String()),
    eventType: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);

export const WorkflowSettingsSchema = Type.Object(
  {
    timeout: Type.Optional(Type.Integer({ minimum: 0 })),
    maxRetries: Type.Optional(Type.Integer({ minimum: 0 })),
    logLevel: Type.Optional(Type.String()),
    maxLoopbackIterations: Type.Optional(Type.Integer({ minimum: 0 })),
  },
  { additionalProperties: true },
);

/** Our own workflow-definition schema (root closed, like the official one). */
export const WorkflowDefinitionSchema = Type.Object(
  {
    id: Type.String({ pattern: '^[a-z][a-z0-9_-]*$', maxLength: 128 }),
    name: Type.String({ minLength: 1, maxLength: 256 }),
    version: Type.String(),
    description: Type.Optional(Type.String()),
    type: Type.Optional(Type.String()),
    isActive: Type.Optional(Type.Boolean()),
    status: Type.Optional(Type.String()),
    tenantId: Type.Optional(Type.String()),
    scopeId: Type.Optional(Type.String()),
    slug: Type.Optional(Type.String()),
    groups: Type.Optional(Type.Array(Type.Unknown())),
    channels: Type.Optional(JsonObject),
    configurableSchema: Type.Optional(JsonObject),
    defaults: Type.Optional(JsonObject),
    acceptsInheritedArtifacts: Type.Optional(Type.Array(Type.Unknown())),
    createdAt: Type.Optional(Type.String()),
    updatedAt: Type.Optional(Type.String()),
    nodes: Type.Array(WorkflowNodeSchema, { minItems: 1 }),
    edges: Type.Array(WorkflowEdgeSchema),
    triggers: Type.Array(WorkflowTriggerSchema),
    variables: Type.Array(WorkflowVariableSchema),
    metadata: JsonObject,
    settings: WorkflowSettingsSchema,
  },
  { additionalProperties: false },
);

export type PortValue = Static<typeof PortValueSchema>;
export type EdgeCondition = Static<typeof EdgeConditionSchema>;
export type WorkflowNode = Static<typeof WorkflowNodeSchema>;
export type WorkflowEdge = Static<typeof WorkflowEdgeSchema>;
export type WorkflowVariable = Static<typeof WorkflowVariableSchema>;
export type WorkflowDefinition = Static<typeof WorkflowDefinitionSchema>;

// ---------------------------------------------------------------- requests

/** `POST /v1/runs` body (closed). @see wire-contract.md §1.3 */
export const CreateRunRequestSchema = Type.Object(
  {
    workflowId: Id128,
    inputs: Type.Optional(JsonObject),
    tenantId: Type.Optional(Type.String({ maxLength: 256 })),
    scopeId: Type.Optional(Type.String({ maxLength: 256 })),
    callbackUrl: Type.Optional(Type.String({ format: 'uri', maxLength: 2048 })),
    configurable: Type.Optional(JsonObject),
    tags: Type.Optional(Type.Array(Type.String({ maxLength: 256 }), { maxItems: 100 })),
    metadata: Type.Optional(JsonObject),
  },
  { additionalProperties: false },
);
export type CreateRunRequest = Static<typeof CreateRunRequestSchema>;

/** The modes of `POST /v1/runs/{runId}:fork`. */
export const FORK_MODES = ['replay', 'branch'] as const;

/** `runOptionsOverlay` of a branch fork: the RunOptions laid over the source run's (closed). */
export const RunOptionsOverlaySchema = Type.Object(
  {
    configurable: Type.Optional(JsonObject),
    tags: Type.Optional(Type.Array(Type.String({ maxLength: 256 }), { maxItems: 100 })),
    metadata: Type.Optional(JsonObject),
  },
  { additionalProperties: false },
);

/**
 * `POST /v1/runs/{runId}:fork` body (closed). `fromSeq` is inclusive (events before it are fixed
 * history); optional for `replay` (0), required for `branch`; the overlay is branch-only.
 * @see execution-semantics.md §3.1
 */
export const ForkRunRequestSchema = Type.Object(
  {
    mode: literalUnion(FORK_MODES),
    fromSeq: Type.Optional(Type.Integer({ minimum: 0 })),
    runOptionsOverlay: Type.Optional(RunOptionsOverlaySchema),
  },
  { additionalProperties: false },
);
export type ForkRunRequest = Static<typeof ForkRunRequestSchema>;

/** `POST /v1/runs/{runId}/cancel` body. */
export const CancelRunRequestSchema = Type.Object({ reason: Type.Optional(Type.String({ maxLength: 512 })) }, { additionalProperties: false });

/** `POST /v1/runs:bulk-cancel` body. */
export const MAX_BULK_CANCEL = 100;
export const BulkCancelRequestSchema = Type.Object(
  {
    runIds: Type.Array(Id128, { minItems: 1 }),
    reason: Type.Optional(Type.String({ maxLength: 512 })),
  },
  { additionalProperties: false },
);

// ---------------------------------------------------------------- webhooks

/** An event type a subscription names: `run.completed`, `node.failed`, `weft.run.pausing`, … */
export const WEBHOOK_EVENT_PATTERN = '^[a-z][a-z0-9]*(\\.[a-z0-9_-]+)+$';
const WebhookEvents = Type.Array(Type.String({ pattern: WEBHOOK_EVENT_PATTERN, maxLength: 128 }), { minItems: 1, maxItems: 64, uniqueItems: true });
const WebhookTags = Type.Array(Type.String({ minLength: 1, maxLength: 256 }), { maxItems: 100, uniqueItems: true });

/**
 * `POST /v1/webhooks` body. `url` must be `https://` (an operator-allowlisted destination may
 * be `http://`); `events` is required and non-empty (`eventTypes` is accepted as an alias);
 * `tenantId`, when sent, must be the caller's own tenant. Caller-chosen secrets are refused:
 * the host generates the secret (WH-04).
 */
export const CreateWebhookRequestSchema = Type.Object(
  {
    url: Type.String({ minLength: 1, maxLength: 2048 }),
    events: Type.Optional(WebhookEvents),
    eventTypes: Type.Optional(WebhookEvents),
    tenantId: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    tags: Type.Optional(WebhookTags),
    /** `best-effort` (default) or `durable` (outbox in the append, retries, dead letters). Weft extension. */
    delivery: Type.Optional(Type.Union([Type.Literal('best-effort'), Type.Literal('durable')])),
  },
  { additionalProperties: false },
);

/** A subscription as later reads show it: the secret only by its fingerprint. */
export const WebhookSchema = Type.Object(
  {
    webhookId: Type.String(),
    tenantId: Type.String(),
    url: Type.String(),
    events: Type.Array(Type.String()),
    tags: Type.Array(Type.String()),
    /** First 8 hex digits of sha256(secret). */
    secretFingerprint: Type.String({ pattern: '^[0-9a-f]{8}$' }),
    signatureAlgorithm: Type.Literal(WEBHOOK_SIGNATURE_ALGORITHM),
    /**
     * `best-effort`: one attempt per event after it committed, failures recorded, never
     * retried. `durable`: an outbox row written with the event, retried with backoff, then
     * dead-lettered.
     */
    delivery: Type.Union([Type.Literal('best-effort'), Type.Literal('durable')]),
    /**
     * `active` delivers; `paused` (an operator's `:pause`) holds deliveries — best-effort events
     * are recorded `skipped`, durable rows wait in the outbox until `:resume`; `failed` (a
     * best-effort subscription with 100 failures in 7 days) and `dead-lettered` (a durable one
     * whose deliveries were dead-lettered too many times in a row; later events go straight to
     * dead letters) are terminal: re-register (a fresh secret) to reactivate.
     */
    state: Type.Union([Type.Literal('active'), Type.Literal('paused'), Type.Literal('failed'), Type.Literal('dead-lettered')]),
    /** Consecutive failed deliveries; at 4 the circuit opens for an hour. */
    consecutiveFailures: Type.Integer({ minimum: 0 }),
    circuitOpenUntil: Type.Optional(Type.String({ format: 'date-time' })),
    createdAt: Type.String({ format: 'date-time' }),
    /** Set on a run's callback subscription (`callbackUrl` of `POST /v1/runs`): the run it reports on. */
    runId: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);

/** `POST /v1/webhooks` 201 response: the subscription and its secret, returned this once. */
export const CreatedWebhookSchema = Type.Object(
  { ...WebhookSchema.properties, secret: Type.String({ pattern: '^[0-9a-f]{64}$' }) },
  { additionalProperties: false },
);

/** `GET /v1/webhooks` response. */
export const WebhookListSchema = Type.Object({ webhooks: Type.Array(WebhookSchema) }, { additionalProperties: false });

/** One delivery record: the last attempt at delivering one event to one subscription. */
export const WebhookDeliverySchema = Type.Object(
  {
    /** `<runId>.<sequence>`: with the webhookId, the stable dedupe key of this delivery. */
    deliveryId: Type.String(),
    webhookId: Type.String(),
    runId: Type.String(),
    sequence: Type.Integer({ minimum: 0 }),
    eventType: Type.String(),
    /** `skipped`: not attempted (the circuit was open); `retrying`/`dead-lettered`: durable only. */
    status: Type.Union([Type.Literal('delivered'), Type.Literal('failed'), Type.Literal('skipped'), Type.Literal('retrying'), Type.Literal('dead-lettered')]),
    attempts: Type.Integer({ minimum: 0 }),
    responseStatus: Type.Optional(Type.Integer()),
    error: Type.Optional(Type.String()),
    createdAt: Type.String({ format: 'date-time' }),
    updatedAt: Type.String({ format: 'date-time' }),
  },
  { additionalProperties: false },
);

/** `GET /v1/webhooks/{webhookId}/deliveries` response, newest first. */
export const WebhookDeliveryListSchema = Type.Object({ deliveries: Type.Array(WebhookDeliverySchema) }, { additionalProperties: false });

/**
 * The body POSTed to a receiver (WH-11): the event exactly as the log holds it. A run's
 * callback delivery of `interrupt.requested` adds `interrupt` (decision 0025).
 */
export interface WebhookDeliveryBody {
  runId: string;
  /** The run's scope; Weft's workspace is its tenant. */
  workspaceId: string;
  event: Record<string, unknown>;
  interrupt?: CallbackInterrupt;
}

/**
 * The `interrupt` of a callback delivery of `interrupt.requested`: how to answer it. The token
 * and its URL are present only when the run's creator held `approvals:respond` and the
 * interrupt was still pending when the delivery was made.
 */
export interface CallbackInterrupt {
  interruptId: string;
  nodeId: string;
  kind: string;
  /** Signed interrupt token: whoever holds it can answer the interrupt (a credential). */
  interruptToken?: string;
  tokenExpiresAt?: string;
  /** `/v1/interrupts/{interruptToken}` (relative to the host's base URL): GET inspects, POST resolves. */
  callbackUrl?: string;
}

/** The events a run's callback (`callbackUrl`) is told of (decision 0025). */
export const CALLBACK_EVENTS = ['interrupt.requested', 'run.completed', 'run.failed', 'run.cancelled'] as const;

// ---------------------------------------------------------------- secrets vault (Weft extension)

/** Shortest secret value accepted: shorter values are too likely to occur in ordinary text for redaction to be safe. */
export const MIN_SECRET_VALUE_LENGTH = 16;
/** Longest secret value accepted (characters). */
export const MAX_SECRET_VALUE_LENGTH = 65_536;
/** A secret id: the tenant-unique reference nodes resolve. */
export const SECRET_ID_PATTERN = '^[A-Za-z0-9._-]{1,128}$';
const SecretValue = Type.String({ minLength: MIN_SECRET_VALUE_LENGTH, maxLength: MAX_SECRET_VALUE_LENGTH, writeOnly: true });
const SecretDescription = Type.String({ maxLength: 256, pattern: '^[^\\u0000-\\u001f\\u007f]*$' });

/** `POST /v1/host/weft/secrets` body. The value is write-only: no response ever carries it. */
export const CreateSecretRequestSchema = Type.Object(
  {
    secretId: Type.String({ pattern: SECRET_ID_PATTERN }),
    value: SecretValue,
    description: Type.Optional(SecretDescription),
  },
  { additionalProperties: false },
);

/** `POST /v1/host/weft/secrets/{secretId}:rotate` body: the new value (write-only). */
export const RotateSecretRequestSchema = Type.Object(
  {
    value: SecretValue,
    description: Type.Optional(SecretDescription),
  },
  { additionalProperties: false },
);

/** A secret's metadata: everything but the value, which is never returned. */
export const SecretMetadataSchema = Type.Object(
  {
    secretId: Type.String(),
    /** Resolution scope; Weft stores tenant-scoped secrets only. */
    scope: Type.Literal('tenant'),
    version: Type.Integer({ minimum: 1 }),
    description: Type.Optional(Type.String()),
    createdAt: Type.String({ format: 'date-time' }),
    updatedAt: Type.String({ format: 'date-time' }),
  },
  { additionalProperties: false },
);

/** `GET /v1/host/weft/secrets` response. */
export const SecretListSchema = Type.Object({ secrets: Type.Array(SecretMetadataSchema) }, { additionalProperties: false });

/** `POST /v1/host/weft/vault:rewrap` response (operator). */
export const RewrapResultSchema = Type.Object(
  {
    masterKeyId: Type.String(),
    rewrapped: Type.Integer({ minimum: 0 }),
    /** Rows still wrapped by another key (a later call continues). */
    remaining: Type.Integer({ minimum: 0 }),
    /** Rows whose data key no configured master key opens (left untouched). */
    unreadable: Type.Integer({ minimum: 0 }),
  },
  { additionalProperties: false },
);

/** `POST /v1/host/weft/workflows` body: a workflow definition. */
export const RegisterWorkflowRequestSchema = WorkflowDefinitionSchema;

// ---------------------------------------------------------------- responses (OpenAPI)

export const ErrorEnvelopeSchema = Type.Object(
  { error: Type.String({ minLength: 1 }), message: Type.String(), details: Type.Optional(JsonObject) },
  { additionalProperties: false },
);

/** The canonical event envelope (closed object). @see wire-contract.md §3.3 */
export const RunEventDocSchema = Type.Object(
  {
    eventId: Id128,
    runId: Id128,
    type: Type.String({ minLength: 1 }),
    payload: Type.Unknown(),
    timestamp: Type.String({ format: 'date-time' }),
    sequence: Type.Integer({ minimum: 0 }),
    nodeId: Type.Optional(Id128),
    schemaVersion: Type.Optional(Type.Integer({ minimum: 0 })),
    engineVersion: Type.Optional(Type.String()),
    causationId: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);

export type RunEventDoc = Static<typeof RunEventDocSchema>;

const RunStatusSchema = literalUnion(RUN_STATUSES);

export const CreateRunResponseSchema = Type.Object({
  runId: Id128,
  status: RunStatusSchema,
  workflowId: Type.String(),
  eventsUrl: Type.String(),
  statusUrl: Type.String(),
  /**
   * With a `callbackUrl`: the id of the run's callback subscription (the `X-openwop-Webhook-Id`
   * of its deliveries; `GET /v1/webhooks/{callbackId}/deliveries` lists them) and the secret that
   * signs them (`v1`, as a webhook's), returned with this answer only (decision 0025).
   */
  callbackId: Type.Optional(Type.String()),
  callbackSecret: Type.Optional(Type.String({ pattern: '^[0-9a-f]{64}$' })),
  callbackSecretFingerprint: Type.Optional(Type.String({ pattern: '^[0-9a-f]{8}$' })),
});

/** `POST /v1/runs/{runId}:fork` 201 body. */
export const ForkRunResponseSchema = Type.Object({
  runId: Id128,
  sourceRunId: Id128,
  fromSeq: Type.Integer({ minimum: 0 }),
  mode: literalUnion(FORK_MODES),
  status: RunStatusSchema,
  eventsUrl: Type.String(),
});
export type ForkRunResponse = Static<typeof ForkRunResponseSchema>;

/** `RunSnapshot.forkedFrom`: the source of a forked run. */
export const ForkedFromSchema = Type.Object({ runId: Id128, fromSeq: Type.Integer({ minimum: 0 }), mode: literalUnion(FORK_MODES) });

/** The run owner (`RunSnapshot.owner`), closed as in run-snapshot.schema.json. */
export const RunOwnerSchema = Type.Object(
  {
    tenant: Type.String({ minLength: 1 }),
    workspace: Type.Optional(Type.String({ minLength: 1 })),
    principal: Type.Optional(Type.String({ minLength: 1 })),
    principalKind: Type.Optional(literalUnion(['user', 'agent', 'anonymous'])),
  },
  { additionalProperties: false },
);

/** The error of a failed run (`RunSnapshot.error`), closed as in run-snapshot.schema.json. */
export const RunErrorSchema = Type.Object(
  { code: Type.String({ minLength: 1 }), message: Type.String({ minLength: 1 }), details: Type.Optional(JsonObject) },
  { additionalProperties: false },
);

/** One vote on a quorum approval. */
export const InterruptVoteSchema = Type.Object({ principal: Type.String(), action: Type.String(), at: Type.String() }, { additionalProperties: false });

/** The `interrupt` block of a waiting run's snapshot: its first pending interrupt. */
export const RunInterruptBlockSchema = Type.Object(
  {
    kind: Type.String({ minLength: 1 }),
    nodeId: Type.String(),
    interruptId: Type.String(),
    key: Type.String(),
    /** The interrupt's `data`. */
    payload: JsonObject,
    requestedAt: Type.String(),
    resumeSchema: Type.Optional(JsonObject),
    expiresAt: Type.Optional(Type.String()),
    votes: Type.Optional(Type.Array(InterruptVoteSchema)),
    /**
     * Signed callback token for `GET|POST /v1/interrupts/{token}` (only for callers holding
     * `approvals:respond`). It is a credential: whoever holds it can answer the interrupt.
     */
    interruptToken: Type.Optional(Type.String()),
    tokenExpiresAt: Type.Optional(Type.String()),
    /** `/v1/interrupts/{interruptToken}`, set with the token: GET inspects, POST resolves. */
    callbackUrl: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);

/** One entry of `RunSnapshot.pendingInterrupts`. */
export const PendingInterruptRefSchema = Type.Object(
  { nodeId: Type.String(), interruptId: Type.String(), kind: Type.String({ minLength: 1 }) },
  { additionalProperties: false },
);

/** One entry of `RunSnapshot.childRuns`. */
export const ChildRunRefSchema = Type.Object({ runId: Id128, nodeId: Type.String(), workflowId: Type.String() }, { additionalProperties: false });

/**
 * Every field of the snapshot Weft serves (`GET /v1/runs/{runId}`, `values` stream frames).
 * The spec keeps the root open (readers must ignore unknown fields), so it is open here too;
 * the nested objects the spec closes are closed. The server's builder is typed by
 * {@link RunSnapshot} and its output is checked against {@link RUN_SNAPSHOT_FIELDS} with the
 * root closed, so a field Weft emits is always declared here.
 *
 * @see wire-contract.md §3.2
 */
export const RunSnapshotSchema = Type.Object(
  {
    runId: Id128,
    workflowId: Type.String({ minLength: 1 }),
    status: RunStatusSchema,
    owner: Type.Optional(RunOwnerSchema),
    createdAt: Type.Optional(Type.String()),
    currentNodeId: Type.Optional(Type.String()),
    startedAt: Type.Optional(Type.String()),
    completedAt: Type.Optional(Type.String()),
    /** Null until the run ends (reference hosts emit `endedAt`; Weft emits it and `completedAt`). */
    endedAt: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    nodeStates: Type.Optional(JsonObject),
    variables: Type.Optional(JsonObject),
    error: Type.Optional(RunErrorSchema),
    engineVersion: Type.Optional(Type.Number()),
    eventLogSchemaVersion: Type.Optional(Type.Integer({ minimum: 0 })),
    /** Sequence of the last event folded into this snapshot. */
    lastSequence: Type.Optional(Type.Integer({ minimum: -1 })),
    tags: Type.Optional(Type.Array(Type.String())),
    metadata: Type.Optional(JsonObject),
    configurable: Type.Optional(JsonObject),
    outputs: Type.Optional(JsonObject),
    /** The reason given with the cancel request. */
    cancelReason: Type.Optional(Type.String()),
    /** When the run was paused (`POST /v1/runs/{runId}:pause`); absent when not paused. */
    pausedAt: Type.Optional(Type.String()),
    /** Set on a run made by `:fork`: its source run, the fork point and the mode. */
    forkedFrom: Type.Optional(ForkedFromSchema),
    /** Set on a child run: the run and node that started it. */
    parentRunId: Type.Optional(Id128),
    parentNodeId: Type.Optional(Type.String()),
    /** Child runs started by sub-workflow nodes of this run. */
    childRuns: Type.Optional(Type.Array(ChildRunRefSchema)),
    /** The run's orchestrator (AgentRef), set at its first `runOrchestrator.decided`. */
    runOrchestrator: Type.Optional(Type.Object({ agentId: Type.String({ minLength: 1 }) })),
    /** Set while a running parent mirrors the waiting status of this child run. */
    waitingOnChildRunId: Type.Optional(Id128),
    /** The first pending interrupt while the run waits (`waiting-approval|input|external`). */
    interrupt: Type.Optional(RunInterruptBlockSchema),
    /** Every pending interrupt of the run (parallel branches can wait at once). */
    pendingInterrupts: Type.Optional(Type.Array(PendingInterruptRefSchema)),
    /** Cost rollup of the run's `provider.usage` events (wire-contract §3.2 `metrics.openwopCost`). */
    metrics: Type.Optional(
      Type.Object(
        {
          openwopCost: Type.Object({
            usd: Type.Number({ minimum: 0 }),
            tokens: Type.Object({ input: Type.Integer({ minimum: 0 }), output: Type.Integer({ minimum: 0 }) }),
            model: Type.String(),
            provider: Type.String(),
            duration_ms: Type.Integer({ minimum: 0 }),
          }),
        },
        { additionalProperties: true },
      ),
    ),
  },
  { additionalProperties: true },
);
export type RunSnapshot = Static<typeof RunSnapshotSchema>;
export type RunOwner = Static<typeof RunOwnerSchema>;
export type RunInterruptBlock = Static<typeof RunInterruptBlockSchema>;
export type PendingInterruptRef = Static<typeof PendingInterruptRefSchema>;
export type ChildRunRef = Static<typeof ChildRunRefSchema>;
export type InterruptVote = Static<typeof InterruptVoteSchema>;

/** The snapshot schema with its root closed: what the server's builder output is checked against. */
export const RUN_SNAPSHOT_FIELDS = Type.Object(RunSnapshotSchema.properties, { additionalProperties: false });

export const PollResponseSchema = Type.Object({
  runId: Id128,
  events: Type.Array(RunEventDocSchema),
  lastEventSeq: Type.Integer({ minimum: -1 }),
  runStatus: RunStatusSchema,
  isTerminal: Type.Boolean(),
  isComplete: Type.Boolean(),
});

export const CancelRunResponseSchema = Type.Object({ runId: Id128, status: RunStatusSchema });

export const BulkCancelResponseSchema = Type.Object({
  results: Type.Array(
    Type.Object({
      runId: Type.String(),
      ok: Type.Boolean(),
      status: Type.Optional(RunStatusSchema),
      error: Type.Optional(Type.Object({ code: Type.String(), message: Type.String() })),
    }),
  ),
});

export const RunListResponseSchema = Type.Object({
  runs: Type.Array(RunSnapshotSchema),
  nextCursor: Type.Optional(Type.String()),
});

export type CreateRunResponse = Static<typeof CreateRunResponseSchema>;
export type PollResponse = Static<typeof PollResponseSchema>;
export type CancelRunResponse = Static<typeof CancelRunResponseSchema>;
export type BulkCancelResponse = Static<typeof BulkCancelResponseSchema>;
export type BulkCancelResult = BulkCancelResponse['results'][number];
export type RunListResponse = Static<typeof RunListResponseSchema>;
export type CancelRunRequest = Static<typeof CancelRunRequestSchema>;
export type BulkCancelRequest = Static<typeof BulkCancelRequestSchema>;
export type CreateSecretRequest = Static<typeof CreateSecretRequestSchema>;
export type RotateSecretRequest = Static<typeof RotateSecretRequestSchema>;
export type SecretMetadata = Static<typeof SecretMetadataSchema>;
export type SecretList = Static<typeof SecretListSchema>;
export type RewrapResult = Static<typeof RewrapResultSchema>;

/** Query of `GET /v1/runs/{runId}/events`. */
export const STREAM_MODE_VALUES = STREAM_MODES;

export type CreateWebhookRequest = Static<typeof CreateWebhookRequestSchema>;
export type Webhook = Static<typeof WebhookSchema>;
export type CreatedWebhook = Static<typeof CreatedWebhookSchema>;
export type WebhookList = Static<typeof WebhookListSchema>;
export type WebhookDelivery = Static<typeof WebhookDeliverySchema>;
export type WebhookDeliveryList = Static<typeof WebhookDeliveryListSchema>;
