/**
 * `POST /v1/runs/{runId}:fork` — served by the `/v1/runs/:target` route with `:pause` and
 * `:resume` (see interrupts.ts), which dispatches here. Needs `runs:create` and `runs:read`.
 *
 * @see wire-contract.md §1.1 (#10), execution-semantics.md §3.1
 * @see ../../../../docs/fork-replay.md
 */
import { ForkRunRequestSchema, WeftError, compileValidator, type ForkRunRequest, type ForkRunResponse } from '@weft/contract';
import type { RunRecord } from '@weft/engine';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { principalOf, type HostContext } from '../context.js';
import { claimOrReplay, idempotencyKeyOf, releaseTicket } from '../idempotency.js';
import { checkRunOptions, isTestKey } from '../run-options.js';

const validateFork = compileValidator<ForkRunRequest>(ForkRunRequestSchema);

/** The 201 body (what an idempotent retry replays). */
const forkResponse = (rec: RunRecord): ForkRunResponse => ({
  runId: rec.runId,
  sourceRunId: rec.fork?.sourceRunId ?? '',
  fromSeq: rec.fork?.fromSeq ?? 0,
  mode: rec.fork?.mode ?? 'replay',
  status: rec.projection.status,
  eventsUrl: `/v1/runs/${rec.runId}/events`,
});

/** Checks what the schema cannot: `fromSeq` required for branch, no overlay on replay. */
function checkForkBody(body: ForkRunRequest): void {
  if (body.mode === 'branch' && body.fromSeq === undefined) {
    throw new WeftError('validation_error', 'fromSeq is required for a branch fork.', { errors: [{ path: '/fromSeq', message: 'required for mode branch' }] });
  }
  const o = body.runOptionsOverlay;
  if (body.mode === 'replay' && o && Object.keys(o).length > 0) {
    throw new WeftError('validation_error', 'runOptionsOverlay is for branch forks only; a replay re-derives the run as it was.', {
      errors: [{ path: '/runOptionsOverlay', message: 'must be empty for mode replay' }],
    });
  }
  if (o?.metadata && Buffer.byteLength(JSON.stringify(o.metadata)) > 8192) {
    throw new WeftError('validation_error', 'metadata must serialize to at most 8192 bytes.', {
      errors: [{ path: '/runOptionsOverlay/metadata', message: 'too large' }],
    });
  }
}

/** Handles a fork of `runId` (already validated as an id). */
export async function forkRoute(ctx: HostContext, req: FastifyRequest, reply: FastifyReply, runId: string): Promise<FastifyReply> {
  const p = principalOf(req);
  const key = idempotencyKeyOf(req);
  const body = validateFork(req.body ?? undefined);
  checkForkBody(body);
  checkRunOptions(ctx.config, req.headers.authorization, body.runOptionsOverlay?.configurable as Record<string, unknown> | undefined);
  // A fork inherits the source's configurable: a mock-routed source forks for a test key only.
  const source = await ctx.store.getRun(p.tenant, runId);
  if (source?.configurable.mockProvider !== undefined && !isTestKey(ctx.config, req.headers.authorization))
    throw new WeftError('mock_provider_forbidden', 'This run uses configurable.mockProvider: only a test key may fork it.');
  const params = {
    tenant: p.tenant,
    sourceRunId: runId,
    mode: body.mode,
    fromSeq: body.fromSeq ?? 0,
    ...(body.runOptionsOverlay === undefined ? {} : { overlay: body.runOptionsOverlay }),
  };
  let rec: RunRecord;
  if (!key) rec = await ctx.engine.forkRun(params);
  else {
    // As for POST /v1/runs: the completion is written with the fork's run row.
    const ticket = await claimOrReplay(ctx.store, req, reply, p.tenant, `POST /v1/runs/${runId}:fork`, key, body, ctx.config.idempotencyRetentionMs);
    if (!ticket) return reply;
    try {
      rec = await ctx.engine.forkRun(params, { ...ticket, respond: (r) => ({ status: 201, body: JSON.stringify(forkResponse(r)) }) });
    } catch (e) {
      await releaseTicket(ctx.store, ticket);
      throw e;
    }
  }
  await ctx.audit.append({
    tenant: p.tenant,
    principal: p.principal,
    action: 'run.forked',
    target: rec.runId,
    details: { sourceRunId: runId, mode: body.mode, fromSeq: params.fromSeq },
  });
  return reply.code(201).send(forkResponse(rec));
}
