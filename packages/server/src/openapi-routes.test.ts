import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import { ROUTE_DOCS } from '@weft/contract';
import { loadConfig } from './config.js';
import { startHost, type RunningHost } from './host.js';

let host: RunningHost;
let doc: { paths: Record<string, Record<string, unknown>> };

beforeAll(async () => {
  const config = loadConfig(
    {},
    {
      port: 0,
      store: 'memory',
      apiKeys: [{ tenant: 'routes', key: 'route-table-tenant-key-0123456789' }],
      generateDevKey: false,
      workflowsDirs: [new URL('../../../examples/workflows', import.meta.url).pathname],
      announce: false,
    },
  );
  host = await startHost(config, { logger: pino({ level: 'silent' }) });
  doc = (await (await fetch(`${host.url}/v1/openapi.json`)).json()) as typeof doc;
});

afterAll(async () => {
  await host.close();
});

/** A concrete path for an OpenAPI template (`{runId}` → `run_x1`). */
const sample = (template: string): string => template.replace(/\{([^}]+)\}/g, (_m, name: string) => `${name.replace(/Id$/, '')}_x1`);

describe('OpenAPI document vs the served route table', () => {
  it('invariant: openapi-matches-routes — every route Fastify serves is in the document', () => {
    expect(host.app.servedRoutes.length).toBeGreaterThanOrEqual(24);
    for (const key of host.app.servedRoutes) {
      const docs = ROUTE_DOCS[key];
      expect(docs, key).toBeDefined();
      for (const d of docs ?? []) expect(doc.paths[d.path]?.[d.method], `${key} → ${d.method} ${d.path}`).toBeDefined();
    }
  });

  it('invariant: openapi-matches-routes — every operation in the document reaches a served route (not the no-route 404 or a 405)', async () => {
    let ops = 0;
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const method of Object.keys(item)) {
        ops++;
        const res = await host.app.inject({ method: method.toUpperCase() as 'GET', url: sample(path) });
        const where = `${method.toUpperCase()} ${path}`;
        expect(res.statusCode, where).not.toBe(405);
        if (res.statusCode === 404) expect((res.json() as { message: string }).message, where).not.toBe('No such route.');
      }
    }
    const declared = Object.values(ROUTE_DOCS).reduce((n, d) => n + d.length, 0);
    expect(ops).toBe(declared);
  });
});
