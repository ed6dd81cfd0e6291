/**
 * Layer-1 idempotency for mutating routes: records keyed by (authenticated tenant, routed
 * operation, Idempotency-Key), claimed atomically *before* the operation runs so concurrent
 * duplicates cannot both execute. Only final outcomes are stored; validation, auth and
 * retryable failures release the claim.
 *
 * @see security-contract.md §2.1, wire-contract.md §1.1
 */
import { createHash, randomBytes } from 'node:crypto';
import { IDEMPOTENT_REPLAY_HEADER, WeftError } from '@weft/contract';
import { canonicalJson, type IdempotencyStore, type IdempotentResponse } from '@weft/engine';
import type { FastifyReply, FastifyRequest } from 'fastify';

/** Abandoned in-flight claims may be taken over after this long. */
const PENDING_TTL_MS = 60_000;

/** A claimed key the handler must complete (or that is released on failure). */
export interface IdempotencyTicket {
  tenant: string;
  route: string;
  key: string;
  owner: string;
}

/** Reads and validates the Idempotency-Key header. */
export function idempotencyKeyOf(req: FastifyRequest): string | undefined {
  const raw = req.headers['idempotency-key'];
  if (raw === undefined) return undefined;
  const key = Array.isArray(raw) ? raw[0] : raw;
  if (!key || key.length > 255 || !/^[\x21-\x7e]+$/.test(key)) {
    throw new WeftError('validation_error', 'Idempotency-Key must be 1..255 visible ASCII characters.');
  }
  return key;
}

/** SHA-256 of the canonical JSON of a request body. */
export function requestHash(body: unknown): string {
  return createHash('sha256')
    .update(canonicalJson(body ?? null))
    .digest('hex');
}

/**
 * Claims the key. Returns a ticket when this request must run, or sends the replay / error
 * and returns undefined.
 */
export async function claimOrReplay(
  store: IdempotencyStore,
  req: FastifyRequest,
  reply: FastifyReply,
  tenant: string,
  route: string,
  key: string,
  body: unknown,
  retentionMs: number,
  rewrite?: (storedBody: string) => Promise<string>,
): Promise<IdempotencyTicket | undefined> {
  const owner = randomBytes(9).toString('base64url');
  const res = await store.claimIdempotency({
    tenant,
    route,
    key,
    requestHash: requestHash(body),
    owner,
    now: Date.now(),
    pendingTtlMs: PENDING_TTL_MS,
    retentionMs,
  });
  switch (res.kind) {
    case 'claimed':
      return { tenant, route, key, owner };
    case 'replay':
      reply
        .code(res.response.status)
        .header(IDEMPOTENT_REPLAY_HEADER, 'true')
        .type('application/json')
        .send(rewrite ? await rewrite(res.response.body) : res.response.body);
      return undefined;
    case 'mismatch':
      throw new WeftError('idempotency_key_mismatch', 'This Idempotency-Key was already used with a different request body.');
    case 'in-flight':
      throw new WeftError('idempotency_in_flight', 'A request with this Idempotency-Key is still in progress.', { retryAfter: 1 }, { 'retry-after': '1' });
  }
}

/**
 * The id a run command sent under an Idempotency-Key is written with: the same request (tenant,
 * operation, key, body) always names the same command row, so a retry after the accepting
 * process died finds the first row instead of applying the command again.
 */
export function commandKeyOf(tenant: string, route: string, key: string, body: unknown): string {
  return createHash('sha256')
    .update(`${tenant}\u0000${route}\u0000${key}\u0000${requestHash(body)}`)
    .digest('base64url')
    .slice(0, 32);
}

/** Stores the final response of a ticket. */
export async function completeTicket(store: IdempotencyStore, t: IdempotencyTicket, response: IdempotentResponse, retentionMs: number): Promise<void> {
  await store.completeIdempotency({ ...t, response }, retentionMs, Date.now());
}

/** Releases a ticket whose request ended in a non-cacheable way. */
export async function releaseTicket(store: IdempotencyStore, t: IdempotencyTicket): Promise<void> {
  await store.releaseIdempotency(t.tenant, t.route, t.key, t.owner);
}

/** Where and how {@link withIdempotency} records a mutation. */
export interface IdempotentOperation {
  store: IdempotencyStore;
  retentionMs: number;
  tenant: string;
  /** The routed operation, e.g. `POST /v1/runs/{runId}/cancel` with the id filled in. */
  route: string;
  body: unknown;
  /** Success status sent (and replayed). */
  status: number;
}

/**
 * Runs a mutation under the Idempotency-Key rules: claim before executing, replay a stored
 * success, store a new success, release the claim on any failure.
 */
export async function withIdempotency(
  req: FastifyRequest,
  reply: FastifyReply,
  op: IdempotentOperation,
  exec: (sent: { commandKey?: string }) => Promise<Record<string, unknown>>,
): Promise<FastifyReply> {
  const key = idempotencyKeyOf(req);
  const ticket = key ? await claimOrReplay(op.store, req, reply, op.tenant, op.route, key, op.body, op.retentionMs) : undefined;
  if (key && !ticket) return reply;
  try {
    const out = await exec(key === undefined ? {} : { commandKey: commandKeyOf(op.tenant, op.route, key, op.body) });
    if (ticket) await completeTicket(op.store, ticket, { status: op.status, body: JSON.stringify(out) }, op.retentionMs);
    return reply.code(op.status).send(out);
  } catch (e) {
    if (ticket) await releaseTicket(op.store, ticket);
    throw e;
  }
}
