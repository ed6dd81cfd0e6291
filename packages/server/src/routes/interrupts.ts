/**
 * Human-in-the-loop routes: run-scoped resolution (bearer + approvals:respond), the legacy
 * approvals alias, the signed-token pair, a tenant-wide pending list, and pause/resume.
 *
 * @see wire-contract.md §1.1 (#11–#15), execution-semantics.md §2.4
 */
import { ROUTE_SCHEMAS, WeftError, compileValidator } from '@weft/contract';
import { DELEGATE_SCOPE, type CommandResult, type InterruptView, type RunRecord } from '@weft/engine';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { WeftApp, WeftRequest } from '../app.js';
import { pathId, principalOf, type HostContext } from '../context.js';
import { withIdempotency } from '../idempotency.js';
import { forkRoute } from './fork.js';
import { missingRun } from './runs.js';

const validateResolve = compileValidator<{ resumeValue: unknown }>({
  type: 'object',
  required: ['resumeValue'],
  properties: { resumeValue: {} },
  additionalProperties: false,
});
const validatePause = compileValidator<{ reason?: string; drainPolicy?: 'immediate' | 'drain-current-node' }>({
  type: 'object',
  properties: { reason: { type: 'string', maxLength: 512 }, drainPolicy: { enum: ['immediate', 'drain-current-node'] } },
  additionalProperties: false,
});
const validateResume = compileValidator<{ reason?: string }>({
  type: 'object',
  properties: { reason: { type: 'string', maxLength: 512 } },
  additionalProperties: false,
});

/** The public view of an interrupt (InterruptPayload plus identity and state). */
export function interruptView(rec: RunRecord, iv: InterruptView): Record<string, unknown> {
  const out: Record<string, unknown> = {
    runId: rec.runId,
    nodeId: iv.nodeId,
    interruptId: iv.interruptId,
    kind: iv.kind,
    key: iv.key,
    data: iv.data,
    status: iv.status,
    requestedAt: iv.requestedAt,
  };
  if (iv.resumeSchema) out.resumeSchema = iv.resumeSchema;
  if (iv.timeoutMs !== undefined) out.timeoutMs = iv.timeoutMs;
  if (iv.expiresAt) out.expiresAt = iv.expiresAt;
  if (iv.votes) out.votes = iv.votes.map((v) => ({ principal: v.principal, action: v.action, at: v.at }));
  if (iv.status !== 'pending') {
    if (iv.resolvedAt) out.resolvedAt = iv.resolvedAt;
    if (iv.outcome) out.outcome = iv.outcome;
  }
  return out;
}

/** A JSON object body (not an array, not null). */
const isJsonObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Runs a mutating command under the Idempotency-Key rules. */
const idempotent = (
  ctx: HostContext,
  req: FastifyRequest,
  reply: FastifyReply,
  tenant: string,
  route: string,
  body: unknown,
  status: number,
  exec: (sent: { commandKey?: string }) => Promise<Record<string, unknown>>,
): Promise<FastifyReply> =>
  withIdempotency(req, reply, { store: ctx.store, retentionMs: ctx.config.idempotencyRetentionMs, tenant, route, body, status }, exec);

const resolveBody = (r: CommandResult): Record<string, unknown> => {
  const out: Record<string, unknown> = { runId: r.runId, nodeId: r.nodeId, interruptId: r.interruptId, status: r.status };
  if (r.interrupt) out.interrupt = r.interrupt;
  return out;
};

export function registerInterruptRoutes(app: WeftApp, ctx: HostContext): void {
  const { engine, store } = ctx;

  type ResolveRequest = WeftRequest<'POST /v1/runs/:runId/interrupts/:nodeId'>;
  const resolveRoute = async (req: ResolveRequest, reply: FastifyReply, resumeValue: unknown, body: unknown, legacy: boolean): Promise<FastifyReply> => {
    const p = principalOf(req);
    const params = req.params;
    const runId = pathId(params.runId, 'runId');
    const nodeId = params.nodeId;
    if (nodeId.length === 0 || nodeId.length > 512) throw new WeftError('not_found', 'No interrupt for this node.');
    const route = `POST /v1/runs/${runId}/${legacy ? 'approvals' : 'interrupts'}/${nodeId}`;
    return idempotent(ctx, req, reply, p.tenant, route, body, 200, async (sent) => {
      const r = await engine.resolveInterrupt(
        p.tenant,
        runId,
        { nodeId, resumeValue, principal: p.principal, via: 'bearer', mayDelegate: p.scopes.has(DELEGATE_SCOPE) },
        sent,
      );
      // A delegated vote is audited under the authenticated principal, naming the voter.
      const details = { nodeId, interruptId: r.interruptId ?? null, status: r.status, via: 'bearer', ...(r.voter ? { voter: r.voter } : {}) };
      await ctx.audit.append({ tenant: p.tenant, principal: p.principal, action: 'interrupt.resolved', target: runId, details });
      return resolveBody(r);
    });
  };

  app.post(
    '/v1/runs/:runId/interrupts/:nodeId',
    { config: { scope: 'approvals:respond' }, schema: ROUTE_SCHEMAS['POST /v1/runs/:runId/interrupts/:nodeId'] },
    async (req, reply) => {
      const body = validateResolve(req.body ?? undefined);
      return resolveRoute(req, reply, body.resumeValue, body, false);
    },
  );

  // Legacy alias: the approval decision is the body itself ({action, comment?, …}).
  app.post(
    '/v1/runs/:runId/approvals/:nodeId',
    { config: { scope: 'approvals:respond' }, schema: ROUTE_SCHEMAS['POST /v1/runs/:runId/approvals/:nodeId'] },
    async (req, reply) => {
      const body = req.body;
      if (!isJsonObject(body)) throw new WeftError('validation_error', 'Send a JSON object such as {"action":"accept"}.');
      const v = { ...body };
      if (v.action === undefined && typeof v.decision === 'string') {
        v.action = v.decision === 'approved' ? 'accept' : 'reject';
        delete v.decision;
      }
      return resolveRoute(req, reply, v, body, true);
    },
  );

  app.get('/v1/runs/:runId/interrupts', { config: { scope: 'runs:read' }, schema: ROUTE_SCHEMAS['GET /v1/runs/:runId/interrupts'] }, async (req) => {
    const p = principalOf(req);
    const runId = pathId(req.params.runId, 'runId');
    const rec = await store.getRun(p.tenant, runId);
    if (!rec) throw await missingRun(store, p.tenant, runId);
    return { interrupts: Object.values(rec.projection.interrupts ?? {}).map((iv) => interruptView(rec, iv)) };
  });

  app.get('/v1/host/weft/interrupts', { config: { scope: 'runs:read' } }, async (req) => {
    const p = principalOf(req);
    const out: Record<string, unknown>[] = [];
    for (const status of ['waiting-approval', 'waiting-input', 'waiting-external'] as const) {
      for (const rec of await store.listRuns(p.tenant, { status, limit: 200 })) {
        for (const iv of Object.values(rec.projection.interrupts ?? {}))
          if (iv.status === 'pending') out.push({ ...interruptView(rec, iv), workflowId: rec.workflowId });
      }
    }
    out.sort((a, b) => String(a.requestedAt).localeCompare(String(b.requestedAt)));
    return { interrupts: out };
  });

  // Signed-token pair: the token is the credential; a bad token looks like an unknown one.
  const tokenTarget = async (raw: string): Promise<{ rec: RunRecord; iv: InterruptView }> => {
    const claims = ctx.tokens.verify(raw, Date.now());
    const rec = await engine.getRunForToken(claims.runId);
    const iv = rec?.projection.interrupts?.[claims.interruptId];
    if (!rec || !iv || iv.nodeId !== claims.nodeId) throw new WeftError('not_found', 'Interrupt not found.');
    return { rec, iv };
  };

  app.get('/v1/interrupts/:token', { schema: ROUTE_SCHEMAS['GET /v1/interrupts/:token'] }, async (req) => {
    const { rec, iv } = await tokenTarget(req.params.token);
    if (iv.status === 'expired') throw new WeftError('interrupt_expired', 'The interrupt passed its deadline.', { interruptId: iv.interruptId });
    if (iv.status === 'cancelled') throw new WeftError('interrupt_gone', 'The interrupt was invalidated.', { interruptId: iv.interruptId });
    // Resolving invalidates the token for inspection too: it never answers 2xx again.
    if (iv.status === 'resolved') throw new WeftError('interrupt_already_resolved', 'The interrupt was already resolved.', { interruptId: iv.interruptId });
    return interruptView(rec, iv);
  });

  app.post('/v1/interrupts/:token', { schema: ROUTE_SCHEMAS['POST /v1/interrupts/:token'] }, async (req, reply) => {
    const { rec, iv } = await tokenTarget(req.params.token);
    const body = validateResolve(req.body ?? undefined);
    return idempotent(ctx, req, reply, rec.tenant, `POST /v1/interrupts/${iv.interruptId}`, body, 200, async (sent) => {
      const r = await engine.resolveInterrupt(
        null,
        rec.runId,
        { interruptId: iv.interruptId, resumeValue: body.resumeValue, principal: `token:${iv.interruptId}`, via: 'token' },
        sent,
      );
      await ctx.audit.append({
        tenant: rec.tenant,
        principal: `token:${iv.interruptId}`,
        action: 'interrupt.resolved',
        target: rec.runId,
        details: { nodeId: iv.nodeId, interruptId: iv.interruptId, status: r.status, via: 'token' },
      });
      return resolveBody(r);
    });
  });

  // `POST /v1/runs/{runId}:pause|:resume|:fork` — one route, since the verb shares the id segment.
  const verbOf = (target: string) => /^(.+):(pause|resume|fork)$/.exec(target);
  const scopesOf = (req: FastifyRequest) =>
    verbOf((req.params as { target: string }).target)?.[2] === 'fork' ? (['runs:create', 'runs:read'] as const) : (['runs:cancel'] as const);
  app.post('/v1/runs/:target', { config: { scope: 'runs:cancel', scopesOf }, schema: ROUTE_SCHEMAS['POST /v1/runs/:target'] }, async (req, reply) => {
    const p = principalOf(req);
    const m = verbOf(req.params.target);
    if (!m) throw new WeftError('not_found', 'No such route.');
    const runId = pathId(m[1] as string, 'runId');
    if (m[2] === 'fork') return forkRoute(ctx, req, reply, runId);
    if (m[2] === 'pause') {
      const body = validatePause(req.body ?? {});
      return idempotent(ctx, req, reply, p.tenant, `POST /v1/runs/${runId}:pause`, body, 202, async (sent) => {
        const r = await engine.pauseRun(
          p.tenant,
          runId,
          { drainPolicy: body.drainPolicy ?? 'drain-current-node', principal: p.principal, ...(body.reason === undefined ? {} : { reason: body.reason }) },
          sent,
        );
        await ctx.audit.append({
          tenant: p.tenant,
          principal: p.principal,
          action: 'run.paused',
          target: runId,
          details: { drainPolicy: body.drainPolicy ?? 'drain-current-node' },
        });
        return { runId, status: 'paused', pausedAt: r.pausedAt };
      });
    }
    const body = validateResume(req.body ?? {});
    return idempotent(ctx, req, reply, p.tenant, `POST /v1/runs/${runId}:resume`, body, 202, async (sent) => {
      const r = await engine.resumeRun(p.tenant, runId, { principal: p.principal, ...(body.reason === undefined ? {} : { reason: body.reason }) }, sent);
      await ctx.audit.append({ tenant: p.tenant, principal: p.principal, action: 'run.resumed', target: runId });
      return { runId, status: 'running', resumedAt: r.resumedAt };
    });
  });
}
