/**
 * Builds the OpenAPI 3.1 document served at `GET /v1/openapi.json` from our own schemas.
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
  PollResponseSchema,
  RunEventDocSchema,
  RunListResponseSchema,
  RunSnapshotSchema,
  WorkflowDefinitionSchema,
} from './schemas.js';
import { PROTOCOL_VERSION } from './wire.js';

type Json = Record<string, unknown>;

const ref = (name: string): Json => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: Json): Json => ({ 'application/json': { schema } });
const errors = (...statuses: number[]): Json =>
  Object.fromEntries(statuses.map((s) => [String(s), { description: `Error ${s}`, content: json(ref('ErrorEnvelope')) }]));
const pathParam = (name: string): Json => ({ name, in: 'path', required: true, schema: { type: 'string', minLength: 1, maxLength: 128 } });
const idemHeader: Json = { name: 'Idempotency-Key', in: 'header', required: false, schema: { type: 'string', maxLength: 255 } };

/** Returns the OpenAPI 3.1 document for the host's `/v1` surface. */
export function buildOpenApi(info: { version: string }): Json {
  const secured = [{ bearer: [] }];
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
        CancelRunRequest: CancelRunRequestSchema,
        CancelRunResponse: CancelRunResponseSchema,
        BulkCancelRequest: BulkCancelRequestSchema,
        BulkCancelResponse: BulkCancelResponseSchema,
        PollResponse: PollResponseSchema,
        RunListResponse: RunListResponseSchema,
        WorkflowDefinition: WorkflowDefinitionSchema,
      },
    },
    paths: {
      '/.well-known/openwop': {
        get: { summary: 'Discovery document', security: [], responses: { '200': { description: 'Capabilities' } } },
      },
      '/v1/openapi.json': {
        get: { summary: 'This document', security: [], responses: { '200': { description: 'OpenAPI 3.1' } } },
      },
      '/v1/workflows/{workflowId}': {
        get: {
          summary: 'Read a workflow definition',
          security: secured,
          parameters: [pathParam('workflowId')],
          responses: { '200': { description: 'Definition', content: json(ref('WorkflowDefinition')) }, ...errors(401, 403, 404) },
        },
      },
      '/v1/runs': {
        post: {
          summary: 'Start a run',
          security: secured,
          parameters: [idemHeader],
          requestBody: { required: true, content: json(ref('CreateRunRequest')) },
          responses: { '201': { description: 'Created', content: json(ref('CreateRunResponse')) }, ...errors(400, 401, 403, 409, 413, 415, 429, 503) },
        },
        get: {
          summary: 'List runs of the caller\'s tenant',
          security: secured,
          parameters: [
            { name: 'status', in: 'query', schema: { type: 'string' } },
            { name: 'workflowId', in: 'query', schema: { type: 'string' } },
            { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 200 } },
            { name: 'cursor', in: 'query', schema: { type: 'string' } },
          ],
          responses: { '200': { description: 'Runs', content: json(ref('RunListResponse')) }, ...errors(400, 401, 403) },
        },
      },
      '/v1/runs/{runId}': {
        get: {
          summary: 'Run snapshot',
          security: secured,
          parameters: [pathParam('runId')],
          responses: { '200': { description: 'Snapshot', content: json(ref('RunSnapshot')) }, ...errors(401, 403, 404) },
        },
      },
      '/v1/runs/{runId}/events': {
        get: {
          summary: 'Server-sent event stream of a run',
          security: secured,
          parameters: [
            pathParam('runId'),
            { name: 'streamMode', in: 'query', schema: { type: 'string' } },
            { name: 'bufferMs', in: 'query', schema: { type: 'integer', minimum: 0, maximum: 5000 } },
            { name: 'Last-Event-ID', in: 'header', schema: { type: 'string' } },
          ],
          responses: { '200': { description: 'text/event-stream of RunEventDoc frames', content: { 'text/event-stream': { schema: { type: 'string' } } } }, ...errors(400, 401, 403, 404) },
        },
      },
      '/v1/runs/{runId}/events/poll': {
        get: {
          summary: 'Poll (or long-poll) a run\'s events',
          security: secured,
          parameters: [
            pathParam('runId'),
            { name: 'lastSequence', in: 'query', schema: { type: 'integer', minimum: -1 } },
            { name: 'since', in: 'query', schema: { type: 'integer', minimum: -1 }, deprecated: true },
            { name: 'timeout', in: 'query', schema: { type: 'integer', minimum: 0, maximum: 60 } },
          ],
          responses: { '200': { description: 'Events', content: json(ref('PollResponse')) }, ...errors(400, 401, 403, 404) },
        },
      },
      '/v1/runs/{runId}/cancel': {
        post: {
          summary: 'Cancel a run',
          security: secured,
          parameters: [pathParam('runId'), idemHeader],
          requestBody: { required: false, content: json(ref('CancelRunRequest')) },
          responses: { '200': { description: 'Cancel accepted', content: json(ref('CancelRunResponse')) }, ...errors(400, 401, 403, 404, 409) },
        },
      },
      '/v1/runs:bulk-cancel': {
        post: {
          summary: 'Cancel up to 100 runs',
          security: secured,
          parameters: [idemHeader],
          requestBody: { required: true, content: json(ref('BulkCancelRequest')) },
          responses: { '200': { description: 'Per-run results', content: json(ref('BulkCancelResponse')) }, ...errors(400, 401, 403) },
        },
      },
      '/v1/runs/{runId}/artifacts/{artifactId}': {
        get: {
          summary: 'Read an artifact',
          security: secured,
          parameters: [pathParam('runId'), pathParam('artifactId')],
          responses: { '200': { description: 'Artifact' }, ...errors(401, 403, 404) },
        },
      },
      '/v1/host/weft/workflows': {
        get: { summary: 'List registered workflows (Weft extension)', security: secured, responses: { '200': { description: 'Workflows' }, ...errors(401, 403) } },
        post: {
          summary: 'Register a workflow definition (Weft extension)',
          security: secured,
          requestBody: { required: true, content: json(ref('WorkflowDefinition')) },
          responses: { '201': { description: 'Registered' }, '200': { description: 'Already registered, identical' }, ...errors(400, 401, 403, 409) },
        },
      },
      '/v1/audit/verify': {
        get: {
          summary: 'Verify the audit log hash chain and signed checkpoints over [fromSeq, toSeq]',
          security: secured,
          parameters: [
            { name: 'fromSeq', in: 'query', required: true, schema: { type: 'integer', minimum: 0 } },
            { name: 'toSeq', in: 'query', required: true, schema: { type: 'integer', minimum: 0 } },
          ],
          responses: { '200': { description: 'AuditVerifyResult' }, ...errors(400, 401, 403) },
        },
      },
      '/v1/host/weft/keys': {
        get: { summary: 'List managed API keys (Weft extension)', security: secured, responses: { '200': { description: 'Keys, never secrets' }, ...errors(401, 403) } },
        post: {
          summary: 'Create a managed API key; the secret is returned once (Weft extension)',
          security: secured,
          responses: { '201': { description: 'The key and its secret' }, ...errors(400, 401, 403) },
        },
      },
      '/v1/host/weft/keys/{keyId}:rotate': {
        post: {
          summary: 'Rotate a key: a successor with the same principal; the old key works for the grace window (Weft extension)',
          security: secured,
          parameters: [pathParam('keyId')],
          responses: { '201': { description: 'The successor and its secret' }, ...errors(400, 401, 403, 404, 409) },
        },
      },
      '/v1/host/weft/keys/{keyId}:revoke': {
        post: { summary: 'Revoke a key at once (Weft extension)', security: secured, parameters: [pathParam('keyId')], responses: { '200': { description: 'Revoked' }, ...errors(401, 403, 404) } },
      },
      '/v1/host/weft/workflows/{workflowId}': {
        delete: {
          summary: 'Unregister a workflow (Weft extension); runs keep their pinned definition',
          security: secured,
          parameters: [pathParam('workflowId')],
          responses: { '204': { description: 'Deleted' }, ...errors(401, 403, 404) },
        },
      },
    },
  };
}
