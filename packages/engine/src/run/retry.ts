/**
 * Node retries: the policy of a node (its `settings.retry`, over the workflow's
 * `settings.maxRetries` / `settings.retry`), whether a failure is retried, and the backoff.
 * Pure: the jitter is derived from the run, node and attempt, so a step is reproducible.
 *
 * @see execution-semantics.md §1.7, ../../../../docs/decisions/0021-effects-and-retries.md
 */
import { createHash } from 'node:crypto';
import type { WorkflowDefinition, WorkflowNode } from '@weft/contract';
import { NodeError } from '../nodes.js';

/** How a node is retried. */
export interface RetryPolicy {
  /** Retries after the first attempt (0 = none). */
  maxRetries: number;
  initialDelayMs: number;
  multiplier: number;
  maxDelayMs: number;
  /** 0..1: the share of each delay that is randomized (deterministically per attempt). */
  jitter: number;
  /** Error codes never retried, on top of the non-retryable `NodeError`s. */
  nonRetryable: ReadonlySet<string>;
  /** Deadline of one attempt; past it the body is aborted and fails `node_timeout` (retryable). */
  attemptTimeoutMs?: number;
}

/** Upper bounds, so a policy cannot park a run forever. */
export const RETRY_LIMITS = { maxRetries: 100, maxDelayMs: 86_400_000 } as const;

const obj = (v: unknown): Record<string, unknown> => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
const int = (v: unknown, min: number, max: number): number | undefined =>
  typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max ? v : undefined;
const num = (v: unknown, min: number, max: number): number | undefined => (typeof v === 'number' && Number.isFinite(v) && v >= min && v <= max ? v : undefined);

/** Policies by node object (definitions are immutable once registered). */
const policies = new WeakMap<WorkflowNode, RetryPolicy>();

/** The retry policy of `node` in `def`: node settings first, then the workflow's. Cached per node. */
export function retryPolicyOf(def: WorkflowDefinition, node: WorkflowNode): RetryPolicy {
  let p = policies.get(node);
  if (!p) {
    p = computePolicy(def, node);
    policies.set(node, p);
  }
  return p;
}

function computePolicy(def: WorkflowDefinition, node: WorkflowNode): RetryPolicy {
  const ws = def.settings as Record<string, unknown>;
  const ns = obj(node.settings);
  const wr = obj(ws.retry);
  const nr = obj(ns.retry);
  const pick = (k: string): unknown => (nr[k] !== undefined ? nr[k] : wr[k]);
  const retriesOf = (attempts: unknown): number | undefined => {
    const n = int(attempts, 1, RETRY_LIMITS.maxRetries + 1);
    return n === undefined ? undefined : n - 1;
  };
  const maxRetries =
    int(nr.maxRetries, 0, RETRY_LIMITS.maxRetries) ??
    retriesOf(nr.maxAttempts) ??
    int(ns.maxRetries, 0, RETRY_LIMITS.maxRetries) ??
    int(wr.maxRetries, 0, RETRY_LIMITS.maxRetries) ??
    retriesOf(wr.maxAttempts) ??
    int(ws.maxRetries, 0, RETRY_LIMITS.maxRetries) ??
    0;
  const codes = pick('nonRetryableErrors');
  const timeout = int(pick('attemptTimeoutMs'), 1, RETRY_LIMITS.maxDelayMs);
  const p: RetryPolicy = {
    maxRetries,
    initialDelayMs: int(pick('backoffMs') ?? pick('initialDelayMs'), 0, RETRY_LIMITS.maxDelayMs) ?? 1000,
    multiplier: num(pick('multiplier'), 1, 100) ?? 2,
    maxDelayMs: int(pick('maxBackoffMs') ?? pick('maxDelayMs'), 0, RETRY_LIMITS.maxDelayMs) ?? 60_000,
    jitter: num(pick('jitter'), 0, 1) ?? 0,
    nonRetryable: new Set(Array.isArray(codes) ? codes.filter((c): c is string => typeof c === 'string') : []),
  };
  if (timeout !== undefined) p.attemptTimeoutMs = timeout;
  return p;
}

/** The error code of a node failure. */
const codeOf = (e: unknown): string => (e instanceof NodeError ? e.code : 'node_error');

/**
 * Whether a failure may be retried: a `NodeError` only when it says so (the host's own
 * failures are deterministic unless marked), any other exception always (pack and user code
 * failing unexpectedly), never a code the policy lists.
 */
export function isRetryable(e: unknown, p: RetryPolicy): boolean {
  if (p.nonRetryable.has(codeOf(e))) return false;
  return e instanceof NodeError ? e.retryable : true;
}

/** The delay before retry number `retry` (1-based): exponential, capped, with deterministic jitter. */
export function backoffMs(p: RetryPolicy, retry: number, runId: string, nodeId: string): number {
  const base = Math.min(p.maxDelayMs, p.initialDelayMs * p.multiplier ** (retry - 1));
  if (p.jitter === 0 || base === 0) return Math.round(base);
  const h = createHash('sha256').update(`${runId}\u0000${nodeId}\u0000${retry}`).digest();
  const unit = h.readUInt32BE(0) / 0xffffffff;
  return Math.round(base * (1 - p.jitter) + base * p.jitter * unit);
}

/**
 * The provider-requested minimum wait of a retryable failure (`details.retryAfterMs` of a
 * `NodeError`, from an HTTP `Retry-After`), capped; 0 when none.
 */
export function retryAfterMs(e: unknown): number {
  const v = e instanceof NodeError ? e.details?.retryAfterMs : undefined;
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? Math.min(Math.ceil(v), RETRY_LIMITS.maxDelayMs) : 0;
}
