/**
 * Weft host extension: the tenant-scoped secrets vault (values are write-only).
 *
 * - `POST /v1/host/weft/secrets` — store `{secretId, value, description?}` (201, metadata)
 * - `GET /v1/host/weft/secrets` — list metadata
 * - `GET /v1/host/weft/secrets/{secretId}` — metadata with an `ETag` (`If-None-Match` → 304)
 * - `POST /v1/host/weft/secrets/{secretId}:rotate` — `{value, description?}` (200, metadata)
 * - `DELETE /v1/host/weft/secrets/{secretId}` — 204
 * - `POST /v1/host/weft/vault:rewrap` — operator only: rewrap data keys under the current master key
 *
 * Reads need `secrets:read`, mutations `secrets:write`; both are checked by the auth hook
 * before anything is looked up, and every lookup is bound to the credential's tenant, so a
 * foreign secret answers exactly like a missing one. No response, header or log line carries a
 * value: responses are metadata only and `Cache-Control: no-store`. Mutations honour
 * `Idempotency-Key` (the stored request hash covers an HMAC of the value, never the value or a
 * plain hash of it) and `If-Match` (412 `precondition_failed` when the secret changed). Without
 * a master key (a Postgres host not given one) the vault is disabled and every route answers 404.
 *
 * @see security-contract.md §4.1, docs/decisions/0018-secrets-vault.md
 */
import {
  CreateSecretRequestSchema,
  ROUTE_SCHEMAS,
  RotateSecretRequestSchema,
  WeftError,
  compileValidator,
  type CreateSecretRequest,
  type RotateSecretRequest,
} from '@weft/contract';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { WeftApp } from '../app.js';
import { principalOf, type HostContext } from '../context.js';
import { claimOrReplay, completeTicket, idempotencyKeyOf, releaseTicket, withIdempotency } from '../idempotency.js';
import { requestDigest } from '../master-key.js';
import type { SecretVault } from '../vault.js';

const validateCreate = compileValidator<CreateSecretRequest>(CreateSecretRequestSchema);
const validateRotate = compileValidator<RotateSecretRequest>(RotateSecretRequestSchema);
const validateEmpty = compileValidator<Record<string, never>>({ type: 'object', additionalProperties: false });

const SECRET_ID_RE = /^[A-Za-z0-9._-]{1,128}$/;

/** A path secret id; outside the grammar it cannot exist, so it answers like a missing secret. */
function secretIdOf(raw: string): string {
  if (!SECRET_ID_RE.test(raw)) throw new WeftError('not_found', 'Secret not found.');
  return raw;
}

const noStore = (reply: FastifyReply): FastifyReply => reply.header('cache-control', 'no-store');

function header(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name];
  if (v === undefined) return undefined;
  const s = Array.isArray(v) ? v.join(', ') : v;
  if (s.length > 1024) throw new WeftError('validation_error', `${name} is too long.`);
  return s;
}

export function registerSecretRoutes(app: WeftApp, ctx: HostContext): void {
  const vault = (): SecretVault => {
    if (!ctx.vault) throw new WeftError('not_found', 'No such route.');
    return ctx.vault.service;
  };
  /** The body as hashed for Idempotency-Key: the value replaced by its keyed digest. */
  const digestBody = <T extends { value: string }>(body: T): Omit<T, 'value'> & { value: string } => ({
    ...body,
    value: `hmac:${requestDigest((ctx.vault as NonNullable<HostContext['vault']>).digestKey, body.value)}`,
  });
  const idem = { store: ctx.store, retentionMs: ctx.config.idempotencyRetentionMs };

  app.post('/v1/host/weft/secrets', { config: { scope: 'secrets:write' } }, async (req, reply) => {
    const p = principalOf(req);
    const v = vault();
    const body = validateCreate(req.body ?? undefined);
    noStore(reply);
    return withIdempotency(req, reply, { ...idem, tenant: p.tenant, route: 'POST /v1/host/weft/secrets', body: digestBody(body), status: 201 }, async () => {
      const rec = await v.create(p.tenant, body, p);
      reply.header('etag', v.etag(rec));
      return v.view(rec);
    });
  });

  app.get('/v1/host/weft/secrets', { config: { scope: 'secrets:read' } }, async (req, reply) => {
    const p = principalOf(req);
    const v = vault();
    const all = await v.list(p.tenant);
    return noStore(reply).send({ secrets: all.map((s) => v.view(s)) });
  });

  app.get(
    '/v1/host/weft/secrets/:secretId',
    { config: { scope: 'secrets:read' }, schema: ROUTE_SCHEMAS['GET /v1/host/weft/secrets/:secretId'] },
    async (req, reply) => {
      const p = principalOf(req);
      const v = vault();
      const rec = await v.get(p.tenant, secretIdOf(req.params.secretId));
      const etag = v.etag(rec);
      noStore(reply).header('etag', etag);
      const inm = header(req, 'if-none-match');
      if (inm !== undefined && (inm.trim() === '*' || inm.split(',').some((t) => t.trim() === etag))) return reply.code(304).send();
      return reply.send(v.view(rec));
    },
  );

  // `{secretId}:rotate` — the verb shares the id segment.
  app.post(
    '/v1/host/weft/secrets/:target',
    { config: { scope: 'secrets:write' }, schema: ROUTE_SCHEMAS['POST /v1/host/weft/secrets/:target'] },
    async (req, reply) => {
      const p = principalOf(req);
      const m = /^(.+):rotate$/.exec(req.params.target);
      if (!m) throw new WeftError('not_found', 'No such route.');
      const v = vault();
      const secretId = secretIdOf(m[1] as string);
      const body = validateRotate(req.body ?? undefined);
      const ifMatch = header(req, 'if-match');
      noStore(reply);
      const route = `POST /v1/host/weft/secrets/${secretId}:rotate`;
      return withIdempotency(
        req,
        reply,
        { ...idem, tenant: p.tenant, route, body: { ...digestBody(body), ifMatch: ifMatch ?? null }, status: 200 },
        async () => {
          const rec = await v.rotate(p.tenant, secretId, body, p, ifMatch);
          reply.header('etag', v.etag(rec));
          return v.view(rec);
        },
      );
    },
  );

  app.delete(
    '/v1/host/weft/secrets/:secretId',
    { config: { scope: 'secrets:write' }, schema: ROUTE_SCHEMAS['DELETE /v1/host/weft/secrets/:secretId'] },
    async (req, reply) => {
      const p = principalOf(req);
      const v = vault();
      const secretId = secretIdOf(req.params.secretId);
      const ifMatch = header(req, 'if-match');
      noStore(reply);
      const key = idempotencyKeyOf(req);
      const route = `DELETE /v1/host/weft/secrets/${secretId}`;
      const ticket = key ? await claimOrReplay(ctx.store, req, reply, p.tenant, route, key, { ifMatch: ifMatch ?? null }, idem.retentionMs) : undefined;
      if (key && !ticket) return reply;
      try {
        await v.delete(p.tenant, secretId, p, ifMatch);
        if (ticket) await completeTicket(ctx.store, ticket, { status: 204, body: '' }, idem.retentionMs);
        return reply.code(204).send();
      } catch (e) {
        if (ticket) await releaseTicket(ctx.store, ticket);
        throw e;
      }
    },
  );

  app.post('/v1/host/weft/vault::rewrap', { config: { scope: 'keys:admin' } }, async (req, reply) => {
    const p = principalOf(req);
    if (p.operator !== true) throw new WeftError('forbidden', 'Only the operator credential rewraps the vault.', { scopeRequired: 'keys:admin' });
    const v = vault();
    validateEmpty(req.body ?? {});
    const report = await v.rewrap(p);
    return noStore(reply).send(report);
  });
}
