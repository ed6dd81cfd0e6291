/**
 * Workflow routes: the spec's read endpoint and Weft's registration extension.
 *
 * @see wire-contract.md §1.1 (#3), §5.7
 */
import { ROUTE_SCHEMAS, WeftError } from '@weft/contract';
import type { WeftApp } from '../app.js';
import { pathId, principalOf, type HostContext } from '../context.js';

const workflowNotFound = (): WeftError => new WeftError('not_found', 'Workflow not found.');

export function registerWorkflowRoutes(app: WeftApp, ctx: HostContext): void {
  const { store, engine } = ctx;

  app.get('/v1/workflows/:workflowId', { config: { scope: 'manifest:read' }, schema: ROUTE_SCHEMAS['GET /v1/workflows/:workflowId'] }, async (req) => {
    const id = pathId(req.params.workflowId, 'workflowId');
    const wf = await engine.catalog.get(id);
    if (!wf) throw workflowNotFound();
    return wf.definition;
  });

  app.get('/v1/host/weft/workflows', { config: { scope: 'manifest:read' } }, async () => {
    const all = await store.listWorkflows();
    return {
      workflows: all.map((w) => ({
        id: w.id,
        name: w.definition.name,
        version: w.definition.version,
        hash: w.hash,
        source: w.source,
        createdAt: w.createdAt,
        runnable: engine.catalog.runnability(w.definition).runnable,
      })),
    };
  });

  app.post('/v1/host/weft/workflows', { config: { scope: 'workflows:write' } }, async (req, reply) => {
    const p = principalOf(req);
    const { workflow, created } = await engine.catalog.register(req.body ?? undefined, 'api');
    if (created) await ctx.workflowsChanged();
    if (created)
      await ctx.audit.append({
        tenant: p.tenant,
        principal: p.principal,
        action: 'workflow.registered',
        target: workflow.id,
        details: { hash: workflow.hash },
      });
    return reply
      .code(created ? 201 : 200)
      .send({ id: workflow.id, hash: workflow.hash, created, runnable: engine.catalog.runnability(workflow.definition).runnable });
  });

  app.delete(
    '/v1/host/weft/workflows/:workflowId',
    { config: { scope: 'workflows:write' }, schema: ROUTE_SCHEMAS['DELETE /v1/host/weft/workflows/:workflowId'] },
    async (req, reply) => {
      const id = pathId(req.params.workflowId, 'workflowId');
      const p = principalOf(req);
      if (!(await engine.catalog.unregister(id))) throw workflowNotFound();
      await ctx.workflowsChanged();
      await ctx.audit.append({ tenant: p.tenant, principal: p.principal, action: 'workflow.deleted', target: id });
      return reply.code(204).send();
    },
  );
}
