/**
 * Route schemas: the path parameters and query strings of every route that has any, keyed by
 * the same `METHOD /fastify/url` as {@link ROUTE_DOCS}. The server passes them as the route's
 * `schema` so the Fastify TypeBox type provider types `req.params` and `req.query` (no casts);
 * routes.test.ts checks that the parameter names match the URL and the documented query
 * parameters.
 *
 * Values are declared as the strings they arrive as. The handlers parse and range-check them
 * (integers, enums, lengths) so that a bad value gets Weft's own `validation_error` /
 * `not_found` answer; the schemas therefore never refuse a value themselves.
 *
 * @see ../../../docs/architecture.md §How to add a route
 */
import { Type, type Static, type TObject, type TOptional, type TString } from 'typebox';

const params = <const K extends string>(...names: K[]): TObject<Record<K, TString>> =>
  Type.Object(Object.fromEntries(names.map((n) => [n, Type.String()])) as Record<K, TString>);
const query = <const K extends string>(...names: K[]): TObject<Record<K, TOptional<TString>>> =>
  Type.Object(Object.fromEntries(names.map((n) => [n, Type.Optional(Type.String())])) as Record<K, TOptional<TString>>);

/** `params` and `querystring` schemas per route (routes without either are absent). */
export const ROUTE_SCHEMAS = {
  'GET /v1/packs/-/search': { querystring: query('q') },
  'GET /v1/packs/:name': { params: params('name') },
  'GET /v1/packs/:name/-/:file': { params: params('name', 'file') },
  'GET /v1/workflows/:workflowId': { params: params('workflowId') },
  'DELETE /v1/host/weft/workflows/:workflowId': { params: params('workflowId') },
  'GET /v1/runs': { querystring: query('status', 'workflowId', 'limit', 'cursor') },
  'GET /v1/runs/:runId': { params: params('runId') },
  'GET /v1/runs/:runId/events': { params: params('runId'), querystring: query('streamMode', 'bufferMs') },
  'GET /v1/runs/:runId/events/poll': { params: params('runId'), querystring: query('lastSequence', 'since', 'timeout') },
  'POST /v1/runs/:runId/cancel': { params: params('runId') },
  'GET /v1/runs/:runId/artifacts/:artifactId': { params: params('runId', 'artifactId') },
  'POST /v1/runs/:runId/interrupts/:nodeId': { params: params('runId', 'nodeId') },
  'POST /v1/runs/:runId/approvals/:nodeId': { params: params('runId', 'nodeId') },
  'GET /v1/runs/:runId/interrupts': { params: params('runId') },
  'GET /v1/runs/:runId/debug-bundle': { params: params('runId') },
  'GET /v1/interrupts/:token': { params: params('token') },
  'POST /v1/interrupts/:token': { params: params('token') },
  'POST /v1/runs/:target': { params: params('target') },
  'GET /v1/audit/verify': { querystring: query('fromSeq', 'toSeq') },
  'GET /v1/host/weft/keys': { querystring: query('tenant') },
  'POST /v1/host/weft/keys/:target': { params: params('target') },
  'GET /v1/host/weft/secrets/:secretId': { params: params('secretId') },
  'DELETE /v1/host/weft/secrets/:secretId': { params: params('secretId') },
  'POST /v1/host/weft/secrets/:target': { params: params('target') },
  'GET /console/:file': { params: params('file') },
  'GET /console/assets/:file': { params: params('file') },
  'GET /v1/webhooks/:webhookId': { params: params('webhookId') },
  'DELETE /v1/webhooks/:webhookId': { params: params('webhookId'), querystring: query('tenantId') },
  'GET /v1/webhooks/:webhookId/deliveries': { params: params('webhookId'), querystring: query('limit') },
  'POST /v1/webhooks/:webhookId/deliveries/:target': { params: params('webhookId', 'target') },
  'POST /v1/webhooks/:target': { params: params('target') },
} as const satisfies Record<string, { params?: TObject; querystring?: TObject }>;

/** A route key that has a schema. */
export type RouteSchemaKey = keyof typeof ROUTE_SCHEMAS;

type Schemas<K extends RouteSchemaKey> = (typeof ROUTE_SCHEMAS)[K];

/** `req.params` of route `K`, for helpers that take the request of a typed route. */
export type RouteParams<K extends RouteSchemaKey> = Schemas<K> extends { params: infer P extends TObject } ? Static<P> : Record<string, never>;

/** `req.query` of route `K`. */
export type RouteQuery<K extends RouteSchemaKey> = Schemas<K> extends { querystring: infer Q extends TObject } ? Static<Q> : Record<string, never>;
