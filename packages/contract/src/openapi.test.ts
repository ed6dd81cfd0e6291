import { describe, expect, it } from 'vitest';
import { ROUTE_DOCS, buildOpenApi, declaredQueryParams, routeTableMismatches } from './openapi.js';

type Op = { summary?: unknown; responses?: Record<string, unknown>; parameters?: { name: string; in: string }[] };

describe('OpenAPI route table', () => {
  it('invariant: openapi-matches-routes — refuses to build when a served route has no declaration', () => {
    expect(() => buildOpenApi({ version: '0' }, [...Object.keys(ROUTE_DOCS), 'GET /v1/secret-admin'])).toThrow(/undocumented/);
  });

  it('refuses to build when a declared route is not served', () => {
    const served = Object.keys(ROUTE_DOCS).filter((k) => k !== 'GET /v1/audit/verify');
    expect(routeTableMismatches(served)).toEqual({ undocumented: [], unserved: ['GET /v1/audit/verify'] });
    expect(() => buildOpenApi({ version: '0' }, served)).toThrow(/not served/);
  });

  it('documents every path parameter of every template, with a summary and responses', () => {
    const doc = buildOpenApi({ version: '0' }) as { paths: Record<string, Record<string, Op>> };
    for (const [path, item] of Object.entries(doc.paths)) {
      const templated = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
      for (const [method, op] of Object.entries(item)) {
        const where = `${method.toUpperCase()} ${path}`;
        expect(typeof op.summary, where).toBe('string');
        expect(Object.keys(op.responses ?? {}).length, where).toBeGreaterThan(0);
        const declared = (op.parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name);
        expect(declared.sort(), where).toEqual([...templated].sort());
      }
    }
  });

  it('lists the human-in-the-loop and pause/resume operations', () => {
    const doc = buildOpenApi({ version: '0' }) as { paths: Record<string, Record<string, unknown>> };
    for (const [path, method] of [
      ['/v1/runs/{runId}/interrupts/{nodeId}', 'post'],
      ['/v1/runs/{runId}/approvals/{nodeId}', 'post'],
      ['/v1/interrupts/{token}', 'get'],
      ['/v1/interrupts/{token}', 'post'],
      ['/v1/runs/{runId}/interrupts', 'get'],
      ['/v1/host/weft/interrupts', 'get'],
      ['/v1/runs/{runId}:pause', 'post'],
      ['/v1/runs/{runId}:resume', 'post'],
    ] as const) {
      expect(doc.paths[path]?.[method], `${method} ${path}`).toBeDefined();
    }
  });

  it('exposes the declared query parameters of a route', () => {
    expect([...declaredQueryParams('GET /v1/runs')].sort()).toEqual(['cursor', 'limit', 'status', 'workflowId']);
    expect(declaredQueryParams('GET /v1/runs/:runId/events')).toEqual(['streamMode', 'bufferMs']);
    expect(declaredQueryParams('GET /v1/no-such-route')).toEqual([]);
  });
});
