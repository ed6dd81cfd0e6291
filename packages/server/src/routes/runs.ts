/**
 * Run routes: create, read, list, cancel, bulk-cancel, artifacts.
 *
 * @see wire-contract.md §1.1 (#4, #5, #8, #9, #16)
 */
import {
  BulkCancelRequestSchema,
  CancelRunRequestSchema,
  CreateRunRequestSchema,
  MAX_BULK_CANCEL,
  ROUTE_SCHEMAS,
  RUN_STATUSES,
  TERMINAL_STATUSES,
  WeftError,
  compileValidator,
  isRunStatus,
  type CreateRunRequest,
  type CreateRunResponse,
  type RunStatus,
} from '@weft/contract';
import { RunEngine, type RetentionStore, type RunCallback, type RunRecord, type TraceContext } from '@weft/engine';
import type { FastifyRequest } from 'fastify';
import { correlationOf } from '../request-log.js';
import { traceContextOf } from '../telemetry-config.js';
import type { WeftApp } from '../app.js';
import { pathId, principalOf, type HostContext } from '../context.js';
import { claimOrReplay, idempotencyKeyOf, releaseTicket, withIdempotency } from '../idempotency.js';
import { checkRunOptions } from '../run-options.js';
import { toSnapshot } from '../snapshot.js';
import type { AuditRecord } from '../audit-log.js';

const validateCreate = compileValidator<CreateRunRequest>(CreateRunRequestSchema);
const validateCancel = compileValidator<{ reason?: string }>(CancelRunRequestSchema);
const validateBulk = compileValidator<{ runIds: string[]; reason?: string }>(BulkCancelRequestSchema);

/** Why a run cannot be cancelled any more (completed or failed), or undefined. */
const endedMessage = (status: RunStatus): string | undefined =>
  status === 'completed' || status === 'failed' ? `The run already ended as ${status}.` : undefined;

/** The one "missing run" answer, used for unknown and foreign runs alike. */
export const runNotFound = (): WeftError => new WeftError('not_found', 'Run not found.');

/**
 * The answer for a run the caller's tenant does not have: 410 `run_expired` when retention
 * deleted it (the tombstone is tenant-bound, so a foreign run is still a plain 404), else 404.
 */
export async function missingRun(store: RetentionStore, tenant: string, runId: string): Promise<WeftError> {
  const t = await store.getExpiredRun(tenant, runId);
  if (!t) return runNotFound();
  return new WeftError('run_expired', "The run ended longer ago than the host's retention window; its record and events were deleted.", {
    runId,
    expiredAt: new Date(t.expiredAt).toISOString(),
  });
}

/** A run's callback subscription as just made: its secret goes into the first answer only. */
interface CreatedCallback {
  callbackId: string;
  callbackSecretFingerprint: string;
  secret: string;
}

/** The 201 body as stored for an Idempotency-Key replay: the callback by id and fingerprint, never its secret. */
const createResponse = (rec: RunRecord, cb?: CreatedCallback): CreateRunResponse => ({
  runId: rec.runId,
  status: rec.projection.status,
  workflowId: rec.workflowId,
  eventsUrl: `/v1/runs/${rec.runId}/events`,
  statusUrl: `/v1/runs/${rec.runId}`,
  ...(cb ? { callbackId: cb.callbackId, callbackSecretFingerprint: cb.callbackSecretFingerprint } : {}),
});

/** A replayed 201 of a run with a callback gets the callback's secret again, reopened from its sealed row. */
async function withCallbackSecret(ctx: HostContext, tenant: string, stored: string): Promise<string> {
  const body = JSON.parse(stored) as CreateRunResponse;
  if (body.callbackId === undefined || !ctx.webhooks) return stored;
  const { secret } = await ctx.webhooks.callbackSecret(tenant, body.callbackId);
  return JSON.stringify({ ...body, callbackSecret: secret });
}

interface Cursor {
  c: string;
  r: string;
}

function decodeCursor(raw: string): Cursor {
  try {
    const v = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as unknown;
    if (v && typeof v === 'object' && typeof (v as Cursor).c === 'string' && typeof (v as Cursor).r === 'string') return v as Cursor;
  } catch {
    // fall through
  }
  throw new WeftError('validation_error', 'The cursor is not valid.', { errors: [{ path: '/cursor', message: 'malformed' }] });
}

/** The trace context a new run carries: `traceparent`/`tracestate` as sent, or the request's span when traced. */
function traceOf(req: FastifyRequest, ctx: HostContext): { traceContext?: TraceContext } {
  const sent = req.headers.traceparent === undefined ? undefined : traceContextOf(req.headers.traceparent, req.headers.tracestate);
  const tc = ctx.telemetry ? ctx.telemetry.runTraceContext(req.raw, sent) : sent;
  return tc ? { traceContext: tc } : {};
}

export function registerRunRoutes(app: WeftApp, ctx: HostContext): void {
  const { engine, store, config } = ctx;

  app.post('/v1/runs', { config: { scope: 'runs:create' } }, async (req, reply) => {
    const p = principalOf(req);
    const key = idempotencyKeyOf(req);
    const body = validateCreate(req.body ?? undefined);
    checkRunOptions(config, req.headers.authorization, body.configurable);
    const params = {
      tenant: p.tenant,
      principal: p.principal,
      workflowId: body.workflowId,
      ...(body.inputs === undefined ? {} : { inputs: body.inputs }),
      ...(body.configurable === undefined ? {} : { configurable: body.configurable }),
      ...(body.tags === undefined ? {} : { tags: body.tags }),
      ...(body.metadata === undefined ? {} : { metadata: body.metadata }),
      ...traceOf(req, ctx),
    };
    // Assigned before the run is created (the callback row is written first), read when the audit entry is built.
    let cb: CreatedCallback | undefined;
    // The run.created audit entry rides in the run's creation transaction when the store can take it.
    const audited = (r: Pick<RunRecord, 'runId' | 'workflowId'>): AuditRecord => ({
      tenant: p.tenant,
      principal: p.principal,
      action: 'run.created',
      target: r.runId,
      details: { workflowId: r.workflowId, ...(cb ? { callbackId: cb.callbackId } : {}) },
    });
    const rider = ctx.audit.rider(audited);
    if (body.metadata && Buffer.byteLength(JSON.stringify(body.metadata)) > 8192) {
      throw new WeftError('validation_error', 'metadata must serialize to at most 8192 bytes.', { errors: [{ path: '/metadata', message: 'too large' }] });
    }
    // The answer carries the callback's secret: never cached (a replay too).
    if (body.callbackUrl !== undefined) reply.header('cache-control', 'no-store');
    if (body.callbackUrl !== undefined && !ctx.webhooks)
      throw new WeftError('capability_required', 'callbackUrl needs webhooks, which are off on this host (no master key).', { requiredCapability: 'webhooks' });
    /**
     * The callback subscription (decision 0025) is written before the run, under a reserved run
     * id, so the run's first events already find it; its secret is answered once and never
     * enters the idempotency record (a replay reopens it from the sealed row).
     */
    const withCallback = async (): Promise<{ cb?: CreatedCallback; run: typeof params & { runId?: string; callback?: RunCallback } }> => {
      if (body.callbackUrl === undefined || !ctx.webhooks) return { run: params };
      const runId = engine.newRunId();
      const made = await ctx.webhooks.createCallback(p.tenant, runId, body.callbackUrl);
      const cb = { callbackId: made.webhookId, callbackSecretFingerprint: made.secretFingerprint, secret: made.secret };
      return { cb, run: { ...params, runId, callback: { webhookId: made.webhookId, token: p.scopes.has('approvals:respond') } } };
    };
    const dropCallback = async (cb: CreatedCallback | undefined): Promise<void> => {
      if (cb) await ctx.webhooks?.delete(p.tenant, cb.callbackId).catch(() => undefined);
    };
    let rec: RunRecord;
    if (!key) {
      const made = await withCallback();
      cb = made.cb;
      try {
        rec = await engine.createRun({ ...made.run, rider });
      } catch (e) {
        await dropCallback(cb);
        throw e;
      }
    } else {
      // The completion is written with the run row (not afterwards), so the two never disagree.
      const ticket = await claimOrReplay(store, req, reply, p.tenant, 'POST /v1/runs', key, body, config.idempotencyRetentionMs, (stored) =>
        withCallbackSecret(ctx, p.tenant, stored),
      );
      if (!ticket) return reply;
      try {
        const made = await withCallback();
        cb = made.cb;
        rec = await engine.createRun({ ...made.run, rider }, { ...ticket, respond: (r) => ({ status: 201, body: JSON.stringify(createResponse(r, cb)) }) });
      } catch (e) {
        await dropCallback(cb);
        await releaseTicket(store, ticket);
        throw e;
      }
    }
    // Before the run's first step (woken on setImmediate): its run lines carry this request's correlation id.
    ctx.runCorrelations?.set(rec.runId, correlationOf(req));
    await ctx.audit.settle(rider, audited(rec));
    return reply.code(201).send({ ...createResponse(rec, cb), ...(cb ? { callbackSecret: cb.secret } : {}) });
  });

  app.get('/v1/runs', { config: { scope: 'runs:read' }, schema: ROUTE_SCHEMAS['GET /v1/runs'] }, async (req) => {
    const p = principalOf(req);
    const q = req.query;
    const errors: { path: string; message: string }[] = [];
    let status: RunStatus | undefined;
    if (q.status !== undefined) {
      if (isRunStatus(q.status)) status = q.status;
      else errors.push({ path: '/status', message: `must be one of ${RUN_STATUSES.join(', ')}` });
    }
    let limit = 50;
    if (q.limit !== undefined) {
      limit = Number(q.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 200) errors.push({ path: '/limit', message: 'must be an integer 1..200' });
    }
    if (q.workflowId !== undefined && (q.workflowId.length === 0 || q.workflowId.length > 128))
      errors.push({ path: '/workflowId', message: 'must be 1..128 characters' });
    if (errors.length > 0) throw new WeftError('validation_error', 'The query is invalid.', { errors });
    const before = q.cursor ? decodeCursor(q.cursor) : undefined;
    const rows = await store.listRuns(p.tenant, {
      limit: limit + 1,
      ...(status ? { status } : {}),
      ...(q.workflowId ? { workflowId: q.workflowId } : {}),
      ...(before ? { before: { createdAt: before.c, runId: before.r } } : {}),
    });
    const page = rows.slice(0, limit);
    const wfCache = new Map<string, Awaited<ReturnType<typeof store.getWorkflowByHash>>>();
    const runs = [];
    for (const r of page) {
      if (!wfCache.has(r.workflowHash)) wfCache.set(r.workflowHash, await engine.catalog.byContentHash(r.workflowHash));
      runs.push(toSnapshot(r, wfCache.get(r.workflowHash)));
    }
    const last = page.at(-1);
    const out: Record<string, unknown> = { runs };
    if (rows.length > limit && last) out.nextCursor = Buffer.from(JSON.stringify({ c: last.createdAt, r: last.runId })).toString('base64url');
    return out;
  });

  app.get('/v1/runs/:runId', { config: { scope: 'runs:read' }, schema: ROUTE_SCHEMAS['GET /v1/runs/:runId'] }, async (req) => {
    const p = principalOf(req);
    const runId = pathId(req.params.runId, 'runId');
    const rec = await store.getRun(p.tenant, runId);
    if (!rec) throw await missingRun(store, p.tenant, runId);
    // Only a caller who may resolve interrupts gets a callback token for them.
    const mint = p.scopes.has('approvals:respond')
      ? (r: typeof rec, iv: { nodeId: string; interruptId: string; expiresAt?: string }) =>
          ctx.tokens.mint({ runId: r.runId, nodeId: iv.nodeId, interruptId: iv.interruptId }, Date.now(), iv.expiresAt ? Date.parse(iv.expiresAt) : undefined)
      : undefined;
    const snap = toSnapshot(rec, await ctx.engine.catalog.byContentHash(rec.workflowHash), mint);
    // A parent waiting on a child that waits on a person mirrors the child's waiting status.
    if (snap.status === 'running' && rec.projection.children) {
      for (const c of Object.values(rec.projection.children)) {
        const child = await store.getRun(p.tenant, c.runId);
        if (child?.projection.status.startsWith('waiting-')) {
          snap.status = child.projection.status;
          snap.waitingOnChildRunId = child.runId;
          break;
        }
      }
    }
    return snap;
  });

  app.post('/v1/runs/:runId/cancel', { config: { scope: 'runs:cancel' }, schema: ROUTE_SCHEMAS['POST /v1/runs/:runId/cancel'] }, async (req, reply) => {
    const p = principalOf(req);
    const runId = pathId(req.params.runId, 'runId');
    const body = validateCancel(req.body ?? {});
    const op = { store, retentionMs: config.idempotencyRetentionMs, tenant: p.tenant, route: `POST /v1/runs/${runId}/cancel`, body, status: 200 };
    return withIdempotency(req, reply, op, async () => {
      const before = await store.getRun(p.tenant, runId);
      if (!before) throw await missingRun(store, p.tenant, runId);
      const ended = endedMessage(before.projection.status);
      if (ended) throw new WeftError('run_terminal', ended, { runStatus: before.projection.status });
      const rec = await engine.cancelRun(p.tenant, runId, body.reason, p.principal);
      if (!rec) throw runNotFound();
      const out = { runId, status: RunEngine.visibleStatus(rec) === 'cancelled' ? 'cancelled' : 'cancelling' };
      await ctx.audit.append({ tenant: p.tenant, principal: p.principal, action: 'run.cancelled', target: runId, details: { status: out.status } });
      return out;
    });
  });

  app.post('/v1/runs::bulk-cancel', { config: { scope: 'runs:cancel' } }, async (req, reply) => {
    const p = principalOf(req);
    const body = validateBulk(req.body ?? undefined);
    if (body.runIds.length > MAX_BULK_CANCEL) {
      throw new WeftError('validation_error', `At most ${MAX_BULK_CANCEL} runIds per request.`, { maxRunIds: MAX_BULK_CANCEL });
    }
    const op = { store, retentionMs: config.idempotencyRetentionMs, tenant: p.tenant, route: 'POST /v1/runs:bulk-cancel', body, status: 200 };
    return withIdempotency(req, reply, op, async () => {
      const results = [];
      for (const runId of body.runIds) {
        const rec = await store.getRun(p.tenant, runId);
        if (!rec) {
          results.push({ runId, ok: false, error: { code: 'not_found', message: 'Run not found.' } });
          continue;
        }
        const ended = endedMessage(rec.projection.status);
        if (ended) {
          results.push({ runId, ok: false, status: rec.projection.status, error: { code: 'run_terminal', message: ended } });
          continue;
        }
        const after = TERMINAL_STATUSES.has(rec.projection.status) ? rec : await engine.cancelRun(p.tenant, runId, body.reason, p.principal, false);
        results.push({ runId, ok: true, status: after && RunEngine.visibleStatus(after) === 'cancelled' ? 'cancelled' : 'cancelling' });
      }
      await ctx.audit.append({
        tenant: p.tenant,
        principal: p.principal,
        action: 'run.bulk_cancelled',
        target: 'runs',
        details: { runIds: results.filter((r) => r.ok).map((r) => r.runId) },
      });
      return { results };
    });
  });

  app.get(
    '/v1/runs/:runId/artifacts/:artifactId',
    { config: { scope: 'artifacts:read' }, schema: ROUTE_SCHEMAS['GET /v1/runs/:runId/artifacts/:artifactId'] },
    async (req) => {
      const p = principalOf(req);
      const params = req.params;
      const runId = pathId(params.runId, 'runId');
      pathId(params.artifactId, 'artifactId');
      const rec = await store.getRun(p.tenant, runId);
      if (!rec) throw runNotFound();
      // No built-in node produces artifacts yet; every artifact id is unknown.
      throw new WeftError('not_found', 'Artifact not found.');
    },
  );
}
