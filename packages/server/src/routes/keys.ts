/**
 * Weft host extension: managed API keys.
 *
 * - `POST /v1/host/weft/keys` — create (201, the secret once)
 * - `GET /v1/host/weft/keys` — list (never secrets or hashes)
 * - `POST /v1/host/weft/keys/{keyId}:rotate` — successor (201, its secret once); the old key
 *   keeps working for the grace window
 * - `POST /v1/host/weft/keys/{keyId}:revoke` — at once
 *
 * All need `keys:manage` and act on the caller's tenant only — a configured (`WEFT_API_KEYS`)
 * key included. Only the operator credential (`WEFT_OPERATOR_KEY`, the one principal with the
 * `operator` flag and `keys:admin`) reaches every tenant; it must name the tenant it creates a
 * key in. A caller can only hand out scopes it holds, and only rotate a key whose scopes it
 * holds — otherwise rotation would mint it a broader secret. A foreign key answers exactly like
 * a missing one (404, same body). Naming another tenant without the operator credential is 403
 * whether or not that tenant exists. Idempotency-Key is not honoured here: a replay would have
 * to store the secret.
 *
 * @see security-contract.md §1.4
 */
import { ROUTE_SCHEMAS, WeftError, compileValidator } from '@weft/contract';
import { TENANT_RE } from '@weft/security';
import type { ApiKeyRecord } from '@weft/store-kit';
import type { FastifyReply } from 'fastify';
import type { WeftApp } from '../app.js';
import type { Principal } from '../auth.js';
import { pathId, principalOf, type HostContext } from '../context.js';
import { KEYS_ADMIN_SCOPE, MAX_KEY_SECONDS, parseScopes, type IssuedKey, type ManagedKeyService } from '../managed-keys.js';

interface CreateBody {
  tenant?: string;
  name?: string;
  scopes: string[];
  expiresInSeconds?: number;
}

const validateCreate = compileValidator<CreateBody>({
  type: 'object',
  required: ['scopes'],
  properties: {
    tenant: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,128}$' },
    name: { type: 'string', maxLength: 128, pattern: '^[^\\u0000-\\u001f\\u007f]*$' },
    scopes: { type: 'array', minItems: 1, maxItems: 64, items: { type: 'string', minLength: 1, maxLength: 64 } },
    expiresInSeconds: { type: 'integer', minimum: 1, maximum: MAX_KEY_SECONDS },
  },
  additionalProperties: false,
});
const validateRotate = compileValidator<{ graceSeconds?: number; expiresInSeconds?: number }>({
  type: 'object',
  properties: {
    graceSeconds: { type: 'integer', minimum: 0, maximum: MAX_KEY_SECONDS },
    expiresInSeconds: { type: 'integer', minimum: 1, maximum: MAX_KEY_SECONDS },
  },
  additionalProperties: false,
});
const validateRevoke = compileValidator<Record<string, never>>({ type: 'object', additionalProperties: false });

/** Host-wide key administration: the operator credential, and nothing else. */
const isOperator = (p: Principal): boolean => p.operator === true && p.scopes.has(KEYS_ADMIN_SCOPE);

const needScope = (scope: string): WeftError => new WeftError('forbidden', `This credential lacks the ${scope} scope.`, { scopeRequired: scope });

/** Another tenant was named: only the operator credential may, whether or not it exists. */
const needOperator = (): WeftError =>
  new WeftError('forbidden', 'Only the operator credential administers another tenant.', { scopeRequired: KEYS_ADMIN_SCOPE });

/** A caller without keys:admin may only hand out (or re-issue) scopes it holds itself. */
function requireHeld(p: Principal, scopes: readonly string[]): void {
  if (isOperator(p)) return;
  const missing = scopes.find((s) => !p.scopes.has(s));
  if (missing) throw needScope(missing);
}

function issued(svc: ManagedKeyService, r: IssuedKey, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { ...svc.view(r.key), ...extra, secret: r.secret };
}

/** Responses that carry a secret must never be cached by anything in between. */
const noStore = (reply: FastifyReply): FastifyReply => reply.header('cache-control', 'no-store');

export function registerKeyRoutes(app: WeftApp, ctx: HostContext): void {
  const svc = (): ManagedKeyService => {
    if (!ctx.managedKeys) throw new WeftError('not_found', 'No such route.');
    return ctx.managedKeys;
  };

  app.post('/v1/host/weft/keys', { config: { scope: 'keys:manage' } }, async (req, reply) => {
    const p = principalOf(req);
    const body = validateCreate(req.body ?? undefined);
    const op = isOperator(p);
    if (op && body.tenant === undefined) {
      throw new WeftError('validation_error', 'The operator credential belongs to no tenant: name the tenant of the key.', {
        errors: [{ path: '/tenant', message: 'required for the operator credential' }],
      });
    }
    const tenant = body.tenant ?? p.tenant;
    if (tenant !== p.tenant && !op) throw needOperator();
    requireHeld(p, parseScopes(body.scopes));
    const r = await svc().create(
      {
        tenant,
        scopes: body.scopes,
        ...(body.name === undefined ? {} : { name: body.name }),
        ...(body.expiresInSeconds === undefined ? {} : { expiresInSeconds: body.expiresInSeconds }),
      },
      p,
    );
    return noStore(reply).code(201).send(issued(svc(), r));
  });

  app.get('/v1/host/weft/keys', { config: { scope: 'keys:manage' }, schema: ROUTE_SCHEMAS['GET /v1/host/weft/keys'] }, async (req) => {
    const p = principalOf(req);
    const q = req.query;
    if (q.tenant !== undefined && (typeof q.tenant !== 'string' || !TENANT_RE.test(q.tenant))) {
      throw new WeftError('validation_error', 'tenant must match [A-Za-z0-9._-]{1,128}.', { errors: [{ path: '/tenant', message: 'invalid' }] });
    }
    let tenant: string | undefined = p.tenant;
    if (isOperator(p)) tenant = q.tenant;
    else if (q.tenant !== undefined && q.tenant !== p.tenant) throw needOperator();
    const keys = await svc().list(tenant);
    return { keys: keys.map((k) => svc().view(k)) };
  });

  // `{keyId}:rotate|:revoke` — one route, since the verb shares the id segment.
  app.post('/v1/host/weft/keys/:target', { config: { scope: 'keys:manage' }, schema: ROUTE_SCHEMAS['POST /v1/host/weft/keys/:target'] }, async (req, reply) => {
    const p = principalOf(req);
    const m = /^(.+):(rotate|revoke)$/.exec(req.params.target);
    if (!m) throw new WeftError('not_found', 'No such route.');
    const keyId = pathId(m[1] as string, 'keyId');
    // The tenant binding travels into the store query: a foreign key is simply not found.
    const scope = isOperator(p) ? undefined : p.tenant;
    if (m[2] === 'revoke') {
      validateRevoke(req.body ?? {});
      const k = await svc().revoke(keyId, p, scope);
      return reply.code(200).send(svc().view(k));
    }
    const body = validateRotate(req.body ?? {});
    const current: ApiKeyRecord | undefined = await svc().get(keyId, scope);
    if (!current) throw new WeftError('not_found', 'Key not found.');
    requireHeld(p, current.scopes);
    const r = await svc().rotate(keyId, body, p, scope);
    return noStore(reply)
      .code(201)
      .send(issued(svc(), r, { rotated: { keyId: r.old.keyId, graceUntil: new Date(r.old.graceUntil as number).toISOString() } }));
  });
}
