/**
 * Operations routes: liveness and readiness probes (outside auth) and the redacted debug bundle
 * of one run.
 *
 * - `GET /healthz` — the process answers: 200 `{status:"ok"}`. Not subject to the in-flight cap
 *   (an overloaded process is alive); like every route it gets 503 once shutdown began.
 * - `GET /readyz` — the store answers a primary-key read and the host is not draining: 200
 *   `{status:"ready"}`, else 503 `service_unavailable` with `Retry-After`.
 * - `GET /v1/runs/:runId/debug-bundle` — `runs:read`; `Cache-Control: no-store`; the run's
 *   snapshot (without callback tokens) and its event log in the shape of
 *   `debug-bundle.schema.json`, passed through the tenant's redactor as a whole, events dropped
 *   from the end (and said so in `truncated`/`truncatedReason`) past the size cap.
 *
 * @see security-contract.md §4.4, execution-semantics.md §9
 */
import { ROUTE_SCHEMAS, WeftError } from '@weft/contract';
import { Redactor } from '@weft/security';
import type { WeftApp } from '../app.js';
import { pathId, principalOf, type HostContext } from '../context.js';
import { toSnapshot } from '../snapshot.js';
import { missingRun } from './runs.js';

/** Events read per store round trip while building a bundle. */
const PAGE = 1000;

/** The bundle format version (debug-bundle.schema.json `bundleVersion`). */
export const DEBUG_BUNDLE_VERSION = '1.0';

/** The marker any redaction leaves (`[REDACTED]`, `[REDACTED:<id>]`). */
const REDACTION_MARKER = '[REDACTED';

export function registerOperationsRoutes(app: WeftApp, ctx: HostContext): void {
  app.get('/healthz', async (_req, reply) => reply.header('cache-control', 'no-store').send({ status: 'ok' }));

  app.get('/readyz', async (_req, reply) => {
    try {
      // A primary-key read of a table every store has: it fails when the store is unreachable.
      await ctx.store.getExpiredRun('', '');
    } catch {
      throw new WeftError('service_unavailable', 'The store does not answer.', { retryAfter: 1 }, { 'retry-after': '1' });
    }
    return reply.header('cache-control', 'no-store').send({ status: 'ready' });
  });

  app.get('/v1/runs/:runId/debug-bundle', { config: { scope: 'runs:read' }, schema: ROUTE_SCHEMAS['GET /v1/runs/:runId/debug-bundle'] }, async (req, reply) => {
    const p = principalOf(req);
    const runId = pathId(req.params.runId, 'runId');
    const rec = await ctx.store.getRun(p.tenant, runId);
    if (!rec) throw await missingRun(ctx.store, p.tenant, runId);
    // No token minter: a bundle is shared with people who must not resolve the run's interrupts.
    const run = toSnapshot(rec, await ctx.engine.catalog.byContentHash(rec.workflowHash));
    const redactor = ctx.vault ? ctx.vault.redactors.for(p.tenant) : (ctx.redactor ?? new Redactor());
    const cap = ctx.config.debugBundleMaxBytes;
    // Events are stored redacted; each is scrubbed again with what the host knows now.
    const events: string[] = [];
    // The cap bounds the whole body: the snapshot and the envelope count too.
    let bytes = JSON.stringify(run).length + 512;
    let truncated = false;
    for (let cur = -1; !truncated; ) {
      const page = await ctx.store.readEvents(runId, cur, PAGE);
      for (const e of page) {
        const json = redactor.redactJson(e.json);
        if (bytes + json.length + 1 > cap) {
          truncated = true;
          break;
        }
        events.push(json);
        bytes += json.length + 1;
      }
      if (page.length < PAGE) break;
      cur = page[page.length - 1]?.sequence ?? cur;
    }
    const head = redactor.redactJson(
      JSON.stringify({
        bundleVersion: DEBUG_BUNDLE_VERSION,
        generatedAt: new Date().toISOString(),
        host: { name: 'weft', version: ctx.version, vendor: 'weft' },
        run,
        metrics: { nodeCount: Object.keys(rec.projection.nodeStates).length, eventCount: events.length },
        redactionMode: 'mask',
        ...(truncated ? { truncated: true, truncatedReason: 'events_truncated_to_size_cap' } : { truncated: false }),
      }),
    );
    const redactionApplied = head.includes(REDACTION_MARKER) || events.some((e) => e.includes(REDACTION_MARKER));
    // Stored event JSON goes out as stored (no re-encoding), spliced into the bundle object.
    const body = `${head.slice(0, -1)},"redactionApplied":${redactionApplied},"events":[${events.join(',')}]}`;
    return reply.header('cache-control', 'no-store').type('application/json').send(body);
  });
}
