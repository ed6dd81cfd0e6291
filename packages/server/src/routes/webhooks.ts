/**
 * Webhook subscriptions (security-contract §3.1; wire-contract §1.4, Weft's choice in
 * docs/decisions/0019-webhooks.md):
 *
 * - `POST /v1/webhooks` — `{url, events (or eventTypes), tenantId?, tags?}` → 201 with the
 *   secret, returned this once
 * - `GET /v1/webhooks`, `GET /v1/webhooks/{webhookId}` — secrets by fingerprint only
 * - `DELETE /v1/webhooks/{webhookId}?tenantId=` — 204
 * - `GET /v1/webhooks/{webhookId}/deliveries?limit=` — delivery records, newest first
 * - `POST /v1/webhooks/{webhookId}/deliveries/{deliveryId}:redeliver` — one more attempt now
 * - `POST /v1/webhooks/{webhookId}:pause` / `:resume` — hold and release a subscription (Weft
 *   extension over the WH-17 states; a failed or dead-lettered one is 409, re-register it)
 *
 * All need `webhooks:manage`, checked by the auth hook before anything is looked up. A
 * `tenantId` (body or query) other than the credential's tenant is 403
 * `tenant_membership_required` before any lookup (AUTH-18), and every lookup is bound to the
 * credential's tenant, so a foreign subscription answers exactly like a missing one. An
 * Idempotency-Key on create stores only the webhookId; a replay reopens the sealed secret.
 * Without a master key (a Postgres host not given one) webhooks are off and every route is 404.
 */
import { CreateWebhookRequestSchema, IDEMPOTENT_REPLAY_HEADER, ROUTE_SCHEMAS, WeftError, compileValidator, type CreateWebhookRequest } from '@weft/contract';
import { randomBytes } from 'node:crypto';
import type { FastifyReply } from 'fastify';
import type { WeftApp } from '../app.js';
import { pathId, principalOf, type HostContext } from '../context.js';
import { completeTicket, idempotencyKeyOf, releaseTicket, requestHash, withIdempotency } from '../idempotency.js';
import type { WebhookService } from '../webhooks.js';

const validateCreate = compileValidator<CreateWebhookRequest>(CreateWebhookRequestSchema);
const PENDING_TTL_MS = 30_000;

const noStore = (reply: FastifyReply): FastifyReply => reply.header('cache-control', 'no-store');

/** A body or query `tenantId` must be the caller's own tenant; checked before any lookup. */
function checkTenant(given: string | undefined, tenant: string): void {
  if (given !== undefined && given !== tenant) throw new WeftError('tenant_membership_required', 'The credential is not a member of this tenantId.');
}

export function registerWebhookRoutes(app: WeftApp, ctx: HostContext): void {
  const hooks = (): WebhookService => {
    if (!ctx.webhooks) throw new WeftError('not_found', 'No such route.');
    return ctx.webhooks;
  };
  const idem = { store: ctx.store, retentionMs: ctx.config.idempotencyRetentionMs };

  app.post('/v1/webhooks', { config: { scope: 'webhooks:manage' } }, async (req, reply) => {
    const p = principalOf(req);
    const w = hooks();
    const body = validateCreate(req.body ?? undefined);
    checkTenant(body.tenantId, p.tenant);
    noStore(reply);
    const key = idempotencyKeyOf(req);
    if (key === undefined) return reply.code(201).send(await w.create(p.tenant, body));
    // The stored response is `{webhookId}` only: the secret never enters the idempotency table.
    const route = 'POST /v1/webhooks';
    const owner = randomBytes(9).toString('base64url');
    const claim = await ctx.store.claimIdempotency({
      tenant: p.tenant,
      route,
      key,
      requestHash: requestHash(body),
      owner,
      now: Date.now(),
      pendingTtlMs: PENDING_TTL_MS,
      retentionMs: idem.retentionMs,
    });
    if (claim.kind === 'mismatch') throw new WeftError('idempotency_key_mismatch', 'This Idempotency-Key was already used with a different request body.');
    if (claim.kind === 'in-flight')
      throw new WeftError('idempotency_in_flight', 'A request with this Idempotency-Key is still in progress.', { retryAfter: 1 }, { 'retry-after': '1' });
    if (claim.kind === 'replay') {
      const { webhookId } = JSON.parse(claim.response.body) as { webhookId: string };
      return reply
        .code(201)
        .header(IDEMPOTENT_REPLAY_HEADER, 'true')
        .send(await w.createdAgain(p.tenant, webhookId));
    }
    const ticket = { tenant: p.tenant, route, key, owner };
    try {
      const created = await w.create(p.tenant, body);
      await completeTicket(ctx.store, ticket, { status: 201, body: JSON.stringify({ webhookId: created.webhookId }) }, idem.retentionMs);
      return reply.code(201).send(created);
    } catch (e) {
      await releaseTicket(ctx.store, ticket);
      throw e;
    }
  });

  app.get('/v1/webhooks', { config: { scope: 'webhooks:manage' } }, async (req, reply) => {
    const p = principalOf(req);
    const w = hooks();
    return noStore(reply).send({ webhooks: (await w.list(p.tenant)).map((r) => w.view(r)) });
  });

  app.get('/v1/webhooks/:webhookId', { config: { scope: 'webhooks:manage' }, schema: ROUTE_SCHEMAS['GET /v1/webhooks/:webhookId'] }, async (req, reply) => {
    const p = principalOf(req);
    const w = hooks();
    return noStore(reply).send(w.view(await w.get(p.tenant, pathId(req.params.webhookId, 'webhookId'))));
  });

  app.delete(
    '/v1/webhooks/:webhookId',
    { config: { scope: 'webhooks:manage' }, schema: ROUTE_SCHEMAS['DELETE /v1/webhooks/:webhookId'] },
    async (req, reply) => {
      const p = principalOf(req);
      const w = hooks();
      checkTenant(req.query.tenantId, p.tenant);
      const webhookId = pathId(req.params.webhookId, 'webhookId');
      const route = `DELETE /v1/webhooks/${webhookId}`;
      const key = idempotencyKeyOf(req);
      if (key === undefined) {
        await w.delete(p.tenant, webhookId);
        return reply.code(204).send();
      }
      await withIdempotency(req, reply, { ...idem, tenant: p.tenant, route, body: {}, status: 204 }, async () => {
        await w.delete(p.tenant, webhookId);
        return {};
      });
      return reply;
    },
  );

  app.get(
    '/v1/webhooks/:webhookId/deliveries',
    { config: { scope: 'webhooks:manage' }, schema: ROUTE_SCHEMAS['GET /v1/webhooks/:webhookId/deliveries'] },
    async (req, reply) => {
      const p = principalOf(req);
      const w = hooks();
      const raw = req.query.limit;
      const limit = raw === undefined ? 100 : /^[1-9][0-9]{0,2}$/.test(raw) && Number(raw) <= 500 ? Number(raw) : Number.NaN;
      if (Number.isNaN(limit))
        throw new WeftError('validation_error', 'limit must be an integer from 1 to 500.', { errors: [{ path: '/limit', message: 'out of range' }] });
      return noStore(reply).send({ deliveries: await w.deliveries(p.tenant, pathId(req.params.webhookId, 'webhookId'), limit) });
    },
  );

  // `{webhookId}:pause|:resume` — the verb shares the id segment.
  app.post('/v1/webhooks/:target', { config: { scope: 'webhooks:manage' }, schema: ROUTE_SCHEMAS['POST /v1/webhooks/:target'] }, async (req, reply) => {
    const p = principalOf(req);
    const w = hooks();
    const m = /^(.+):(pause|resume)$/.exec(req.params.target);
    if (!m) throw new WeftError('not_found', 'No such route.');
    const webhookId = pathId(m[1] as string, 'webhookId');
    const verb = m[2] as 'pause' | 'resume';
    const route = `POST /v1/webhooks/${webhookId}:${verb}`;
    noStore(reply);
    return withIdempotency(req, reply, { ...idem, tenant: p.tenant, route, body: req.body ?? {}, status: 200 }, async () => {
      const out = await w.setPaused(p.tenant, webhookId, verb === 'pause');
      await ctx.audit.append({
        tenant: p.tenant,
        principal: p.principal,
        action: verb === 'pause' ? 'webhook.paused' : 'webhook.resumed',
        target: webhookId,
        details: { state: out.state },
      });
      return { ...out };
    });
  });

  // `{deliveryId}:redeliver` — the verb shares the id segment.
  app.post(
    '/v1/webhooks/:webhookId/deliveries/:target',
    { config: { scope: 'webhooks:manage' }, schema: ROUTE_SCHEMAS['POST /v1/webhooks/:webhookId/deliveries/:target'] },
    async (req, reply) => {
      const p = principalOf(req);
      const w = hooks();
      const m = /^(.+):redeliver$/.exec(req.params.target);
      if (!m) throw new WeftError('not_found', 'No such route.');
      const webhookId = pathId(req.params.webhookId, 'webhookId');
      const deliveryId = m[1] as string;
      if (deliveryId.length > 200) throw new WeftError('not_found', 'Delivery not found.');
      const route = `POST /v1/webhooks/${webhookId}/deliveries/${deliveryId}:redeliver`;
      return withIdempotency(req, reply, { ...idem, tenant: p.tenant, route, body: req.body ?? {}, status: 200 }, async () => {
        return { ...(await w.redeliver(p.tenant, webhookId, deliveryId)) };
      });
    },
  );
}
