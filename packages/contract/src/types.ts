/**
 * `@weft/contract/types`: the wire vocabulary and every wire type, with no runtime dependency.
 * At run time this module loads wire.ts only (plain constants); everything else is `export
 * type`, erased by the compiler. The SDK imports from here so it never loads Ajv or TypeBox;
 * types.test.ts keeps the module graph that way.
 *
 * @see ../../../docs/decisions/0009-contract-single-source-and-lint.md
 */
export * from './wire.js';
export type * from './api-types.js';
export type {
  BulkCancelRequest,
  BulkCancelResponse,
  BulkCancelResult,
  CancelRunRequest,
  CancelRunResponse,
  ChildRunRef,
  CreateRunRequest,
  CreateRunResponse,
  CreateSecretRequest,
  CreateWebhookRequest,
  CreatedWebhook,
  ForkRunRequest,
  ForkRunResponse,
  EdgeCondition,
  InterruptVote,
  PendingInterruptRef,
  PollResponse,
  PortValue,
  RunEventDoc,
  RunInterruptBlock,
  RunListResponse,
  RunOwner,
  RewrapResult,
  RotateSecretRequest,
  RunSnapshot,
  SecretList,
  SecretMetadata,
  TriggerRule,
  CallbackInterrupt,
  Webhook,
  WebhookDelivery,
  WebhookDeliveryBody,
  WebhookDeliveryList,
  WebhookList,
  WorkflowDefinition,
  WorkflowEdge,
  WorkflowNode,
  WorkflowVariable,
} from './schemas.js';
