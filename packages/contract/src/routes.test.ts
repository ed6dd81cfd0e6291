import { describe, expect, it } from 'vitest';
import { ROUTE_DOCS, declaredQueryParams } from './openapi.js';
import { ROUTE_SCHEMAS } from './routes.js';

/** `:name` segments of a Fastify URL (`::` is a literal colon, not a parameter). */
const urlParams = (key: string): string[] => [...key.replaceAll('::', '').matchAll(/:([A-Za-z0-9_]+)/g)].map((m) => m[1] as string).sort();

const schemaOf = (key: string): { params?: { properties: object }; querystring?: { properties: object } } =>
  (ROUTE_SCHEMAS as Record<string, { params?: { properties: object }; querystring?: { properties: object } }>)[key] ?? {};

describe('ROUTE_SCHEMAS', () => {
  it('names only documented routes', () => {
    for (const key of Object.keys(ROUTE_SCHEMAS)) expect(Object.hasOwn(ROUTE_DOCS, key), key).toBe(true);
  });

  it('declares exactly the path parameters of each route URL and the documented query parameters', () => {
    for (const key of Object.keys(ROUTE_DOCS)) {
      const s = schemaOf(key);
      expect(Object.keys(s.params?.properties ?? {}).sort(), `params of ${key}`).toEqual(urlParams(key));
      expect(Object.keys(s.querystring?.properties ?? {}).sort(), `query of ${key}`).toEqual([...declaredQueryParams(key)].sort());
    }
  });

  it('the URL parser sees parameters and ignores literal colons', () => {
    expect(urlParams('POST /v1/runs::bulk-cancel')).toEqual([]);
    expect(urlParams('GET /v1/runs/:runId/artifacts/:artifactId')).toEqual(['artifactId', 'runId']);
  });
});
