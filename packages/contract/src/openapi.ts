/**
 * Builds the OpenAPI 3.1 document served at `GET /v1/openapi.json` from our own schemas and
 * the route table: {@link ROUTE_DOCS} declares every route the server registers, keyed by its
 * Fastify method and URL, and the server refuses to start when a registered route has no
 * declaration here (or a declaration names a route it does not serve), so the document lists
 * exactly the served surface.
 *
 * @see wire-contract.md §1.1 (#2)
 */
import {
  BulkCancelRequestSchema,
  BulkCancelResponseSchema,
  CancelRunRequestSchema,
  CancelRunResponseSchema,
  CreateRunRequestSchema,
  CreateRunResponseSchema,
  ErrorEnvelopeSchema,
  ForkRunRequestSchema,
  ForkRunResponseSchema,
  PollResponseSchema,
  RunEventDocSchema,
  RunListResponseSchema,
  RewrapResultSchema,
  RotateSecretRequestSchema,
  RunSnapshotSchema,
  CreateSecretRequestSchema,
  SecretListSchema,
  SecretMetadataSchema,
  WorkflowDefinitionSchema,
  CreateWebhookRequestSchema,
  CreatedWebhookSchema,
  WebhookSchema,
  WebhookListSchema,
  WebhookDeliverySchema,
  WebhookDeliveryListSchema,
} from './schemas.js';
import { PackCatalogEntrySchema, PackListResponseSchema, PackSearchResponseSchema } from './packs.js';
import { PROTOCOL_VERSION } from './wire.js';

type Json = Record<string, unknown>;

const ref = (name: string): Json => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: Json): Json => ({ 'application/json': { schema } });
const errors = (...statuses: number[]): Json =>
  Object.fromEntries(statuses.map((s) => [String(s), { description: `Error ${s}`, content: json(ref('ErrorEnvelope')) }]));
const pathParam = (name: string): Json => ({ name, in: 'path', required: true, schema: { type: 'string', minLength: 1, maxLength: 128 } });
const queryParam = (name: string, schema: Json, extra: Json = {}): Json => ({ name, in: 'query', schema, ...extra });
const ifMatchHeader: Json = { name: 'If-Match', in: 'header', required: false, schema: { type: 'string' } };
const ifNoneMatchHeader: Json = { name: 'If-None-Match', in: 'header', required: false, schema: { type: 'string' } };
const idemHeader: Json = { name: 'Idempotency-Key', in: 'header', required: false, schema: { type: 'string', maxLength: 255 } };

/** One OpenAPI operation (summary, security, parameters, request body, responses). */
export type OperationDoc = Json & { summary: string; responses: Json };

/** Where a served route appears in the document: one or more OpenAPI path + method pairs. */
export interface RouteDoc {
  /** OpenAPI path template, e.g. `/v1/runs/{runId}:pause`. */
  readonly path: string;
  /** Lower-case HTTP method. */
  readonly method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  readonly operation: OperationDoc;
}

const secured = [{ bearer: [] }];
const pauseResumeBody: Json = { type: 'object', properties: { reason: { type: 'string', maxLength: 512 } }, additionalProperties: false };
const resolveBody: Json = { type: 'object', required: ['resumeValue'], properties: { resumeValue: {} }, additionalProperties: false };

/** The console page: public (it holds no data), served with a strict Content-Security-Policy. */
const consolePage: OperationDoc = {
  summary: 'The Weft console, a single-page app (Weft extension)',
  security: [],
  responses: {
    '200': { description: 'The console page', content: { 'text/html': { schema: { type: 'string' } } } },
    '503': { description: 'The console is not built; the page says how to build it', content: { 'text/html': { schema: { type: 'string' } } } },
  },
};
const consoleFile: OperationDoc = {
  summary: 'A file of the console build',
  security: [],
  responses: {
    '200': { description: 'The file' },
    '503': { description: 'The console is not built' },
    ...errors(404),
  },
};

/**
 * The route table: every route the server registers, keyed `METHOD /fastify/url` exactly as
 * Fastify reports it (`:param` segments, `::` for a literal colon). A key may document several
 * OpenAPI paths when one Fastify route serves them (`/v1/runs/:target` is `{runId}:pause` and
 * `{runId}:resume`).
 */
export const ROUTE_DOCS: Readonly<Record<string, readonly RouteDoc[]>> = {
  'GET /.well-known/openwop': [
    {
      path: '/.well-known/openwop',
      method: 'get',
      operation: { summary: 'Discovery document', security: [], responses: { '200': { description: 'Capabilities' }, '304': { description: 'Not modified' } } },
    },
  ],
  'GET /v1/packs': [
    {
      path: '/v1/packs',
      method: 'get',
      operation: {
        summary: 'The node packs this host loaded and verified (read-only catalog)',
        security: [],
        responses: { '200': { description: 'Packs', content: json(ref('PackListResponse')) } },
      },
    },
  ],
  'GET /v1/packs/-/search': [
    {
      path: '/v1/packs/-/search',
      method: 'get',
      operation: {
        summary: 'Search the loaded packs by name, description or typeId',
        security: [],
        parameters: [queryParam('q', { type: 'string', maxLength: 256 })],
        responses: { '200': { description: 'Matches', content: json(ref('PackSearchResponse')) }, ...errors(400) },
      },
    },
  ],
  'GET /v1/packs/:name': [
    {
      path: '/v1/packs/{name}',
      method: 'get',
      operation: {
        summary: 'A loaded pack: its versions and dist-tags',
        security: [],
        parameters: [pathParam('name')],
        responses: { '200': { description: 'Catalog entry', content: json(ref('PackCatalogEntry')) }, ...errors(400, 404) },
      },
    },
  ],
  'GET /v1/packs/:name/-/:file': [
    {
      path: '/v1/packs/{name}/-/{version}.json',
      method: 'get',
      operation: {
        summary: 'The version manifest: pack.json as loaded, with its integrity and signing block',
        security: [],
        parameters: [pathParam('name'), pathParam('version')],
        responses: { '200': { description: 'Version manifest' }, ...errors(400, 404) },
      },
    },
    {
      path: '/v1/packs/{name}/-/{version}.sig',
      method: 'get',
      operation: {
        summary: 'The detached Ed25519 signature over pack.json (64 raw bytes)',
        security: [],
        parameters: [pathParam('name'), pathParam('version')],
        responses: {
          '200': { description: 'Signature', content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } } },
          ...errors(400, 404),
        },
      },
    },
  ],
  'GET /healthz': [
    {
      path: '/healthz',
      method: 'get',
      operation: {
        summary: 'Liveness: the process serves requests (no auth; 503 once shutdown began)',
        security: [],
        responses: { '200': { description: '`{"status":"ok"}`' }, ...errors(503) },
      },
    },
  ],
  'GET /readyz': [
    {
      path: '/readyz',
      method: 'get',
      operation: {
        summary: 'Readiness: the store answers and the host is not draining (no auth)',
        security: [],
        responses: { '200': { description: '`{"status":"ready"}`' }, ...errors(503) },
      },
    },
  ],
  'GET /v1/runs/:runId/debug-bundle': [
    {
      path: '/v1/runs/{runId}/debug-bundle',
      method: 'get',
      operation: {
        summary: "A redacted, portable export of one run's diagnostic state (debug-bundle.schema.json); Cache-Control: no-store",
        security: secured,
        parameters: [pathParam('runId')],
        responses: { '200': { description: 'RunDebugBundle' }, ...errors(400, 401, 403, 404, 410) },
      },
    },
  ],
  'GET /v1/openapi.json': [
    { path: '/v1/openapi.json', method: 'get', operation: { summary: 'This document', security: [], responses: { '200': { description: 'OpenAPI 3.1' } } } },
  ],
  'GET /v1/workflows/:workflowId': [
    {
      path: '/v1/workflows/{workflowId}',
      method: 'get',
      operation: {
        summary: 'Read a workflow definition',
        security: secured,
        parameters: [pathParam('workflowId')],
        responses: { '200': { description: 'Definition', content: json(ref('WorkflowDefinition')) }, ...errors(400, 401, 403, 404) },
      },
    },
  ],
  'POST /v1/runs': [
    {
      path: '/v1/runs',
      method: 'post',
      operation: {
        summary: 'Start a run',
        security: secured,
        parameters: [idemHeader],
        requestBody: { required: true, content: json(ref('CreateRunRequest')) },
        responses: { '201': { description: 'Created', content: json(ref('CreateRunResponse')) }, ...errors(400, 401, 403, 409, 413, 415, 429, 503) },
      },
    },
  ],
  'GET /v1/runs': [
    {
      path: '/v1/runs',
      method: 'get',
      operation: {
        summary: "List runs of the caller's tenant",
        security: secured,
        parameters: [
          queryParam('status', { type: 'string' }),
          queryParam('workflowId', { type: 'string' }),
          queryParam('limit', { type: 'integer', minimum: 1, maximum: 200 }),
          queryParam('cursor', { type: 'string' }),
        ],
        responses: { '200': { description: 'Runs', content: json(ref('RunListResponse')) }, ...errors(400, 401, 403) },
      },
    },
  ],
  'GET /v1/runs/:runId': [
    {
      path: '/v1/runs/{runId}',
      method: 'get',
      operation: {
        summary: 'Run snapshot',
        security: secured,
        parameters: [pathParam('runId')],
        responses: { '200': { description: 'Snapshot', content: json(ref('RunSnapshot')) }, ...errors(400, 401, 403, 404, 410) },
      },
    },
  ],
  'GET /v1/runs/:runId/events': [
    {
      path: '/v1/runs/{runId}/events',
      method: 'get',
      operation: {
        summary: 'Server-sent event stream of a run',
        security: secured,
        parameters: [
          pathParam('runId'),
          queryParam('streamMode', { type: 'string' }),
          queryParam('bufferMs', { type: 'integer', minimum: 0, maximum: 5000 }),
          { name: 'Last-Event-ID', in: 'header', schema: { type: 'string' } },
        ],
        responses: {
          '200': { description: 'text/event-stream of RunEventDoc frames', content: { 'text/event-stream': { schema: { type: 'string' } } } },
          ...errors(400, 401, 403, 404, 410),
        },
      },
    },
  ],
  'GET /v1/runs/:runId/events/poll': [
    {
      path: '/v1/runs/{runId}/events/poll',
      method: 'get',
      operation: {
        summary: "Poll (or long-poll) a run's events",
        security: secured,
        parameters: [
          pathParam('runId'),
          queryParam('lastSequence', { type: 'integer', minimum: -1 }),
          queryParam('since', { type: 'integer', minimum: -1 }, { deprecated: true }),
          queryParam('timeout', { type: 'integer', minimum: 0, maximum: 60 }),
        ],
        responses: { '200': { description: 'Events', content: json(ref('PollResponse')) }, ...errors(400, 401, 403, 404, 410) },
      },
    },
  ],
  'POST /v1/runs/:runId/cancel': [
    {
      path: '/v1/runs/{runId}/cancel',
      method: 'post',
      operation: {
        summary: 'Cancel a run',
        security: secured,
        parameters: [pathParam('runId'), idemHeader],
        requestBody: { required: false, content: json(ref('CancelRunRequest')) },
        responses: { '200': { description: 'Cancel accepted', content: json(ref('CancelRunResponse')) }, ...errors(400, 401, 403, 404, 409, 410) },
      },
    },
  ],
  'POST /v1/runs::bulk-cancel': [
    {
      path: '/v1/runs:bulk-cancel',
      method: 'post',
      operation: {
        summary: 'Cancel up to 100 runs',
        security: secured,
        parameters: [idemHeader],
        requestBody: { required: true, content: json(ref('BulkCancelRequest')) },
        responses: { '200': { description: 'Per-run results', content: json(ref('BulkCancelResponse')) }, ...errors(400, 401, 403) },
      },
    },
  ],
  'GET /v1/runs/:runId/artifacts/:artifactId': [
    {
      path: '/v1/runs/{runId}/artifacts/{artifactId}',
      method: 'get',
      operation: {
        summary: 'Read an artifact',
        security: secured,
        parameters: [pathParam('runId'), pathParam('artifactId')],
        responses: { '200': { description: 'Artifact' }, ...errors(400, 401, 403, 404) },
      },
    },
  ],
  'POST /v1/runs/:runId/interrupts/:nodeId': [
    {
      path: '/v1/runs/{runId}/interrupts/{nodeId}',
      method: 'post',
      operation: {
        summary: 'Resolve the pending interrupt of a node with a bearer credential',
        security: secured,
        parameters: [pathParam('runId'), pathParam('nodeId'), idemHeader],
        requestBody: { required: true, content: json(resolveBody) },
        responses: { '200': { description: 'Resolution accepted' }, ...errors(400, 401, 403, 404, 409, 410, 422) },
      },
    },
  ],
  'POST /v1/runs/:runId/approvals/:nodeId': [
    {
      path: '/v1/runs/{runId}/approvals/{nodeId}',
      method: 'post',
      operation: {
        summary: 'Decide a pending approval (legacy alias; the body is the decision, e.g. {"action":"accept"})',
        security: secured,
        parameters: [pathParam('runId'), pathParam('nodeId'), idemHeader],
        requestBody: { required: true, content: json({ type: 'object' }) },
        responses: { '200': { description: 'Decision accepted' }, ...errors(400, 401, 403, 404, 409, 410, 422) },
      },
    },
  ],
  'GET /v1/runs/:runId/interrupts': [
    {
      path: '/v1/runs/{runId}/interrupts',
      method: 'get',
      operation: {
        summary: 'List the interrupts of a run',
        security: secured,
        parameters: [pathParam('runId')],
        responses: { '200': { description: 'Interrupts' }, ...errors(400, 401, 403, 404, 410) },
      },
    },
  ],
  'GET /v1/host/weft/interrupts': [
    {
      path: '/v1/host/weft/interrupts',
      method: 'get',
      operation: {
        summary: "List the pending interrupts of the caller's tenant (Weft extension)",
        security: secured,
        responses: { '200': { description: 'Pending interrupts' }, ...errors(401, 403) },
      },
    },
  ],
  'GET /v1/interrupts/:token': [
    {
      path: '/v1/interrupts/{token}',
      method: 'get',
      operation: {
        summary: 'Read the interrupt a signed callback token names (the token is the credential)',
        security: [],
        parameters: [{ name: 'token', in: 'path', required: true, schema: { type: 'string', minLength: 1 } }],
        responses: { '200': { description: 'Interrupt' }, ...errors(401, 404, 410) },
      },
    },
  ],
  'POST /v1/interrupts/:token': [
    {
      path: '/v1/interrupts/{token}',
      method: 'post',
      operation: {
        summary: 'Resolve the interrupt a signed callback token names (single use)',
        security: [],
        parameters: [{ name: 'token', in: 'path', required: true, schema: { type: 'string', minLength: 1 } }, idemHeader],
        requestBody: { required: true, content: json(resolveBody) },
        responses: { '200': { description: 'Resolution accepted' }, ...errors(400, 401, 403, 404, 409, 410, 422) },
      },
    },
  ],
  'POST /v1/runs/:target': [
    {
      path: '/v1/runs/{runId}:pause',
      method: 'post',
      operation: {
        summary: 'Pause a run',
        security: secured,
        parameters: [pathParam('runId'), idemHeader],
        requestBody: {
          required: false,
          content: json({
            type: 'object',
            properties: { reason: { type: 'string', maxLength: 512 }, drainPolicy: { enum: ['immediate', 'drain-current-node'] } },
            additionalProperties: false,
          }),
        },
        responses: { '202': { description: 'Paused' }, ...errors(400, 401, 403, 404, 409) },
      },
    },
    {
      path: '/v1/runs/{runId}:resume',
      method: 'post',
      operation: {
        summary: 'Resume a paused run',
        security: secured,
        parameters: [pathParam('runId'), idemHeader],
        requestBody: { required: false, content: json(pauseResumeBody) },
        responses: { '202': { description: 'Resumed' }, ...errors(400, 401, 403, 404, 409) },
      },
    },
    {
      path: '/v1/runs/{runId}:fork',
      method: 'post',
      operation: {
        summary: 'Fork a run: replay it with recorded effects served, or branch it live from a sequence (needs runs:create and runs:read)',
        security: secured,
        parameters: [pathParam('runId'), idemHeader],
        requestBody: { required: true, content: json(ref('ForkRunRequest')) },
        responses: { '201': { description: 'The forked run', content: json(ref('ForkRunResponse')) }, ...errors(400, 401, 403, 404, 409, 422) },
      },
    },
  ],
  'GET /v1/host/weft/workflows': [
    {
      path: '/v1/host/weft/workflows',
      method: 'get',
      operation: {
        summary: 'List registered workflows (Weft extension)',
        security: secured,
        responses: { '200': { description: 'Workflows' }, ...errors(401, 403) },
      },
    },
  ],
  'POST /v1/host/weft/workflows': [
    {
      path: '/v1/host/weft/workflows',
      method: 'post',
      operation: {
        summary: 'Register a workflow definition (Weft extension)',
        security: secured,
        requestBody: { required: true, content: json(ref('WorkflowDefinition')) },
        responses: { '201': { description: 'Registered' }, '200': { description: 'Already registered, identical' }, ...errors(400, 401, 403, 409) },
      },
    },
  ],
  'DELETE /v1/host/weft/workflows/:workflowId': [
    {
      path: '/v1/host/weft/workflows/{workflowId}',
      method: 'delete',
      operation: {
        summary: 'Unregister a workflow (Weft extension); runs keep their pinned definition',
        security: secured,
        parameters: [pathParam('workflowId')],
        responses: { '204': { description: 'Deleted' }, ...errors(400, 401, 403, 404) },
      },
    },
  ],
  'GET /v1/audit/verify': [
    {
      path: '/v1/audit/verify',
      method: 'get',
      operation: {
        summary: 'Verify the audit log hash chain and signed checkpoints over [fromSeq, toSeq]',
        security: secured,
        parameters: [
          queryParam('fromSeq', { type: 'integer', minimum: 0 }, { required: true }),
          queryParam('toSeq', { type: 'integer', minimum: 0 }, { required: true }),
        ],
        responses: { '200': { description: 'AuditVerifyResult' }, ...errors(400, 401, 403) },
      },
    },
  ],
  'GET /v1/host/weft/keys': [
    {
      path: '/v1/host/weft/keys',
      method: 'get',
      operation: {
        summary: 'List managed API keys (Weft extension)',
        security: secured,
        parameters: [queryParam('tenant', { type: 'string' })],
        responses: { '200': { description: 'Keys, never secrets' }, ...errors(401, 403, 404) },
      },
    },
  ],
  'POST /v1/host/weft/keys': [
    {
      path: '/v1/host/weft/keys',
      method: 'post',
      operation: {
        summary: 'Create a managed API key; the secret is returned once (Weft extension)',
        security: secured,
        requestBody: { required: true, content: json({ type: 'object' }) },
        responses: { '201': { description: 'The key and its secret' }, ...errors(400, 401, 403, 404) },
      },
    },
  ],
  'POST /v1/host/weft/keys/:target': [
    {
      path: '/v1/host/weft/keys/{keyId}:rotate',
      method: 'post',
      operation: {
        summary: 'Rotate a key: a successor with the same principal; the old key works for the grace window (Weft extension)',
        security: secured,
        parameters: [pathParam('keyId')],
        responses: { '201': { description: 'The successor and its secret' }, ...errors(400, 401, 403, 404, 409) },
      },
    },
    {
      path: '/v1/host/weft/keys/{keyId}:revoke',
      method: 'post',
      operation: {
        summary: 'Revoke a key at once (Weft extension)',
        security: secured,
        parameters: [pathParam('keyId')],
        responses: { '200': { description: 'Revoked' }, ...errors(400, 401, 403, 404) },
      },
    },
  ],
  'GET /v1/host/weft/secrets': [
    {
      path: '/v1/host/weft/secrets',
      method: 'get',
      operation: {
        summary: "List the tenant's vault secrets: metadata only, never values (Weft extension)",
        security: secured,
        responses: { '200': { description: 'Secret metadata', content: json(ref('SecretList')) }, ...errors(401, 403, 404) },
      },
    },
  ],
  'POST /v1/host/weft/secrets': [
    {
      path: '/v1/host/weft/secrets',
      method: 'post',
      operation: {
        summary: 'Store a secret; the value is write-only and never returned (Weft extension)',
        security: secured,
        parameters: [idemHeader],
        requestBody: { required: true, content: json(ref('CreateSecretRequest')) },
        responses: { '201': { description: 'Stored; its metadata', content: json(ref('SecretMetadata')) }, ...errors(400, 401, 403, 404, 409) },
      },
    },
  ],
  'GET /v1/host/weft/secrets/:secretId': [
    {
      path: '/v1/host/weft/secrets/{secretId}',
      method: 'get',
      operation: {
        summary: "A secret's metadata, with its ETag (Weft extension)",
        security: secured,
        parameters: [pathParam('secretId'), ifNoneMatchHeader],
        responses: {
          '200': { description: 'Secret metadata', content: json(ref('SecretMetadata')) },
          '304': { description: 'Not modified' },
          ...errors(401, 403, 404),
        },
      },
    },
  ],
  'DELETE /v1/host/weft/secrets/:secretId': [
    {
      path: '/v1/host/weft/secrets/{secretId}',
      method: 'delete',
      operation: {
        summary: 'Delete a secret at once (Weft extension)',
        security: secured,
        parameters: [pathParam('secretId'), ifMatchHeader, idemHeader],
        responses: { '204': { description: 'Deleted' }, ...errors(401, 403, 404, 409, 412) },
      },
    },
  ],
  'POST /v1/host/weft/secrets/:target': [
    {
      path: '/v1/host/weft/secrets/{secretId}:rotate',
      method: 'post',
      operation: {
        summary: 'Rotate a secret: a new value under a new data key and version; the old value is gone (Weft extension)',
        security: secured,
        parameters: [pathParam('secretId'), ifMatchHeader, idemHeader],
        requestBody: { required: true, content: json(ref('RotateSecretRequest')) },
        responses: { '200': { description: 'Rotated; its metadata', content: json(ref('SecretMetadata')) }, ...errors(400, 401, 403, 404, 409, 412) },
      },
    },
  ],
  'POST /v1/webhooks': [
    {
      path: '/v1/webhooks',
      method: 'post',
      operation: {
        summary: 'Subscribe to run events: signed best-effort deliveries; the secret is returned once',
        security: secured,
        parameters: [idemHeader],
        requestBody: { required: true, content: json(ref('CreateWebhookRequest')) },
        responses: { '201': { description: 'The subscription and its secret', content: json(ref('CreatedWebhook')) }, ...errors(400, 401, 403, 404, 409) },
      },
    },
  ],
  'GET /v1/webhooks': [
    {
      path: '/v1/webhooks',
      method: 'get',
      operation: {
        summary: "The tenant's webhook subscriptions (secrets by fingerprint only)",
        security: secured,
        responses: { '200': { description: 'Subscriptions', content: json(ref('WebhookList')) }, ...errors(401, 403, 404) },
      },
    },
  ],
  'GET /v1/webhooks/:webhookId': [
    {
      path: '/v1/webhooks/{webhookId}',
      method: 'get',
      operation: {
        summary: 'One webhook subscription (secret by fingerprint only)',
        security: secured,
        parameters: [pathParam('webhookId')],
        responses: { '200': { description: 'Subscription', content: json(ref('Webhook')) }, ...errors(401, 403, 404) },
      },
    },
  ],
  'DELETE /v1/webhooks/:webhookId': [
    {
      path: '/v1/webhooks/{webhookId}',
      method: 'delete',
      operation: {
        summary: 'Unsubscribe at once; a foreign tenantId is refused before any lookup',
        security: secured,
        parameters: [pathParam('webhookId'), queryParam('tenantId', { type: 'string', maxLength: 128 }), idemHeader],
        responses: { '204': { description: 'Deleted' }, ...errors(400, 401, 403, 404) },
      },
    },
  ],
  'GET /v1/webhooks/:webhookId/deliveries': [
    {
      path: '/v1/webhooks/{webhookId}/deliveries',
      method: 'get',
      operation: {
        summary: "A subscription's delivery records, newest first (Weft extension)",
        security: secured,
        parameters: [pathParam('webhookId'), queryParam('limit', { type: 'integer', minimum: 1, maximum: 500 })],
        responses: { '200': { description: 'Delivery records', content: json(ref('WebhookDeliveryList')) }, ...errors(400, 401, 403, 404) },
      },
    },
  ],
  'POST /v1/webhooks/:webhookId/deliveries/:target': [
    {
      path: '/v1/webhooks/{webhookId}/deliveries/{deliveryId}:redeliver',
      method: 'post',
      operation: {
        summary: 'Deliver one recorded event again, once, with a fresh timestamp and signature (Weft extension)',
        security: secured,
        parameters: [pathParam('webhookId'), pathParam('deliveryId'), idemHeader],
        responses: { '200': { description: 'The new delivery record', content: json(ref('WebhookDelivery')) }, ...errors(400, 401, 403, 404) },
      },
    },
  ],
  'POST /v1/webhooks/:target': [
    {
      path: '/v1/webhooks/{webhookId}:pause',
      method: 'post',
      operation: {
        summary: 'Hold a subscription (Weft extension): best-effort events are recorded skipped, durable ones wait in the outbox',
        security: secured,
        parameters: [pathParam('webhookId'), idemHeader],
        responses: { '200': { description: 'The subscription, paused', content: json(ref('Webhook')) }, ...errors(401, 403, 404, 409) },
      },
    },
    {
      path: '/v1/webhooks/{webhookId}:resume',
      method: 'post',
      operation: {
        summary: 'Resume a paused subscription (Weft extension); failed and dead-lettered ones are re-registered instead',
        security: secured,
        parameters: [pathParam('webhookId'), idemHeader],
        responses: { '200': { description: 'The subscription, active', content: json(ref('Webhook')) }, ...errors(401, 403, 404, 409) },
      },
    },
  ],
  'POST /v1/host/weft/vault::rewrap': [
    {
      path: '/v1/host/weft/vault:rewrap',
      method: 'post',
      operation: {
        summary: 'Rewrap data keys under the current master key, every tenant (operator credential; Weft extension)',
        security: secured,
        responses: { '200': { description: 'Rewrap progress', content: json(ref('RewrapResult')) }, ...errors(401, 403, 404) },
      },
    },
  ],
  'GET /console': [{ path: '/console', method: 'get', operation: consolePage }],
  'GET /console/': [{ path: '/console/', method: 'get', operation: consolePage }],
  'GET /console/:file': [
    {
      path: '/console/{file}',
      method: 'get',
      operation: { ...consoleFile, summary: 'A top-level file of the console build (Weft extension)', parameters: [pathParam('file')] },
    },
  ],
  'GET /console/assets/:file': [
    {
      path: '/console/assets/{file}',
      method: 'get',
      operation: { ...consoleFile, summary: 'A script or stylesheet of the console build (Weft extension)', parameters: [pathParam('file')] },
    },
  ],
};

/** The query parameter names a route declares (by its `METHOD /fastify/url` key). */
export function declaredQueryParams(routeKey: string): readonly string[] {
  const names = new Set<string>();
  for (const d of ROUTE_DOCS[routeKey] ?? []) {
    for (const p of (d.operation.parameters ?? []) as Json[]) if (p.in === 'query' && typeof p.name === 'string') names.add(p.name);
  }
  return [...names];
}

/**
 * Checks that `served` (the `METHOD /url` keys of every registered route, HEAD excluded) and
 * {@link ROUTE_DOCS} name the same routes; returns the discrepancies, empty when they agree.
 */
export function routeTableMismatches(served: readonly string[]): { undocumented: string[]; unserved: string[] } {
  const s = new Set(served);
  return {
    undocumented: [...s].filter((k) => !Object.hasOwn(ROUTE_DOCS, k)).sort(),
    unserved: Object.keys(ROUTE_DOCS)
      .filter((k) => !s.has(k))
      .sort(),
  };
}

/**
 * Returns the OpenAPI 3.1 document for the host's surface: one operation per entry of
 * {@link ROUTE_DOCS} for each served route key (all of them when `served` is omitted).
 * Throws when a served route has no declaration or a declaration is not served.
 */
export function buildOpenApi(info: { version: string }, served: readonly string[] = Object.keys(ROUTE_DOCS)): Json {
  const { undocumented, unserved } = routeTableMismatches(served);
  if (undocumented.length > 0 || unserved.length > 0) {
    throw new Error(`the route table and ROUTE_DOCS disagree: undocumented ${JSON.stringify(undocumented)}, not served ${JSON.stringify(unserved)}`);
  }
  const paths: Record<string, Json> = {};
  for (const key of [...new Set(served)].sort()) {
    for (const d of ROUTE_DOCS[key] ?? []) {
      const item = (paths[d.path] ??= {});
      if (item[d.method]) throw new Error(`OpenAPI operation ${d.method.toUpperCase()} ${d.path} is declared twice`);
      item[d.method] = d.operation;
    }
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Weft — OpenWOP v1 host',
      version: info.version,
      description: `OpenWOP protocol ${PROTOCOL_VERSION} REST + SSE surface served by Weft.`,
    },
    servers: [{ url: '/' }],
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: {
        ErrorEnvelope: ErrorEnvelopeSchema,
        RunEventDoc: RunEventDocSchema,
        RunSnapshot: RunSnapshotSchema,
        CreateRunRequest: CreateRunRequestSchema,
        CreateRunResponse: CreateRunResponseSchema,
        ForkRunRequest: ForkRunRequestSchema,
        ForkRunResponse: ForkRunResponseSchema,
        CancelRunRequest: CancelRunRequestSchema,
        CancelRunResponse: CancelRunResponseSchema,
        BulkCancelRequest: BulkCancelRequestSchema,
        BulkCancelResponse: BulkCancelResponseSchema,
        PollResponse: PollResponseSchema,
        RunListResponse: RunListResponseSchema,
        WorkflowDefinition: WorkflowDefinitionSchema,
        CreateSecretRequest: CreateSecretRequestSchema,
        RotateSecretRequest: RotateSecretRequestSchema,
        SecretMetadata: SecretMetadataSchema,
        SecretList: SecretListSchema,
        RewrapResult: RewrapResultSchema,
        CreateWebhookRequest: CreateWebhookRequestSchema,
        CreatedWebhook: CreatedWebhookSchema,
        Webhook: WebhookSchema,
        WebhookList: WebhookListSchema,
        WebhookDelivery: WebhookDeliverySchema,
        WebhookDeliveryList: WebhookDeliveryListSchema,
        PackListResponse: PackListResponseSchema,
        PackSearchResponse: PackSearchResponseSchema,
        PackCatalogEntry: PackCatalogEntrySchema,
      },
    },
    paths,
  };
}
